// One target in one worker thread: make input i, publish it in shared memory (so that the runner
// can save it if the run never comes back), run it, sort the outcome. Sends counts now and then
// and each crash with its input.

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import { escapeText } from '../src/report/escape.js';
import { UserError } from '../src/util/errors.js';
import { inputSeed, mutate, Rng } from './mutate.js';
import { TARGETS } from './targets/index.js';
import { HEADER_INTS, type Outcome, type WorkerData } from './protocol.js';


const d = workerData as WorkerData;
const target = TARGETS.find((t) => t.name === d.target);
if (!target) throw new Error(`no target ${d.target}`);
const ints = new Int32Array(d.shared, 0, HEADER_INTS);
const bytes = new Uint8Array(d.shared, HEADER_INTS * 4);
const work = join(d.work, `${d.target}-${d.from}`);
mkdirSync(work, { recursive: true });
process.env.TMPDIR = work;
const ctx = { work };
const seeds = await target.seeds(ctx);
const dictionary = (target.dictionary ?? []).map((t) => Buffer.from(t, 'latin1'));

function makeInput(i: number): Buffer {
  const rng = new Rng(inputSeed(d.runSeed, d.target, i));
  let input = mutate(rng, seeds, { maxLength: target!.maxLength, dictionary, inPlace: target!.inPlace });
  if (target!.fixup) input = target!.fixup(input, rng.next() / 2 ** 32);
  return input;
}

const counts = { ok: 0, rejected: 0, crashes: 0, memory: 0, slowestMs: 0, slowestIndex: -1, peakHeap: 0, peakExternal: 0 };
let lastPost = Date.now();

async function runOne(i: number, input: Buffer): Promise<void> {
  Atomics.store(ints, 0, i);
  const n = Math.min(input.length, bytes.length);
  bytes.set(input.subarray(0, n));
  Atomics.store(ints, 1, n);
  Atomics.store(ints, 2, 1);
  const t0 = performance.now();
  try {
    await target!.run(input, ctx);
    counts.ok++;
  } catch (err) {
    // One line as the CLI prints it (messages carry guest bytes raw; they are escaped when printed).
    if (err instanceof UserError && err.message.length > 0 && !/[\r\n]/.test(escapeText(err.message))) counts.rejected++;
    else {
      counts.crashes++;
      const e = err instanceof Error ? err : new Error(String(err));
      const o: Outcome = { index: i, kind: 'crash', message: `${e.name}: ${e.message}`, stack: e.stack ?? '', input: new Uint8Array(input) };
      parentPort!.postMessage({ type: 'outcome', outcome: o });
    }
  }
  Atomics.store(ints, 2, 0);
  const ms = performance.now() - t0;
  if (ms > counts.slowestMs) {
    counts.slowestMs = ms;
    counts.slowestIndex = i;
  }
  if ((i & 63) === 0) {
    const m = process.memoryUsage();
    counts.peakHeap = Math.max(counts.peakHeap, m.heapUsed);
    counts.peakExternal = Math.max(counts.peakExternal, m.external + m.arrayBuffers);
    if (m.heapUsed + m.external > d.memoryLimitBytes) {
      counts.memory++;
      const o: Outcome = { index: i, kind: 'memory', message: `memory ${Math.round((m.heapUsed + m.external) / 2 ** 20)} MiB after this input`, stack: '', input: new Uint8Array(input) };
      parentPort!.postMessage({ type: 'outcome', outcome: o });
    }
  }
}

if (d.exact) {
  await runOne(-1, Buffer.from(d.exact));
} else {
  const indexes = d.only ?? null;
  const total = indexes ? indexes.length : d.to - d.from;
  for (let k = 0; k < total; k++) {
    const i = indexes ? indexes[k]! : d.from + k;
    await runOne(i, makeInput(i));
    if (Date.now() - lastPost > 500) {
      lastPost = Date.now();
      parentPort!.postMessage({ type: 'progress', done: k + 1, counts });
    }
  }
}
parentPort!.postMessage({ type: 'done', counts, seeds: seeds.map((s) => `${s.name} (${s.bytes.length} bytes)`) });
