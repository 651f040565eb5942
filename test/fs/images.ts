// Test images: a directory tree with every shape the FFS reader must handle, turned into UFS1
// and UFS2 images by NetBSD makefs, and The Sleuth Kit as the independent reader.

import { execa } from 'execa';
import { closeSync, copyFileSync, linkSync, openSync, writeSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Extent } from '../../src/fs/ffs/index.js';

/** Deterministic bytes (xorshift32), so a failure can be reproduced. */
export function pseudoRandom(length: number, seed: number): Buffer {
  const buf = Buffer.alloc(length);
  let x = seed | 0 || 1;
  for (let i = 0; i + 4 <= length; i += 4) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    buf.writeInt32LE(x, i);
  }
  for (let i = length - (length % 4); i < length; i++) buf[i] = (x >>> ((i % 4) * 8)) & 0xff;
  return buf;
}

const b = (s: string): Buffer => Buffer.from(s, 'latin1');
const join2 = (...parts: (string | Buffer)[]): Buffer => Buffer.concat(parts.flatMap((p, i) => (i ? [b('/'), Buffer.from(p)] : [Buffer.from(p)])));

export interface TreeOptions {
  /** Filesystem block size the sizes are chosen around. */
  bsize: number;
  /** Pointer width: 4 (UFS1) or 8 (UFS2), for the double-indirect file. */
  ptrSize: 4 | 8;
  /** Entries in the big directory. */
  manyEntries?: number;
}

/**
 * Write the source tree under `root`: small files, one-block files, tail fragments, a file past
 * the single indirect block (double indirect), a sparse file, fast and slow symlinks (and ones at
 * the fast-link limit), a hard link, a big directory, odd names (spaces, control bytes,
 * invalid UTF-8, 255 bytes), deep nesting, an empty directory, a fifo.
 */
export async function writeSourceTree(root: string, opts: TreeOptions): Promise<void> {
  const { bsize } = opts;
  const nindir = bsize / opts.ptrSize;
  const at = (p: string | Buffer): Buffer => join2(b(root), p);
  const file = (p: string | Buffer, data: Buffer): void => writeFileSync(at(p), data);
  let seed = 1;
  const data = (n: number): Buffer => pseudoRandom(n, seed++ * 7919);
  for (const d of ['small', 'blocks', 'links', 'hard', 'many', 'odd', 'empty-dir']) mkdirSync(join(root, d));
  for (const n of [0, 1, 100, 511, 512, 513, 1000, 2047, 2049]) file(`small/s${n}`, data(n));
  file('small/text.opam', b('opam-version: "2.0"\nname: "tls"\n'));
  file('blocks/exact-block', data(bsize));
  file('blocks/two-blocks', data(2 * bsize));
  file('blocks/tail-1', data(bsize + 904));
  file('blocks/tail-3', data(3 * bsize + 1500));
  file('blocks/all-direct', data(12 * bsize));
  file('blocks/first-indirect', data(12 * bsize + 1));
  // Past the single indirect block when that stays small; else a good way into it.
  const bigBlocks = nindir <= 1024 ? 12 + nindir + 40 : 12 + 64;
  file('blocks/big', data(bigBlocks * bsize + 777));
  // Sparse on the host: makefs may or may not keep the holes.
  const sparse = Buffer.alloc(40 * bsize + 10);
  data(bsize).copy(sparse, 0);
  data(bsize).copy(sparse, 30 * bsize);
  b('end').copy(sparse, sparse.length - 3);
  file('blocks/sparse', sparse);
  symlinkSync('../small/text.opam', join(root, 'links/fast'));
  symlinkSync('t'.repeat(150), join(root, 'links/slow'));
  for (const n of [59, 60, 119, 120]) symlinkSync('L'.repeat(n), join(root, `links/edge-${n}`));
  symlinkSync('../many', join(root, 'links/to-dir'));
  file('hard/original', data(3000));
  linkSync(join(root, 'hard/original'), join(root, 'hard/second-name'));
  const many = opts.manyEntries ?? 600;
  for (let i = 0; i < many; i++) file(`many/package-file-with-a-long-name-${String(i).padStart(4, '0')}.opam`, b(`entry ${i}\n`));
  file('odd/name with spaces', b('spaces'));
  file(Buffer.concat([b('odd/ctl'), Buffer.from([0x01, 0x1b]), b('[31mred')]), b('control bytes'));
  file(Buffer.concat([b('odd/latin1-'), Buffer.from([0xe9, 0xff, 0xfe])]), b('invalid utf-8'));
  file(Buffer.concat([b('odd/caf'), Buffer.from('é', 'utf8'), b('.txt')]), b('utf-8'));
  file(b('odd/' + 'n'.repeat(255)), b('longest name'));
  file(b('odd/tab\there'), b('tab'));
  let deep = 'deep';
  for (let i = 0; i < 12; i++) deep += `/d${i}`;
  mkdirSync(join(root, deep), { recursive: true });
  file(`${deep}/leaf`, b('deep leaf\n'));
  await execa('mkfifo', [join(root, 'fifo')]);
}

