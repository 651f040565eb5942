import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { safeJsonPieces, toSafeJson } from '../../src/report/json.js';
import { emitReport, renderReport } from '../../src/cli/emit-report.js';
import { Writable } from 'node:stream';
import { layersDocument } from '../../src/cli/layers-command.js';
import { sampleReport } from './sample-report.js';

const UNSAFE = /[\u007f-\u009f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

describe('toSafeJson', () => {
  it('escapes C1 controls and bidi overrides as \\uXXXX, and JSON.parse gives the same value back', () => {
    const value = { path: 'a\u009b31mred\u009d0;title\u0007', bidi: 'x\u202eevil\u2066\u2069', ls: 'l\u2028p\u2029', del: '\u007f', ok: 'é ✓ 🐫' };
    const text = toSafeJson(value, 2);
    expect(text).not.toMatch(UNSAFE);
    expect(text).toContain('a\\u009b31mred\\u009d0;title\\u0007');
    expect(text).toContain('x\\u202eevil\\u2066\\u2069');
    expect(text).toContain('é ✓ 🐫');
    expect(JSON.parse(text)).toEqual(value);
    expect(toSafeJson(value)).not.toContain('\n');
  });

  it('property: any value of strings round-trips and no unsafe character is printed raw', () => {
    const str = fc.string({ unit: fc.oneof(fc.constantFrom('\u009b', '\u0085', '\u202e', '\u2068', '\\', '"', '\u2028', 'a'), fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)), fc.string({ unit: 'binary', minLength: 1, maxLength: 1 })) });
    const val = fc.letrec((tie) => ({
      v: fc.oneof({ depthSize: 'small' }, str, fc.integer(), fc.boolean(), fc.constant(null), fc.array(tie('v'), { maxLength: 4 }), fc.dictionary(str, tie('v'), { maxKeys: 4 })),
    })).v;
    fc.assert(
      fc.property(val, fc.option(fc.integer({ min: 0, max: 4 }), { nil: undefined }), (v, indent) => {
        const text = toSafeJson(v, indent);
        expect(text).not.toMatch(UNSAFE);
        expect(JSON.parse(text)).toEqual(JSON.parse(JSON.stringify(v)));
      }),
      { numRuns: 2000 },
    );
  });

  it('--json of a report and layers --json go through it', () => {
    const r = sampleReport();
    r.files[0]!.path = 'evil\u009b2J\u202e.opam';
    const out = renderReport(r, { json: true });
    expect(out).not.toMatch(UNSAFE);
    expect(JSON.parse(out).files[0].path).toBe('evil\u009b2J\u202e.opam');
    const doc = layersDocument('/s', [], ['db \u009b warning']);
    expect(toSafeJson(doc)).toContain('db \\u009b warning');
  });

  it('property: the pieces of a document, joined, are exactly its toSafeJson text', () => {
    const leaf = fc.oneof(fc.string(), fc.integer(), fc.boolean(), fc.constant(null), fc.constant(undefined), fc.string({ unit: fc.constantFrom('\u009b', '\u202e', '\n', '"', 'x') }));
    const nested = fc.oneof(leaf, fc.array(leaf, { maxLength: 3 }), fc.dictionary(fc.string(), leaf, { maxKeys: 3 }));
    const value = fc.oneof(nested, fc.array(nested, { maxLength: 5 }));
    fc.assert(
      fc.property(fc.dictionary(fc.string(), value, { maxKeys: 5 }), fc.integer({ min: 0, max: 4 }), fc.integer({ min: 1, max: 6 }), (doc, indent, slice) => {
        expect([...safeJsonPieces(doc, indent)].join('')).toBe(toSafeJson(doc, indent));
        expect([...safeJsonPieces(doc, indent, slice)].join('')).toBe(toSafeJson(doc, indent));
      }),
      { numRuns: 2000 },
    );
  });

  it('diagnose and classify --json print the report in pieces, the same text as renderReport', async () => {
    const r = sampleReport();
    r.files[0]!.path = 'evil\u009b2J\u202e.opam';
    const writes: string[] = [];
    const out = new Writable({ write(chunk, _enc, done) { writes.push(String(chunk)); done(); } });
    await emitReport(r, { json: true }, out);
    expect(writes.join('')).toBe(renderReport(r, { json: true }));
  });

  it('--json waits for a slow reader: what is queued stays about one 64 KiB batch, not the report', async () => {
    const r = sampleReport();
    const file = r.files[0]!;
    r.files = Array.from({ length: 4000 }, (_, i) => ({ ...file, path: `packages/p${i}/opam` }));
    const whole = renderReport(r, { json: true });
    expect(whole.length).toBeGreaterThan(1024 * 1024);
    const got: string[] = [];
    let queued = 0;
    const out = new Writable({
      highWaterMark: 16 * 1024,
      write(chunk, _enc, done) {
        got.push(String(chunk));
        setImmediate(done);
      },
    });
    const origWrite = out.write.bind(out);
    out.write = ((chunk: string) => {
      const ok = origWrite(chunk);
      queued = Math.max(queued, out.writableLength);
      return ok;
    }) as typeof out.write;
    await emitReport(r, { json: true }, out);
    expect(got.join('')).toBe(whole);
    expect(queued).toBeLessThan(256 * 1024);
  });
});
