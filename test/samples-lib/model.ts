// A file system with a model beside it: every operation goes to the FFS writer and to a plain
// map of what the tree should hold, so readers (The Sleuth Kit, the checker) can be compared
// against what the test asked for, not against what the writer says it did.

import { expect } from 'vitest';
import type { Ffs, WriteOptions } from '../../samples/lib/ffs/index.js';
import { createHash } from 'node:crypto';
import { fls, icatHashes, istatMany, type TskOpts } from './tsk.js';

export type Node = { kind: 'file'; data: Buffer } | { kind: 'dir' } | { kind: 'symlink'; target: string };

export class Tracked {
  readonly fs: Ffs;
  readonly model = new Map<string, Node>([['/', { kind: 'dir' }]]);

  constructor(fs: Ffs) {
    this.fs = fs;
    if (fs.exists('/lost+found')) this.model.set('/lost+found', { kind: 'dir' });
  }

  private parent(p: string): string {
    const i = p.lastIndexOf('/');
    return i <= 0 ? '/' : p.slice(0, i);
  }

  mkdir(p: string): void {
    this.fs.mkdir(p);
    this.model.set(p, { kind: 'dir' });
  }

  writeFile(p: string, data: Buffer, opts: WriteOptions = {}) {
    const pl = this.fs.writeFile(p, data, opts);
    const old = this.model.get(p);
    if (old && old.kind === 'file' && opts.replace !== 'unlink') old.data = Buffer.from(data);
    else this.model.set(p, { kind: 'file', data: Buffer.from(data) });
    return pl;
  }

  append(p: string, data: Buffer): void {
    this.fs.append(p, data);
    const n = this.model.get(p) as { kind: 'file'; data: Buffer };
    n.data = Buffer.concat([n.data, data]);
  }

  pwrite(p: string, off: number, data: Buffer): void {
    this.fs.pwrite(p, off, data);
    const n = this.model.get(p) as { kind: 'file'; data: Buffer };
    const out = Buffer.alloc(Math.max(n.data.length, off + data.length));
    n.data.copy(out);
    data.copy(out, off);
    n.data = out;
  }

  truncate(p: string, size: number): void {
    this.fs.truncate(p, size);
    const n = this.model.get(p) as { kind: 'file'; data: Buffer };
    const out = Buffer.alloc(size);
    n.data.copy(out, 0, 0, Math.min(size, n.data.length));
    n.data = out;
  }

  symlink(p: string, target: string): void {
    this.fs.symlink(p, target);
    this.model.set(p, { kind: 'symlink', target });
  }

  link(existing: string, p: string): void {
    this.fs.link(existing, p);
    this.model.set(p, this.model.get(existing)!);
  }

  unlink(p: string): void {
    this.fs.unlink(p);
    this.model.delete(p);
  }

  rmTree(p: string): void {
    this.fs.rmTree(p);
    for (const k of [...this.model.keys()]) if (k === p || k.startsWith(p + '/')) this.model.delete(k);
  }

  rename(from: string, to: string): void {
    this.fs.rename(from, to);
    const moved: Array<[string, Node]> = [];
    for (const [k, v] of this.model) if (k === from || k.startsWith(from + '/')) moved.push([k, v]);
    for (const [k] of moved) this.model.delete(k);
    for (const k of [...this.model.keys()]) if (k === to || k.startsWith(to + '/')) this.model.delete(k);
    for (const [k, v] of moved) this.model.set(to + k.slice(from.length), v);
  }

  /** Paths (without the root) and how many names each node has. */
  linkCounts(): Map<Node, number> {
    const m = new Map<Node, number>();
    for (const [k, v] of this.model) if (k !== '/') m.set(v, (m.get(v) ?? 0) + 1);
    return m;
  }

  subdirCount(dir: string): number {
    let n = 0;
    for (const [k, v] of this.model) if (k !== '/' && v.kind === 'dir' && this.parent(k) === dir) n++;
    return n;
  }
}

/**
 * The fragments TSK's istat lists for a file: "Direct Blocks", each block's fragments up to the
 * size (0 for a hole); "Indirect Blocks", each indirect block reachable within the size in tree
 * order, a missing one as a block of zeros. Decoded here from the inode and the raw indirect blocks.
 */
