// What the File screen shows, as lines of coloured segments, built without React so that it can
// be tested on its own. Every byte from the layer (and from the expected sources) is escaped here:
// text through escapeBytes, hex dumps print only hex digits and printable ASCII.
//
// Views, by class: a unified diff (the `diff` package) for text; a hex dump of the actual bytes
// beside the expected ones for binary; the decoded records of a directory block; a strip of the
// file's blocks coloured by class for `partial`. Long views are produced lazily (`LineSource`) so
// a large file scrolls without building every line.

import { structuredPatch } from 'diff';
import { isAllZero, isPaddedText, isText } from '../classify/bytes.js';
import { decodeDirectoryBlock, type DirFormat } from '../classify/directory-block.js';
import { escapeBytes, escapeText } from '../report/escape.js';
import { CLASS_COLOUR, holdsInstead, humanBytes } from '../report/format.js';
import type { FileClass, FileReport, RegionClass } from '../report/schema.js';
import { provenanceLine } from './provenance-view.js';
import type { ColourName } from './theme.js';

export interface Seg {
  text: string;
  color?: ColourName;
  bold?: boolean;
  dim?: boolean;
  inverse?: boolean;
}
export type Line = Seg[];

/** Lines, possibly computed on demand. */
export interface LineSource {
  count: number;
  line(i: number): Line;
}

export function fromLines(lines: Line[]): LineSource {
  return { count: lines.length, line: (i) => lines[i] ?? [] };
}

export function concat(...parts: LineSource[]): LineSource {
  const starts: number[] = [];
  let n = 0;
  for (const p of parts) {
    starts.push(n);
    n += p.count;
  }
  return {
    count: n,
    line: (i) => {
      for (let k = parts.length - 1; k >= 0; k--) if (i >= starts[k]!) return parts[k]!.line(i - starts[k]!);
      return [];
    },
  };
}

/** Plain text of a line (tests, and the e2e capture). */
export function lineText(l: Line): string {
  return l.map((s) => s.text).join('');
}

/** The view is built from at most this many bytes of each side; the rest is said to be left out. */
export const MAX_VIEW_BYTES = 1024 * 1024;
/** Text diffs beyond this many bytes a side fall back to the hex dump (diffing is quadratic-ish). */
const MAX_DIFF_BYTES = 256 * 1024;
/** Runs of NUL at least this long are shown as one `\0 ×N` (a NUL-padded stale text stays readable). */
const NUL_RUN = 8;

const TAB = '    ';

/**
 * Escape bytes for a text view, keeping newlines (to split lines) and showing long NUL runs as
 * one `\0 ×N`. Tabs become spaces so columns line up.
 */
