// Print a report in the chosen form and turn its verdict into the exit status.

import type { Report } from '../report/schema.js';
import { renderMarkdown } from '../report/markdown.js';
import { renderText } from '../report/text.js';
import { colourWanted, painter } from '../report/ansi.js';
import { exitCodeFor } from '../report/exit-codes.js';
import { safeJsonPieces, toSafeJson } from '../report/json.js';

export interface OutputFlags {
  json?: boolean;
  markdown?: boolean;
}

export function renderReport(report: Report, flags: OutputFlags, stream: { isTTY?: boolean } = process.stdout): string {
  // C1 controls and bidi overrides from layer bytes are \u-escaped (valid, lossless JSON).
  if (flags.json) return toSafeJson(report, 2) + '\n';
  if (flags.markdown) return renderMarkdown(report);
  return renderText(report, painter(colourWanted(stream)));
}

/** Up to about 64 KiB at a time: few writes, and the whole JSON document never in memory at once. */
function writeJsonReport(report: Report, out: NodeJS.WritableStream): void {
  let batch = '';
  for (const piece of safeJsonPieces(report as unknown as Record<string, unknown>, 2)) {
    batch += piece;
    if (batch.length >= 64 * 1024) {
      out.write(batch);
      batch = '';
    }
  }
  out.write(`${batch}\n`);
}

export function emitReport(report: Report, flags: OutputFlags, out: NodeJS.WritableStream = process.stdout): number {
  if (flags.json) writeJsonReport(report, out);
  else out.write(renderReport(report, flags));
  return exitCodeFor(report.verdict.kind);
}
