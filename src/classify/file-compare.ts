// One file against its expected source, streamed: both sides are read in 128 KiB chunks through
// reused buffers (files up to 256 KiB whole), hashed, compared chunk by chunk and, where a chunk
// differs, block by block (stream-pass.ts, which a scan worker may have run already); only the
// stretches that differ are looked at again, in bounded windows. Memory per file is a few MiB
// whatever its size.
//
// Same size: the runs of differing 512-byte blocks are judged one by one, edit or stale
// (judge.ts); regions are reported at the classifier's block size. Other size: an exact prefix is
// `size-mismatch` (truncated, over-long); otherwise the common prefix and suffix are set aside and
// what is left reads as an edit (`modified`) or not (`size-mismatch`).

import { diffLines } from 'diff';
import { fileTypeFromBuffer } from 'file-type';
import type { FileClass, Region, RegionClass } from '../report/schema.js';
import type { TreeEntry } from '../tree/tree.js';
import { isAllZero, isPaddedText, lengthWithoutTrailingNul } from './bytes.js';
import { decodeDirectoryBlock } from './directory-block.js';
import { sha256Hex } from './hash.js';
import { CHUNK, Heads, PairHash, RegionList, SECTOR, SameSizeScanner, type RawRun, type SameSizeScan } from './stream-pass.js';
import { isJunk, judgeRun, looksText, runSample, WHOLE_EXPLAINED, type RunJudgement } from './judge.js';
import { Context, MAX_CONTEXT, relatedness, sample } from './related.js';

/** Files up to this size are read whole. */
export const WHOLE_MAX = 256 * 1024;
/** Expected bytes on each side of a run that the relatedness measure looks at (large files). */
const WINDOW = 256 * 1024;
/** The most runs of one file that are judged one by one; the others are taken as edits. */
const MAX_RUNS = 256;
/** Bytes of a stale stretch kept for the provenance lookup (the rest is read again if needed). */
export const REQUEST_HEAD = 64 * 1024;
/** Runs up to this long are read whole to be judged; longer ones are sampled (RUN_SAMPLE bytes). */
const RUN_WHOLE = 2 * 1024 * 1024;
const RUN_SAMPLE = 1024 * 1024;
/** The longest edit run an exact match may still show to be stale. */
const RESCUE_MAX = 4 * 1024 * 1024;
/** The most runs of one file traced to their origin. */
const MAX_REQUESTS = 16;

/** One side of the comparison: a whole buffer, or positioned reads. */
interface Side {
  size: number;
  whole: Buffer | null;
  /** `len` bytes at `pos` (fewer at the end): a view of the whole buffer, or a fresh buffer. */
  read(pos: number, len: number): Promise<Buffer>;
  /** The chunk at `pos` into `buf` (reused by the caller; a view of the whole buffer when there is one). */
  chunk(pos: number, buf: Buffer): Promise<Buffer>;
  close(): Promise<void>;
}

/**
 * Chunk buffers are reused: a fresh buffer per chunk read is garbage the collector lets pile up
 * (outside the heap) when eight files stream at once.
 */
const chunkPool: Buffer[] = [];
const takeChunk = (): Buffer => chunkPool.pop() ?? Buffer.allocUnsafe(CHUNK);
const giveChunk = (b: Buffer): void => {
  // A few spare: each is CHUNK bytes, kept for the whole run (in each thread).
  if (chunkPool.length < 4) chunkPool.push(b);
};

async function openSide(e: TreeEntry): Promise<Side> {
  if (e.size <= WHOLE_MAX || !e.openReader) {
    const buf = await e.read();
    const view = async (pos: number, len: number) => buf.subarray(pos, Math.min(buf.length, pos + len));
    return { size: buf.length, whole: buf, read: view, chunk: (pos, into) => view(pos, into.length), close: async () => {} };
  }
  const r = await e.openReader();
  const fill = async (buf: Buffer, pos: number): Promise<Buffer> => {
    const n = Math.max(0, Math.min(buf.length, e.size - pos));
    let got = 0;
    while (got < n) {
      const k = await r.read(buf.subarray(got, n), pos + got);
      if (k <= 0) break;
      got += k;
    }
    return buf.subarray(0, got);
  };
  return {
    size: e.size,
    whole: null,
    read: (pos, len) => fill(Buffer.allocUnsafe(Math.max(0, Math.min(len, e.size - pos))), pos),
    chunk: (pos, into) => fill(into, pos),
    close: () => r.close(),
  };
}

