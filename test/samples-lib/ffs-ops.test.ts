// Random sequences of file operations, on several geometries: after each sequence the file system
// is consistent (the fsck-like checker), a fresh open of the disk reads back exactly the model's
// tree, a chain of layers made from takeDirty reproduces the disk, and the same operations give
// the same bytes (determinism).

import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CHUNK, Disk } from '../../samples/lib/disk.js';
import { checkFs, Ffs, newfs, type NewfsOptions } from '../../samples/lib/ffs/index.js';
import { Tracked } from './model.js';

interface Cmd {
  op: number;
  a: number;
  b: number;
  size: number;
  lose: boolean;
}

const cmd = fc.record({
  op: fc.nat(16),
  a: fc.nat(1000),
  b: fc.nat(1000),
  size: fc.oneof(
    { weight: 3, arbitrary: fc.nat(3000) },
    { weight: 3, arbitrary: fc.nat(200_000) },
    { weight: 1, arbitrary: fc.constantFrom(0, 1, 511, 512, 4096, 16384, 16385) },
    { weight: 1, arbitrary: fc.nat(3_000_000) },
  ),
  lose: fc.boolean(),
});

/** Deterministic bytes (so two runs of one sequence can be compared byte for byte). */
function bytesOf(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i + 4 <= n; i += 4) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b.writeUInt32LE(x >>> 0, i);
  }
  return b;
}

/** Run the commands against a tracked file system. */
const serials = new WeakMap<Tracked, { n: number }>();
const staleNodes = new WeakSet<object>();

function run(t: Tracked, cmds: Cmd[]): void {
  if (!serials.has(t)) serials.set(t, { n: 0 });
  const counter = serials.get(t)!;
  const dirs = () => [...t.model].filter(([, v]) => v.kind === 'dir').map(([k]) => k).sort();
  const files = () => [...t.model].filter(([, v]) => v.kind === 'file').map(([k]) => k).sort();
  const nonDirs = () => [...t.model].filter(([, v]) => v.kind !== 'dir').map(([k]) => k).sort();
  const pick = <T,>(xs: T[], i: number): T | undefined => (xs.length ? xs[i % xs.length] : undefined);
  // A file once written with lost blocks may hold stale bytes past its end too; a write past the
  // end within that block then shows them (as a kernel reading the block would), so its model is
  // refreshed from the disk after checking the size and the bytes written.
  const refreshIfStale = (p: string, off: number, data: Buffer) => {
    const n = t.model.get(p) as { kind: 'file'; data: Buffer };
    if (!staleNodes.has(n)) return;
    const now = t.fs.readFile(p);
    expect(now.length).toBe(n.data.length);
    expect(now.subarray(off, off + data.length).equals(data)).toBe(true);
    n.data = now;
  };
  const child = (d: string, prefix: string) => `${d === '/' ? '' : d}/${prefix}${counter.n++}`;
  for (const c of cmds) {
    const d = pick(dirs(), c.a)!;
    const f = pick(files(), c.b);
    switch (c.op) {
      case 0:
        t.mkdir(child(d, 'd'));
        break;
      case 1:
      case 2: {
        const p = child(d, 'f');
        const lost = c.lose && c.op === 2;
        t.writeFile(p, bytesOf(c.size, counter.n), lost ? { lose: true } : { chunk: c.lose ? 10240 : undefined });
        // A lost write leaves stale bytes, which the model takes from the disk (same size).
        if (lost) {
          const n = t.model.get(p) as { kind: 'file'; data: Buffer };
          const stale = t.fs.readFile(p);
          expect(stale.length).toBe(n.data.length);
          n.data = stale;
          staleNodes.add(n);
        }
        break;
      }
      case 3:
        if (f) {
          staleNodes.delete(t.model.get(f)!);
          t.writeFile(f, bytesOf(c.size % 50_000, counter.n++), { replace: c.lose ? 'unlink' : 'truncate' });
        }
        break;
      case 4:
        if (f) t.append(f, bytesOf(c.size % 40_000, counter.n++));
        break;
      case 5:
        if (f) {
          const data = bytesOf(100, counter.n++);
          t.pwrite(f, c.size, data);
          refreshIfStale(f, c.size, data);
        }
        break;
      case 6:
        if (f) {
          t.truncate(f, c.size % 300_000);
          refreshIfStale(f, 0, Buffer.alloc(0));
        }
        break;
      case 7: {
        const x = pick(nonDirs(), c.b);
        if (x) t.unlink(x);
        break;
      }
      case 8:
        if (f) t.link(f, child(d, 'h'));
        break;
      case 9:
        t.symlink(child(d, 's'), c.lose ? 'x'.repeat(c.size % 400 + 1) : `target-${c.size}`);
        break;
      case 10: {
        const x = pick(nonDirs(), c.b);
        if (x) t.rename(x, child(d, 'r'));
        break;
      }
      case 11: {
        const from = pick(dirs().filter((x) => x !== '/'), c.b);
        if (from && d !== from && !d.startsWith(from + '/')) t.rename(from, child(d, 'm'));
        break;
      }
      case 12: {
        const victim = pick(files(), c.a);
        if (f && victim && victim !== f && t.model.get(victim) !== t.model.get(f)) t.rename(f, victim);
        break;
      }
      case 13: {
        const x = pick(dirs().filter((y) => y !== '/'), c.b);
        if (x) t.rmTree(x);
        break;
      }
      case 14:
        if (f) t.fs.chmod(f, c.size & 0o777);
        break;
      case 15:
        if (f) t.fs.utimes(f, c.size, c.size + 1);
        break;
      case 16: {
        // A directory over an empty one (not its own ancestor or descendant).
        const from = pick(dirs().filter((x) => x !== '/'), c.b);
        const empties = dirs().filter((y) => y !== '/' && ![...t.model.keys()].some((k) => k.startsWith(y + '/')));
        const to = pick(empties.filter((y) => from && y !== from && !y.startsWith(from + '/') && !from.startsWith(y + '/')), c.a);
        if (from && to) t.rename(from, to);
        break;
      }
    }
  }
}

