// Print a report in the chosen form and turn its verdict into the exit status.

import type { Report, VerdictKind } from '../report/schema.js';
import { renderMarkdown } from '../report/markdown.js';
import { renderText } from '../report/text.js';
import { colourWanted, painter } from '../report/ansi.js';
import { EXIT } from '../util/errors.js';

export function exitCodeFor(kind: VerdictKind): number {
  switch (kind) {
    case 'clean':
      return EXIT.clean;
    case 'soft-updates-data-loss':
    case 'other-corruption':
      return EXIT.corrupt;
    case 'inconclusive':
      return EXIT.inconclusive;
  }
}

export interface OutputFlags {
  json?: boolean;
  markdown?: boolean;
}

export function renderReport(report: Report, flags: OutputFlags, stream: { isTTY?: boolean } = process.stdout): string {
  if (flags.json) return JSON.stringify(report, null, 2) + '\n';
  if (flags.markdown) return renderMarkdown(report);
  return renderText(report, painter(colourWanted(stream)));
}

export function emitReport(report: Report, flags: OutputFlags): number {
  process.stdout.write(renderReport(report, flags));
  return exitCodeFor(report.verdict.kind);
}