export interface SourceEntry {
  path: Buffer;
  kind: 'file' | 'directory' | 'symlink' | 'fifo';
  size: number;
  link?: Buffer;
  ino: number;
}

/** The host tree, relative paths as bytes, "/"-joined. */
export function readSourceTree(root: string): SourceEntry[] {
  const out: SourceEntry[] = [];
  const visit = (rel: Buffer): void => {
    const abs = rel.length ? join2(b(root), rel) : b(root);
    for (const name of readdirSync(abs, { encoding: 'buffer' })) {
      const p = rel.length ? join2(rel, name) : name;
      const full = join2(b(root), p);
      const st = lstatSync(full);
      if (st.isDirectory()) {
        out.push({ path: p, kind: 'directory', size: 0, ino: st.ino });
        visit(p);
      } else if (st.isSymbolicLink()) out.push({ path: p, kind: 'symlink', size: st.size, link: readlinkSync(full, { encoding: 'buffer' }), ino: st.ino });
      else if (st.isFIFO()) out.push({ path: p, kind: 'fifo', size: 0, ino: st.ino });
      else out.push({ path: p, kind: 'file', size: st.size, ino: st.ino });
    }
  };
  visit(Buffer.alloc(0));
  return out;
}

export function readSource(root: string, rel: Buffer): Buffer {
  return readFileSync(join2(b(root), rel));
}

/** makefs -t ffs with the given options; free space left for the tests that patch images. */
export async function makefs(image: string, source: string, options: string, extra: string[] = []): Promise<void> {
  await execa('makefs', ['-t', 'ffs', '-B', 'le', '-b', '30%', ...extra, '-o', options, image, source]);
}

export function tempDir(prefix = 'lf-fs-'): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export function copyImage(from: string, to: string): string {
  copyFileSync(from, to);
  return to;
}

// --- The Sleuth Kit -------------------------------------------------------------------------

async function tsk(cmd: string, args: string[]): Promise<Buffer> {
  const r = await execa(cmd, args, { encoding: 'buffer', stripFinalNewline: false, maxBuffer: 1 << 30 });
  return Buffer.from(r.stdout);
}

export interface FlsEntry {
  /** "r/r", "d/d", "l/l", "p/p", ... */
  type: string;
  ino: number;
  /** Path as fls prints it (bytes below 0x20 shown as '^'). */
  path: Buffer;
}

/** `fls -r -p`: every allocated name, without TSK's virtual $OrphanFiles. */
export async function fls(image: string, fstype: string): Promise<FlsEntry[]> {
  const out = await tsk('fls', ['-f', fstype, '-r', '-p', image]);
  const entries: FlsEntry[] = [];
  let start = 0;
  for (let i = 0; i < out.length; i++) {
    if (out[i] !== 0x0a) continue;
    const line = out.subarray(start, i);
    start = i + 1;
    const tab = line.indexOf(0x09);
    const head = line.subarray(0, tab).toString('latin1');
    const m = /^(\S+) (\d+):$/.exec(head);
    if (!m) throw new Error(`fls line not understood: ${JSON.stringify(line.toString('latin1'))}`);
    if (m[1] === 'V/V') continue;
    entries.push({ type: m[1]!, ino: Number(m[2]), path: Buffer.from(line.subarray(tab + 1)) });
  }
  return entries;
}

/** How TSK prints a name: control characters become '^'. */
export function tskName(name: Buffer): Buffer {
  return Buffer.from(name.map((c) => (c < 0x20 ? 0x5e : c)));
}

