// The real `bin/layer-forensics audit` (and `layers`, which shows the cached verdicts): exit
// statuses, NDJSON validated line by line against docs/audit.schema.json with nothing else on
// stdout, the human table, progress on stderr and --quiet, Ctrl-C. Needs dist/ built.

import { execa } from 'execa';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { GeneratedStore, ScriptStep } from '../../bench/store-generator.js';
import { auditExitCode, ProgressReporter, renderRow, TABLE_HEADER } from '../../src/cli/audit-command.js';
import type { AuditLine, AuditSummary } from '../../src/audit/types.js';
import { BIN, runCli } from '../helpers/cli.js';
import { JsonSchema } from './json-schema.js';
import { makeStore, removeTempDirs, tempDir } from './stores.js';

const schema = new JsonSchema(JSON.parse(readFileSync(new URL('../../docs/audit.schema.json', import.meta.url), 'utf8')) as Record<string, unknown>);

let clean: GeneratedStore;
let corrupt: GeneratedStore;
let undecided: GeneratedStore;
let xdg: string;

const env = (): Record<string, string> => ({ XDG_CACHE_HOME: xdg });

function ndjson(stdout: string): Record<string, unknown>[] {
  return stdout
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

beforeAll(async () => {
  xdg = await tempDir('lf-audit-xdg-');
  ({ store: clean } = await makeStore({ script: [{ kind: 'normal', parent: null }, { kind: 'metadata' }, { kind: 'rewrite-same' }, { kind: 'normal', parent: 0 }], seed: 31 }));
  ({ store: corrupt } = await makeStore({ script: [{ kind: 'normal', parent: null }, { kind: 'normal' }, { kind: 'foreign-text' }, { kind: 'zeros', parent: 0 }, { kind: 'normal' }], seed: 32 }));
  const step: ScriptStep = {
    step: (fs) => {
      fs.home.writeFile('/opam/data.txt', 'x'.repeat(3000), { cg: 150 });
      fs.home.writeFile('/opam/zero.bin', Buffer.alloc(4000), { cg: 150 });
    },
  };
  ({ store: undecided } = await makeStore({ script: [{ kind: 'normal', parent: null }, step], seed: 33 }));
}, 300_000);
afterAll(removeTempDirs);

describe('audit: exit statuses and output', () => {
  test('0 when every layer is clean; the human table and a summary', async () => {
    const r = await runCli(['audit', '--store', clean.spec], { env: env() });
    expect(r.exitCode).toBe(0);
    const out = String(r.stdout);
    expect(out.startsWith(TABLE_HEADER)).toBe(true);
    for (const l of clean.layers) expect(out).toMatch(new RegExp(`^${l.id.slice(0, 12)}  \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d  clean\\s*$`, 'm'));
    expect(out).toContain(`${clean.layers.length} layers: ${clean.layers.length} clean, 0 corrupt, 0 inconclusive, 0 unreadable`);
    expect(out).not.toContain('What to do');
  });

  test('1 with corruption; --json prints NDJSON only, every line valid against the schema, the summary last', async () => {
    const r = await runCli(['audit', '--store', corrupt.spec, '--json', '--jobs', '2'], { env: env() });
    expect(r.exitCode).toBe(1);
    const lines = ndjson(String(r.stdout));
    for (const l of lines) expect(schema.validate(l)).toEqual([]);
    expect(lines.map((l) => l.type)).toEqual([...corrupt.layers.map(() => 'layer'), 'summary']);
    const summary = lines.at(-1)!;
    expect(summary).toMatchObject({ layers: 5, corrupt: 2, clean: 3, errors: 0 });
    const bad = lines.filter((l) => l.verdict === 'soft-updates-data-loss').map((l) => l.layer);
    expect(bad.sort()).toEqual(corrupt.layers.filter((l) => l.expect !== 'clean').map((l) => l.id).sort());
    // Progress went to stderr, as plain lines (not a terminal).
    expect(String(r.stderr)).toMatch(/^layer-forensics: auditing 5 layers of /m);
    expect(String(r.stderr)).toMatch(/^layer-forensics: 5\/5 layers/m);
  });

  test('the human table names the damaged files and the command that deletes each corrupt layer', async () => {
    const r = await runCli(['audit', '--store', corrupt.root, '--quiet'], { env: env() });
    expect(r.exitCode).toBe(1);
    expect(String(r.stderr)).toBe('');
    const out = String(r.stdout);
    const lost = corrupt.layers.find((l) => l.kind === 'foreign-text')!;
    expect(out).toContain(`soft-updates-data-loss*  1: ${lost.lost[0]!.path} (foreign-text)`);
    expect(out).toContain(`obuilder delete --store=qemu:${corrupt.root} ${lost.id}`);
    expect(out).toContain('ocurrent/obuilder#212');
  });

  test('3 when nothing is corrupt but a layer is inconclusive (with its reason) or unreadable', async () => {
    const r = await runCli(['audit', '--store', undecided.spec, '--json', '--no-cache'], { env: env() });
    expect(r.exitCode).toBe(3);
    const layer = ndjson(String(r.stdout)).find((l) => l.layer === undecided.layers[1]!.id)!;
    expect(layer.verdict).toBe('inconclusive');
    expect((layer.notes as string[])[0]).toMatch(/^\/home\/opam\/zero\.bin: .*legal file of zeros/);
    const human = await runCli(['audit', '--store', undecided.spec, '--no-cache', '--quiet'], { env: env() });
    expect(String(human.stdout)).toMatch(/inconclusive +\/home\/opam\/zero\.bin: /);
  });

  test('2 when it cannot run: one line on stderr', async () => {
    for (const args of [
      ['audit', '--store', '/nonexistent/store'],
      ['audit', '--store', clean.spec, '--jobs', 'two'],
      ['audit', '--store', clean.spec, '--jobs', '0'],
      ['audit', '--store', clean.spec, '--layer', 'abcdef0123'],
      ['audit', '--store', clean.spec, '--since', 'last tuesday'],
      ['audit'],
    ]) {
      const r = await runCli(args, { env: env() });
      expect(r.exitCode, args.join(' ')).toBe(2);
      expect(String(r.stdout)).toBe('');
      expect(String(r.stderr).trim().split('\n')).toHaveLength(1);
    }
  });

  test('--layer and --since select; --help documents every option', async () => {
    const id = corrupt.layers[2]!.id;
    const r = await runCli(['audit', '--store', corrupt.spec, '--json', '--layer', id.slice(0, 10)], { env: env() });
    expect(ndjson(String(r.stdout)).filter((l) => l.type === 'layer').map((l) => l.layer)).toEqual([id]);
    const help = await runCli(['audit', '--help']);
    for (const o of ['--store', '--layer', '--since', '--jobs', '--no-cache', '--json', '--quiet']) expect(String(help.stdout)).toContain(o);
  });
});

describe('audit: Ctrl-C', () => {
  test('stops cleanly: the lines so far, an interrupted summary, exit 130', async () => {
    const { store: big } = await makeStore({ layers: 40, seed: 34, lossRate: 0, trickyRate: 0 });
    const child = execa(BIN, ['audit', '--store', big.spec, '--json', '--jobs', '1', '--no-cache'], { reject: false, env: env(), stdin: 'ignore' });
    let out = '';
    await new Promise<void>((resolve) => {
      child.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('\n')) resolve();
      });
    });
    child.kill('SIGINT');
    const r = await child;
    expect(r.exitCode).toBe(130);
    const lines = ndjson(String(r.stdout));
    const summary = lines.at(-1)!;
    expect(summary).toMatchObject({ type: 'summary', interrupted: true, selected: 40 });
    expect(summary.layers).toBe(lines.length - 1);
    expect(lines.length - 1).toBeLessThan(40);
    for (const l of lines) expect(schema.validate(l)).toEqual([]);
  }, 120_000);
});