/** Run `fn` with two chunk buffers from the pool. */
async function withChunks<T>(fn: (eBuf: Buffer, aBuf: Buffer) => Promise<T>): Promise<T> {
  const e = takeChunk();
  const a = takeChunk();
  try {
    return await fn(e, a);
  } finally {
    giveChunk(e);
    giveChunk(a);
  }
}

export interface ProvenanceRequest {
  /** stale: name the origin; rescue: an edit run that an exact match may show to be stale. */
  kind: 'stale' | 'rescue';
  run: number;
  start: number;
  end: number;
  /** The run's first bytes (at most REQUEST_HEAD). */
  head: Buffer;
  /** The actual bytes just before and after the run (null at the file's edges). */
  before: Buffer | null;
  after: Buffer | null;
  /** Bytes at the run's edges equal to the expected ones. */
  edges: [number, number];
  wholeFile: boolean;
  /** The run's explained fraction, when the judge measured it. */
  explained?: number;
  /** A run only an origin can show stale (judge rule 5): worth asking the disk about. */
  wantsOrigin: boolean;
}

export interface DirectoryRequest {
  run: number;
  start: number;
  length: number;
  /** The inode number in the block's `.` entry. */
  ino: number;
  /** The names the block holds (live entries), raw. */
  names: string[];
}

/** What comparing a file produced: the report's fields, and what is left for the provenance step. */
export interface FileResult {
  class: FileClass;
  expectedSize: number;
  actualSize: number;
  expectedSha256: string;
  actualSha256: string;
  regions: Region[];
  detail: Record<string, unknown>;
  requests: ProvenanceRequest[];
  dirRequests: DirectoryRequest[];
  /** The expected file's 64-byte head hash of each 512-byte block (when asked for). */
  expectedHeads?: Uint32Array;
  /** Recompute class, regions and detail after some edit runs were shown to be stale. */
  refinish?: (rescued: ReadonlySet<number>) => Promise<Pick<FileResult, 'class' | 'regions' | 'detail'>>;
}

/**
 * Compare a regular file with its expected source. `scan`: the streaming pass over the pair, done
 * already elsewhere (a same-bytes worker): only the runs it found are read again, to be judged.
 */
export async function compareFile(e: TreeEntry, a: TreeEntry, blockSize: number, opts: { heads?: boolean; scan?: SameSizeScan } = {}): Promise<FileResult> {
  const [es, as] = await Promise.all([openSide(e), openSide(a)]);
  try {
    if (opts.scan) return await judgeSameSize(es, as, blockSize, opts.scan);
    if (es.size === as.size) return await sameSize(es, as, blockSize, opts.heads === true);
    // The expected file's block head hashes, taken as its bytes go by: the provenance step then
    // reads again only the expected files that can hold what it looks for.
    const heads = opts.heads ? new Heads(es.size) : null;
    const r = await otherSize(es, as, heads);
    if (heads) r.expectedHeads = heads.values;
    return r;
  } finally {
    await Promise.all([es.close(), as.close()]);
  }
}

/** A file that holds exactly its expected bytes. */
export function matchResult(size: number, hash: string): FileResult {
  return {
    class: 'match',
    expectedSize: size,
    actualSize: size,
    expectedSha256: hash,
    actualSha256: hash,
    regions: size > 0 ? [{ offset: 0, length: size, class: 'match' }] : [],
    detail: {},
    requests: [],
    dirRequests: [],
  };
}

async function hashes(es: Side, as: Side, ph: PairHash | null): Promise<[string, string]> {
  if (ph) return ph.digest();
  return Promise.all([sha256Hex(es.whole!), sha256Hex(as.whole!)]);
}