function expectMatches(disk: Disk, t: Tracked): void {
  const report = checkFs(disk);
  expect(report.errors).toEqual([]);
  const fs = Ffs.open(disk);
  const tree = fs.walkTree().map((e) => (e.path.endsWith('/') ? e.path.slice(0, -1) : e.path));
  expect(tree.sort()).toEqual([...t.model.keys()].filter((k) => k !== '/').sort());
  const names = new Map<object, number>();
  for (const [k, v] of t.model) if (k !== '/') names.set(v, (names.get(v) ?? 0) + 1);
  for (const [k, v] of t.model) {
    if (k === '/') continue;
    const st = fs.stat(k);
    if (v.kind === 'file') {
      expect(st.type).toBe('file');
      expect(fs.readFile(k).equals(v.data), k).toBe(true);
      expect(st.nlink, k).toBe(names.get(v));
    } else if (v.kind === 'symlink') {
      expect(fs.readlink(k)).toBe(v.target);
    } else {
      expect(st.type).toBe('dir');
    }
  }
}

/** More runs on request: FFS_FC_RUNS=500 npx vitest run test/samples-lib/ffs-ops.test.ts */
const RUNS = Number(process.env.FFS_FC_RUNS ?? 0) || undefined;

const geometries: Array<[string, NewfsOptions]> = [
  ['UFS2 16K/2K', {}],
  ['UFS2 4K/512, many groups', { bsize: 4096, fsize: 512, fpg: 4096 }],
  ['UFS1 8K/1K', { ufs: 1, bsize: 8192, fsize: 1024 }],
  ['UFS2 8K/2K (4 frags)', { bsize: 8192, fsize: 2048 }],
  ['UFS1 4K/4K (1 frag)', { ufs: 1, bsize: 4096, fsize: 4096 }],
  ['UFS2 cluster maps', { maxcontig: 4 }],
];

