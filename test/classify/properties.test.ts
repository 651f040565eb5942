// Property tests (fast-check) over arbitrary bytes and trees.

import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { classifyContent, classifyRegions } from '../../src/classify/content.js';
import { decodeDirectoryBlock } from '../../src/classify/directory-block.js';
import { compareTrees } from '../../src/classify/compare-trees.js';
import { decideVerdict } from '../../src/diagnose/verdict.js';
import { ProvenanceIndex } from '../../src/classify/provenance.js';
import type { Tree } from '../../src/classify/tree.js';

function memTree(files: Record<string, Uint8Array>): Tree {
  const t: Tree = new Map();
  for (const [path, data] of Object.entries(files)) {
    const buf = Buffer.from(data);
    t.set(path, { path, kind: 'file', size: buf.length, read: async () => buf });
  }
  return t;
}

const bytes = fc.uint8Array({ minLength: 0, maxLength: 5000 });
const blockSize = fc.constantFrom(512, 1024, 4096);
const fileMap = fc.dictionary(fc.stringMatching(/^[a-z][a-z0-9._-]{0,12}$/), fc.uint8Array({ minLength: 0, maxLength: 3000 }), { minKeys: 1, maxKeys: 8 });

describe('properties', () => {
  it('arbitrary bytes never throw, and regions tile the file', async () => {
    await fc.assert(
      fc.asyncProperty(bytes, bytes, blockSize, async (a, e, bs) => {
        const expected = e.length === a.length ? e : null;
        const c = await classifyContent(a, expected, bs);
        decodeDirectoryBlock(a);
        const regions = classifyRegions(a, expected, bs);
        let off = 0;
        for (const r of regions) {
          expect(r.offset).toBe(off);
          off += r.length;
        }
        expect(off).toBe(a.length);
        expect(c.class).toBeTypeOf('string');
        new ProvenanceIndex().lookup(a);
      }),
      { numRuns: 300 },
    );
  });

  it('identical trees are always clean', async () => {
    await fc.assert(
      fc.asyncProperty(fileMap, async (files) => {
        const reports = await compareTrees(memTree(files), memTree(files));
        expect(reports.every((r) => r.class === 'match')).toBe(true);
        expect(decideVerdict(reports).kind).toBe('clean');
      }),
      { numRuns: 100 },
    );
  });

  it('a single flipped byte is never match', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ minLength: 1, maxLength: 5000 }), fc.nat(), fc.integer({ min: 1, max: 255 }), async (e, pos, x) => {
        const a = Buffer.from(e);
        a[pos % a.length]! ^= x;
        const [r] = await compareTrees(memTree({ f: e }), memTree({ f: a }));
        expect(r!.class).not.toBe('match');
        expect(decideVerdict([r!]).kind).not.toBe('clean');
      }),
      { numRuns: 300 },
    );
  });

  it('zero-filled files of any length are zeros', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 200_000 }), fc.integer({ min: 1, max: 255 }), async (n, fill) => {
        const [r] = await compareTrees(memTree({ f: Buffer.alloc(n, fill) }), memTree({ f: Buffer.alloc(n) }));
        expect(r!.class).toBe('zeros');
      }),
      { numRuns: 100 },
    );
  });
});
