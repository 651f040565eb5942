// `npm run bench`: runs the benchmarks and writes their figures to docs/benchmarks.md,
// one section per benchmark, each with the command that produced it. Sections not re-run keep
// their previous text, so `npm run bench -- classify` refreshes one section only.

import { readFile, writeFile, mkdir } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { classifySection, runClassifyBench } from './classify-bench.js';
import { runDiagnoseBench } from './diagnose-bench.js';
import { runDirectBench } from './direct-bench.js';
import { runImageBench } from './image-bench.js';
import { runAuditBench } from './audit-bench.js';

const DOC = join(import.meta.dirname, '..', 'docs', 'benchmarks.md');
const log = (s: string) => process.stderr.write(`bench: ${s}\n`);

type Section = { name: string; run: () => Promise<string> };

function machine(): string {
  return `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}, ${new Date().toISOString().slice(0, 10)}`;
}

const sections: Section[] = [
  { name: 'classify', run: async () => classifySection(await runClassifyBench(log), machine()) },
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
  {
    name: 'image',
    run: async () => {
      const f = await runImageBench(log);
      const mb = (n: number | null) => (n === null ? 'n/a' : `${n} MB/s`);
      return [
        `Command: \`npm run bench -- image\` (bench/image-bench.ts). Machine: ${machine()}.`,
        '',
        'The in-process qcow2 reader (src/image) next to qemu-io on the same images.',
        '',
        '| figure | layer-forensics | qemu-io / plain read |',
        '| --- | --- | --- |',
        `| 256 MiB fully allocated qcow2, sequential, 1 MiB requests | ${mb(f.seqPlainMBs)} (${f.seqPlainMs} ms) | plain readSync of the file: ${mb(f.readSyncMBs)}; qemu-io: ${mb(f.qemuIoPlainMBs)} |`,
        `| same, 64 KiB requests | ${mb(f.seqPlain64kMBs)} | |`,
        `| compressed copy (${f.compressedFileMB} MB file), sequential | ${mb(f.seqCompressedMBs)} (${f.seqCompressedMs} ms) | qemu-io: ${mb(f.qemuIoCompressedMBs)} |`,
        `| chain of 20 × 40 GiB: open | ${f.chainOpenMs} ms | |`,
        `| chain of 20: first 4 KiB read | ${f.chainFirstReadMs} ms | |`,
        `| chain of 20: random 4 KiB reads | ${f.chainRandomReadsPerSec} per second (${f.chainRandomReads} reads) | |`,
        `| chain of 20: map of the whole 40 GiB | ${f.chainMapMs} ms (${f.chainMapExtents} extents) | |`,
      ].join('\n');
    },
  },
  { name: 'audit', run: () => runAuditBench(log) },
  {
    name: 'direct',
    run: async () => {
      const f = await runDirectBench(log);
      const ok = (b: boolean) => (b ? 'met' : '**missed**');
      const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
      return [
        `Command: \`npm run bench -- direct\` (bench/direct-bench.ts). Machine: ${machine()}. One run: the three methods below, medians.`,
        '',
        `\`diagnose --via direct\` on the OpenBSD-shaped sample's corrupt copy layer (chain of 5, MBR + disklabel, FFS2 /home; ${f.files} files, verdict ${f.verdict}), next to \`diagnose --via boot\` on the bootable Linux sample (TCG) and \`guestfish --ro ... copy-out\` of the same OpenBSD layer (libguestfs, direct backend, TCG).`,
        '',
        '| figure | value | target |',
        '| --- | --- | --- |',
        `| in-process: runDiagnose, warm, median of ${f.inProcessRuns.length} (${f.inProcessRuns.join(', ')} ms) | ${f.inProcessMs} ms | ≤ 100 ms: ${ok(f.inProcessMs <= 100)} |`,
        `| whole process: \`layer-forensics diagnose --via direct --json\`, median of ${f.processRuns.length} (${f.processRuns.join(', ')} ms) | ${f.processMs} ms | ≤ 600 ms: ${ok(f.processMs <= 600)} |`,
        `| peak RSS of the whole process | ${f.peakRssMb} MB | |`,
        `| \`diagnose --via boot\` of the bootable sample (${f.bootRuns.join(', ')} ms) | ${s(f.bootMs)} | |`,
        `| \`guestfish --ro\` copy-out of the same layer (${f.guestfishRuns.join(', ')} ms) | ${s(f.guestfishMs)} | |`,
        '',
        `Ratios: boot / direct = **${(f.bootMs / f.processMs).toFixed(0)}x**; guestfish / direct = **${(f.guestfishMs / f.processMs).toFixed(0)}x** (target ≥ 20x: ${ok(f.guestfishMs / f.processMs >= 20)}).`,
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
  // Sections written by other commands (`npm run fuzz`) are kept as they are, after these.
  const names = [...sections.map((s) => s.name), ...[...parts.keys()].filter((n) => !sections.some((s) => s.name === n))];
  const body = names
    .filter((n) => parts.has(n))
    .map((n) => `## ${n}\n\n<!-- bench:${n} -->\n${parts.get(n)}<!-- /bench:${n} -->\n`)
    .join('\n');
  await writeFile(DOC, `# Benchmarks\n\nWritten by \`npm run bench\` (bench/run.ts); each section names the command that produced it.\n\n${body}`);
  log(`wrote ${DOC}`);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