describe('random operation sequences', () => {
  for (const [name, opts] of geometries) {
    it(`${name}: consistent, and a fresh open reads back the model`, () => {
      fc.assert(
        fc.property(fc.array(cmd, { minLength: 1, maxLength: 60 }), (cmds) => {
          const disk = Disk.create(48 << 20);
          const t = new Tracked(newfs(disk, opts));
          run(t, cmds);
          expectMatches(disk, t);
        }),
        { numRuns: RUNS ?? 30 },
      );
    }, 120_000);
  }

  it('a chain of layers, each holding only the 64 KiB clusters its operations wrote, reads as the disk', () => {
    fc.assert(
      fc.property(fc.array(fc.array(cmd, { maxLength: 8 }), { minLength: 1, maxLength: 6 }), (layers) => {
        const disk = Disk.create(32 << 20);
        const t = new Tracked(newfs(disk, { bsize: 8192, fsize: 1024 }));
        const base = disk.snapshot();
        disk.takeDirty();
        const overlays: Array<Map<number, Buffer>> = [];
        for (const cmds of layers) {
          run(t, cmds);
          const clusters = disk.takeDirty(CHUNK);
          overlays.push(new Map(clusters.map((c) => [c, disk.readBytes(c * CHUNK, CHUNK)])));
        }
        for (let c = 0; c < disk.size / CHUNK; c++) {
          let bytes: Buffer | undefined;
          for (let k = overlays.length - 1; k >= 0 && !bytes; k--) bytes = overlays[k]!.get(c);
          bytes ??= base.readBytes(c * CHUNK, CHUNK);
          expect(bytes.equals(disk.readBytes(c * CHUNK, CHUNK)), `cluster ${c}`).toBe(true);
        }
      }),
      { numRuns: RUNS ?? 30 },
    );
  }, 120_000);

  it('the same operations give the same bytes', () => {
    const image = (cmds: Cmd[]) => {
      const disk = Disk.create(32 << 20);
      run(new Tracked(newfs(disk, { time: 1_700_000_000 })), cmds);
      const h = createHash('sha256');
      for (const c of disk.heldChunks()) h.update(String(c)).update(disk.readBytes(c * CHUNK, CHUNK));
      return h.digest('hex');
    };
    fc.assert(
      fc.property(fc.array(cmd, { maxLength: 30 }), (cmds) => {
        expect(image(cmds)).toBe(image(cmds));
      }),
      { numRuns: 10 },
    );
  }, 60_000);
});

describe('failed operations change nothing', () => {
  it('ENOSPC half-way through a write, EEXIST, ENOTEMPTY, ENOENT: the disk is as it was', () => {
    const disk = Disk.create(8 << 20);
    const fs = newfs(disk, { bsize: 4096, fsize: 512 });
    fs.mkdir('/d');
    fs.writeFile('/d/x', 'x');
    const image = () => createHash('sha256').update(disk.readBytes(0, disk.size)).digest('hex');
    const attempt = (fn: () => void, code: string) => {
      const before = image();
      expect(fn).toThrow(code);
      expect(image()).toBe(before);
      expect(checkFs(disk).errors).toEqual([]);
    };
    attempt(() => fs.mkdir('/d'), 'EEXIST');
    attempt(() => fs.rmdir('/d'), 'ENOTEMPTY');
    attempt(() => fs.unlink('/nope'), 'ENOENT');
    attempt(() => fs.rename('/d', '/d/inside'), 'EINVAL');
    attempt(() => fs.writeFile('/big', Buffer.alloc(16 << 20, 1)), 'ENOSPC');
    // Fill it with files until one does not fit; every failure leaves it consistent.
    let i = 0;
    for (;;) {
      try {
        fs.writeFile(`/fill-${i++}`, Buffer.alloc(300_000, i));
      } catch (e) {
        expect(String(e)).toMatch(/ENOSPC/);
        break;
      }
    }
    expect(checkFs(disk).errors).toEqual([]);
    attempt(() => fs.append('/fill-0', Buffer.alloc(1 << 20, 2)), 'ENOSPC');
    // What remains is still usable.
    fs.unlink('/fill-0');
    fs.writeFile('/after', Buffer.alloc(100_000, 3));
    expect(checkFs(disk).errors).toEqual([]);
  });
});
