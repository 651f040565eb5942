// `diagnose` end to end: resolve the layer (from --layer or a job log), fingerprint its chain,
// boot a throwaway overlay, pull the copied files out over SSH, classify them, give the verdict,
// and always stop QEMU and remove the overlay. The TUI runs the very same function.

import { mkdir, readdir, rm, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join, posix } from 'node:path';
import { existsSync } from 'node:fs';
import { compareTrees } from '../classify/compare-trees.js';
import { DEFAULT_BLOCK_SIZE } from '../classify/content.js';
import { indexCorpusDirectory, indexTree } from '../classify/index-corpus.js';
import { ProvenanceIndex } from '../classify/provenance.js';
import { readDirectoryTree, requireDirectory } from '../classify/read-tree.js';
import type { Tree } from '../classify/tree.js';
import { extractOverSsh, guestPath, pullGuestCorpus } from '../extract/ssh-tar.js';
import { REPORT_SCHEMA, type Report } from '../report/schema.js';
import { fingerprintChanges, fingerprintFiles } from '../store/fingerprint.js';
import { normaliseGuestPath, pickCopyStep, readJobLog } from '../store/job-log.js';
import { openStore } from '../store/store.js';
import { UserError, oneLine } from '../util/errors.js';
import { bootLayer, type Vm } from '../vm/boot.js';
import { runAllCleanups } from '../vm/cleanup.js';
import { DEFAULTS, type DiagnoseEvent, type DiagnoseOptions, type DiagnoseResult, type RunControl } from './types.js';
import { decideVerdict } from './verdict.js';

/** What the layer and the copy step are, before anything boots. */
export interface Target {
  layerId: string;
  image: string;
  chain: string[];
  dst: string;
  /** The copy step's src list (relative to the expected dir), when a job log gave one. */
  src?: string[];
}

/** Where the guest's serial console is kept after the run (the overlay's directory is removed). */
export function consoleLogDir(): string {
  const state = process.env.XDG_STATE_HOME || join(homedir(), '.local', 'state');
  return join(state, 'layer-forensics', 'console');
}

/** The keys this tool tries when --ssh-key is not given, in order. */
function defaultSshKey(): string {
  for (const k of ['id_ed25519', 'id_ecdsa', 'id_rsa']) {
    const p = join(homedir(), '.ssh', k);
    if (existsSync(p)) return p;
  }
  throw new UserError('--ssh-key: not given, and no ~/.ssh/id_ed25519, id_ecdsa or id_rsa to use instead');
}

/** Resolve layer, chain, destination and src list from the options (and the job log). */
export async function resolveTarget(opts: DiagnoseOptions): Promise<Target> {
  const store = await openStore(opts.store);
  let layerRef = opts.layer;
  let dst = opts.dst;
  let src: string[] | undefined;
  if (opts.jobLog) {
    const step = pickCopyStep(await readJobLog(opts.jobLog), opts.jobLog, opts.step);
    if (layerRef && !step.layerId.startsWith(layerRef.toLowerCase())) {
      throw new UserError(`--layer ${layerRef}: the job log's copy step produced ${step.layerId}; give one or the other`);
    }
    layerRef = step.layerId;
    dst ??= step.dst;
    src = step.src;
  }
  if (!layerRef) throw new UserError('no layer: give --layer ID or --job-log FILE');
  const layer = await store.getLayer(layerRef);
  return {
    layerId: layer.id,
    image: layer.image,
    chain: layer.chain,
    dst: normaliseGuestPath(dst ?? DEFAULTS.dst),
    src,
  };
}

/**
 * The expected files of the copy step: all of --expected, or only the job log's src entries
 * (a src naming a directory takes everything under it). src paths keep their relative form.
 */
export function selectExpected(tree: Tree, src: string[] | undefined): Tree {
  if (!src || src.length === 0) return tree;
  const wanted = src.map((s) => posix.normalize(s).replace(/^\.\/+/, '').replace(/\/+$/, ''));
  const out: Tree = new Map();
  for (const [p, e] of tree) if (wanted.some((w) => w === '.' || p === w || p.startsWith(`${w}/`))) out.set(p, e);
  return out;
}

function throwIfAborted(signal?: AbortSignal): void {
  if (signal?.aborted) throw new UserError('interrupted');
}