/** Same size: two small files equal as read, or the streaming pass; then each run judged. */
async function sameSize(es: Side, as: Side, blockSize: number, heads: boolean): Promise<FileResult> {
  if (es.whole && as.whole && es.whole.equals(as.whole)) {
    const r = matchResult(es.size, await sha256Hex(es.whole));
    if (heads) r.expectedHeads = wholeHeads(es.whole);
    return r;
  }
  const scanner = new SameSizeScanner(es.size, blockSize, heads);
  await withChunks(async (eBuf, aBuf) => {
    for (let pos = 0; pos < es.size; pos += CHUNK) {
      const [eb, ab] = await Promise.all([es.chunk(pos, eBuf), as.chunk(pos, aBuf)]);
      scanner.feed(pos, eb, ab);
    }
  });
  return judgeSameSize(es, as, blockSize, scanner.finish());
}

function wholeHeads(buf: Buffer): Uint32Array {
  const h = new Heads(buf.length);
  h.record(buf, 0);
  return h.values;
}

/** The runs the streaming pass found, judged one by one. */
async function judgeSameSize(es: Side, as: Side, blockSize: number, scan: SameSizeScan): Promise<FileResult> {
  const size = es.size;
  const { runs, expectedSha256, actualSha256 } = scan;
  const expectedHeads = scan.heads ?? undefined;
  if (runs.length === 0) return { ...matchResult(size, expectedSha256), expectedHeads };
  // Whether the expected file is text, from its first bytes.
  const expectedText = looksText(await es.read(0, Math.min(size, WINDOW)));
  const { judged, requests, dirRequests } = await judgeRuns(es, as, runs, expectedText);
  // Line statistics of the span the edits cover, worked out only if the file ends up `modified`:
  // by the first finish, while the sides are open (a rescue may still turn it stale later, never
  // the reverse, so a later finish needs them only if the first did). A diff of lines for every
  // file with an edit-like run was a tenth of the judging, and most of those end up stale.
  const span = [runs[0]!.start, runs[runs.length - 1]!.end] as const;
  let lines: Promise<Record<string, unknown>> | null = null;
  const linesOnce = () => (lines ??= expectedText && judged.some((j) => j.kind === 'edit') ? lineStats(es, as, span, span) : Promise.resolve({}));
  const finish = async (rescued: ReadonlySet<number>) => finishSameSize(size, blockSize, scan, judged, rescued, as.whole, linesOnce);
  return {
    ...(await finish(new Set())),
    expectedSize: size,
    actualSize: size,
    expectedSha256,
    actualSha256,
    requests,
    dirRequests,
    expectedHeads,
    refinish: requests.some((q) => q.kind === 'rescue') ? finish : undefined,
  };
}

/** Judge every run (judge.ts), and note what the provenance step should look up. */
async function judgeRuns(
  es: Side,
  as: Side,
  runs: RawRun[],
  expectedText: boolean,
): Promise<{ judged: RunJudgement[]; requests: ProvenanceRequest[]; dirRequests: DirectoryRequest[] }> {
  const size = es.size;
  const wholeFile = runs.length === 1 && runs[0]!.start === 0 && runs[0]!.end === size;
  // A small file is its own context (its k-grams rolled once per run); a larger one is looked at
  // in windows around each run. Built only when a run gets as far as needing it.
  let smallCtx: Context | null = null;
  const small = es.whole && size <= 2 * WINDOW ? () => (smallCtx ??= new Context(es.whole!, expectedText)) : null;
  const judged: RunJudgement[] = [];
  const requests: ProvenanceRequest[] = [];
  const dirRequests: DirectoryRequest[] = [];
  for (const [i, r] of runs.entries()) {
    if (i >= MAX_RUNS) {
      judged.push({ start: r.start, end: r.end, kind: 'edit', hard: false, rescuable: false, why: 'not examined (too many differing stretches)', edges: [0, 0] });
      continue;
    }
    const len = r.end - r.start;
    const edge = Math.min(SECTOR, len);
    const [aRun, eRun, aHead, eHead, aTail, eTail] = await Promise.all([
      readRun(as, r.start, len),
      readRun(es, r.start, len),
      as.read(r.start, edge),
      es.read(r.start, edge),
      as.read(r.end - edge, edge),
      es.read(r.end - edge, edge),
    ]);
    const j = await judgeRun({
      start: r.start,
      end: r.end,
      wholeFile,
      atEof: r.end === size,
      actual: aRun,
      expected: eRun,
      actualHead: aHead,
      expectedHead: eHead,
      actualTail: aTail,
      expectedTail: eTail,
      junkBlock: r.junk,
      allZero: r.allZero,
      expectedText,
      explain: () => (small ? explainSmall(aRun, eRun, small(), wholeFile, expectedText) : explainLarge(es, as, r, wholeFile, expectedText, len <= RUN_WHOLE ? [aRun, eRun] : null)),
    });
    judged.push(j);
    const wantsOrigin = (j.kind === 'stale' && !r.allZero) || (j.kind === 'edit' && j.rescuable && len <= RESCUE_MAX);
    if (wantsOrigin && requests.length < MAX_REQUESTS) requests.push(await request(as, r, i, j, wholeFile));
    if (r.dir && j.kind === 'stale' && dirRequests.length < MAX_REQUESTS) {
      const d = await directoryOrigin(as, r, i);
      if (d) dirRequests.push(d);
    }
  }
  return { judged, requests, dirRequests };
}