export interface Istat {
  size: number;
  uid: number;
  gid: number;
  mode: string;
  /** The "Direct Blocks" list: one fragment address per fragment, 0 for holes. */
  direct: number[];
  /** The "Indirect Blocks" list. */
  indirect: number[];
  symlink: string | null;
}

export async function istat(image: string, fstype: string, ino: number): Promise<Istat> {
  return parseIstat((await tsk('istat', ['-f', fstype, image, String(ino)])).toString('latin1'));
}

/** One inode's `istat` output, parsed. */
export function parseIstat(out: string): Istat {
  const num = (re: RegExp): number => Number(re.exec(out)?.[1] ?? NaN);
  const list = (title: string): number[] => {
    const i = out.indexOf(`${title}:\n`);
    if (i < 0) return [];
    const rest = out.slice(i + title.length + 2);
    const end = rest.search(/^[A-Za-z]/m);
    return (end < 0 ? rest : rest.slice(0, end))
      .split(/\s+/)
      .filter((w) => /^\d+$/.test(w))
      .map(Number);
  };
  const uidGid = /^uid \/ gid: (\d+) \/ (\d+)/m.exec(out);
  return {
    size: num(/^size: (\d+)/m),
    uid: Number(uidGid?.[1]),
    gid: Number(uidGid?.[2]),
    mode: /^mode: (\S+)/m.exec(out)?.[1] ?? '',
    direct: list('Direct Blocks'),
    indirect: list('Indirect Blocks'),
    symlink: /^symbolic link to: (.*)$/m.exec(out)?.[1] ?? null,
  };
}

export async function icat(image: string, fstype: string, ino: number): Promise<Buffer> {
  return tsk('icat', ['-f', fstype, image, String(ino)]);
}

/** `ifind -d`: the owning inode, 'meta' for "Meta Data", null for "Inode not found". */
export async function ifindData(image: string, fstype: string, frag: number): Promise<number | 'meta' | null> {
  return parseIfind((await tsk('ifind', ['-f', fstype, '-d', String(frag), image])).toString('latin1'));
}

/** One `ifind -d` answer, parsed: the owning inode, 'meta', or null. */
export function parseIfind(text: string): number | 'meta' | null {
  const out = text.trim();
  if (out === 'Meta Data') return 'meta';
  if (out.startsWith('Inode not found')) return null;
  const n = Number(out);
  if (!Number.isInteger(n)) throw new Error(`ifind output not understood: ${out}`);
  return n;
}

/** `ffind -a`: every name of an inode, as TSK prints them. */
export async function ffindAll(image: string, fstype: string, ino: number): Promise<Buffer[]> {
  const out = await tsk('ffind', ['-f', fstype, '-a', image, String(ino)]);
  return out
    .toString('latin1')
    .split('\n')
    .filter((l) => l.length)
    .map((l) => Buffer.from(l, 'latin1'));
}

// --- The Sleuth Kit on a partition inside a disk, batched ------------------------------------

/** Where TSK is to find a file system: the image, -f, and -o (the partition's first sector). */
export interface TskVolume {
  image: string;
  fstype: string;
  /** Start of the file system in 512-byte sectors (TSK's -o); 0 or absent for a bare image. */
  sectors?: number;
}

function volumeArgs(v: TskVolume): string[] {
  return ['-f', v.fstype, ...(v.sectors ? ['-o', String(v.sectors)] : [])];
}

export async function fsstatOf(v: TskVolume): Promise<string> {
  return (await tsk('fsstat', [...volumeArgs(v), v.image])).toString('latin1');
}

export interface FlsName extends FlsEntry {
  /** Printed with "*": a name in a directory's free space, or one whose inode is free. */
  deleted: boolean;
  /** Printed with "(realloc)": a deleted name whose inode is in use again. */
  realloc: boolean;
}

/**
 * `fls -r -p` of a volume: every name, allocated and deleted, without TSK's virtual
 * $OrphanFiles directory and what it holds.
 */
