// Classification throughput on a generated tree of >= 1 GB of mixed files, and provenance
// indexing and lookup on a generated opam-repository-shaped corpus of 30,000 files.
// Run: npm run bench (figures go to docs/benchmarks.md by bench/run.ts).

import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { classifyDirectories } from '../src/diagnose/classify-directories.js';
import { ProvenanceIndex } from '../src/classify/provenance.js';
import { indexCorpusDirectory } from '../src/classify/index-corpus.js';

const OUT = join(import.meta.dirname, 'out');

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** Deterministic pseudo-random generator so the tree is the same every run. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

function opamText(r: () => number, name: string, version: string): Buffer {
  const deps = Array.from({ length: 3 + Math.floor(r() * 12) }, (_, i) => `  "dep-${Math.floor(r() * 5000)}-${i}" {>= "${Math.floor(r() * 9)}.${Math.floor(r() * 20)}"}`);
  const body =
    `opam-version: "2.0"\nname: "${name}"\nversion: "${version}"\nmaintainer: "maintainer${Math.floor(r() * 50)}@example.org"\n` +
    `synopsis: "Synopsis of ${name} ${version}"\ndescription: """\n${'Lorem ipsum dolor sit amet, consectetur adipiscing elit. '.repeat(1 + Math.floor(r() * 60))}\n"""\n` +
    `depends: [\n${deps.join('\n')}\n]\nbuild: [["dune" "build" "-p" name "-j" jobs]]\n`;
  return Buffer.from(body);
}

/** Mixed tree: many small text files, medium and large binaries; a copy with ~1% stale files. */
async function makeTree(): Promise<{ expected: string; actual: string; bytes: number; files: number }> {
  const root = join(OUT, 'tree');
  const expected = join(root, 'expected');
  const actual = join(root, 'actual');
  const stamp = join(root, 'stamp-v1');
  if (existsSync(stamp)) {
    const meta = JSON.parse(await readFile(stamp, 'utf8'));
    return { expected, actual, ...meta };
  }
  await rm(root, { recursive: true, force: true });
  const r = rng(42);
  let bytes = 0;
  let files = 0;
  const plan: { path: string; size: number; kind: 'text' | 'bin' }[] = [];
  for (let i = 0; i < 20_000; i++) plan.push({ path: `small/d${i % 200}/f${i}.opam`, size: 0, kind: 'text' });
  for (let i = 0; i < 800; i++) plan.push({ path: `medium/m${i}.bin`, size: 100_000 + Math.floor(r() * 900_000), kind: 'bin' });
  for (let i = 0; i < 12; i++) plan.push({ path: `large/l${i}.bin`, size: 32 * 1024 * 1024 + Math.floor(r() * 32 * 1024 * 1024), kind: 'bin' });
  const pool = randomBytes(80 * 1024 * 1024);
  for (const [n, f] of plan.entries()) {
    let buf: Buffer;
    if (f.kind === 'text') buf = opamText(r, `pkg${n}`, `1.${n % 7}`);
    else {
      const off = Math.floor(r() * (pool.length - f.size));
      buf = pool.subarray(off, off + f.size);
    }
    for (const side of [expected, actual]) await mkdir(join(side, f.path, '..'), { recursive: true });
    await writeFile(join(expected, f.path), buf);
    let act: Buffer = buf;
    if (n % 97 === 0) act = Buffer.alloc(buf.length); // zeros
    else if (n % 101 === 0) act = Buffer.concat([buf.subarray(0, 512), Buffer.alloc(buf.length - Math.min(512, buf.length))]).subarray(0, buf.length);
    await writeFile(join(actual, f.path), act);
    bytes += buf.length;
    files++;
  }
  await writeFile(stamp, JSON.stringify({ bytes, files }));
  return { expected, actual, bytes, files };
}