/**
 * A copy of its own, of exactly these bytes: a view of a whole file would keep it all in memory
 * until the provenance step, and Buffer.from's copy of a small one is a view of an 8 KiB pool slab
 * (which it keeps alive, and which crosses threads whole: 7 MiB for the 4 GB tree's requests).
 */
function ownCopy(b: Uint8Array): Buffer {
  const out = Buffer.allocUnsafeSlow(b.length);
  out.set(b);
  return out;
}

/** What the provenance step needs of a run: its first bytes, and the bytes just around it. */
async function request(as: Side, r: RawRun, run: number, j: RunJudgement, wholeFile: boolean): Promise<ProvenanceRequest> {
  const [before, after, head] = await Promise.all([
    r.start > 0 ? as.read(r.start - SECTOR, SECTOR) : Promise.resolve(null),
    r.end < as.size ? as.read(r.end, SECTOR) : Promise.resolve(null),
    as.read(r.start, Math.min(r.end - r.start, REQUEST_HEAD)),
  ]);
  return {
    kind: j.kind === 'stale' ? 'stale' : 'rescue',
    run,
    start: r.start,
    end: r.end,
    head: ownCopy(head),
    before: before && ownCopy(before),
    after: after && ownCopy(after),
    edges: j.edges,
    wholeFile,
    explained: j.explained,
    wantsOrigin: j.wantsOrigin === true,
  };
}

async function readRun(side: Side, start: number, len: number): Promise<Uint8Array> {
  if (len <= RUN_WHOLE) return side.read(start, len);
  // A long run: evenly spaced pieces (the same offsets on both sides), read into one buffer.
  const pieces = 16;
  const piece = Math.floor(RUN_SAMPLE / pieces);
  const step = Math.floor((len - piece) / (pieces - 1));
  const out = Buffer.allocUnsafe(pieces * piece);
  await Promise.all(Array.from({ length: pieces }, (_, i) => readInto(side, start + i * step, out.subarray(i * piece, (i + 1) * piece))));
  return out;
}

/**
 * `into.length` bytes at `pos` (fewer at the end) in `into`, whatever the side: a side read whole
 * answers a view of its buffer, copied here. The judging of a large file reads windows of a few
 * hundred KiB dozens of times; read into buffers of its own, they were garbage that a thread
 * doing little else left to pile up (tens of MB) before its collector ran.
 */
async function readInto(side: Side, pos: number, into: Buffer): Promise<Buffer> {
  const got = await side.chunk(pos, into);
  if (got.buffer !== into.buffer || got.byteOffset !== into.byteOffset) into.set(got);
  return into.subarray(0, got.length);
}

/** Explained fraction of a run of a small file (both sides in memory). */
async function explainSmall(aRun: Uint8Array, eRun: Uint8Array, ctx: Context, wholeFile: boolean, text: boolean): Promise<number> {
  const fwd = relatedness(aRun, eRun, ctx).explained;
  if (!wholeFile) return fwd;
  return Math.max(fwd, relatedness(eRun, aRun, new Context(aRun, text)).explained);
}

