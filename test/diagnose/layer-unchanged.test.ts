// The report's `layerUnchanged` must be able to say false: a chain image whose mtime changes
// while the layer is being read (here: touched when classification starts, on a copy of the
// sample store) is reported, with the change named in the evidence.

import { cpSync, mkdtempSync, readFileSync, rmSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runDiagnose } from '../../src/diagnose/run-diagnose.js';
import { BOOT_DEFAULTS } from '../../src/vm/guest.js';
import { loadSample, ROOT } from '../helpers/sample.js';

let store: string;
let O: { store: string; layers: Record<string, string>; expected: string; dst: string };
const dir = mkdtempSync(join(tmpdir(), 'lf-unchanged-'));

beforeAll(() => {
  loadSample();
  O = JSON.parse(readFileSync(join(ROOT, 'samples', 'out', 'openbsd.json'), 'utf8'));
  store = join(dir, 'store');
  cpSync(O.store, store, { recursive: true });
}, 300_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('layerUnchanged', () => {
  const opts = () => ({ ...BOOT_DEFAULTS, store, layer: O.layers.copyClean!, expected: O.expected, dst: O.dst, via: 'direct' as const, verifyHash: true });

  it('is true when nothing touched the chain', async () => {
    const r = await runDiagnose(opts());
    expect(r.report.layerUnchanged).toBe(true);
  });

  it('is false, with the change in the evidence, when an image of the chain is touched during the run', async () => {
    const image = join(store, 'result', O.layers.copyClean!, 'rootfs', 'image.qcow2');
    const r = await runDiagnose(opts(), {
      onEvent: (e) => {
        if (e.type === 'step-start' && e.step === 'classify') utimesSync(image, new Date(), new Date(Date.now() + 60_000));
      },
    });
    expect(r.report.layerUnchanged).toBe(false);
    expect(r.report.verdict.evidence.join('\n')).toMatch(new RegExp(`THE LAYER CHANGED during the run: ${image.replace(/[.]/g, '\\.')}: mtime changed`));
  });
});
