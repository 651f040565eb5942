// Provenance in words for the terminal UI: where stale bytes came from, naming, for bytes traced
// on the disk (`parent-layer`), the ancestor layer whose filesystem owned them and the offset.

import { escapeText } from '../report/escape.js';
import type { FileReport, Provenance } from '../report/schema.js';
import { fitStart, shortId } from './text.js';

/** One line for a table cell: the source, for parent-layer the ancestor layer, and the path. */
export function provenanceBrief(p: Provenance, width: number): string {
  const head = p.source === 'parent-layer' && p.layer ? `parent-layer ${shortId(p.layer)}` : p.source;
  return `${head}: ${fitStart(escapeText(p.path), Math.max(4, width - head.length - 2))}`;
}

/** Where the stale bytes came from, in words (the File screen's header). */
export function provenanceLine(f: FileReport): string {
  const p = f.provenance;
  if (!p) return '';
  const at = p.offset !== undefined && (p.offset > 0 || p.source === 'parent-layer') ? `, from byte ${p.offset} of it` : '';
  if (p.source === 'parent-layer') {
    // The layer and the offset first: a long path is what gets cut.
    const layer = p.layer ? `layer ${shortId(p.layer)}` : 'an ancestor layer';
    const from = p.offset !== undefined ? `byte ${p.offset} of ` : '';
    return `${layer}, ${from}${escapeText(p.path)} (its owner there; ${p.matchedBytes} B)`;
  }
  const where = p.source === 'corpus' ? `${escapeText(p.root)}/${escapeText(p.path)}` : escapeText(p.path);
  return `${p.source}: ${where}${at} (${p.matchedBytes} B)`;
}