/**
 * Explained fraction of a run of a large file: up to 16 pieces of the run, each measured against
 * the expected bytes in a window around it (so content moved a little is found, memory stays small).
 * `whole`: the run's bytes on both sides, read already (a run short enough to be one piece); a
 * window that is the run itself (a whole file) is not read again either.
 */
async function explainLarge(es: Side, as: Side, run: { start: number; end: number }, wholeFile: boolean, text: boolean, whole: [Uint8Array, Uint8Array] | null): Promise<number> {
  const { start, end } = run;
  const len = end - start;
  const pieces = len <= RUN_WHOLE ? 1 : 16;
  const piece = pieces === 1 ? len : Math.floor(RUN_SAMPLE / pieces);
  const step = pieces === 1 ? 0 : Math.floor((len - piece) / (pieces - 1));
  let fwd = 0;
  let back = 0;
  // Every piece and window read into the same few buffers (readInto).
  const pieceBuf = whole ? null : { a: Buffer.allocUnsafe(piece), e: Buffer.allocUnsafe(piece) };
  let winBuf: Buffer | null = null;
  const windowOf = (n: number): Buffer => (winBuf ??= Buffer.allocUnsafe(Math.min(es.size, piece + 2 * WINDOW))).subarray(0, n);
  for (let i = 0; i < pieces; i++) {
    const at = start + i * step;
    const from = Math.max(0, at - WINDOW);
    const to = Math.min(es.size, at + piece + WINDOW);
    const [a, e] = whole ?? (await Promise.all([readInto(as, at, pieceBuf!.a), readInto(es, at, pieceBuf!.e)]));
    const isPiece = whole !== null && from === at && to === at + piece;
    const win = isPiece ? e : await readInto(es, from, windowOf(to - from));
    fwd += relatedness(a, e, new Context(win, text)).explained;
    if (wholeFile) {
      const awin = isPiece ? a : await readInto(as, from, windowOf(to - from));
      back += relatedness(e, a, new Context(awin, text)).explained;
    }
  }
  return Math.max(fwd, back) / pieces;
}


/** The `.` entry of a directory block at the start of the run: its inode names the directory. */
async function directoryOrigin(as: Side, r: RawRun, run: number): Promise<DirectoryRequest | null> {
  const head = await as.read(r.start, Math.min(r.end - r.start, 64 * 1024));
  const dec = decodeDirectoryBlock(head) ?? decodeDirectoryBlock(head.subarray(0, SECTOR));
  if (!dec) return null;
  const dot = dec.records[0];
  if (!dot || dot.ino === 0 || dot.name.length !== 1 || dot.name[0] !== 0x2e) return null;
  const names = dec.records
    .filter((x) => x.ino !== 0)
    .map((x) => Buffer.from(x.name).toString('utf8'))
    .filter((n) => n !== '.' && n !== '..');
  return { run, start: r.start, length: dec.coveredBytes, ino: dot.ino, names };
}

/** Class, regions and detail of a same-size file from its judged runs. */
async function finishSameSize(
  size: number,
  blockSize: number,
  scan: Pick<SameSizeScan, 'regions' | 'regionsTruncated'>,
  judged: RunJudgement[],
  rescued: ReadonlySet<number>,
  actual: Buffer | null,
  /** Line statistics of the edits (asked only of a file that is `modified`). */
  lines: () => Promise<Record<string, unknown>>,
): Promise<Pick<FileResult, 'class' | 'regions' | 'detail'>> {
  const kinds = judged.map((j, i) => (j.kind === 'stale' || rescued.has(i) ? 'stale' : 'edit'));
  const stale = judged.filter((_, i) => kinds[i] === 'stale');
  const edits = judged.filter((_, i) => kinds[i] === 'edit');
  // A file with edits in it: only stale runs no edit writes (junk in a text file) keep it stale.
  const staleKept = edits.length === 0 ? stale : stale.filter((j) => j.hard);
  const keptSet = new Set(staleKept);
  const editRanges = judged.filter((j) => !keptSet.has(j)).map((j) => [j.start, j.end] as const);
  const regions = markEdits(scan.regions, editRanges, blockSize);
  const runDetail = (js: RunJudgement[]) =>
    js.slice(0, 20).map((j) => ({ offset: j.start, length: j.end - j.start, kind: keptSet.has(j) ? 'stale' : 'edit', why: rescuedWhy(j, rescued, judged) }));
  if (staleKept.length === 0) {
    const editedBytes = editRanges.reduce((n, [s, e]) => n + e - s, 0);
    const detail: Record<string, unknown> = { editedBytes, runs: runDetail(judged), ...(await lines()) };
    if (scan.regionsTruncated) detail.regionsTruncated = true;
    return { class: 'modified', regions, detail };
  }
  const matchedBytes = regions.filter((r) => r.class === 'match').reduce((n, r) => n + r.length, 0);
  const why = rescuedWhy(staleKept[0]!, rescued, judged);
  if (matchedBytes > 0 || edits.length > 0) {
    const detail: Record<string, unknown> = { matchedBytes, blockSize, why, runs: runDetail(judged) };
    if (scan.regionsTruncated) detail.regionsTruncated = true;
    return { class: 'partial', regions, detail };
  }
  return { ...(await wholeStaleClass(size, regions, actual)), regions };
}

