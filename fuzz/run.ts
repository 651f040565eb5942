// `npm run fuzz`: every parser that reads evidence or guest output, fed mutated inputs in worker
// threads (fuzz/targets/). Not part of `npm test`. Writes its figures to the "Fuzzing" section of
// docs/benchmarks.md, with the command.
//
//   npm run fuzz                              every target, its default number of inputs
//   npm run fuzz -- --targets tar-stream,ffs  some targets
//   npm run fuzz -- --scale 0.1               a tenth of the inputs (a quick look; the doc is not written)
//   npm run fuzz -- --replay ffs:1234,5678    run those inputs again (from the run seed), and say what they do
//   npm run fuzz -- --input ffs:FILE          run one saved input
//   --seed N (run seed, default 1)  --time-limit-ms N (per input, default 2000)  --memory-mb N (default 768)
//
// Outcomes: an input is accepted (the parser returned and its result passed the target's checks)
// or refused (a one-line UserError); anything else is a crash. An input still running after the
// time limit is a hang: the runner, outside the worker, sees the worker's index not move, saves
// the input from shared memory, terminates the worker and starts a new one after it. A worker
// whose heap plus external memory passes the bound is a memory failure. Each failure is written
// to fuzz/findings/<target>-<index>.bin (and .txt), to become a regression test in test/fuzz/.

import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { TARGETS } from './targets/index.js';
import { ROOT } from './targets/paths.js';
import type { FuzzTarget } from './target.js';
import { HEADER_INTS, type Outcome, type WorkerData } from './protocol.js';

interface Args {
  targets: string[] | null;
  scale: number;
  seed: number;
  timeLimitMs: number;
  memoryMb: number;
  replay: { target: string; indexes: number[] } | null;
  input: { target: string; file: string } | null;
  doc: boolean;
}

function parseArgs(argv: string[]): Args {
  const a: Args = { targets: null, scale: 1, seed: 1, timeLimitMs: 2000, memoryMb: 768, replay: null, input: null, doc: true };
  for (let i = 0; i < argv.length; i++) {
    const v = argv[i + 1] ?? '';
    switch (argv[i]) {
      case '--targets':
        a.targets = v.split(',');
        i++;
        break;
      case '--scale':
        a.scale = Number(v);
        i++;
        break;
      case '--seed':
        a.seed = Number(v);
        i++;
        break;
      case '--time-limit-ms':
        a.timeLimitMs = Number(v);
        i++;
        break;
      case '--memory-mb':
        a.memoryMb = Number(v);
        i++;
        break;
      case '--replay': {
        const [t, list] = v.split(':');
        a.replay = { target: t!, indexes: (list ?? '').split(',').map(Number) };
        i++;
        break;
      }
      case '--input': {
        const [t, ...f] = v.split(':');
        a.input = { target: t!, file: f.join(':') };
        i++;
        break;
      }
      case '--no-doc':
        a.doc = false;
        break;
      default:
        throw new Error(`unknown argument ${argv[i]} (see fuzz/run.ts)`);
    }
  }
  if (a.scale !== 1 || a.replay || a.input || a.targets) a.doc = false;
  return a;
}

interface Failure {
  target: string;
  index: number;
  kind: 'crash' | 'hang' | 'memory';
  message: string;
  stack: string;
  input: Uint8Array;
}

interface TargetResult {
  target: FuzzTarget;
  inputs: number;
  ok: number;
  rejected: number;
  /** The failures kept (with their inputs): the first few of each distinct kind and message. */
  failures: Failure[];
  /** All failures, counted by kind. */
  failureCounts: Record<Failure['kind'], number>;
  ms: number;
  slowestMs: number;
  slowestIndex: number;
  peakHeap: number;
  peakExternal: number;
  seeds: string[];
}

const log = (s: string): void => void process.stderr.write(`fuzz: ${s}\n`);

/** A scratch dir on tmpfs when there is one (the targets write each input to a file). */
function scratch(): string {
  const base = existsSync('/dev/shm') ? '/dev/shm' : tmpdir();
  return mkdtempSync(join(base, 'lf-fuzz-'));
}

/** Keep at most this many failing inputs per distinct message (all are counted). */
const KEEP_PER_MESSAGE = 5;