async function makeCorpus(): Promise<{ dir: string; files: number; bytes: number; samples: Buffer[] }> {
  const dir = join(OUT, 'corpus');
  const r = rng(7);
  const samples: Buffer[] = [];
  const exists = existsSync(join(dir, 'stamp-v1'));
  let bytes = 0;
  let files = 0;
  for (let p = 0; p < 6000; p++) {
    for (let v = 0; v < 5; v++) {
      const buf = opamText(r, `package-${p}`, `${v}.0.0`);
      const path = join(dir, 'packages', `package-${p}`, `package-${p}.${v}.0.0`, 'opam');
      if (!exists) {
        await mkdir(join(path, '..'), { recursive: true });
        await writeFile(path, buf);
      }
      bytes += buf.length;
      files++;
      if (files % 3 === 0) samples.push(buf);
    }
  }
  if (!exists) await writeFile(join(dir, 'stamp-v1'), '');
  return { dir, files, bytes, samples };
}

export interface ClassifyFigures {
  treeFiles: number;
  treeBytes: number;
  coldRunMs: number;
  warmRunMs: number;
  bestRunMs: number;
  mbPerSecWarm: number;
  mbPerSecBest: number;
  warmRunsMs: number[];
  indexFirstMs: number;
  indexRunsMs: number[];
  mbPerSecCold: number;
  peakRssMb: number;
  verdict: string;
  corpusFiles: number;
  corpusBytes: number;
  indexMs: number;
  lookups: number;
  lookupUsAvg: number;
  lookupUsMax: number;
  lookupHits: number;
}

export async function runClassifyBench(log: (s: string) => void): Promise<ClassifyFigures> {
  log('generating the tree (cached in bench/out/)...');
  const tree = await makeTree();
  let peak = process.memoryUsage().rss;
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 50);
  const runs: number[] = [];
  let verdict = '';
  // The first run also pulls the tree into the page cache; the others measure the classifier.
  for (let i = 0; i < 4; i++) {
    const t0 = performance.now();
    const rep = await classifyDirectories({ expected: tree.expected, actual: tree.actual });
    runs.push(performance.now() - t0);
    verdict = rep.verdict.kind;
    log(`classify run ${i + 1}: ${(runs[i]! / 1000).toFixed(2)} s, ${rep.files.length} files, verdict ${verdict}`);
  }
  clearInterval(timer);
  log('generating the corpus (cached)...');
  const corpus = await makeCorpus();
  const indexRuns: number[] = [];
  let index = new ProvenanceIndex();
  for (let i = 0; i < 4; i++) {
    const t1 = performance.now();
    index = new ProvenanceIndex();
    await indexCorpusDirectory(index, corpus.dir);
    index.seal();
    indexRuns.push(performance.now() - t1);
  }
  const indexMs = median(indexRuns.slice(1));
  let hits = 0;
  let max = 0;
  const t2 = performance.now();
  for (const s of corpus.samples) {
    const a = performance.now();
    // A stale file: another file's start, cut to some other size, as soft-updates leaves it.
    if (index.lookup(s.subarray(0, Math.max(64, s.length - 100)))) hits++;
    max = Math.max(max, performance.now() - a);
  }
  const lookupMs = performance.now() - t2;
  await stat(corpus.dir);
  const warm = runs.slice(1);
  const best = Math.min(...warm);
  const med = median(warm);
  return {
    treeFiles: tree.files,
    treeBytes: tree.bytes,
    coldRunMs: Math.round(runs[0]!),
    warmRunMs: Math.round(med),
    bestRunMs: Math.round(best),
    mbPerSecWarm: Math.round(tree.bytes / 1e6 / (med / 1000)),
    mbPerSecBest: Math.round(tree.bytes / 1e6 / (best / 1000)),
    warmRunsMs: warm.map(Math.round),
    indexFirstMs: Math.round(indexRuns[0]!),
    indexRunsMs: indexRuns.slice(1).map(Math.round),
    mbPerSecCold: Math.round(tree.bytes / 1e6 / (runs[0]! / 1000)),
    peakRssMb: Math.round(peak / 1e6),
    verdict,
    corpusFiles: corpus.files,
    corpusBytes: corpus.bytes,
    indexMs: Math.round(indexMs),
    lookups: corpus.samples.length,
    lookupUsAvg: Math.round((lookupMs * 1000) / corpus.samples.length),
    lookupUsMax: Math.round(max * 1000),
    lookupHits: hits,
  };
}