function rescuedWhy(j: RunJudgement, rescued: ReadonlySet<number>, all: RunJudgement[]): string {
  return rescued.has(all.indexOf(j)) ? "another file's blocks, exactly (provenance)" : j.why;
}

/** Regions: block-size blocks overlapping an edit run are `modified`. */
function markEdits(list: Region[], edits: (readonly [number, number])[], blockSize: number): Region[] {
  if (edits.length === 0) return list.map((r) => ({ ...r }));
  const out = new RegionList();
  let k = 0;
  for (const r of list) {
    if (r.class === 'match') {
      out.push(r.offset, r.length, 'match');
      continue;
    }
    for (let off = r.offset; off < r.offset + r.length; off += blockSize) {
      const end = Math.min(off + blockSize, r.offset + r.length);
      while (k < edits.length && edits[k]![1] <= off) k++;
      const inEdit = k < edits.length && edits[k]![0] < end;
      out.push(off, end - off, inEdit ? 'modified' : r.class);
    }
  }
  return out.list;
}

const STALE_PRIORITY: RegionClass[] = ['directory-block', 'foreign-text', 'foreign-binary'];

/** A file whose every block is stale: its class from its content, as design.md section 3 lists. */
async function wholeStaleClass(size: number, regions: Region[], actual: Buffer | null): Promise<Pick<FileResult, 'class' | 'detail'>> {
  if (regions.every((r) => r.class === 'zeros')) return { class: 'zeros', detail: {} };
  if (actual) {
    const dir = decodeDirectoryBlock(actual);
    if (dir) return { class: 'directory-block', detail: { format: dir.format, entries: dir.entries } };
    if (isPaddedText(actual)) {
      const textBytes = lengthWithoutTrailingNul(actual);
      return { class: 'foreign-text', detail: { textBytes, paddingBytes: size - textBytes } };
    }
  }
  // Mixed content: the class covering most bytes (zeros aside) names the file.
  const bytesBy = new Map<RegionClass, number>();
  for (const r of regions) if (r.class !== 'zeros') bytesBy.set(r.class, (bytesBy.get(r.class) ?? 0) + r.length);
  let top: RegionClass = 'foreign-binary';
  for (const c of STALE_PRIORITY) if ((bytesBy.get(c) ?? 0) > (bytesBy.get(top) ?? 0)) top = c;
  if (top === 'directory-block') {
    const first = regions.find((r) => r.class === 'directory-block')!;
    const part = actual ? decodeDirectoryBlock(actual.subarray(first.offset, first.offset + first.length)) : null;
    return { class: 'directory-block', detail: { format: part?.format ?? null, entries: part?.entries ?? [], mixed: true } };
  }
  if (top === 'foreign-text') return { class: 'foreign-text', detail: { mixed: true } };
  const ft = actual ? await fileTypeFromBuffer(actual.subarray(0, 64 * 1024)).catch(() => undefined) : undefined;
  return { class: 'foreign-binary', detail: { format: ft ? { ext: ft.ext, mime: ft.mime } : null } };
}