function record(res: TargetResult, f: Failure): void {
  res.failureCounts[f.kind]++;
  const key = `${f.kind} ${f.message.split('\n')[0]}`;
  if (res.failures.filter((x) => `${x.kind} ${x.message.split('\n')[0]}` === key).length < KEEP_PER_MESSAGE) res.failures.push(f);
  const total = res.failureCounts.crash + res.failureCounts.hang + res.failureCounts.memory;
  if (total <= 20) log(`${f.target}: input ${f.index} ${f.kind.toUpperCase()}: ${f.message.split('\n')[0]}`);
}

/** Run indexes [from, to) (or `only`, or one exact input) of a target in one worker; resolve on done, hang or death. */
function segment(
  target: FuzzTarget,
  args: Args,
  work: string,
  from: number,
  to: number,
  res: TargetResult,
  extra: { only?: number[]; exact?: Uint8Array } = {},
): Promise<{ next: number | null }> {
  const shared = new SharedArrayBuffer(HEADER_INTS * 4 + target.maxLength);
  const ints = new Int32Array(shared, 0, HEADER_INTS);
  const bytes = new Uint8Array(shared, HEADER_INTS * 4);
  Atomics.store(ints, 0, from - 1);
  const data: WorkerData = { target: target.name, from, to, runSeed: args.seed, work, shared, memoryLimitBytes: args.memoryMb * 2 ** 20, ...extra };
  const worker = new Worker(new URL('./worker.mjs', import.meta.url), {
    workerData: data,
    resourceLimits: { maxOldGenerationSizeMb: args.memoryMb, maxYoungGenerationSizeMb: 64 },
  });
  const current = (): { index: number; input: Uint8Array } => ({ index: Atomics.load(ints, 0), input: bytes.slice(0, Atomics.load(ints, 1)) });
  return new Promise((resolve) => {
    let finished = false;
    let lastIndex = -2;
    let lastChange = Date.now();
    let lastLog = Date.now();
    const finish = (next: number | null): void => {
      if (finished) return;
      finished = true;
      clearInterval(watch);
      void worker.terminate();
      resolve({ next });
    };
    const watch = setInterval(() => {
      const idx = Atomics.load(ints, 0);
      if (idx !== lastIndex) {
        lastIndex = idx;
        lastChange = Date.now();
      } else if (Atomics.load(ints, 2) === 1 && Date.now() - lastChange > args.timeLimitMs) {
        const c = current();
        record(res, { target: target.name, index: c.index, kind: 'hang', message: `still running after ${args.timeLimitMs} ms`, stack: '', input: c.input });
        finish(c.index + 1 < to ? c.index + 1 : null);
      }
      if (Date.now() - lastLog > 5000) {
        lastLog = Date.now();
        log(`${target.name}: ${Math.max(0, idx - 0)} of ${to}`);
      }
    }, 50);
    worker.on('message', (m: { type: string; outcome?: Outcome; counts?: Record<string, number>; seeds?: string[] }) => {
      if (m.type === 'outcome' && m.outcome) {
        const o = m.outcome;
        record(res, { target: target.name, index: o.index, kind: o.kind, message: o.message, stack: o.stack, input: o.input });
      } else if (m.type === 'done' && m.counts) {
        const c = m.counts;
        res.ok += c.ok ?? 0;
        res.rejected += c.rejected ?? 0;
        if ((c.slowestMs ?? 0) > res.slowestMs) {
          res.slowestMs = c.slowestMs ?? 0;
          res.slowestIndex = c.slowestIndex ?? -1;
        }
        res.peakHeap = Math.max(res.peakHeap, c.peakHeap ?? 0);
        res.peakExternal = Math.max(res.peakExternal, c.peakExternal ?? 0);
        res.seeds = m.seeds ?? res.seeds;
        finish(null);
      }
    });
    worker.on('error', (err: Error & { code?: string }) => {
      const c = current();
      const kind = err.code === 'ERR_WORKER_OUT_OF_MEMORY' ? 'memory' : 'crash';
      record(res, { target: target.name, index: c.index, kind, message: `${err.name}: ${err.message}`, stack: err.stack ?? '', input: c.input });
      finish(c.index + 1 < to && c.index >= from ? c.index + 1 : null);
    });
    worker.on('exit', (code) => {
      if (finished) return;
      // Gone without saying it was done: the input it was on is the cause.
      const c = current();
      // 13: the input's promise never settled and nothing was left to run (a hang on an idle loop).
      const kind = code === 13 ? 'hang' : 'crash';
      const message = code === 13 ? 'never settled: its promise was pending with nothing left to run' : `the worker exited (status ${code}) without finishing`;
      record(res, { target: target.name, index: c.index, kind, message, stack: '', input: c.input });
      finish(c.index + 1 < to && c.index >= from ? c.index + 1 : null);
    });
  });
}

