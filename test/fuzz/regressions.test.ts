// Every input the fuzzer (npm run fuzz, fuzz/) found failing, run again through its target: it
// must now be accepted or refused with a one-line UserError, in bounded time. Inputs live in
// test/fuzz/inputs/<target>--<what it did>.bin. Each target's own seeds are run too, as a
// smoke test of the targets (a valid input is never refused for a crash).

import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { TARGETS } from '../../fuzz/targets/index.js';
import { escapeText } from '../../src/report/escape.js';
import { UserError } from '../../src/util/errors.js';

const INPUTS = fileURLToPath(new URL('./inputs/', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'lf-test-fuzzreg-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/**
 * Found by the fuzzer and not fixed yet, because the parser is not in the fuzzer's owner's files:
 * the input's test asserts the failure is still there (`it.fails`), so that the fix turns it red
 * and the entry is removed from here. Each names the file, the cause and the fix.
 */
const OPEN: Record<string, { message: string; why: string }> = {};

async function outcome(target: string, input: Buffer): Promise<'accepted' | 'refused' | 'known open'> {
  const t = TARGETS.find((x) => x.name === target);
  if (!t) throw new Error(`no fuzz target ${target}`);
  try {
    await t.run(input, { work });
    return 'accepted';
  } catch (err) {
    if (err instanceof UserError && !/[\r\n]/.test(escapeText(err.message))) return 'refused';
    const known = Object.entries(OPEN).find(([k, o]) => k.startsWith(`${target}--`) && err instanceof Error && err.message === o.message);
    if (known) return 'known open';
    throw err;
  }
}

describe('inputs the fuzzer found failing', () => {
  const files = readdirSync(INPUTS).filter((f) => f.endsWith('.bin')).sort();
  it('there are some', () => expect(files.length).toBeGreaterThan(0));
  for (const f of files) {
    const name = f.replace(/\.bin$/, '');
    const [target, what] = name.split('--');
    const open = OPEN[name];
    (open ? it.fails : it)(`${target}: ${what!.replace(/-/g, ' ')}${open ? ` (open: ${open.why})` : ''}`, async () => {
      expect(['accepted', 'refused']).toContain(await outcome(target!, readFileSync(join(INPUTS, f))));
    }, 10_000);
  }
});

describe('the fuzz targets run their own seeds (valid inputs: none crashes, most are accepted)', () => {
  for (const t of TARGETS) {
    it(t.name, async () => {
      const seeds = await t.seeds({ work });
      expect(seeds.length).toBeGreaterThan(0);
      const outcomes = [];
      for (const s of seeds) outcomes.push(await outcome(t.name, s.bytes));
      expect(outcomes.filter((o) => o === 'accepted').length).toBeGreaterThan(seeds.length / 2);
      expect(outcomes.every((o) => o !== 'known open' || Object.keys(OPEN).some((k) => k.startsWith(`${t.name}--`)))).toBe(true);
    }, 60_000);
  }
});
