// `diagnose` end to end, in named steps: resolve the layer (from --layer or a job log) and read
// the expected sources; fingerprint the chain; take the files out of the layer (by booting it or
// by reading its disk, the same interface); compare and decide; release the extraction and check
// the layer is unchanged. The TUI runs the very same function.

import { mkdir, readdir, rm, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join, posix, resolve } from 'node:path';
import { DEFAULT_BLOCK_SIZE } from '../classify/content.js';
import { readDirectoryTree, requireDirectory } from '../extract/directory-tree.js';
import { CORPUS_STEP, type CandidateTree, type Extracted, type Extractor } from '../extract/extractor.js';
import { REPORT_SCHEMA, type FileReport, type Report } from '../report/schema.js';
import { fingerprintChanges, fingerprintFiles, type FileFingerprint } from '../store/fingerprint.js';
import { normaliseGuestPath, pickCopyStep, readJobLog } from '../store/job-log.js';
import { openStore, type ResolvedLayer } from '../store/store.js';
import { atPath, type Tree } from '../tree/tree.js';
import { CleanupScope } from '../util/cleanup.js';
import { UserError, oneLine } from '../util/errors.js';
import { emit, type OnEvent, type PlannedStep } from '../util/events.js';
import { cachedVerdictFor } from '../audit/cache.js';
import { compareAndDecide, type Decision } from './compare-and-decide.js';
import { chooseExtractor } from './choose-extractor.js';
import { DEFAULT_DST, type DiagnoseOptions, type DiagnoseResult, type RunControl } from './types.js';

/** What the layer and the copy step are, before anything boots. */
export interface Target {
  layer: ResolvedLayer;
  /** The guest directory the files are taken from. */
  dst: string;
  /** The copy step's src list (relative to the expected dir), when a job log gave one. */
  src?: string[];
  /** Names the copy step left out (its `exclude`): any path component equal to one is skipped. */
  exclude?: string[];
  /**
   * A copy of one source TO a file path (`(copy (src a.opam) (dst /x/b.opam))`): the source's
   * path in the expected dir and the name it has in dst.
   */
  renamed?: { from: string; to: string };
  /** The layers built on this one, which `obuilder delete` removes with it. */
  builtOn: string[];
  /** The job log's commit of the sources, when it names one. */
  commit?: string;
}

/** Where the guest's serial console is kept after the run (the overlay's directory is removed). */
export function consoleLogDir(): string {
  const state = process.env.XDG_STATE_HOME || join(homedir(), '.local', 'state');
  return join(state, 'layer-forensics', 'console');
}

/** Resolve layer, chain, destination and src list from the options (and the job log). */
export async function resolveTarget(opts: DiagnoseOptions): Promise<Target> {
  const store = await openStore(opts.store);
  let layerRef = opts.layer;
  let dst = opts.dst;
  let src: string[] | undefined;
  let commit: string | undefined;
  let exclude: string[] | undefined;
  let renamed: Target['renamed'];
  if (opts.jobLog) {
    const log = await readJobLog(opts.jobLog);
    commit = log.commit ?? undefined;
    const step = pickCopyStep(log, opts.jobLog, opts.step);
    if (layerRef && !step.layerId.startsWith(layerRef.toLowerCase())) {
      throw new UserError(`--layer ${layerRef}: the job log's copy step produced ${step.layerId}; give one or the other`);
    }
    layerRef = step.layerId;
    src = step.src;
    exclude = step.exclude;
    if (opts.dst === undefined && step.dst !== undefined && step.dstIsDir === false && step.src?.length === 1) {
      // One source copied to a file path: take that file out of its directory, under its new name.
      const to = posix.basename(step.dst);
      renamed = { from: posix.normalize(step.src[0]!).replace(/^\.\/+/, ''), to };
      dst = posix.dirname(step.dst);
      src = [to];
    } else dst ??= step.dst;
  } else if (opts.step !== undefined) {
    throw new UserError(`--step ${opts.step}: only means something with --job-log (which copy step of the log)`);
  }
  if (!layerRef) throw new UserError('no layer: give --layer ID or --job-log FILE');
  if (dst !== undefined && !dst.startsWith('/')) throw new UserError(`--dst ${dst}: must be an absolute guest path`);
  const layer = await store.getLayer(layerRef);
  const builtOn = await store.descendants(layer.id);
  return { layer, dst: normaliseGuestPath(dst ?? DEFAULT_DST), src, commit, builtOn, ...(exclude ? { exclude } : {}), ...(renamed ? { renamed } : {}) };
}

/**
 * The expected files of the copy step: all of --expected, or only the job log's src entries
 * (a src naming a directory takes everything under it; a src naming one file takes that file),
 * less what its `exclude` names; a single source copied to a file path takes that path's name.
 * src paths keep their relative form.
 */
