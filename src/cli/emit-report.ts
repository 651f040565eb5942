// Print a report in the chosen form and turn its verdict into the exit status.

import type { Report } from '../report/schema.js';
import { renderMarkdown } from '../report/markdown.js';
import { renderText } from '../report/text.js';
import { colourWanted, painter } from '../report/ansi.js';
import { exitCodeFor } from '../report/exit-codes.js';
import { toSafeJson } from '../report/json.js';

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

export function emitReport(report: Report, flags: OutputFlags): number {
  process.stdout.write(renderReport(report, flags));
  return exitCodeFor(report.verdict.kind);
}
