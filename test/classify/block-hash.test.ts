// headHashes is the fast path of hashHead over a whole file: the same 64-byte head hash for every
// block, whatever the buffer's alignment and however short its last block (the provenance step
// compares the two).
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { hashHead, headHashes, newHashes } from '../../src/classify/block-hash.js';

function expectedHeads(buf: Uint8Array): number[] {
  const h = newHashes();
  const out: number[] = [];
  for (let off = 0; off < buf.length; off += 512) out.push(hashHead(buf, off, Math.min(512, buf.length - off), h).h64);
  return out;
}

describe('headHashes', () => {
  for (const length of [0, 1, 63, 64, 65, 511, 512, 513, 1024 + 100, 4096 + 37, 8192]) {
    it(`agrees with hashHead block by block (${length} bytes, aligned and not)`, () => {
      const backing = randomBytes(length + 8);
      for (const shift of [0, 1, 2, 3, 4]) {
        const buf = new Uint8Array(backing.buffer, backing.byteOffset + shift, length);
        const out = new Uint32Array(Math.ceil(length / 512));
        headHashes(buf, out, 0);
        expect([...out]).toEqual(expectedHeads(buf));
      }
    });
  }

  it('writes from index `at` and never past the end of `out`', () => {
    const buf = randomBytes(3 * 512);
    const out = new Uint32Array(4);
    headHashes(buf, out, 2);
    expect(out[0]).toBe(0);
    expect(out[1]).toBe(0);
    expect([...out.subarray(2)]).toEqual(expectedHeads(buf).slice(0, 2));
  });

  it('writes nothing for a chunk past the end of `out` (the longer side of a pair of different sizes)', () => {
    const out = new Uint32Array(4);
    for (const at of [4, 5, 300]) {
      headHashes(randomBytes(3 * 512), out, at);
      headHashes(Buffer.alloc(0), out, at);
    }
    expect([...out]).toEqual([0, 0, 0, 0]);
  });
});