/** Widen [start, end) of a side to whole lines (looking at most 4 KiB each way). */
async function wholeLines(side: Side, start: number, end: number): Promise<[number, number]> {
  const back = await side.read(Math.max(0, start - 4096), Math.min(start, 4096));
  const nl = back.lastIndexOf(0x0a);
  const from = nl >= 0 ? start - back.length + nl + 1 : start - back.length;
  const fwd = await side.read(end, 4096);
  const nl2 = fwd.indexOf(0x0a);
  return [from, nl2 >= 0 ? end + nl2 + 1 : end + fwd.length];
}

/** Line statistics of what differs, [eStart, eEnd) of the expected against [aStart, aEnd) of the actual, widened to whole lines. */
async function lineStats(es: Side, as: Side, e: readonly [number, number], a: readonly [number, number]): Promise<Record<string, unknown>> {
  const LIMIT = 512 * 1024;
  if (e[1] - e[0] > LIMIT || a[1] - a[0] > LIMIT) return {};
  const [ew, aw] = await Promise.all([wholeLines(es, e[0], e[1]), wholeLines(as, a[0], a[1])]);
  const [eb, ab] = await Promise.all([es.read(ew[0], ew[1] - ew[0]), as.read(aw[0], aw[1] - aw[0])]);
  return lineChanges(eb, ab);
}

/** Lines added and removed between two stretches of text (bounded), and a line-ending change. */
export function lineChanges(expected: Uint8Array, actual: Uint8Array): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const LIMIT = 512 * 1024;
  const text = (b: Uint8Array) => b.length === 0 || looksText(b);
  if (expected.length > LIMIT || actual.length > LIMIT || !text(actual) || !text(expected)) return out;
  const e = Buffer.from(expected).toString('utf8');
  const a = Buffer.from(actual).toString('utf8');
  const noCr = (s: string) => s.replace(/\r\n/g, '\n');
  if (e !== a && noCr(e) === noCr(a)) {
    out.lineEndings = a.includes('\r\n') ? 'crlf' : 'lf';
    return out;
  }
  // Bounded: a diff that needs more than 256 line edits is not worth its cost (Myers is O(N·D)).
  const changes = diffLines(e, a, { maxEditLength: 256 });
  if (!changes) return out;
  let added = 0;
  let removed = 0;
  for (const c of changes) {
    if (c.added) added += c.count;
    else if (c.removed) removed += c.count;
  }
  out.linesAdded = added;
  out.linesRemoved = removed;
  return out;
}

/** Other size: an exact prefix is size-mismatch; otherwise edit or not. */
async function otherSize(es: Side, as: Side, heads: Heads | null): Promise<FileResult> {
  const ph = es.whole && as.whole ? null : new PairHash();
  // The common prefix, streaming (hashing both sides as they go).
  let prefix = -1;
  const n = Math.max(es.size, as.size);
  await withChunks(async (eBuf, aBuf) => {
    for (let pos = 0; pos < n; pos += CHUNK) {
      const [eb, ab] = await Promise.all([es.chunk(pos, eBuf), as.chunk(pos, aBuf)]);
      if (ph) ph.update(eb, ab, false);
      heads?.record(eb, pos);
      if (prefix >= 0) continue;
      const k = Math.min(eb.length, ab.length);
      let i = 0;
      while (i + 4096 <= k && Buffer.compare(eb.subarray(i, i + 4096), ab.subarray(i, i + 4096)) === 0) i += 4096;
      while (i < k && eb[i] === ab[i]) i++;
      if (i < k || eb.length !== ab.length) prefix = pos + i;
    }
  });
  if (prefix < 0) prefix = Math.min(es.size, as.size);
  const [expectedSha256, actualSha256] = await hashes(es, as, ph);
  const base = { expectedSize: es.size, actualSize: as.size, expectedSha256, actualSha256, requests: [], dirRequests: [] };
  const shortest = Math.min(es.size, as.size);
  if (prefix >= shortest) {
    return {
      ...base,
      class: 'size-mismatch',
      regions: [],
      detail: { commonPrefixBytes: prefix, truncated: as.size < es.size, overlong: as.size > es.size },
    };
  }
  // The common suffix, read backwards.
  let suffix = 0;
  const maxSuffix = shortest - prefix;
  while (suffix < maxSuffix) {
    const len = Math.min(CHUNK, maxSuffix - suffix);
    const [eb, ab] = await Promise.all([es.read(es.size - suffix - len, len), as.read(as.size - suffix - len, len)]);
    let i = 0;
    while (i < len && eb[len - 1 - i] === ab[len - 1 - i]) i++;
    suffix += i;
    if (i < len) break;
  }
  const aWin = [prefix, as.size - suffix] as const;
  const eWin = [prefix, es.size - suffix] as const;
  const verdict = await judgeSizeChange(es, as, aWin, eWin);
  const detail: Record<string, unknown> = {
    commonPrefixBytes: prefix,
    commonSuffixBytes: suffix,
    truncated: false,
    overlong: false,
    why: verdict.why,
    ...verdict.detail,
  };
  if (verdict.cls === 'size-mismatch') return { ...base, class: 'size-mismatch', regions: [], detail };
  const regions: Region[] = [];
  if (prefix > 0) regions.push({ offset: 0, length: prefix, class: 'match' });
  if (aWin[1] > aWin[0]) regions.push({ offset: aWin[0], length: aWin[1] - aWin[0], class: 'modified' });
  if (suffix > 0) regions.push({ offset: as.size - suffix, length: suffix, class: 'match' });
  return { ...base, class: 'modified', regions, detail: { ...detail, editedBytes: aWin[1] - aWin[0], removedBytes: eWin[1] - eWin[0] } };
}