async function runTarget(target: FuzzTarget, args: Args, work: string): Promise<TargetResult> {
  const inputs = Math.max(1, Math.round(target.inputs * args.scale));
  const res: TargetResult = { target, inputs, ok: 0, rejected: 0, failures: [], failureCounts: { crash: 0, hang: 0, memory: 0 }, ms: 0, slowestMs: 0, slowestIndex: -1, peakHeap: 0, peakExternal: 0, seeds: [] };
  const t0 = Date.now();
  if (args.input) {
    res.inputs = 1;
    await segment(target, args, work, 0, 1, res, { exact: new Uint8Array(readFileSync(args.input.file)) });
  } else if (args.replay) {
    res.inputs = args.replay.indexes.length;
    await segment(target, args, work, 0, Math.max(...args.replay.indexes) + 1, res, { only: args.replay.indexes });
  } else {
    let from: number | null = 0;
    while (from !== null) from = (await segment(target, args, work, from, inputs, res)).next;
  }
  res.ms = Date.now() - t0;
  return res;
}

function saveFindings(results: TargetResult[]): string[] {
  const dir = join(ROOT, 'fuzz', 'findings');
  const saved: string[] = [];
  for (const r of results) {
    for (const f of r.failures) {
      mkdirSync(dir, { recursive: true });
      const base = join(dir, `${f.target}-${f.index}`);
      writeFileSync(`${base}.bin`, f.input);
      writeFileSync(`${base}.txt`, `${f.kind}: ${f.message}\n\n${f.stack}\n`);
      saved.push(`${base}.bin`);
    }
  }
  return saved;
}

const n = (x: number): string => x.toLocaleString('en-US');
const secs = (ms: number): string => (ms >= 60_000 ? `${(ms / 60_000).toFixed(1)} min` : `${(ms / 1000).toFixed(1)} s`);

/** One line per distinct failure of this run: target, kind, message, how many inputs. */
function distinctFailures(results: TargetResult[]): string[] {
  const lines: string[] = [];
  for (const r of results) {
    const by = new Map<string, number>();
    for (const f of r.failures) {
      const key = `${f.kind}: \`${f.message.split('\n')[0]!.slice(0, 160)}\``;
      by.set(key, (by.get(key) ?? 0) + 1);
    }
    const total = r.failureCounts.crash + r.failureCounts.hang + r.failureCounts.memory;
    if (total > 0) lines.push(`- ${r.target.name}: ${n(total)} failing inputs, ${by.size} distinct: ${[...by.keys()].join('; ')} (e.g. input ${r.failures[0]?.index}).`);
  }
  return lines.length > 0 ? ['', 'Failures in this run:', '', ...lines] : ['', 'No failures in this run.'];
}