export async function flsNames(v: TskVolume): Promise<FlsName[]> {
  const out = await tsk('fls', [...volumeArgs(v), '-r', '-p', v.image]);
  const entries: FlsName[] = [];
  let start = 0;
  for (let i = 0; i < out.length; i++) {
    if (out[i] !== 0x0a) continue;
    const line = out.subarray(start, i);
    start = i + 1;
    const tab = line.indexOf(0x09);
    const head = line.subarray(0, tab).toString('latin1');
    const m = /^(\S+) (\* )?(\d+)(\(realloc\))?:$/.exec(head);
    if (!m) throw new Error(`fls line not understood: ${JSON.stringify(line.toString('latin1'))}`);
    const path = Buffer.from(line.subarray(tab + 1));
    if (m[1] === 'V/V' || path.toString('latin1').startsWith('$OrphanFiles/')) continue;
    entries.push({ type: m[1]!, ino: Number(m[3]), path, deleted: m[2] !== undefined, realloc: m[4] !== undefined });
  }
  return entries;
}

/**
 * Run one TSK command per item in a single shell (TSK's start-up is most of a call's cost):
 * `cmd <volume args> <before...> image item`, or with `itemFirst` `cmd <volume args> item image`
 * after `before`. Returns each item's standard output.
 */
async function tskEach(cmd: string, v: TskVolume, items: readonly number[], before: string[] = [], itemFirst = false): Promise<Map<number, string>> {
  const args = [...volumeArgs(v), ...before].join(' ');
  const call = itemFirst ? `${cmd} ${args} "$i" "$img"` : `${cmd} ${args} "$img" "$i"`;
  const script = `img="$1"; shift; for i in "$@"; do printf '\\n@@@@ %s\\n' "$i"; ${call} || exit 1; done`;
  const r = await execa('bash', ['-c', script, `${cmd}-batch`, v.image, ...items.map(String)], { encoding: 'buffer', maxBuffer: 1 << 30 });
  const out = Buffer.from(r.stdout).toString('latin1');
  const res = new Map<number, string>();
  for (const part of out.split('\n@@@@ ').slice(1)) {
    const nl = part.indexOf('\n');
    res.set(Number(part.slice(0, nl)), part.slice(nl + 1));
  }
  return res;
}

/** `istat` of many inodes of a volume, in one shell. */
export async function istatEach(v: TskVolume, inos: readonly number[]): Promise<Map<number, Istat>> {
  const out = await tskEach('istat', v, inos);
  return new Map([...out].map(([ino, text]) => [ino, parseIstat(text)]));
}

/** `ifind -d` of many fragments of a volume, in one shell. */
export async function ifindEach(v: TskVolume, frags: readonly number[]): Promise<Map<number, number | 'meta' | null>> {
  const out = await tskEach('ifind', v, frags, ['-d'], true);
  return new Map([...out].map(([frag, text]) => [frag, parseIfind(text)]));
}

/** `icat` of many inodes of a volume, in one shell, each into a file under `dir`; their bytes. */
export async function icatEach(v: TskVolume, inos: readonly number[], dir: string): Promise<Map<number, Buffer>> {
  mkdirSync(dir, { recursive: true });
  const args = volumeArgs(v).join(' ');
  const script = `img="$1"; dir="$2"; shift 2; for i in "$@"; do icat ${args} "$img" "$i" > "$dir/$i" || exit 1; done`;
  await execa('bash', ['-c', script, 'icat-batch', v.image, dir, ...inos.map(String)]);
  return new Map(inos.map((ino) => [ino, readFileSync(join(dir, String(ino)))]));
}

// --- comparing with TSK ---------------------------------------------------------------------

/** One fragment number per fragment an extent list covers (0 for a hole), like istat. */
export function fragmentsOf(extents: Extent[], fsize: number): number[] {
  const out: number[] = [];
  for (const e of extents) {
    const n = Math.ceil(e.length / fsize);
    for (let i = 0; i < n; i++) out.push(e.diskOffset === null ? 0 : e.diskOffset / fsize + i);
  }
  return out;
}

export function patch(image: string, offset: number, bytes: Buffer): void {
  const fd = openSync(image, 'r+');
  try {
    writeSync(fd, bytes, 0, bytes.length, offset);
  } finally {
    closeSync(fd);
  }
}

export const i32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeInt32LE(n);
  return b;
};

export const TYPE_CHAR: Record<number, string> = { 1: 'p', 2: 'c', 4: 'd', 6: 'b', 8: 'r', 10: 'l', 12: 's', 14: 'w' };
export const KIND_CHAR: Record<string, string> = { file: 'r', directory: 'd', symlink: 'l', fifo: 'p', 'char-device': 'c', 'block-device': 'b', socket: 's' };

