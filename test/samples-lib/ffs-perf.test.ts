// Speed, for the store generator (thousands of layers of a few operations each): no scan of the
// disk per operation, no byte-by-byte loops over large buffers. Times are printed; the bounds are
// loose enough for a loaded CI machine.

import { describe, expect, it } from 'vitest';
import { CHUNK, Disk } from '../../samples/lib/disk.js';
import { checkFs, Ffs, newfs } from '../../samples/lib/ffs/index.js';

function time<T>(fn: () => T): [T, number] {
  const t = performance.now();
  const out = fn();
  return [out, performance.now() - t];
}

describe('speed', () => {
  it('newfs of 256 MiB, 1000 writeFile calls, a 50 MiB file, 200 layers off one parent', () => {
    const disk = Disk.create(256 << 20);
    const [fs, newfsMs] = time(() => newfs(disk));
    const [, newfs1Ms] = time(() => newfs(Disk.create(256 << 20), { ufs: 1 }));
    for (let d = 0; d < 20; d++) fs.mkdir(`/opam/src/d${d}`, { parents: true });
    const data = Buffer.alloc(20000, 7);
    const [, writesMs] = time(() => {
      for (let i = 0; i < 1000; i++) fs.writeFile(`/opam/src/d${i % 20}/file-${i}.opam`, data.subarray(0, 100 + ((i * 397) % 19900)), { lose: i % 7 === 0 });
    });
    const [, oneDirMs] = time(() => {
      for (let i = 0; i < 1000; i++) fs.writeFile(`/opam/src/d0/more-${i}`, data.subarray(0, 2000));
    });
    const [, unlinkMs] = time(() => {
      for (let i = 0; i < 1000; i += 2) fs.unlink(`/opam/src/d${i % 20}/file-${i}.opam`);
    });
    const [, bigMs] = time(() => fs.writeFile('/big', Buffer.alloc(50 << 20, 1)));
    disk.takeDirty();
    const [, layersMs] = time(() => {
      for (let k = 0; k < 200; k++) {
        const child = disk.clone();
        const cfs = Ffs.open(child);
        cfs.writeFile(`/opam/src/layer-${k}`, data.subarray(0, 3000));
        cfs.unlink(`/opam/src/d${(k * 2 + 1) % 20}/file-${k * 2 + 1}.opam`);
        child.takeDirty(CHUNK);
      }
    });
    const report = checkFs(disk);
    expect(report.errors).toEqual([]);
    console.log(
      `newfs 256 MiB: UFS2 ${newfsMs.toFixed(0)} ms, UFS1 ${newfs1Ms.toFixed(0)} ms; ` +
        `1000 writeFile in 20 dirs ${writesMs.toFixed(0)} ms; 1000 more in one dir ${oneDirMs.toFixed(0)} ms; ` +
        `500 unlink ${unlinkMs.toFixed(0)} ms; 50 MiB file ${bigMs.toFixed(0)} ms; ` +
        `200 layers (clone, open, write, unlink, takeDirty) ${layersMs.toFixed(0)} ms`,
    );
    expect(newfsMs).toBeLessThan(3000);
    expect(writesMs).toBeLessThan(15000);
    expect(oneDirMs).toBeLessThan(15000);
    expect(layersMs).toBeLessThan(15000);
  }, 120_000);
});
