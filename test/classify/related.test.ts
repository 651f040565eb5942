// The relatedness measure's hot loops are written for speed (four rolling hashes at once, counts
// that stop once the answer is known): each must answer what the plain definition answers.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { controlBytes, controlBytesExceed, isJunk } from '../../src/classify/bytes.js';
import { looksText } from '../../src/classify/judge.js';
import { BINARY_K, Context, relatedness, shapeAgreement } from '../../src/classify/related.js';

const SEED = { seed: 20261127 };

/** The k-gram hash the measure uses, computed at one place without rolling. */
function kgram(buf: Uint8Array, at: number, k: number): number {
  let h = 0;
  for (let i = at; i < at + k; i++) h = (Math.imul(h, 0x01000193) + buf[i]! + 1) | 0;
  return h >>> 0;
}

/** The explained fraction by the definition: a byte inside a k-gram the context has too. */
function explainedByDefinition(actual: Uint8Array, context: Uint8Array, k: number): number {
  if (actual.length === 0) return 1;
  const have = new Set<number>();
  for (let i = 0; i + k <= context.length; i++) have.add(kgram(context, i, k));
  const covered = new Uint8Array(actual.length);
  for (let i = 0; i + k <= actual.length; i++) if (have.has(kgram(actual, i, k))) covered.fill(1, i, i + k);
  return covered.reduce((n, c) => n + c, 0) / actual.length;
}

/** Bytes from a small alphabet, so that k-grams recur; long enough to reach every lane split. */
const alphabetBytes = (max: number) => fc.uint8Array({ min: 0, max: 1, minLength: 0, maxLength: max });

describe('the rolling k-gram pass', () => {
  it('finds what the definition finds, for contexts of any length (one lane, four lanes, their joints)', () => {
    fc.assert(
      fc.property(alphabetBytes(3000), fc.uint8Array({ min: 0, max: 1, minLength: 0, maxLength: 2000 }), (context, actual) => {
        const got = relatedness(actual, null, new Context(context, false)).explained;
        expect(got).toBe(explainedByDefinition(actual, context, BINARY_K));
      }),
      { numRuns: 300, ...SEED },
    );
  });

  it('finds a k-gram wherever it lies in the context: at each lane’s first and last place', () => {
    for (const n of [16, 17, 100, 270, 271, 272, 273, 1000, 1001, 1002, 1003, 4099]) {
      const context = new Uint8Array(n).fill(7);
      const total = n - BINARY_K + 1;
      const q = Math.ceil(total / 4);
      const places = new Set([0, 1, q - 1, q, 2 * q - 1, 2 * q, 3 * q - 1, total - q, total - 2, total - 1].filter((p) => p >= 0 && p < total));
      for (const p of places) {
        const ctx = Uint8Array.from(context);
        const gram = Uint8Array.from({ length: BINARY_K }, (_, i) => 100 + i);
        ctx.set(gram, p);
        expect(relatedness(gram, null, new Context(ctx, false)).explained, `n ${n}, at ${p}`).toBe(1);
      }
    }
  });
});

describe('counts that stop once the answer is known', () => {
  it('shapeAgreement: exact from the threshold up, below it when the full count is', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 20_000 }), fc.uint8Array({ maxLength: 20_000 }), fc.double({ min: 0, max: 1, noNaN: true }), (a, e, t) => {
        const full = shapeAgreement(a, e);
        const early = shapeAgreement(a, e, t);
        if (full >= t) expect(early).toBe(full);
        else {
          expect(early).toBeLessThan(t);
          expect(early).toBeGreaterThanOrEqual(full);
        }
      }),
      { numRuns: 300, ...SEED },
    );
    // Same-shaped text far past 4 KiB with a change near its end: counted to the end.
    const text = Buffer.from('let x = 1 in\n'.repeat(2000));
    const edited = Buffer.from(text);
    edited.write('LET', text.length - 20);
    expect(shapeAgreement(edited, text, 0.85)).toBe(shapeAgreement(edited, text));
  });

  it('controlBytesExceed, looksText and isJunk agree with the full count', () => {
    const mostlyText = fc.uint8Array({ maxLength: 20_000 }).map((b) => b.map((x) => (x < 250 ? 0x61 : x - 250)));
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 20_000 }), mostlyText), fc.nat(600), (buf, limit) => {
        const n = controlBytes(buf);
        expect(controlBytesExceed(buf, limit)).toBe(n > limit);
        expect(looksText(buf)).toBe(buf.length > 0 && n * 1000 <= buf.length);
        expect(isJunk(buf)).toBe(buf.length > 0 && n * 100 >= buf.length * 3);
      }),
      { numRuns: 500, ...SEED },
    );
  });
});
