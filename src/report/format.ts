// Small formatting helpers shared by the renderers and the terminal UI.

import type { Extraction, FileClass, FileReport, VerdictKind } from './schema.js';
import { escapeText } from './escape.js';

export function humanBytes(n: number | null | undefined): string {
  if (n === null || n === undefined) return '-';
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[u]}`;
}

/** What a file holds instead, in words, for tables. */
export function holdsInstead(f: FileReport): string {
  switch (f.class) {
    case 'match':
      return 'the expected bytes';
    case 'zeros':
      return 'zeros';
    case 'directory-block': {
      const fmt = typeof f.detail.format === 'string' ? ` (${f.detail.format})` : '';
      // Entries are escaped by the decoder already.
      const entries = Array.isArray(f.detail.entries) ? f.detail.entries.slice(0, 4).map((e) => String(e)) : [];
      return `a directory block${fmt}${entries.length ? `: ${entries.join(', ')}${(f.detail.entries as unknown[]).length > 4 ? ', …' : ''}` : ''}`;
    }
    case 'foreign-text':
      return "another file's text";
    case 'foreign-binary': {
      const fmt = f.detail.format as { ext?: string } | null | undefined;
      return fmt?.ext ? `binary data (${fmt.ext})` : 'binary data';
    }
    case 'partial': {
      const m = typeof f.detail.matchedBytes === 'number' ? `${f.detail.matchedBytes} of ${f.actualSize} bytes intact` : 'some blocks intact';
      const stale = [...new Set(f.regions.filter((r) => r.class !== 'match').map((r) => r.class))].join(', ');
      return `partly stale: ${m}; rest ${stale}`;
    }
    case 'size-mismatch':
      return f.detail.truncated ? 'a truncated copy' : f.detail.overlong ? 'an over-long copy' : 'other bytes of another size';
    case 'missing':
      return 'nothing: missing';
    case 'extra':
      return typeof f.detail.content === 'string' ? `not expected (${f.detail.content})` : 'not expected';
    case 'modified': {
      const d = f.detail;
      if (typeof d.lineEndings === 'string') return `an edited version: ${d.lineEndings === 'crlf' ? 'CRLF' : 'LF'} line endings`;
      if (typeof d.linesAdded === 'number' && typeof d.linesRemoved === 'number') return `an edited version: +${d.linesAdded} -${d.linesRemoved} lines`;
      return typeof d.editedBytes === 'number' ? `an edited version: ${d.editedBytes} bytes edited` : 'an edited version';
    }
    case 'unreadable':
      return `unreadable: ${escapeText(String(f.detail.reason ?? 'no reason given'))}`;
    case 'type-mismatch':
      return `a ${String(f.detail.actualKind ?? f.kind)} instead of a ${String(f.detail.expectedKind ?? 'file')}`;
    case 'link-mismatch':
      return `a link to ${escapeText(String(f.detail.actualTarget))}`;
  }
}

/** "disklabel partition e (ufs2) mounted on /home, at byte 1048576". */
export function partitionText(ex: Extraction): string {
  const p = ex.partition;
  if (!p) return 'no partition';
  const table = p.scheme === 'none' ? 'the whole disk' : `${p.scheme} partition ${escapeText(p.name)}`;
  return `${table} (${escapeText(p.fs)})${p.mountpoint ? ` mounted on ${escapeText(p.mountpoint)}` : ''}, at byte ${p.offset}`;
}

export function provenanceText(f: FileReport): string {
  const p = f.provenance;
  if (!p) return '';
  const where = p.source === 'corpus' ? `${escapeText(p.root)}/${escapeText(p.path)}` : escapeText(p.path);
  return `${p.source}: ${where}${p.offset > 0 ? ` @${p.offset}` : ''} (${p.matchedBytes} B)`;
}

/** Colour names (ANSI SGR) for classes and verdicts, shared by the text report and the TUI. */
export const CLASS_COLOUR: Record<FileClass, 'green' | 'blue' | 'magenta' | 'yellow' | 'red' | 'cyan' | 'gray'> = {
  match: 'green',
  zeros: 'blue',
  'directory-block': 'magenta',
  'foreign-text': 'yellow',
  'foreign-binary': 'red',
  partial: 'cyan',
  'size-mismatch': 'red',
  missing: 'red',
  extra: 'gray',
  // An edit is not damage: the colour of "listed, not a verdict".
  modified: 'gray',
  unreadable: 'gray',
  'type-mismatch': 'red',
  'link-mismatch': 'red',
};

export const VERDICT_COLOUR: Record<VerdictKind, 'green' | 'red' | 'yellow' | 'gray'> = {
  clean: 'green',
  'soft-updates-data-loss': 'red',
  'other-corruption': 'yellow',
  inconclusive: 'gray',
};

/** Damaged files first (the order the reports and the TUI show them in). */
const SEVERITY: Record<FileClass, number> = {
  'directory-block': 0,
  'foreign-text': 0,
  'foreign-binary': 0,
  zeros: 0,
  partial: 0,
  'size-mismatch': 1,
  missing: 1,
  'type-mismatch': 1,
  'link-mismatch': 1,
  unreadable: 1,
  modified: 2,
  extra: 3,
  match: 4,
};

export function damagedFirst(files: FileReport[]): FileReport[] {
  return [...files].sort((a, b) => SEVERITY[a.class] - SEVERITY[b.class] || (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}
