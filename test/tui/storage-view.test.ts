// The storage strip on its own: which chain element holds each block of a file (direct reading).

import { describe, expect, it } from 'vitest';
import type { FileReport } from '../../src/report/schema.js';
import { lineText } from '../../src/tui/file-view.js';
import { provenanceBrief, provenanceLine } from '../../src/tui/provenance-view.js';
import { chainStrip } from '../../src/tui/storage-view.js';
import { BASE_ID, LAYER_ID, PARENT_ID } from './fixtures.js';

const CHAIN = [`/s/result/${LAYER_ID}/rootfs/image.qcow2`, `/s/result/${PARENT_ID}/rootfs/image.qcow2`, `/s/result/${BASE_ID}/rootfs/image.qcow2`, '/s/base-image/openbsd-78.qcow2'];

function file(size: number, blocks: NonNullable<FileReport['storage']>['blocks']): FileReport {
  return { path: 'x.opam', class: 'partial', kind: 'file', expectedSize: size, actualSize: size, expectedSha256: null, actualSha256: null, provenance: null, regions: [], detail: {}, storage: { inode: 7, blocks } };
}

const text = (lines: ReturnType<typeof chainStrip>) => lines.map(lineText);

describe('chainStrip', () => {
  it('one mark per block, by the chain element holding it; a legend naming the layers and the base', () => {
    const f = file(4096, [
      { offset: 0, length: 1024, disk: 1000, layer: LAYER_ID },
      { offset: 1024, length: 1024, disk: 9000, layer: PARENT_ID },
      { offset: 2048, length: 1024, disk: 20000, layer: 'base:openbsd-78' },
      { offset: 3072, length: 512, disk: 30000, layer: null },
      { offset: 3584, length: 512, disk: null, layer: null },
    ]);
    const out = text(chainStrip(f, { blockSize: 512, columns: 80, chain: CHAIN, layerId: LAYER_ID }));
    expect(out[0]).toBe("Where the bytes are: inode 7, 5 extents; 8 blocks of 512 B; 6 not from this layer's own image");
    expect(out[1]).toBe('  001133·_');
    expect(out[2]).toBe('  0 1a3b60d28d33 (this layer)  1 10d4dd93b2fc (parent)  3 base:openbsd-78  · no image: reads as zeros  _ a hole in the file  ');
  });

  it('many blocks: one mark for several, an ancestor’s mark winning', () => {
    const blocks = Array.from({ length: 400 }, (_, i) => ({ offset: i * 512, length: 512, disk: i * 512, layer: i === 123 ? PARENT_ID : LAYER_ID }));
    const out = text(chainStrip(file(400 * 512, blocks), { blockSize: 512, columns: 44, chain: CHAIN, layerId: LAYER_ID, maxRows: 2 }));
    expect(out[0]).toContain('400 blocks of 512 B, one mark per 5; 1 not from');
    const marks = out.slice(1, -2).map((l) => l.trim()).join('');
    expect(marks).toHaveLength(80);
    expect(marks.indexOf('1')).toBe(24);
    expect(marks.replace('1', '')).toMatch(/^0+$/);
  });

  it('nothing for a file without a storage map (a boot run)', () => {
    expect(chainStrip({ ...file(10, []), storage: undefined }, { blockSize: 512, columns: 80, chain: CHAIN })).toEqual([]);
  });
});

describe('provenance in words', () => {
  it('parent-layer: the ancestor layer and the offset', () => {
    const p = { source: 'parent-layer' as const, path: '/home/opam/.opam/repo/default/packages', root: '/', matchedBytes: 512, offset: 8192, layer: PARENT_ID };
    expect(provenanceLine({ ...file(512, []), provenance: p })).toBe('layer 10d4dd93b2fc, byte 8192 of /home/opam/.opam/repo/default/packages (its owner there; 512 B)');
    expect(provenanceBrief(p, 40)).toBe('parent-layer 10d4dd93b2fc: …ult/packages');
  });

  it('other sources: the path, the offset when not 0; escaped', () => {
    const g = { source: 'guest' as const, path: '/home/opam/\x1b[2Jx', root: '/home/opam', matchedBytes: 100, offset: 0 };
    expect(provenanceLine({ ...file(100, []), provenance: g })).toBe('guest: /home/opam/\\e[2Jx (100 B)');
    expect(provenanceLine({ ...file(100, []), provenance: { ...g, source: 'corpus', path: 'a/b', root: '/c', offset: 12 } })).toBe('corpus: /c/a/b, from byte 12 of it (100 B)');
  });
});
