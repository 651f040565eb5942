// End to end: the real `bin/layer-forensics` in a real pseudo-terminal (tmux) on the sample
// store, booting the real guest under QEMU.
//
// 1. At 80x24: choose the corrupted layer, confirm the sources, wait for the verdict, open the
//    file whose bytes are a directory block and see its entries, go back, grow the terminal to
//    200x50 and back (the verdict and the class column stay), export, quit; the reports exist,
//    no QEMU and no overlay remain. The screen is captured with its attributes (`capture-pane
//    -e`): the colours are there, and nothing but colours and attributes reached the terminal.
// 2. Ctrl-C during the boot: the same clean-up.
// 3. The same layer read directly (no boot), with NO_COLOR: the direct steps, how it was read,
//    the chain element of each block; no colour anywhere on the terminal.
// 4. `A` on the Layers screen audits the whole store; the rows take their verdicts.
//
// Needs the sample store (`bash samples/build-store.sh`, run here if it is missing: when it
// cannot be built, this suite fails) and the build (`npm run build`, which `npm test` does
// through scripts/setup.sh).

import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa, execaSync } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadSample, type Sample } from '../helpers/sample.js';
import { AUDIT_LABEL } from '../../src/tui/screens/layers.js';
import type { AuditVerdictKind } from '../../src/tui/types.js';
import { ANSI_SGR_COLOUR } from './ink-helpers.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BIN = join(ROOT, 'bin', 'layer-forensics');
const SOCKET = `lf-e2e-${process.pid}`;
const BOOT_DEADLINE_MS = 120_000;

let sample: Sample;

async function tmux(...args: string[]): Promise<string> {
  const r = await execa('tmux', ['-L', SOCKET, ...args]);
  return r.stdout;
}

const screen = (session: string) => tmux('capture-pane', '-p', '-t', session);
/** The screen with its attributes, as tmux encodes them (SGR sequences only). */
const rawScreen = (session: string) => tmux('capture-pane', '-e', '-p', '-t', session);

/** What reached the terminal besides text: only SGR attributes (colour, bold, inverse...), never a
 * cursor move, a title, a clear or any other sequence from a layer's bytes. */
function expectOnlySgr(raw: string): void {
  const rest = raw.replace(/\x1b\[[0-9;]*m/g, '');
  expect(rest.includes('\x1b') ? rest.slice(Math.max(0, rest.indexOf('\x1b') - 40), rest.indexOf('\x1b') + 40) : '').toBe('');
}

/** Wait until the screen matches; on timeout, fail with the screen as it was. */
async function waitScreen(session: string, test: (s: string) => boolean, what: string, timeoutMs = 15_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    last = await screen(session);
    if (test(last)) return last;
    await new Promise((r) => setTimeout(r, 150));
  }
  throw new Error(`timed out waiting for ${what}; the screen was:\n${last}`);
}

async function keys(session: string, ...k: string[]): Promise<void> {
  for (const key of k) {
    await tmux('send-keys', '-t', session, key);
    await new Promise((r) => setTimeout(r, 120));
  }
}

async function type(session: string, text: string): Promise<void> {
  await tmux('send-keys', '-t', session, '-l', text);
  await new Promise((r) => setTimeout(r, 150));
}

/** Processes whose command line mentions `needle` (our private TMPDIR). */
function processesWith(needle: string): string[] {
  const out: string[] = [];
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
      if (cmd.includes(needle) && /qemu/.test(cmd)) out.push(`${pid}: ${cmd}`);
    } catch {
      // gone
    }
  }
  return out;
}

let work: string;