export async function runDiagnose(opts: DiagnoseOptions, ctl: RunControl = {}): Promise<DiagnoseResult> {
  const emit = (e: DiagnoseEvent): void => {
    try {
      ctl.onEvent?.(e);
    } catch {
      // observers only
    }
  };
  const t0 = Date.now();
  const timings = { overlayMs: 0, bootMs: 0, extractMs: 0, classifyMs: 0, totalMs: 0 };

  emit({ type: 'step-start', step: 'resolve' });
  let target: Target;
  let expectedAll: Tree;
  try {
    target = await resolveTarget(opts);
    expectedAll = await readDirectoryTree(opts.expected, 'expected-sources directory');
    // Bad corpus paths are found before anything boots.
    for (const c of opts.corpus ?? []) await requireDirectory(c, 'corpus directory');
    for (const g of opts.corpusGuest ?? []) {
      if (!g.startsWith('/')) throw new UserError(`--corpus-guest ${g}: must be an absolute guest path`);
    }
  } catch (err) {
    emit({ type: 'step-fail', step: 'resolve', reason: oneLine(err) });
    throw err;
  }
  const expected = selectExpected(expectedAll, target.src);
  if (target.src && expected.size === 0) {
    const err = new UserError(`expected-sources directory ${opts.expected}: holds none of the copy step's sources (${target.src.join(', ')})`);
    emit({ type: 'step-fail', step: 'resolve', reason: err.message });
    throw err;
  }
  const sshKey = opts.sshKey ?? defaultSshKey();
  emit({ type: 'step-done', step: 'resolve', ms: Date.now() - t0, info: `layer ${target.layerId.slice(0, 12)}, chain of ${target.chain.length}` });

  const before = await fingerprintFiles(target.chain, { hash: opts.verifyHash });
  let vm: Vm | null = null;
  const onAbort = (): void => {
    // Stops QEMU and removes the overlay of a boot still in progress, too.
    void runAllCleanups();
  };
  ctl.signal?.addEventListener('abort', onAbort, { once: true });
  // The console log lives outside the overlay's directory, so a failed boot can point to it.
  const consoleLog = await consoleLogPath(target.layerId);
  try {
    throwIfAborted(ctl.signal);
    const bootStart = Date.now();
    vm = await bootLayer({
      chain: target.chain,
      cpus: opts.cpus,
      memoryGb: opts.memoryGb,
      accel: opts.accel,
      bootTimeSec: opts.bootTimeSec,
      sshUser: opts.sshUser,
      sshKey,
      guestOs: opts.guestOs,
      arch: opts.guestArch,
      layerName: `layer ${target.layerId.slice(0, 12)}`,
      consoleLog,
      onEvent: (e) => {
        if (e.type === 'step-done' && e.step === 'overlay') timings.overlayMs = e.ms;
        emit(e);
      },
    });
    timings.bootMs = Date.now() - bootStart - timings.overlayMs;
    throwIfAborted(ctl.signal);

    const extractStart = Date.now();
    const extracted = await extractOverSsh({ vm, dst: target.dst, privilege: opts.guestPrivilege, guestOs: opts.guestOs, onEvent: emit });
    const guestCorpora = [];
    for (const path of opts.corpusGuest ?? []) {
      throwIfAborted(ctl.signal);
      // The privilege that worked (or the fallback) is reused: the fallback is said once.
      guestCorpora.push(await pullGuestCorpus({ vm, path, privilege: extracted.privilege, guestOs: opts.guestOs, onEvent: emit }));
    }
    timings.extractMs = Date.now() - extractStart;

    emit({ type: 'step-start', step: 'classify' });
    const tc = Date.now();
    const index = new ProvenanceIndex();
    await indexTree(index, expectedAll, 'expected', opts.expected);
    for (const c of opts.corpus ?? []) await indexCorpusDirectory(index, c);
    for (const g of guestCorpora) await indexTree(index, g.tree, 'guest', g.root, (rel) => guestPath(g.root, rel));
    index.seal();
    const files = await compareTrees(expected, extracted.tree, {
      blockSize: opts.blockSize ?? DEFAULT_BLOCK_SIZE,
      provenance: index,
      onProgress: (done, total) => emit({ type: 'classify-progress', done, total }),
    });
    timings.classifyMs = Date.now() - tc;
    emit({ type: 'step-done', step: 'classify', ms: timings.classifyMs, info: `${files.length} files` });

    const vmInfo = { accel: vm.accel, accelNote: vm.accelNote, guestOs: vm.guestOs };
    await vm.stop();
    vm = null;
    const after = await fingerprintFiles(target.chain, { hash: opts.verifyHash });
    const changes = fingerprintChanges(before, after);
    const verdict = decideVerdict(files, { layerId: target.layerId });
    if (changes.length > 0) verdict.evidence.push(`THE LAYER CHANGED during the run: ${changes.join('; ')}`);
    timings.totalMs = Date.now() - t0;
    const report: Report = {
      schema: REPORT_SCHEMA,
      layer: { id: target.layerId, image: target.image, chain: target.chain },
      extraction: {
        via: 'boot',
        accel: vmInfo.accel,
        ...(vmInfo.accelNote ? { accelNote: vmInfo.accelNote } : {}),
        guestOs: vmInfo.guestOs,
        dst: target.dst,
        files: extracted.files,
        bytes: extracted.bytes,
        privilege: extracted.privilege,
        blockSize: opts.blockSize ?? DEFAULT_BLOCK_SIZE,
        ...(consoleLog ? { consoleLog } : {}),
        ...(extracted.unsafe.length > 0 ? { unsafeEntries: extracted.unsafe } : {}),
        ...(extracted.exitCode !== 0 ? { tarExitCode: extracted.exitCode, tarStderr: extracted.stderr.slice(0, 2000) } : {}),
      },
      files,
      verdict,
      layerUnchanged: changes.length === 0,
      timings,
    };
    return { report, expected, actual: extracted.tree };
  } finally {
    ctl.signal?.removeEventListener('abort', onAbort);
    if (vm) await vm.stop();
  }
}


const KEEP_CONSOLE_LOGS = 50;

/** A fresh path for this run's console log under consoleLogDir(); old logs beyond 50 are removed. */
async function consoleLogPath(layerId: string): Promise<string> {
  const dir = consoleLogDir();
  await mkdir(dir, { recursive: true });
  // Keep the newest logs only: names sort by time within a layer, so sort by mtime.
  const logs = (await readdir(dir)).filter((n) => n.endsWith('.log'));
  if (logs.length >= KEEP_CONSOLE_LOGS) {
    const aged = await Promise.all(logs.map(async (n) => ({ n, t: (await stat(join(dir, n))).mtimeMs })));
    aged.sort((a, b) => b.t - a.t);
    await Promise.all(aged.slice(KEEP_CONSOLE_LOGS - 1).map((a) => rm(join(dir, a.n), { force: true })));
  }
  return join(dir, `${layerId.slice(0, 12)}-${new Date().toISOString().replace(/[:.]/g, '-')}.log`);
}
