// `npm run bench`: runs the benchmarks and writes their figures to docs/benchmarks.md,
// one section per benchmark, each with the command that produced it. Sections not re-run keep
// their previous text, so `npm run bench -- classify` refreshes one section only.

import { readFile, writeFile, mkdir } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { runClassifyBench } from './classify-bench.js';
import { runDiagnoseBench } from './diagnose-bench.js';

const DOC = join(import.meta.dirname, '..', 'docs', 'benchmarks.md');
const log = (s: string) => process.stderr.write(`bench: ${s}\n`);

type Section = { name: string; run: () => Promise<string> };

function machine(): string {
  return `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}, ${new Date().toISOString().slice(0, 10)}`;
}

const sections: Section[] = [
  {
    name: 'classify',
    run: async () => {
      const f = await runClassifyBench(log);
      const ok = (b: boolean) => (b ? 'met' : '**missed**');
      return [
        `Command: \`npm run bench -- classify\` (bench/classify-bench.ts). Machine: ${machine()}.`,
        '',
        `Tree: ${f.treeFiles} files, ${(f.treeBytes / 1e9).toFixed(2)} GB of expected bytes (20,000 small opam-like text files, 800 binaries of 0.1–1 MB, 12 of 32–64 MB), and an actual copy of the same size with ~2% of the files stale (zeros, or a first block followed by zeros). Verdict: ${f.verdict}.`,
        '',
        '| figure | value | target |',
        '| --- | --- | --- |',
        `| classify, first run (also reads the tree into the page cache) | ${(f.coldRunMs / 1000).toFixed(2)} s = ${f.mbPerSecCold} MB/s | |`,
        `| classify, median of the next 3 runs (${f.warmRunsMs.join(', ')} ms) | ${(f.warmRunMs / 1000).toFixed(2)} s = ${f.mbPerSecWarm} MB/s | ≥ 300 MB/s: ${ok(f.mbPerSecWarm >= 300)} |`,
        `| classify, best run | ${(f.bestRunMs / 1000).toFixed(2)} s = ${f.mbPerSecBest} MB/s | |`,
        `| peak RSS during classify | ${f.peakRssMb} MB | |`,
        `| provenance index of ${f.corpusFiles} files (${(f.corpusBytes / 1e6).toFixed(0)} MB), first build | ${f.indexFirstMs} ms | |`,
        `| provenance index, median of the next 3 builds (${f.indexRunsMs.join(', ')} ms) | ${f.indexMs} ms | < 2 s: ${ok(f.indexMs < 2000)} |`,
        `| lookup, mean of ${f.lookups} (hits: ${f.lookupHits}) | ${f.lookupUsAvg} µs | < 1 ms: ${ok(f.lookupUsAvg < 1000)} |`,
        `| lookup, slowest | ${f.lookupUsMax} µs | |`,
        '',
        'MB/s counts the bytes of the expected tree (the actual tree is as large and is read and hashed too: both sides are sha256-hashed for the report).',
      ].join('\n');
    },
  },
  {
    name: 'diagnose',
    run: async () => {
      const f = await runDiagnoseBench(log);
      const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
      return [
        `Command: \`npm run bench -- diagnose\` (bench/diagnose-bench.ts, bench/hand-procedure.sh). Machine: ${machine()}. TCG (KVM is broken here), ${f.rounds} rounds, the three methods alternating within each round; medians.`,
        '',
        'The corrupted sample layer (six .opam files out of /home/opam/src).',
        '',
        '| method | overlay | boot to SSH | extract | total (wall clock) |',
        '| --- | --- | --- | --- | --- |',
        `| \`layer-forensics diagnose --json\` (whole process: also resolves the chain, fingerprints it before and after, classifies) | ${f.tool.overlayMs} ms | ${s(f.tool.bootMs)} | ${f.tool.extractMs} ms | ${s(f.tool.wallMs)} |`,
        `| by hand: qemu-img, qemu-system, ssh polled every 0.5 s, tar | ${f.hand.overlayMs} ms | ${s(f.hand.bootMs)} | ${f.hand.extractMs} ms | ${s(f.hand.wallMs)} |`,
        `| \`guestfish --ro ... copy-out\` (libguestfs, direct backend, force_tcg) | | | | ${s(f.guestfishMs)} |`,
        '',
        `Ratios: tool / hand = **${f.toolOverHand.toFixed(2)}x** (target ≤ 1.1x: ${f.toolOverHand <= 1.1 ? 'met' : '**missed**'}); guestfish / tool = **${f.guestfishOverTool.toFixed(2)}x** (target ≥ 1.5x: ${f.guestfishOverTool >= 1.5 ? 'met' : '**missed**'}).`,
        '',
        `Every round (ms): tool ${f.samples.tool.join(', ')}; hand ${f.samples.hand.join(', ')}; guestfish ${f.samples.guestfish.join(', ')}.`,
      ].join('\n');
    },
  },
];

async function main(): Promise<void> {
  const only = process.argv.slice(2);
  const chosen = sections.filter((s) => only.length === 0 || only.includes(s.name));
  if (chosen.length === 0) throw new Error(`unknown benchmark(s): ${only.join(', ')}; known: ${sections.map((s) => s.name).join(', ')}`);
  await mkdir(join(DOC, '..'), { recursive: true });
  const old = existsSync(DOC) ? await readFile(DOC, 'utf8') : '';
  const parts = new Map<string, string>();
  for (const m of old.matchAll(/<!-- bench:(\w+) -->\n([\s\S]*?)<!-- \/bench:\1 -->/g)) parts.set(m[1]!, m[2]!);
  for (const s of chosen) {
    log(`running ${s.name}`);
    parts.set(s.name, `${await s.run()}\n`);
  }
  const body = sections
    .filter((s) => parts.has(s.name))
    .map((s) => `## ${s.name}\n\n<!-- bench:${s.name} -->\n${parts.get(s.name)}<!-- /bench:${s.name} -->\n`)
    .join('\n');
  await writeFile(DOC, `# Benchmarks\n\nWritten by \`npm run bench\` (bench/run.ts); each section names the command that produced it.\n\n${body}`);
  log(`wrote ${DOC}`);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
