// Print a report in the chosen form and turn its verdict into the exit status.

import { once } from 'node:events';
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

/**
 * About 64 KiB at a time, waiting for the reader when the stream says so: stdout to a pipe queues
 * in memory whatever the reader has not taken yet, so a report written in one go sits there whole.
 */
async function writeJsonReport(report: Report, out: NodeJS.WritableStream): Promise<void> {
  let batch = '';
  const flush = async (text: string) => {
    if (!out.write(text)) await once(out, 'drain');
  };
  for (const piece of safeJsonPieces(report as unknown as Record<string, unknown>, 2)) {
    batch += piece;
    if (batch.length >= 64 * 1024) {
      await flush(batch);
      batch = '';
    }
  }
  await flush(`${batch}\n`);
}

export async function emitReport(report: Report, flags: OutputFlags, out: NodeJS.WritableStream = process.stdout): Promise<number> {
  if (flags.json) await writeJsonReport(report, out);
  else out.write(renderReport(report, flags));
  return exitCodeFor(report.verdict.kind);
}
