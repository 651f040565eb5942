// The audit's benchmark (issue 8): a 1000-layer generated store (bench/store-generator.ts)
// audited by the real `bin/layer-forensics audit` (dist/ built): cold (an empty cache) with
// --jobs 2 and --jobs 1, warm (everything cached), peak RSS of the whole process (its worker
// threads included) from GNU time, every verdict checked against the generator's ground truth,
// and the time per layer against the chain's depth.
//
// `tsx bench/audit-bench.ts [--layers N] [--regenerate]` prints the figures as Markdown;
// `runAuditBench(log)` returns them for bench/run.ts (docs/benchmarks.md). The store is kept in
// bench/out/audit/ (about 2 MB per layer) and reused while its truth file matches the parameters.

import { execa } from 'execa';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { generateStore, type GeneratedStore } from './store-generator.js';

const ROOT = path.join(import.meta.dirname, '..');
const BIN = path.join(ROOT, 'bin', 'layer-forensics');
const OUT = path.join(ROOT, 'bench', 'out', 'audit');
const SEED = 1;

export interface RunFigures {
  /** The 1-minute load average when the run started (other work on the machine). */
  load: number;
  wallMs: number;
  peakRssMb: number;
  exitCode: number;
  lines: { layer: string; verdict: string; cached: boolean; ms: number; chainDepth: number; files: { path: string; class: string; provenance: { layer?: string; path: string } | null }[] }[];
}

export interface AuditBenchFigures {
  layers: number;
  corrupt: number;
  storeMb: number;
  generateMs: number | null;
  /** The median run of each (cold: no result cache; the images are in the page cache). */
  cold2: RunFigures;
  cold1: RunFigures;
  /** Wall clock of every cold run, in the order run. */
  cold2Runs: number[];
  cold1Runs: number[];
  warm: RunFigures;
  mismatches: string[];
  byDepth: { depth: number; layers: number; medianMs: number; openMs: number }[];
  slopeMsPerLevel: number;
}

/** The store, reused when its truth file says it was made with the same parameters. */
function storeFor(layers: number, regenerate: boolean, log: (s: string) => void): { store: GeneratedStore; generateMs: number | null } {
  const root = path.join(OUT, `store-${layers}`);
  const truth = `${root}.truth.json`;
  if (!regenerate && existsSync(truth)) {
    const store = JSON.parse(readFileSync(truth, 'utf8')) as GeneratedStore;
    if (store.layers.length === layers) return { store, generateMs: null };
  }
  log(`generating a ${layers}-layer store in ${root} (about ${Math.round(layers * 2)} MB)`);
  const store = generateStore({ root, layers, seed: SEED, writeTruth: true, onProgress: (d, t) => d % 100 === 0 && log(`  ${d}/${t} layers`) });
  return { store, generateMs: store.ms };
}

/** One run of the CLI under GNU time: wall clock, peak RSS, the NDJSON lines. */
async function run(spec: string, xdg: string, extra: string[]): Promise<RunFigures> {
  const load = loadavg()[0]!;
  const t0 = performance.now();
  const r = await execa('/usr/bin/time', ['-f', 'peak-rss-kb %M', BIN, 'audit', '--store', spec, '--json', '--quiet', ...extra], {
    reject: false,
    env: { XDG_CACHE_HOME: xdg },
    maxBuffer: 1 << 30,
  });
  const wallMs = Math.round(performance.now() - t0);
  const rss = /peak-rss-kb (\d+)/.exec(String(r.stderr));
  const all = String(r.stdout)
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as RunFigures['lines'][number] & { type: string });
  if (!all.at(-1) || all.at(-1)!.type !== 'summary') throw new Error(`audit did not finish (exit ${r.exitCode}): ${String(r.stderr).slice(0, 500)}`);
  return { load, wallMs, peakRssMb: rss ? Math.round(Number(rss[1]) / 1024) : NaN, exitCode: r.exitCode ?? -1, lines: all.filter((l) => l.type === 'layer') };
}

/** Every verdict, file, class and owner against the truth; one line per difference. */
function check(store: GeneratedStore, lines: RunFigures['lines']): string[] {
  const byId = new Map(lines.map((l) => [l.layer, l]));
  const out: string[] = [];
  for (const t of store.layers) {
    const l = byId.get(t.id);
    if (!l) {
      out.push(`${t.id.slice(0, 12)}: no line`);
      continue;
    }
    const got = JSON.stringify({ v: l.verdict, f: l.files.map((f) => [f.path, f.class, f.provenance ? `${f.provenance.layer} ${f.provenance.path}` : null]).sort() });
    const want = JSON.stringify({ v: t.expect, f: t.lost.map((f) => [f.path, f.class, f.owner ? `${f.owner.layer} ${f.owner.path}` : null]).sort() });
    if (got !== want) out.push(`${t.id.slice(0, 12)} (${t.kind}): got ${got}, want ${want}`);
  }
  return out;
}