function table(results: TargetResult[], args: Args, wallMs: number): string {
  const count = (r: TargetResult, k: Failure['kind']): number => r.failureCounts[k];
  const rows = results.map(
    (r) =>
      `| ${r.target.name} | ${r.target.parser} | ${n(r.inputs)} | ${n(r.ok)} | ${n(r.rejected)} | ${count(r, 'crash')} | ${count(r, 'hang')} | ${count(r, 'memory')} | ${r.slowestMs.toFixed(0)} ms | ${Math.round(r.peakHeap / 2 ** 20)} / ${Math.round(r.peakExternal / 2 ** 20)} MiB | ${secs(r.ms)} | ${n(Math.round(r.inputs / (r.ms / 1000)))} |`,
  );
  const total = (f: (r: TargetResult) => number): number => results.reduce((s, r) => s + f(r), 0);
  return [
    `Command: \`npm run fuzz\` (fuzz/run.ts, targets in fuzz/targets/). Machine: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}, ${new Date().toISOString().slice(0, 10)}. Run seed ${args.seed}; one worker thread at a time; per-input time limit ${args.timeLimitMs} ms; memory bound ${args.memoryMb} MiB of heap plus external memory per worker.`,
    '',
    'An input is *accepted* when the parser returns and its result passes the target\'s checks (paths normalised, offsets inside the buffer, messages one line, no raw control characters), *refused* when it throws a one-line `UserError`; anything else is a crash. Seeds are valid inputs made by the real tools (qemu-img and qemu-io, GNU and busybox tar, makefs, sfdisk, SQLite, the job-log fixtures); inputs are mutations of them (fuzz/mutate.ts), aimed at headers and tables, with checksums recomputed now and then so that mutations get past them.',
    '',
    '| target | reads | inputs | accepted | refused | crashes | hangs | memory | slowest input | peak heap / external | time | inputs/s |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...rows,
    `| **total** | | **${n(total((r) => r.inputs))}** | ${n(total((r) => r.ok))} | ${n(total((r) => r.rejected))} | **${total((r) => count(r, 'crash'))}** | **${total((r) => count(r, 'hang'))}** | **${total((r) => count(r, 'memory'))}** | | | ${secs(wallMs)} | |`,
    '',
    `Peak RSS of the whole run: ${Math.round(process.resourceUsage().maxRSS / 1024)} MB. Failing inputs are written to fuzz/findings/ and become regression tests in test/fuzz/ (test/fuzz/regressions.test.ts, which also lists the ones still open and why).`,
    ...distinctFailures(results),
  ].join('\n');
}

function writeDoc(section: string): void {
  const doc = join(ROOT, 'docs', 'benchmarks.md');
  const old = existsSync(doc) ? readFileSync(doc, 'utf8') : '# Benchmarks\n';
  // The same section markers as bench/run.ts, which keeps this section when it rewrites the file.
  const block = `<!-- bench:fuzz -->\n${section}\n<!-- /bench:fuzz -->`;
  const next = /<!-- bench:fuzz -->[\s\S]*?<!-- \/bench:fuzz -->/.test(old)
    ? old.replace(/<!-- bench:fuzz -->[\s\S]*?<!-- \/bench:fuzz -->/, block)
    : `${old.trimEnd()}\n\n## fuzz\n\n${block}\n`;
  writeFileSync(doc, next);
  log(`wrote the Fuzzing section of ${doc}`);
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const names = args.replay ? [args.replay.target] : args.input ? [args.input.target] : args.targets;
  const chosen = names ? TARGETS.filter((t) => names.includes(t.name)) : TARGETS;
  if (chosen.length === 0) throw new Error(`no such target; known: ${TARGETS.map((t) => t.name).join(', ')}`);
  const work = scratch();
  const t0 = Date.now();
  const results: TargetResult[] = [];
  try {
    for (const t of chosen) {
      log(`${t.name}: ${n(Math.round(t.inputs * args.scale))} inputs`);
      const r = await runTarget(t, args, work);
      results.push(r);
      const failed = r.failureCounts.crash + r.failureCounts.hang + r.failureCounts.memory;
      log(`${t.name}: ${n(r.inputs)} inputs in ${secs(r.ms)}: ${n(r.ok)} accepted, ${n(r.rejected)} refused, ${n(failed)} failures; seeds: ${r.seeds.join(', ')}`);
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  const wallMs = Date.now() - t0;
  const section = table(results, args, wallMs);
  process.stdout.write(`${section}\n`);
  const saved = saveFindings(results);
  if (saved.length > 0) log(`${saved.length} failing inputs saved: ${saved.slice(0, 10).join(', ')}${saved.length > 10 ? ', …' : ''}`);
  if (args.doc) writeDoc(section);
  if (results.some((r) => r.failures.length > 0)) process.exitCode = 1;
}

main().catch((err: unknown) => {
  process.stderr.write(`fuzz: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 2;
});