export function selectExpected(tree: Tree, target: Pick<Target, 'src' | 'exclude' | 'renamed'>): Tree {
  const excluded = (p: string): boolean => (target.exclude ?? []).some((x) => p.split('/').includes(x));
  if (target.renamed) {
    const e = tree.get(target.renamed.from);
    return e ? new Map([[target.renamed.to, atPath(e, target.renamed.to)]]) : new Map();
  }
  const src = target.src;
  const wanted = (src ?? []).map((s) => posix.normalize(s).replace(/^\.\/+/, '').replace(/\/+$/, ''));
  const out: Tree = new Map();
  for (const [p, e] of tree) {
    if (excluded(p)) continue;
    if (wanted.length === 0 || wanted.some((w) => w === '.' || p === w || p.startsWith(`${w}/`))) out.set(p, e);
  }
  return out;
}

/** Everything read and checked before anything starts: a bad argument costs no boot. */
interface Prepared {
  target: Target;
  expectedAll: Tree;
  expected: Tree;
  candidates: CandidateTree[];
  extractor: Extractor;
}

async function prepare(opts: DiagnoseOptions, scope: CleanupScope): Promise<Prepared> {
  const target = await resolveTarget(opts);
  const expectedRoot = resolve(opts.expected);
  const expectedAll = await readDirectoryTree(expectedRoot, 'expected-sources directory');
  const candidates: CandidateTree[] = [{ source: 'expected', root: expectedRoot, tree: expectedAll, name: (rel) => rel }];
  for (const c of opts.corpus ?? []) {
    await requireDirectory(c, 'corpus directory');
    const root = resolve(c);
    candidates.push({ source: 'corpus', root, tree: await readDirectoryTree(root, 'corpus directory'), name: (rel) => rel });
  }
  for (const g of opts.corpusGuest ?? []) {
    if (!g.startsWith('/')) throw new UserError(`--corpus-guest ${g}: must be an absolute guest path`);
  }
  const expected = selectExpected(expectedAll, target);
  if (target.src && expected.size === 0) {
    throw new UserError(`expected-sources directory ${opts.expected}: holds none of the copy step's sources (${target.src.join(', ')})`);
  }
  const extractor = await chooseExtractor(opts, target.layer, scope, () => consoleLogPath(target.layer.id));
  return { target, expectedAll, expected, candidates, extractor };
}

/** The run's steps, in order, for the progress lines and the Run screen. */
function planOf(extractor: Extractor, opts: DiagnoseOptions): PlannedStep[] {
  const corpus = extractor.via === 'boot' && (opts.corpusGuest?.length ?? 0) > 0 ? [CORPUS_STEP] : [];
  return [{ id: 'resolve', label: 'Resolve the layer' }, ...extractor.steps.extract, ...corpus, { id: 'classify', label: 'Classify' }, ...extractor.steps.close];
}

function throwIfAborted(signal?: AbortSignal): void {
  if (signal?.aborted) throw new UserError('interrupted');
}

/** Take the files out of the layer, and compare and decide; the extraction is always released. */
async function extractAndDecide(opts: DiagnoseOptions, p: Prepared, ctl: RunControl, onEvent: OnEvent) {
  const t0 = Date.now();
  throwIfAborted(ctl.signal);
  const extracted: Extracted = await p.extractor.extract({
    dst: p.target.dst,
    src: p.target.src,
    corpusGuest: opts.corpusGuest,
    onEvent,
    signal: ctl.signal,
  });
  const extractMs = Date.now() - t0;
  try {
    throwIfAborted(ctl.signal);
    const decision = await compareAndDecide({
      expected: p.expected,
      actual: withoutExcluded(extracted.tree, p.target.exclude),
      candidates: [...p.candidates, ...extracted.candidates],
      blockSize: opts.blockSize,
      gaps: extracted.gaps,
      layerId: p.target.layer.id,
      commit: p.target.commit,
      storeSpec: opts.store,
      builtOn: p.target.builtOn,
      directoryOfInode: extracted.directoryOfInode?.bind(extracted),
      originOnDisk: extracted.originOnDisk?.bind(extracted),
      diskHint: extracted.diskHint?.bind(extracted),
      refine: (files) => addDiskEvidence(extracted, files),
      onEvent,
    });
    return { extracted, decision, extractMs };
  } finally {
    await extracted.close();
  }
}

/** Step durations as the producers report them: the report's overlay and boot timings. */
function stepClock(): { onStep: (step: string, ms: number) => void; overlayMs: () => number; bootMs: () => number } {
  const ms = new Map<string, number>();
  return {
    onStep: (step, t) => ms.set(step, (ms.get(step) ?? 0) + t),
    overlayMs: () => ms.get('overlay') ?? 0,
    bootMs: () => (ms.get('qemu') ?? 0) + (ms.get('ssh') ?? 0),
  };
}