describe('layers shows the cached verdicts', () => {
  test('an AUDIT column and an `audit` field per layer', async () => {
    const fresh = await tempDir('lf-audit-xdg-');
    const before = JSON.parse(String((await runCli(['layers', '--store', corrupt.spec, '--json'], { env: { XDG_CACHE_HOME: fresh } })).stdout)) as { layers: { id: string; audit: unknown }[] };
    expect(before.layers.every((l) => l.audit === null)).toBe(true);
    await runCli(['audit', '--store', corrupt.spec, '--quiet'], { env: { XDG_CACHE_HOME: fresh } });
    const after = JSON.parse(String((await runCli(['layers', '--store', corrupt.spec, '--json'], { env: { XDG_CACHE_HOME: fresh } })).stdout)) as { layers: { id: string; audit: { verdict: string; files: number } | null }[] };
    for (const t of corrupt.layers) {
      const l = after.layers.find((x) => x.id === t.id)!;
      expect(l.audit).toMatchObject({ verdict: t.expect, files: t.lost.length });
    }
    const table = String((await runCli(['layers', '--store', corrupt.spec], { env: { XDG_CACHE_HOME: fresh } })).stdout);
    expect(table.split('\n')[0]).toMatch(/ AUDIT +IMAGE$/);
    const lost = corrupt.layers.find((l) => l.kind === 'zeros')!;
    expect(table).toMatch(new RegExp(`^${lost.id.slice(0, 12)} .* corrupt \\(${lost.lost.length}\\) `, 'm'));
  });
});