/** Start the TUI in a fresh tmux session; its exit status lands in `<work>/<name>.exit`. */
async function start(name: string, columns: number, rows: number, extra: string[] = [], env: string[] = []): Promise<{ session: string; tmp: string; exportDir: string; exitFile: string }> {
  const s = sample;
  const tmp = join(work, `${name}-tmp`);
  const exportDir = join(work, `${name}-export`);
  const exitFile = join(work, `${name}.exit`);
  execaSync('mkdir', ['-p', tmp, exportDir]);
  const args = [
    BIN,
    'inspect',
    '--store',
    s.store,
    '--job-log',
    s.jobLog,
    '--expected',
    s.expected,
    '--ssh-key',
    s.sshKey,
    '--corpus-guest',
    '/home/opam/opam-repository',
    '--export-dir',
    exportDir,
    ...extra,
  ];
  const q = (a: string) => `'${a.replace(/'/g, `'\\''`)}'`;
  // Its own TMPDIR (so its overlay and QEMU can be told from any other) and state dir.
  const vars = [`TMPDIR=${tmp}`, `XDG_STATE_HOME=${join(work, 'state')}`, `XDG_CACHE_HOME=${join(work, 'cache')}`, ...env].map(q).join(' ');
  const cmd = `cd ${q(work)} && env -u CI -u NO_COLOR ${vars} ${args.map(q).join(' ')}; echo $? > ${q(exitFile)}; sleep 600`;
  await tmux('new-session', '-d', '-s', name, '-x', String(columns), '-y', String(rows), cmd);
  return { session: name, tmp, exportDir, exitFile };
}

async function exitStatus(exitFile: string, timeoutMs = 30_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (existsSync(exitFile)) {
      const t = readFileSync(exitFile, 'utf8').trim();
      if (t) return Number(t);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('the TUI did not exit');
}

const ROW_RE = /^[▶ ] \S+\s+\d+\s+\d+\s+(directory-block|foreign-text|zeros|match)\b/;

describe('layer-forensics inspect in a real terminal (tmux) on the sample store', () => {
  beforeAll(async () => {
    // No sample store, no test: building it failed, and that fails this suite.
    sample = loadSample();
    if (!existsSync(join(ROOT, 'dist', 'cli', 'main.js'))) throw new Error('not built: run `npm run build` first');
    work = await mkdtemp(join(tmpdir(), 'lf-tui-e2e-'));
    // A private tmux server, Esc delivered at once, UTF-8.
    await execa('tmux', ['-L', SOCKET, '-u', 'new-session', '-d', '-s', 'keeper', 'sleep 3600']);
    await tmux('set-option', '-s', 'escape-time', '0');
  });

  afterAll(async () => {
    await execa('tmux', ['-L', SOCKET, 'kill-server'], { reject: false });
    if (work) await rm(work, { recursive: true, force: true });
  });

  it(
    'choose the corrupted layer, boot it, read the verdict, open the directory block, export, quit',
    async () => {
      const s = sample;
      const t = await start('main', 80, 24);
      const id = s.layers.copyCorrupt;

      // Layers: the job log's layer is preselected; choose it by typing its id.
      let sc = await waitScreen(t.session, (x) => /\d+ layers/.test(x), 'the Layers screen');
      expect(sc.split('\n').find((l) => l.startsWith('▶'))).toContain(id.slice(0, 12));
      expect(sc).toContain('◀ job log');
      await type(t.session, id.slice(0, 8));
      sc = await waitScreen(t.session, (x) => /1 of \d+ layers/.test(x), 'the filter');
      expect(sc.split('\n').find((l) => l.startsWith('▶'))).toContain(id.slice(0, 12));
      await keys(t.session, 'Enter');

      // Sources: prefilled from the flags and the job log.
      sc = await waitScreen(t.session, (x) => x.includes('Sources'), 'the Sources screen');
      expect(sc).toContain(`Layer ${id}`);
      expect(sc).toMatch(/✓ directory, 6 entries/);
      expect(sc).toContain(s.dst);
      await keys(t.session, 'Enter');

      // Run: the steps, then the verdict.
      sc = await waitScreen(t.session, (x) => x.includes('Wait for SSH') && /attempt \d+/.test(x), 'SSH attempts', 60_000);
      expect(sc).toMatch(/✓ Start QEMU\s+\d/);
      expect(sc).toMatch(/Accel: (TCG|KVM)/);
      sc = await waitScreen(t.session, (x) => x.includes('SOFT-UPDATES DATA LOSS'), 'the verdict', BOOT_DEADLINE_MS);
      // With its attributes: the banner in red, each class in its colour, nothing else.
      const raw = await rawScreen(t.session);
      const rawLine = (needle: string) => raw.split('\n').find((l) => l.includes(needle)) ?? '';
      expect(rawLine('SOFT-UPDATES DATA LOSS')).toMatch(/\x1b\[31m/);
      expect(rawLine(' tls.opam ')).toMatch(/\x1b\[35m(\x1b\[1m)?directory-block/);
      expect(rawLine(' tls-lwt.opam ')).toMatch(/\x1b\[34m(\x1b\[1m)?zeros/);
      expect(rawLine(' tls-eio.opam ')).toMatch(/\x1b\[32mmatch/);
      expectOnlySgr(raw);
      const title = await tmux('display-message', '-p', '-t', t.session, '#{pane_title}');
      for (const [file, cls] of [
        ['tls.opam', 'directory-block'],
        ['tls-async.opam', 'foreign-text'],
        ['tls-lwt.opam', 'zeros'],
      ]) {
        expect(sc.split('\n').find((l) => l.includes(` ${file} `))).toContain(cls);
      }

      // The file whose bytes are a directory block: its entries.
      await keys(t.session, '/');
      await type(t.session, 'tls.opam');
      await keys(t.session, 'Enter', 'Enter');
      const fileScreen = await waitScreen(t.session, (x) => x.includes('directory block:'), 'the directory block view');
      expect(fileScreen).toMatch(/FFS \(UFS1\/UFS2\) little-endian directory block: \d+ entries/);
      expect(fileScreen).toMatch(/\n\s+0\s+\d+\s+dir\s+12\s+\.\s*\n/);
      expect(fileScreen).toMatch(/\n\s+12\s+\d+\s+dir\s+\d+\s+\.\.\s*\n/);

      // Back, and the table is there again.
      await keys(t.session, 'Escape');
      await waitScreen(t.session, (x) => x.includes('Results') && x.includes('filter: tls.opam'), 'the Results screen');
      await keys(t.session, 'Escape');
      await waitScreen(t.session, (x) => /tls-lwt\.opam.*zeros/.test(x), 'the whole table');

      // 200x50 and back to 80x24: the verdict and the class column stay.
      for (const [x, y] of [
        [200, 50],
        [80, 24],
      ] as const) {
        await tmux('resize-window', '-t', t.session, '-x', String(x), '-y', String(y));
        sc = await waitScreen(t.session, (v) => v.split('\n').length === y && v.includes('SOFT-UPDATES DATA LOSS') && /tls\.opam\s+\d+\s+\d+\s+directory-block/.test(v), `the Results screen at ${x}x${y}`);
        expect(sc.split('\n').filter((l) => ROW_RE.test(l))).toHaveLength(6);
        for (const l of sc.split('\n')) expect([...l.trimEnd()].length).toBeLessThanOrEqual(x);
      }

      // Export, then quit.
      await keys(t.session, 'e');
      sc = await waitScreen(t.session, (x) => x.includes('Exported '), 'the export');
      expect(sc).toContain(t.exportDir.slice(0, 20));
      await keys(t.session, 'q');
      expect(await exitStatus(t.exitFile)).toBe(1);

      const files = readdirSync(t.exportDir).sort();
      expect(files).toEqual([expect.stringMatching(new RegExp(`^layer-forensics-${id.slice(0, 12)}-\\d{8}T\\d{6}Z\\.json$`)), expect.stringMatching(/\.md$/)]);
      const report = JSON.parse(readFileSync(join(t.exportDir, files[0]!), 'utf8'));
      expect(report.verdict.kind).toBe('soft-updates-data-loss');
      expect(report.layerUnchanged).toBe(true);
      const dirBlock = report.files.find((f: { path: string }) => f.path === 'tls.opam');
      expect(dirBlock.class).toBe('directory-block');
      // The entries the screen showed are the block's.
      for (const e of (dirBlock.detail.entries as string[]).slice(2, 6)) expect(fileScreen).toContain(e);
      expect(readFileSync(join(t.exportDir, files[1]!), 'utf8')).toContain('soft-updates');

      // Nothing left behind: no QEMU, no overlay.
      expect(processesWith(t.tmp)).toEqual([]);
      expect(readdirSync(t.tmp)).toEqual([]);
      // The screen is given back.
      sc = await screen(t.session);
      expect(sc).toContain('layer-forensics: verdict soft-updates-data-loss');
      // Nothing set the terminal's title along the way.
      expect(await tmux('display-message', '-p', '-t', t.session, '#{pane_title}')).toBe(title);
    },
    BOOT_DEADLINE_MS + 120_000,
  );

  it('bad input is one line before the screen opens', async () => {
    const t = await start('bad', 80, 24, ['--store', '/nonexistent/store']);
    expect(await exitStatus(t.exitFile)).toBe(2);
    const sc = await screen(t.session);
    expect(sc).toMatch(/^layer-forensics: .*\/nonexistent\/store.*$/m);
  });

  it(
    'Ctrl-C during the boot stops QEMU and removes the overlay before exiting',
    async () => {
      const t = await start('interrupt', 80, 24);
      await waitScreen(t.session, (x) => /\d+ layers/.test(x), 'the Layers screen');
      await keys(t.session, 'Enter');
      await waitScreen(t.session, (x) => x.includes('Sources'), 'the Sources screen');
      await keys(t.session, 'Enter');
      await waitScreen(t.session, (x) => /[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏] Wait for SSH/.test(x), 'the boot', 60_000);
      // QEMU runs, from our TMPDIR, and its overlay is there.
      expect(processesWith(t.tmp).length).toBeGreaterThan(0);
      expect(readdirSync(t.tmp).length).toBeGreaterThan(0);
      await keys(t.session, 'C-c');
      expect(await exitStatus(t.exitFile)).toBe(130);
      expect(processesWith(t.tmp)).toEqual([]);
      expect(readdirSync(t.tmp)).toEqual([]);
    },
    BOOT_DEADLINE_MS,
  );
  it(
    'the same layer read directly, with NO_COLOR: no boot, the direct steps, where each block is',
    async () => {
      const s = sample;
      const t = await start('direct', 100, 30, [], ['NO_COLOR=1']);
      await waitScreen(t.session, (x) => /\d+ layers/.test(x), 'the Layers screen');
      await keys(t.session, 'Enter');
      await waitScreen(t.session, (x) => x.includes('Read the layer by'), 'the Sources screen');
      await keys(t.session, 'Down', 'Down', 'Space');
      await waitScreen(t.session, (x) => x.includes('(•) reading its disk directly') && x.includes('Partition'), 'the direct reading chosen');
      await keys(t.session, 'Enter');
      let sc = await waitScreen(t.session, (x) => x.includes('SOFT-UPDATES DATA LOSS'), 'the verdict', 60_000);
      expect(sc).toMatch(/the disk read directly \(no boot\) · 6 files/);
      expect(sc).toMatch(/mbr\s+partition 2 \(ufs1\) mounted on \/home/);
      for (const [file, cls] of Object.entries(s.corrupted)) expect(sc.split('\n').find((l) => l.includes(` ${file} `)), file).toContain(cls);
      // NO_COLOR: attributes (inverse, bold) but not one colour reached the terminal.
      const raw = await rawScreen(t.session);
      expect(raw).toMatch(/\x1b\[7m/);
      expect(raw).not.toMatch(ANSI_SGR_COLOUR);
      expectOnlySgr(raw);
      // Nothing booted: no QEMU, no overlay, ever.
      expect(processesWith(t.tmp)).toEqual([]);
      expect(readdirSync(t.tmp)).toEqual([]);

      // The file whose bytes are a directory block: which image holds its blocks, and the entries
      // (read from the image again: the run had closed it).
      await keys(t.session, '/');
      await type(t.session, 'tls.opam');
      await keys(t.session, 'Enter', 'Enter');
      sc = await waitScreen(t.session, (x) => x.includes('Where the bytes are') && x.includes('directory block:'), 'the File screen');
      expect(sc).toMatch(/Where the bytes are: inode \d+, 1 extent; 5 blocks of 512 B; all from this layer's own image/);
      expect(sc).toContain(`0 ${s.layers.copyCorrupt.slice(0, 12)} (this layer)`);
      expect(sc).toMatch(/\n\s+0\s+\d+\s+dir\s+12\s+\.\s*\n/);
      expect(await rawScreen(t.session)).not.toMatch(ANSI_SGR_COLOUR);

      // The Run screen: the direct steps, each done.
      await keys(t.session, 'Escape', 'Escape', 'Escape');
      sc = await waitScreen(t.session, (x) => x.includes('Enter shows the results'), 'the Run screen');
      for (const label of ['Open the image chain', 'Find the partition', 'Read the files', 'Classify', 'Close the image']) expect(sc.split('\n').find((l) => l.includes(label)), label).toMatch(/^✓/);
      expect(sc).not.toContain('Start QEMU');
      await keys(t.session, 'q');
      expect(await exitStatus(t.exitFile)).toBe(1);
      expect(readdirSync(t.tmp)).toEqual([]);
    },
    120_000,
  );

  it(
    'A on the Layers screen audits the whole store; the verdicts are there the next time',
    async () => {
      const s = sample;
      const rowOf = (sc: string, id: string) => sc.split('\n').find((l) => l.slice(2, 14) === id.slice(0, 12)) ?? '';
      const t = await start('audit', 100, 30);
      let sc = await waitScreen(t.session, (x) => /\d+ layers/.test(x), 'the Layers screen');
      const count = Number(/(\d+) layers/.exec(sc)![1]);
      expect(rowOf(sc, s.layers.copyCorrupt)).toMatch(/\s-\s/);
      await keys(t.session, 'A');
      sc = await waitScreen(t.session, (x) => x.includes(`Audit done: ${count} layers`), 'the audit', 120_000);
      // Each row says what `audit` says of its layer.
      const audit = await execa(BIN, ['audit', '--store', s.store, '--json', '--no-cache'], { reject: false, env: { XDG_CACHE_HOME: join(work, 'cache-cli') } });
      const lines = audit.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { type: string; layer: string; verdict: AuditVerdictKind });
      const verdicts = lines.filter((l) => l.type === 'layer');
      expect(verdicts).toHaveLength(count);
      for (const v of verdicts) expect(rowOf(sc, v.layer), v.layer).toMatch(new RegExp(`\\s${AUDIT_LABEL[v.verdict]}(\\s|$)`));
      await keys(t.session, 'q');
      expect(await exitStatus(t.exitFile)).toBe(0);

      // Another session: the cached verdicts, without auditing again.
      const again = await start('audit-again', 100, 30);
      const corrupt = verdicts.find((v) => v.layer === s.layers.copyCorrupt)!;
      sc = await waitScreen(again.session, (x) => rowOf(x, s.layers.copyCorrupt).includes(AUDIT_LABEL[corrupt.verdict]), 'the cached verdicts');
      expect(sc).not.toContain('Audit');
      await keys(again.session, 'q');
      expect(await exitStatus(again.exitFile)).toBe(0);
    },
    180_000,
  );
});