export function expectedFragList(fs: Ffs, path: string): { direct: number[]; indirect: number[] } {
  const g = fs.g;
  const ip = fs.readInode(fs.lookup(path));
  const byLbn = new Map(fs.extents(path).map((e) => [e.lbn, e.fsAddr]));
  const direct: number[] = [];
  const nblk = Math.ceil(ip.size / g.bsize);
  for (let lbn = 0; lbn < nblk; lbn++) {
    const n = lbn === nblk - 1 ? Math.ceil((ip.size - lbn * g.bsize) / g.fsize) : g.frag;
    const a = byLbn.get(lbn) ?? 0;
    for (let i = 0; i < n; i++) direct.push(a ? a + i : 0);
  }
  const indirect: number[] = [];
  const N = g.nindir;
  const ptr = (blk: Buffer, i: number) => (g.ptrSize === 4 ? blk.readInt32LE(4 * i) : Number(blk.readBigInt64LE(8 * i)));
  const emit = (addr: number, level: number, base: number) => {
    for (let i = 0; i < g.frag; i++) indirect.push(addr ? addr + i : 0);
    if (!addr || level === 1) return;
    const blk = fs.readFrags(addr, g.bsize);
    const span = N ** (level - 1);
    for (let i = 0; i < N && base + i * span < nblk; i++) emit(ptr(blk, i), level - 1, base + i * span);
  };
  const bases = [12, 12 + N, 12 + N + N * N];
  if (!ip.shortlink) for (let r = 0; r < 3 && bases[r]! < nblk; r++) emit(ip.ib[r]!, r + 1, bases[r]!);
  return { direct, indirect };
}

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/**
 * The Sleuth Kit reads exactly the tree of the model: the same names (fls -r -p), the same bytes
 * (icat), sizes, link counts and block lists (istat), symlink targets.
 */
export async function expectTskSeesModel(img: string, t: Tracked, o: TskOpts): Promise<{ files: number; bytes: number }> {
  const entries = (await fls(img, o)).filter((e) => !e.deleted);
  const want = [...t.model.keys()].filter((k) => k !== '/').map((k) => k.slice(1)).sort();
  expect(entries.map((e) => e.path).sort()).toEqual(want);
  const counts = t.linkCounts();
  const inoOf = new Map<Node, number>();
  const inos = [...new Set(entries.map((e) => e.ino))];
  const stats = await istatMany(img, inos, o);
  const fileInos = [...new Set(entries.filter((e) => t.model.get('/' + e.path)!.kind === 'file').map((e) => e.ino))];
  const hashes = await icatHashes(img, fileInos, o);
  let files = 0;
  let bytes = 0;
  for (const e of entries) {
    const path = '/' + e.path;
    const node = t.model.get(path)!;
    expect(e.type, path).toBe(node.kind === 'file' ? 'r' : node.kind === 'dir' ? 'd' : 'l');
    // Names of one node (hard links) share one inode, as TSK reads it.
    if (inoOf.has(node)) expect(e.ino, path).toBe(inoOf.get(node));
    else inoOf.set(node, e.ino);
    expect(e.ino, path).toBe(t.fs.lookup(path));
    const is = stats.get(e.ino)!;
    expect(is.allocated, path).toBe(true);
    if (node.kind === 'file') {
      expect(hashes.get(e.ino), `${path}: icat bytes`).toBe(sha256(node.data));
      expect(is.size, path).toBe(node.data.length);
      expect(is.nlink, path).toBe(counts.get(node));
      const frags = expectedFragList(t.fs, path);
      expect(is.direct, `${path}: direct blocks`).toEqual(frags.direct);
      expect(is.indirect, `${path}: indirect blocks`).toEqual(frags.indirect);
      files++;
      bytes += node.data.length;
    } else if (node.kind === 'dir') {
      expect(is.nlink, path).toBe(2 + t.subdirCount(path));
    } else {
      expect(is.link, path).toBe(node.target);
      expect(is.size, path).toBe(Buffer.byteLength(node.target));
    }
  }
  return { files, bytes };
}