/** Whether what differs between two files of different sizes reads as an edit. */
async function judgeSizeChange(
  es: Side,
  as: Side,
  aWin: readonly [number, number],
  eWin: readonly [number, number],
): Promise<{ cls: 'modified' | 'size-mismatch'; why: string; detail: Record<string, unknown> }> {
  const aLen = aWin[1] - aWin[0];
  const eLen = eWin[1] - eWin[0];
  const eText = looksText(await es.read(0, Math.min(es.size, WINDOW)));
  // Junk where the edit would be: an aligned block of zeros, directory records or binary.
  const aBytes = await readRun(as, aWin[0], aLen);
  const from = Math.ceil(aWin[0] / SECTOR) * SECTOR - aWin[0];
  let junk = false;
  if (aLen <= RUN_WHOLE) {
    for (let off = from; off + SECTOR <= aBytes.length && !junk; off += SECTOR) junk = isJunk(aBytes.subarray(off, off + SECTOR));
  } else junk = isJunk(aBytes); // samples of a long window
  if (aLen > 0 && isAllZero(aBytes) && aLen >= SECTOR) return { cls: 'size-mismatch', why: 'zeros where the expected bytes should be', detail: {} };
  if (eText && junk) return { cls: 'size-mismatch', why: 'non-text blocks inside a text file', detail: {} };
  if (aLen === 0 || eLen === 0) {
    const lines = eText ? await lineStats(es, as, eWin, aWin) : {};
    return { cls: 'modified', why: aLen === 0 ? 'bytes removed, the rest intact' : 'bytes inserted, the rest intact', detail: lines };
  }
  // How much of each side the other explains (samples of large files).
  const aAll = as.whole ?? Buffer.concat(sample(await readRun(as, 0, as.size), MAX_CONTEXT));
  const eAll = es.whole ?? Buffer.concat(sample(await readRun(es, 0, es.size), MAX_CONTEXT));
  const fwd = relatedness(runSample(aAll), null, new Context(eAll, eText)).explained;
  const rev = relatedness(runSample(eAll), null, new Context(aAll, eText)).explained;
  const explained = Math.max(fwd, rev);
  const lines = eText ? await lineStats(es, as, eWin, aWin) : {};
  if (explained >= WHOLE_EXPLAINED || lines.lineEndings) {
    return { cls: 'modified', why: `${Math.round(explained * 100)}% of the bytes are the expected ones, moved or edited`, detail: { explained: round3(explained), ...lines } };
  }
  return { cls: 'size-mismatch', why: `unrelated to the expected bytes (${Math.round(explained * 100)}% explained)`, detail: { explained: round3(explained) } };
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}