/** The layer's tree less what the copy step excluded (not its files, whoever put them there). */
function withoutExcluded(tree: Tree, exclude: string[] | undefined): Tree {
  if (!exclude || exclude.length === 0) return tree;
  return new Map([...tree].filter(([p]) => !p.split('/').some((c) => exclude.includes(c))));
}

/**
 * What only the disk can say (direct reading), added before the verdict so its evidence names it:
 * each file's extents and the chain element holding them, and the owner of stale blocks in an
 * ancestor layer.
 */
async function addDiskEvidence(extracted: Extracted, files: FileReport[]): Promise<void> {
  for (const f of files) {
    const storage = extracted.tree.get(f.path)?.storage;
    if (storage) f.storage = storage;
  }
  await extracted.traceStale?.(files);
}

export async function runDiagnose(opts: DiagnoseOptions, ctl: RunControl = {}): Promise<DiagnoseResult> {
  const clock = stepClock();
  const onEvent: OnEvent = (e) => {
    if (e.type === 'step-done') clock.onStep(e.step, e.ms);
    emit(ctl.onEvent, e);
  };
  const t0 = Date.now();
  // This run's QEMU and temp dir, and only those, are stopped and removed on abort.
  const scope = new CleanupScope('diagnose');
  const onAbort = (): void => void scope.runAll();
  ctl.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    emit(ctl.onEvent, { type: 'step-start', step: 'resolve' });
    let p: Prepared;
    try {
      p = await prepare(opts, scope);
    } catch (err) {
      emit(ctl.onEvent, { type: 'step-fail', step: 'resolve', reason: oneLine(err) });
      throw err;
    }
    emit(ctl.onEvent, { type: 'plan', steps: planOf(p.extractor, opts) });
    const layer = p.target.layer;
    emit(ctl.onEvent, { type: 'step-done', step: 'resolve', ms: Date.now() - t0, info: `layer ${layer.id.slice(0, 12)}, chain of ${layer.chain.length}` });

    const before = await fingerprintFiles(layer.chain, { hash: opts.verifyHash });
    const { extracted, decision, extractMs } = await extractAndDecide(opts, p, ctl, onEvent);
    const report = await assembleReport(opts, p, extracted, decision, before, {
      t0,
      overlayMs: clock.overlayMs(),
      bootMs: clock.bootMs(),
      extractMs: Math.max(0, extractMs - clock.overlayMs() - clock.bootMs()),
    });
    return { report, expected: p.expected, actual: extracted.tree };
  } finally {
    ctl.signal?.removeEventListener('abort', onAbort);
    await scope.runAll();
  }
}

async function assembleReport(
  opts: DiagnoseOptions,
  p: Prepared,
  extracted: Extracted,
  decision: Decision,
  before: FileFingerprint[],
  t: { t0: number; overlayMs: number; bootMs: number; extractMs: number },
): Promise<Report> {
  const layer = p.target.layer;
  const after = await fingerprintFiles(layer.chain, { hash: opts.verifyHash });
  const changes = fingerprintChanges(before, after);
  if (changes.length > 0) decision.verdict.evidence.push(`THE LAYER CHANGED during the run: ${changes.join('; ')}`);
  const audit = await auditNote(opts.store, layer.id);
  if (audit) decision.verdict.evidence.push(audit.line);
  return {
    ...(audit ? { audit: audit.ref } : {}),
    schema: REPORT_SCHEMA,
    layer: { id: layer.id, image: layer.image, chain: layer.chain },
    extraction: { ...extracted.extraction, blockSize: opts.blockSize ?? DEFAULT_BLOCK_SIZE },
    files: decision.files,
    verdict: decision.verdict,
    layerUnchanged: changes.length === 0,
    timings: {
      overlayMs: t.overlayMs,
      bootMs: t.bootMs,
      extractMs: t.extractMs,
      classifyMs: decision.classifyMs,
      totalMs: Date.now() - t.t0,
    },
  };
}

/** What a cached audit said of this layer, when it flagged it (design section 10). */
async function auditNote(store: string, layerId: string): Promise<{ ref: NonNullable<Report['audit']>; line: string } | null> {
  const line = await cachedVerdictFor(store, layerId).catch(() => null);
  if (!line || line.verdict === 'clean') return null;
  const files = line.files.map((f) => f.path);
  const ref = { verdict: line.verdict, auditedAt: line.auditedAt, files };
  const shown = files.slice(0, 5).join(', ') + (files.length > 5 ? `, … (${files.length})` : '');
  return { ref, line: `The store audit of ${line.auditedAt} already flagged this layer: ${line.verdict}${files.length > 0 ? ` (${shown})` : ''}` };
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