export function escapeForText(buf: Uint8Array): string {
  let out = '';
  let start = 0;
  let i = 0;
  while (i < buf.length) {
    if (buf[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < buf.length && buf[j] === 0) j++;
    if (j - i >= NUL_RUN) {
      out += escapeBytes(buf.subarray(start, i), { keepNewlines: true, keepTabs: true });
      out += `\\0 ×${j - i}`;
      start = j;
    }
    i = j;
  }
  out += escapeBytes(buf.subarray(start), { keepNewlines: true, keepTabs: true });
  return out.replace(/\t/g, TAB);
}

function textLike(buf: Uint8Array | null): boolean {
  return buf === null || buf.length === 0 || isText(buf) || isPaddedText(buf);
}

/** A unified diff of expected against actual, coloured. */
export function diffLines(path: string, expected: Uint8Array, actual: Uint8Array): Line[] {
  const a = escapeForText(expected);
  const b = escapeForText(actual);
  const name = escapeText(path);
  const patch = structuredPatch(`expected/${name}`, `layer/${name}`, a, b, undefined, undefined, { context: 3 });
  const out: Line[] = [
    [{ text: `--- expected/${name}`, color: 'red', bold: true }],
    [{ text: `+++ layer/${name}`, color: 'green', bold: true }],
  ];
  if (patch.hunks.length === 0) out.push([{ text: '(no textual difference: the bytes differ only where escaping hides it)', dim: true }]);
  for (const h of patch.hunks) {
    out.push([{ text: `@@ -${h.oldStart},${h.oldLines} +${h.newStart},${h.newLines} @@`, color: 'cyan' }]);
    for (const l of h.lines) {
      // The diff package's own marker for a missing final newline.
      if (l.startsWith('\\')) out.push([{ text: l, dim: true }]);
      else if (l.startsWith('-')) out.push([{ text: l, color: 'red' }]);
      else if (l.startsWith('+')) out.push([{ text: l, color: 'green' }]);
      else out.push([{ text: l }]);
    }
  }
  return out;
}

/** The lines of one text, escaped, with line numbers. */
export function textLines(buf: Uint8Array): Line[] {
  const lines = escapeForText(buf).split('\n');
  if (lines.length > 1 && lines[lines.length - 1] === '') lines.pop();
  const w = String(lines.length).length;
  return lines.map((l, i) => [{ text: `${String(i + 1).padStart(w)} `, dim: true }, { text: l }]);
}

function hex2(b: number): string {
  return b.toString(16).padStart(2, '0');
}

function printable(b: number): string {
  return b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.';
}

/** Bytes per hex dump row for a terminal `columns` wide (side by side needs two of them). */
export function hexRowBytes(columns: number, sides: 1 | 2): number {
  // offset(8) + 2 + n*3 + 1 + n  (+ 3 + n*3 + 1 + n for the second side) + gutter 2
  const per = (n: number) => 12 + (sides === 2 ? 3 + 8 * n : 4 * n);
  return per(16) <= columns ? 16 : 8;
}

/**
 * A hex dump of `actual` beside `expected` (or of one side alone). Rows identical to the one
 * before (on both sides) are folded into one `*` row, as hexdump(1) does. Bytes that differ from
 * the expected ones are highlighted (and the row marked with `≠`, for terminals without colour).
 */
export function hexDump(actual: Uint8Array | null, expected: Uint8Array | null, columns: number): LineSource {
  const sides: 1 | 2 = actual && expected ? 2 : 1;
  const n = hexRowBytes(columns, sides);
  const len = Math.max(actual?.length ?? 0, expected?.length ?? 0);
  const rowKey = (off: number): string => {
    const a = actual ? Buffer.from(actual.subarray(off, off + n)).toString('hex') : '';
    const e = expected ? Buffer.from(expected.subarray(off, off + n)).toString('hex') : '';
    return `${a}|${e}`;
  };
  // Row offsets, -1 for a folded run.
  const rows: number[] = [];
  let prev: string | null = null;
  let folded = false;
  for (let off = 0; off < len; off += n) {
    const key = rowKey(off);
    const last = off + n >= len;
    if (key === prev && !last) {
      if (!folded) rows.push(-1);
      folded = true;
      continue;
    }
    rows.push(off);
    prev = key;
    folded = false;
  }
  const side = (buf: Uint8Array | null, other: Uint8Array | null, off: number, colour: ColourName): Seg[] => {
    const segs: Seg[] = [];
    let hex = '';
    let ascii = '';
    for (let k = 0; k < n; k++) {
      const i = off + k;
      if (!buf || i >= buf.length) {
        hex += '   ';
        ascii += ' ';
        continue;
      }
      const b = buf[i]!;
      const differs = other !== null && (i >= other.length || other[i] !== b);
      if (differs) {
        if (hex) segs.push({ text: hex });
        segs.push({ text: hex2(b), color: colour, bold: true });
        hex = ' ';
      } else {
        hex += `${hex2(b)} `;
      }
      ascii += printable(b);
    }
    segs.push({ text: `${hex} ` }, { text: ascii, dim: true });
    return segs.filter((s) => s.text !== '');
  };
  const header: Line =
    sides === 2
      ? [{ text: `${'offset'.padEnd(10)}${'in the layer'.padEnd(4 * n + 2)}   expected`, bold: true }]
      : [{ text: `${'offset'.padEnd(10)}${actual ? 'in the layer' : 'expected'}`, bold: true }];
  return {
    count: rows.length + 1,
    line: (i) => {
      if (i === 0) return header;
      const off = rows[i - 1]!;
      if (off === -1) return [{ text: '*', dim: true }];
      const differs = sides === 2 && Buffer.compare(Buffer.from(actual!.subarray(off, off + n)), Buffer.from(expected!.subarray(off, off + n))) !== 0;
      const gutter: Seg = { text: differs ? '≠ ' : '  ', color: 'red' };
      const offset: Seg = { text: `${off.toString(16).padStart(8, '0')}  `, dim: true };
      if (sides === 1) return [gutter, offset, ...side(actual ?? expected, null, off, 'yellow')];
      return [gutter, offset, ...side(actual, expected, off, 'red'), { text: '│ ', dim: true }, ...side(expected, actual, off, 'green')];
    },
  };
}

const FFS_TYPES: Record<number, string> = { 0: 'unknown', 1: 'fifo', 2: 'chr', 4: 'dir', 6: 'blk', 8: 'file', 10: 'link', 12: 'sock', 14: 'whiteout' };
const EXT4_TYPES: Record<number, string> = { 0: 'unknown', 1: 'file', 2: 'dir', 3: 'chr', 4: 'blk', 5: 'fifo', 6: 'sock', 7: 'link', 0xde: 'csum tail' };
const FORMAT_NAME: Record<DirFormat, string> = {
  'ffs-le': 'FFS (UFS1/UFS2) little-endian',
  'ffs-be': 'FFS (UFS1/UFS2) big-endian',
  ext4: 'ext2/3/4',
};

/** The decoded records of a directory block held by `buf` (or by its first directory region). */
export function directoryLines(f: FileReport, buf: Uint8Array): Line[] {
  let base = 0;
  let dir = decodeDirectoryBlock(buf);
  if (!dir) {
    const r = f.regions.find((x) => x.class === 'directory-block');
    if (r) {
      base = r.offset;
      dir = decodeDirectoryBlock(buf.subarray(r.offset, r.offset + r.length));
    }
  }
  if (!dir) return [[{ text: 'The bytes do not decode as a directory block here.', dim: true }]];
  const types = dir.format === 'ext4' ? EXT4_TYPES : FFS_TYPES;
  const live = dir.records.filter((r) => r.ino !== 0).length;
  const out: Line[] = [
    [
      { text: `${FORMAT_NAME[dir.format]} directory block: `, bold: true },
      { text: `${live} entr${live === 1 ? 'y' : 'ies'}, ${dir.records.length - live} free record${dir.records.length - live === 1 ? '' : 's'}` },
      base > 0 ? { text: ` (from offset ${base})`, dim: true } : { text: '' },
    ],
    [{ text: `${'offset'.padStart(7)}  ${'inode'.padStart(10)}  ${'type'.padEnd(8)}  ${'reclen'.padStart(6)}  name`, bold: true }],
  ];
  for (const r of dir.records) {
    const name = escapeBytes(r.name);
    const cols = `${String(base + r.offset).padStart(7)}  ${String(r.ino).padStart(10)}  ${(types[r.type] ?? `type ${r.type}`).padEnd(8)}  ${String(r.reclen).padStart(6)}  `;
    if (r.ino === 0) out.push([{ text: cols, dim: true }, { text: name ? `${name} (free)` : '(free)', dim: true }]);
    else out.push([{ text: cols }, { text: name, color: 'magenta' }]);
  }
  return out;
}

export const STRIP_CHAR: Record<RegionClass, string> = {
  match: '=',
  modified: '~',
  zeros: '0',
  'directory-block': 'd',
  'foreign-text': 't',
  'foreign-binary': 'b',
};

const REGION_SEVERITY: Record<RegionClass, number> = { match: 0, modified: 1, zeros: 2, 'foreign-text': 3, 'foreign-binary': 4, 'directory-block': 5 };

/**
 * The file's blocks, one character each, coloured by class; when there are more blocks than
 * fit in `maxRows` rows, each character stands for several blocks (the worst class among them).
 */
export function blockStrip(f: FileReport, blockSize: number, columns: number, maxRows = 8): Line[] {
  const size = f.actualSize ?? 0;
  const blocks = Math.max(1, Math.ceil(size / blockSize));
  const perRow = Math.max(8, columns - 4);
  const per = Math.max(1, Math.ceil(blocks / (perRow * maxRows)));
  const cells = Math.ceil(blocks / per);
  const classAt = (block: number): RegionClass => {
    const off = block * blockSize;
    return f.regions.find((r) => off >= r.offset && off < r.offset + r.length)?.class ?? 'foreign-binary';
  };
  const out: Line[] = [
    [
      { text: `Blocks of ${blockSize} B`, bold: true },
      { text: per > 1 ? `, one mark per ${per} blocks (the worst class among them)` : `, ${blocks} in all`, dim: true },
    ],
  ];
  let row: Seg[] = [];
  for (let c = 0; c < cells; c++) {
    let worst: RegionClass = 'match';
    for (let b = c * per; b < Math.min(blocks, (c + 1) * per); b++) {
      const k = classAt(b);
      if (REGION_SEVERITY[k] > REGION_SEVERITY[worst]) worst = k;
    }
    const ch = STRIP_CHAR[worst];
    const colour = CLASS_COLOUR[worst as FileClass];
    const last = row[row.length - 1];
    if (last && last.color === colour) last.text += ch;
    else row.push({ text: ch, color: colour, bold: worst !== 'match' });
    if ((c + 1) % perRow === 0) {
      out.push([{ text: '  ' }, ...row]);
      row = [];
    }
  }
  if (row.length) out.push([{ text: '  ' }, ...row]);
  const present = [...new Set(f.regions.map((r) => r.class))];
  out.push([
    { text: '  ' },
    ...present.flatMap((k): Seg[] => [{ text: STRIP_CHAR[k], color: CLASS_COLOUR[k as FileClass], bold: true }, { text: ` ${k}  ` }]),
  ]);
  return out;
}

/** The regions as a short table. */
function regionLines(f: FileReport): Line[] {
  const out: Line[] = [[{ text: `${'offset'.padStart(9)}  ${'length'.padStart(9)}  class`, bold: true }]];
  const shown = f.regions.slice(0, 200);
  for (const r of shown) {
    out.push([{ text: `${String(r.offset).padStart(9)}  ${String(r.length).padStart(9)}  ` }, { text: r.class, color: CLASS_COLOUR[r.class as FileClass] }]);
  }
  if (f.regions.length > shown.length) out.push([{ text: `… ${f.regions.length - shown.length} more regions`, dim: true }]);
  return out;
}

export interface FileBytes {
  expected: Uint8Array | null;
  actual: Uint8Array | null;
  /** Whether a side was cut at MAX_VIEW_BYTES. */
  expectedCut?: boolean;
  actualCut?: boolean;
}

const blank: Line = [];
const heading = (s: string): Line => [{ text: s, bold: true, color: 'cyan' }];

/** The header lines of the File screen (path, class, sizes, what it holds, provenance). */
export function fileHeader(f: FileReport): Line[] {
  const out: Line[] = [
    [
      { text: escapeText(f.path), bold: true },
      { text: '  ' },
      { text: ` ${f.class} `, color: CLASS_COLOUR[f.class], bold: true, inverse: true },
    ],
    [
      { text: `expected ${f.expectedSize === null ? '-' : `${f.expectedSize} B`}, in the layer ${f.actualSize === null ? '-' : `${f.actualSize} B`}`, dim: false },
      { text: `  holds ${holdsInstead(f)}`, dim: true },
    ],
  ];
  const prov = provenanceLine(f);
  if (prov) out.push([{ text: 'came from ', dim: true }, { text: prov, color: 'yellow' }]);
  return out;
}

/** The body of the File screen for one file. */
export function fileBody(f: FileReport, bytes: FileBytes, opts: { columns: number; blockSize: number }): LineSource {
  const { expected, actual } = bytes;
  const parts: LineSource[] = [];
  const cutNote: Line[] = [];
  if (bytes.actualCut) cutNote.push([{ text: `(only the first ${humanBytes(MAX_VIEW_BYTES)} of the layer's file are shown)`, dim: true }]);
  if (bytes.expectedCut) cutNote.push([{ text: `(only the first ${humanBytes(MAX_VIEW_BYTES)} of the expected file are shown)`, dim: true }]);
  const push = (...lines: Line[]) => parts.push(fromLines(lines));
  const both = actual !== null && expected !== null;
  const diffable = both && actual.length <= MAX_DIFF_BYTES && expected.length <= MAX_DIFF_BYTES && textLike(actual) && textLike(expected) && !isAllZero(actual);
  const content = (): void => {
    if (diffable) push(...diffLines(f.path, expected!, actual!));
    else parts.push(hexDump(actual, expected, opts.columns));
  };

  switch (f.class) {
    case 'match':
      push([{ text: 'Identical to the expected source.', color: 'green' }], blank);
      if (actual && textLike(actual) && actual.length <= MAX_DIFF_BYTES) push(...textLines(actual));
      else if (actual) parts.push(hexDump(actual, null, opts.columns));
      break;
    case 'zeros':
      push([{ text: `Every one of the ${f.actualSize ?? 0} bytes is NUL: the data blocks were never written.`, color: 'blue' }], blank);
      parts.push(hexDump(actual, expected, opts.columns));
      break;
    case 'directory-block':
      if (actual) push(...directoryLines(f, actual));
      push(blank, heading('Bytes'));
      parts.push(hexDump(actual, expected, opts.columns));
      break;
    case 'partial':
      push(...blockStrip(f, opts.blockSize, opts.columns), blank, ...regionLines(f), blank, heading(diffable ? 'Diff' : 'Bytes'));
      content();
      break;
    case 'modified':
      // An edit of the expected source: shown as a diff (a hex dump for binary).
      push(
        [{ text: 'Differs the way an edit does (changed, added or removed lines; another version of the file), with no block of stale data.', dim: true }],
        [{ text: 'The expected sources are probably not what the step copied.', dim: true }],
        blank,
      );
      content();
      break;
    case 'unreadable':
      push([{ text: 'Could not be read: ', color: 'yellow' }, { text: escapeText(String(f.detail.reason ?? 'no reason given')) }]);
      push([{ text: 'Neither missing nor damaged: nothing is known of its bytes.', dim: true }]);
      break;
    case 'foreign-text':
    case 'foreign-binary':
    case 'size-mismatch':
      content();
      break;
    case 'missing':
      push([{ text: 'Not in the layer at all.', color: 'red' }]);
      if (expected) {
        push(blank, heading('Expected content'));
        if (textLike(expected) && expected.length <= MAX_DIFF_BYTES) push(...textLines(expected));
        else parts.push(hexDump(null, expected, opts.columns));
      }
      break;
    case 'extra':
      push([{ text: 'In the layer, not among the expected sources.', dim: true }]);
      if (actual) {
        push(blank, heading('Content'));
        if (textLike(actual) && actual.length <= MAX_DIFF_BYTES && !isAllZero(actual)) push(...textLines(actual));
        else parts.push(hexDump(actual, null, opts.columns));
      }
      break;
    case 'type-mismatch':
    case 'link-mismatch':
      for (const [k, v] of Object.entries(f.detail)) if (v !== undefined && v !== null) push([{ text: `${k}: `, dim: true }, { text: escapeText(String(v)) }]);
      break;
  }
  if (cutNote.length) parts.push(fromLines([blank, ...cutNote]));
  return concat(...parts);
}

/** Slice a line horizontally: drop the first `from` columns (by code point). */
export function sliceLine(l: Line, from: number): Line {
  if (from <= 0) return l;
  const out: Line = [];
  let skip = from;
  for (const s of l) {
    if (skip <= 0) {
      out.push(s);
      continue;
    }
    const chars = [...s.text];
    if (chars.length <= skip) {
      skip -= chars.length;
      continue;
    }
    out.push({ ...s, text: chars.slice(skip).join('') });
    skip = 0;
  }
  return out;
}
