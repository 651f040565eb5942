import { mkdtemp, rm, stat, writeFile, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHUNK, Disk } from '../../samples/lib/disk.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'lf-disk-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('Disk', () => {
  it('reads zeros where nothing was written, and writes across chunk boundaries', () => {
    const d = Disk.create(10 * CHUNK + 123);
    expect(d.readBytes(5 * CHUNK - 3, 10).equals(Buffer.alloc(10))).toBe(true);
    const data = Buffer.from('across the boundary');
    d.write(data, 2 * CHUNK - 5);
    expect(d.readBytes(2 * CHUNK - 5, data.length).toString()).toBe('across the boundary');
    expect(d.heldChunks()).toEqual([1, 2]);
    d.write(Buffer.from('end'), d.size - 3);
    expect(d.readBytes(d.size - 3, 3).toString()).toBe('end');
    expect(() => d.write(Buffer.from('x'), d.size)).toThrow(/outside the disk/);
    expect(() => d.readBytes(-1, 1)).toThrow(/outside the disk/);
  });

  it('takeDirty gives the sorted aligned chunks written since the last call, at any granularity', () => {
    const d = Disk.create(1 << 24);
    d.write(Buffer.alloc(10), 3 * CHUNK + 10);
    d.write(Buffer.alloc(CHUNK + 1), 7 * CHUNK - 1);
    d.write(Buffer.alloc(1), 0);
    expect(d.peekDirty(4096)).toEqual([0, 48, ...Array.from({ length: 17 }, (_, i) => 111 + i)]);
    expect(d.takeDirty()).toEqual([0, 3, 6, 7]);
    expect(d.takeDirty()).toEqual([]);
    d.write(Buffer.alloc(1), 5 * CHUNK);
    expect(d.takeDirty(2 * CHUNK)).toEqual([2]);
  });

  it('clone and snapshot share chunks copy-on-write, in both directions', () => {
    const a = Disk.create(4 * CHUNK);
    a.write(Buffer.from('parent'), 100);
    a.takeDirty();
    const snap = a.snapshot();
    const b = a.clone();
    b.write(Buffer.from('child!'), 100);
    a.write(Buffer.from('PARENT'), 100);
    expect(a.readBytes(100, 6).toString()).toBe('PARENT');
    expect(b.readBytes(100, 6).toString()).toBe('child!');
    expect(snap.readBytes(100, 6).toString()).toBe('parent');
    expect(() => snap.write(Buffer.from('x'), 0)).toThrow(/read-only/);
    expect(b.takeDirty()).toEqual([0]);
    // A clone of a clone, written, leaves its source alone.
    const c = b.clone();
    c.write(Buffer.from('grand'), 100);
    expect(b.readBytes(100, 6).toString()).toBe('child!');
  });

  it('reads through a backing buffer or file, never writing it, and saves a sparse raw image', async () => {
    const base = Buffer.alloc(3 * CHUNK, 0x61);
    const fromBuf = Disk.fromBuffer(base, 8 * CHUNK);
    fromBuf.write(Buffer.from('XY'), CHUNK - 1);
    expect(fromBuf.readBytes(CHUNK - 2, 4).toString()).toBe('aXYa');
    expect(fromBuf.readBytes(3 * CHUNK - 1, 2)).toEqual(Buffer.from([0x61, 0]));
    expect(base.includes(Buffer.from('XY'))).toBe(false);

    const file = join(dir, 'base.raw');
    await writeFile(file, base);
    const fromFile = Disk.fromFile(file, 100 * CHUNK);
    fromFile.write(Buffer.from('hello'), 50 * CHUNK);
    expect(fromFile.readBytes(0, 3).toString()).toBe('aaa');
    const out = join(dir, 'out.raw');
    fromFile.saveRaw(out);
    fromFile.close();
    const st = await stat(out);
    expect(st.size).toBe(100 * CHUNK);
    // Only the backing image's three chunks and the written one take space.
    expect(st.blocks * 512).toBeLessThanOrEqual(5 * CHUNK);
    const back = await readFile(out);
    expect(back.subarray(0, 3 * CHUNK).equals(base)).toBe(true);
    expect(back.subarray(50 * CHUNK, 50 * CHUNK + 5).toString()).toBe('hello');
    expect((await readFile(file)).equals(base)).toBe(true);
  });

  it('behaves like a flat buffer under random writes, clones and reads', () => {
    const size = 6 * CHUNK + 777;
    const op = fc.oneof(
      fc.record({ kind: fc.constant('write' as const), off: fc.nat(size - 1), len: fc.integer({ min: 1, max: 3 * CHUNK }), byte: fc.nat(255) }),
      fc.record({ kind: fc.constant('clone' as const) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 25 }), (ops) => {
        let disk = Disk.create(size);
        let model = Buffer.alloc(size);
        const olds: Array<[Disk, Buffer]> = [];
        for (const o of ops) {
          if (o.kind === 'clone') {
            olds.push([disk, Buffer.from(model)]);
            disk = disk.clone();
            model = Buffer.from(model);
            continue;
          }
          const len = Math.min(o.len, size - o.off);
          const data = Buffer.alloc(len, o.byte);
          disk.write(data, o.off);
          data.copy(model, o.off);
        }
        expect(disk.readBytes(0, size).equals(model)).toBe(true);
        for (const [d, m] of olds) expect(d.readBytes(0, size).equals(m)).toBe(true);
      }),
      { numRuns: 60 },
    );
  });
});