/** Cold runs per --jobs value, alternating, so that a burst of other work does not land on one only. */
const COLD_ROUNDS = 3;

function medianRun(runs: RunFigures[]): RunFigures {
  return [...runs].sort((a, b) => a.wallMs - b.wallMs)[Math.floor((runs.length - 1) / 2)]!;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

/** What opening a layer's chain and its parent's costs (every image's header and L1 table), per layer. */
async function openCost(spec: string, ids: string[]): Promise<number> {
  const { openStore } = await import('../src/store/store.js');
  const { openLayerDevice } = await import('../src/store/layer-device.js');
  const store = await openStore(spec);
  const ms: number[] = [];
  for (const id of ids.slice(0, 10)) {
    const l = await store.getLayer(id);
    const t0 = performance.now();
    openLayerDevice(l.links).close();
    openLayerDevice(l.links.slice(1)).close();
    ms.push(performance.now() - t0);
  }
  return median(ms);
}

/** Median time per layer at each chain depth (undamaged layers: tracing a loss is extra work), and the least-squares slope. */
async function depthProfile(spec: string, lines: RunFigures['lines']): Promise<{ byDepth: AuditBenchFigures['byDepth']; slope: number }> {
  const plain = lines.filter((l) => l.verdict === 'clean' && !l.cached);
  const depths = [...new Set(plain.map((l) => l.chainDepth))].sort((a, b) => a - b);
  const byDepth: AuditBenchFigures['byDepth'] = [];
  for (const depth of depths) {
    const at = plain.filter((l) => l.chainDepth === depth);
    byDepth.push({ depth, layers: at.length, medianMs: median(at.map((l) => l.ms)), openMs: await openCost(spec, at.map((l) => l.layer)) });
  }
  const n = plain.length;
  const mx = plain.reduce((s, l) => s + l.chainDepth, 0) / n;
  const my = plain.reduce((s, l) => s + l.ms, 0) / n;
  const cov = plain.reduce((s, l) => s + (l.chainDepth - mx) * (l.ms - my), 0);
  const varx = plain.reduce((s, l) => s + (l.chainDepth - mx) ** 2, 0);
  return { byDepth, slope: varx > 0 ? cov / varx : 0 };
}

export async function measureAudit(log: (s: string) => void, layers = 1000, regenerate = false): Promise<AuditBenchFigures> {
  if (!existsSync(path.join(ROOT, 'dist', 'cli', 'main.js'))) throw new Error('dist/ is not built: run `npm run build` first');
  const { store, generateMs } = storeFor(layers, regenerate, log);
  const xdg = await mkdtemp(path.join(tmpdir(), 'lf-audit-bench-'));
  try {
    // The first read of the images from disk would be charged to whichever run came first.
    log('reading the store once (page cache)');
    await run(store.spec, path.join(xdg, 'warm-up'), ['--jobs', '2', '--no-cache']);
    const cold: Record<'1' | '2', RunFigures[]> = { '1': [], '2': [] };
    for (let round = 0; round < COLD_ROUNDS; round++) {
      for (const jobs of ['1', '2'] as const) {
        log(`cold audit, --jobs ${jobs} (round ${round + 1} of ${COLD_ROUNDS})`);
        cold[jobs].push(await run(store.spec, path.join(xdg, `cold-${jobs}-${round}`), ['--jobs', jobs]));
      }
    }
    const cold1 = medianRun(cold['1']);
    const cold2 = medianRun(cold['2']);
    log('warm audit (everything cached)');
    const warm = await run(store.spec, path.join(xdg, `cold-2-${COLD_ROUNDS - 1}`), ['--jobs', '2']);
    const { byDepth, slope } = await depthProfile(store.spec, cold1.lines);
    const storeMb = Math.round(store.bytes / 2 ** 20);
    const mismatches = [...new Set([...cold['1'], ...cold['2']].flatMap((r) => check(store, r.lines)))];
    return {
      layers,
      corrupt: store.layers.filter((l) => l.expect !== 'clean').length,
      storeMb,
      generateMs,
      cold2,
      cold1,
      cold2Runs: cold['2'].map((r) => r.wallMs),
      cold1Runs: cold['1'].map((r) => r.wallMs),
      warm,
      mismatches,
      byDepth,
      slopeMsPerLevel: slope,
    };
  } finally {
    await rm(xdg, { recursive: true, force: true });
  }
}

function machine(): string {
  return `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}, ${new Date().toISOString().slice(0, 10)}`;
}

/** The figures as a Markdown section (the command that produced them first). */
export function auditBenchMarkdown(f: AuditBenchFigures, command: string): string {
  const ok = (b: boolean): string => (b ? 'met' : '**missed**');
  const s = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;
  const rate = (r: RunFigures): string => `${((f.layers / r.wallMs) * 1000).toFixed(0)} layers/s`;
  return [
    `Command: \`${command}\` (bench/audit-bench.ts, bench/store-generator.ts). Machine: ${machine()}.`,
    '',
    `Store: ${f.layers} generated layers on an OpenBSD-shaped 40 GiB base (MBR + disklabel, FFS2 \`/\` and \`/home\`), chains up to 20 images deep, ${f.corrupt} layers with injected soft-updates losses; ${f.storeMb} MiB of qcow2 images${f.generateMs === null ? '' : `, generated in ${s(f.generateMs)}`}. Each run is the real \`bin/layer-forensics audit --json\`; peak RSS is GNU time's, for the whole process (worker threads included).`,
    '',
    '| run | wall clock | peak RSS | load average at start | target |',
    '| --- | --- | --- | --- | --- |',
    `| cold (empty result cache), \`--jobs 2\`, median of ${f.cold2Runs.length} (${f.cold2Runs.map(s).join(', ')}) | ${s(f.cold2.wallMs)} (${rate(f.cold2)}) | ${f.cold2.peakRssMb} MB | ${f.cold2.load.toFixed(1)} | ≤ 60 s: ${ok(f.cold2.wallMs <= 60_000)}; ≤ 200 MB: ${ok(f.cold2.peakRssMb <= 200)} |`,
    `| cold (empty result cache), \`--jobs 1\`, median of ${f.cold1Runs.length} (${f.cold1Runs.map(s).join(', ')}) | ${s(f.cold1.wallMs)} (${rate(f.cold1)}) | ${f.cold1.peakRssMb} MB | ${f.cold1.load.toFixed(1)} | ≤ 200 MB: ${ok(f.cold1.peakRssMb <= 200)} |`,
    `| warm (all ${f.layers} cached) | ${s(f.warm.wallMs)} | ${f.warm.peakRssMb} MB | ${f.warm.load.toFixed(1)} | ≤ 2 s: ${ok(f.warm.wallMs <= 2000)} |`,
    '',
    `Scaling: --jobs 2 runs ${(f.cold1.wallMs / f.cold2.wallMs).toFixed(2)}× as fast as --jobs 1 on these 2 cores (medians; the runs alternate, after one untimed run that reads the images into the page cache; a load average near or above 2 from other work leaves no core free for the second worker). Ground truth, every cold run: ${f.mismatches.length === 0 ? `every verdict, damaged file, class and owner as injected (0 mismatches of ${f.layers} layers)` : `**${f.mismatches.length} mismatches**: ${f.mismatches.slice(0, 5).join('; ')}`}.`,
    '',
    'Time per layer against its chain depth (clean layers of the `--jobs 1` run; a layer with damage also traces it through its ancestors):',
    '',
    '| chain depth (images) | layers | median ms per layer | of which opening its chain and its parent\'s (ms) |',
    '| --- | --- | --- | --- |',
    ...f.byDepth.map((d) => `| ${d.depth} | ${d.layers} | ${d.medianMs.toFixed(0)} | ${d.openMs.toFixed(1)} |`),
    '',
    `Least-squares slope: ${f.slopeMsPerLevel.toFixed(2)} ms per chain level. What a layer costs is its own clusters (one pass over its own L1/L2 tables, whatever the depth) and the blocks it changed. What grows with depth is opening the two views of the disk (the layer's chain and its parent's: a header and an L1 table per image, the last column) and, for a block the layer does not hold, the L2 lookups down the chain to the image that does.`,
  ].join('\n');
}

/** For bench/run.ts: the section for docs/benchmarks.md. */
export async function runAuditBench(log: (s: string) => void): Promise<string> {
  return auditBenchMarkdown(await measureAudit(log), 'npm run bench -- audit');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const i = process.argv.indexOf('--layers');
  const layers = i >= 0 ? Number(process.argv[i + 1]) : 1000;
  const regenerate = process.argv.includes('--regenerate');
  const log = (s: string): void => void process.stderr.write(`audit-bench: ${s}\n`);
  const f = await measureAudit(log, layers, regenerate);
  process.stdout.write(`${auditBenchMarkdown(f, `tsx bench/audit-bench.ts${i >= 0 ? ` --layers ${layers}` : ''}`)}\n`);
}
