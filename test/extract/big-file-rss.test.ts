// A 300 MB file on either side of a comparison, extracted from a tar stream and classified, each
// run in a process of its own: peak RSS stays at most 200 MB (issue 10, item 3). Large files are
// kept in the run's temp dir and read back in chunks; nothing holds them whole.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const FIXTURE = fileURLToPath(new URL('./fixtures/big-file-rss.ts', import.meta.url));
const MB = 300;
const RSS_LIMIT_MB = 200;

function run(mode: string): { maxRssMb: number; verdict: string; classes: string[] } {
  const work = mkdtempSync(join(tmpdir(), 'lf-test-rss-'));
  try {
    const r = spawnSync(process.execPath, ['--import', 'tsx', FIXTURE, mode, String(MB), work], { encoding: 'utf8', timeout: 180_000 });
    expect(r.status, r.stderr).toBe(0);
    return JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { maxRssMb: number; verdict: string; classes: string[] };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

describe(`a ${MB} MB file: peak RSS at most ${RSS_LIMIT_MB} MB`, () => {
  it('extracted from the tar stream and hashed', () => {
    const r = run('extract');
    console.log(`extract ${MB} MB: peak RSS ${r.maxRssMb} MB`);
    expect(r.maxRssMb).toBeLessThanOrEqual(RSS_LIMIT_MB);
  }, 200_000);

  it('on both sides, identical: classified match, verdict clean', () => {
    const r = run('match');
    console.log(`match ${MB} MB: peak RSS ${r.maxRssMb} MB`);
    expect(r.classes).toEqual(['big.bin:match']);
    expect(r.verdict).toBe('clean');
    expect(r.maxRssMb).toBeLessThanOrEqual(RSS_LIMIT_MB);
  }, 200_000);

  for (const mode of ['differ', 'expected', 'actual']) {
    it(`${mode === 'differ' ? 'on both sides, one byte apart' : `on the ${mode} side only`}: never match, bounded`, () => {
      const r = run(mode);
      console.log(`${mode} ${MB} MB: peak RSS ${r.maxRssMb} MB, ${r.classes.join(' ')}`);
      expect(r.classes).not.toContain('big.bin:match');
      expect(r.maxRssMb).toBeLessThanOrEqual(RSS_LIMIT_MB);
    }, 200_000);
  }
});