describe('rendering', () => {
  const line = (over: Partial<AuditLine>): AuditLine => ({
    schema: 'layer-forensics.audit/v1',
    type: 'layer',
    layer: 'a'.repeat(64),
    parent: null,
    verdict: 'clean',
    files: [],
    error: null,
    cached: false,
    ms: 12,
    created: '2026-06-29T16:02:38.000Z',
    chainDepth: 3,
    notes: [],
    auditedAt: '2026-06-30T00:00:00.000Z',
    auditMs: 12,
    ...over,
  });

  test('rows escape what comes from a layer', () => {
    const row = renderRow(line({ verdict: 'error', error: 'bad \u001b[31m name \u009b' }));
    expect(row).not.toMatch(/[\u001b\u009b]/);
    expect(row).toContain('aaaaaaaaaaaa  2026-06-29 16:02:38  error');
    const many = renderRow(line({ verdict: 'soft-updates-data-loss', cached: true, files: [1, 2, 3, 4].map((i) => ({ path: `/home/f${i}`, class: 'zeros', provenance: null, evidence: 'x', size: 1 })) }));
    expect(many).toContain('soft-updates-data-loss*  4: /home/f1 (zeros), /home/f2 (zeros), /home/f3 (zeros), and 1 more');
  });

  test('exit statuses', () => {
    const s = (over: Partial<AuditSummary>): AuditSummary => ({ schema: 'layer-forensics.audit/v1', type: 'summary', layers: 3, clean: 3, corrupt: 0, inconclusive: 0, errors: 0, ms: 1, selected: 3, cached: 0, interrupted: false, ...over });
    expect(auditExitCode(s({}))).toBe(0);
    expect(auditExitCode(s({ corrupt: 1, errors: 1 }))).toBe(1);
    expect(auditExitCode(s({ inconclusive: 1 }))).toBe(3);
    expect(auditExitCode(s({ errors: 2 }))).toBe(3);
    expect(auditExitCode(s({ interrupted: true, corrupt: 1 }))).toBe(130);
    expect(auditExitCode(s({ interrupted: true }), 'SIGTERM')).toBe(143);
  });

  test('on a terminal the progress is a bar with done/total, rate and ETA, redrawn in place; --quiet says nothing', () => {
    let now = 0;
    const writes: string[] = [];
    const p = new ProgressReporter({ write: (s) => writes.push(s), isTTY: true, columns: 100 }, false, () => now);
    p.start(10, 2, '/store');
    for (let i = 1; i <= 4; i++) {
      now += 500;
      p.update({ done: i, total: 10, cached: 0 }, line({ ms: 400 }));
    }
    const last = writes.at(-1)!;
    expect(last.startsWith('\r\u001b[K[')).toBe(true);
    expect(last).toMatch(/\] 4\/10 layers · [\d.]+ layers\/s · ETA [\d.]+ s$/);
    p.clear();
    expect(writes.at(-1)).toBe('\r\u001b[K');
    const quiet: string[] = [];
    const q = new ProgressReporter({ write: (s) => quiet.push(s), isTTY: true }, true);
    q.start(3, 1, '/store');
    q.update({ done: 1, total: 3, cached: 0 }, line({}));
    q.done();
    expect(quiet).toEqual([]);
  });
});
