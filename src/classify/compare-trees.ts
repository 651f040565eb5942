// Compare the tree found in a layer with the expected sources, file by file, then trace the stale
// bytes found to their origin.
//
// Two passes, so memory follows the damage and not the trees: first every file is compared as a
// stream (file-compare.ts; pairs of host files on every core, scan-pool.ts), keeping only the
// first bytes of each stale stretch; then, when some
// stretch needs tracing, the candidate trees are indexed keeping only the blocks whose hashes those
// stretches hold (provenance.ts), and each stretch is looked up and its match extended.

import { basename } from 'node:path';
import type { FileReport, Provenance } from '../report/schema.js';
import type { Tree, TreeEntry } from '../tree/tree.js';
import { UserError } from '../util/errors.js';
import { limiter, mapPool } from '../util/pool.js';
import { BLOCK, hashBlock, newHashes } from './block-hash.js';
import { isAllZero } from './bytes.js';
import { DEFAULT_BLOCK_SIZE } from './content.js';
import { decodeDirectoryBlock } from './directory-block.js';
import { compareFile, REQUEST_HEAD, type FileResult, type ProvenanceRequest } from './file-compare.js';
import { sha256Hex } from './hash.js';
import { indexTree } from './index-corpus.js';
import { ProvenanceIndex, readRange, Wanted, type Match } from './provenance.js';
import { ScanPool, scannable, scanWorkers } from './scan-pool.js';
import type { SameSizeScan } from './stream-pass.js';

/** A tree whose files may be named as the origin of stale bytes (structurally extract's CandidateTree). */
export interface CandidateSource {
  source: Provenance['source'];
  root: string;
  tree: Tree;
  name: (rel: string) => string;
}

/** Find the directory whose inode number a directory block's `.` entry holds (the guest answers). */
export type DirectoryOfInode = (ino: number, names?: string[]) => Promise<string | null>;

export interface CompareOptions {
  blockSize?: number;
  /** A ready index of the candidate origins of stale bytes (tests, benchmarks). */
  provenance?: ProvenanceIndex;
  /** Candidate origins, indexed only when some stale bytes need tracing (and only what may match). */
  candidates?: CandidateSource[];
  /** Where a directory block came from (the producer answers; optional). */
  directoryOfInode?: DirectoryOfInode;
  /**
   * The owner, from the disk, of every byte of [start, start + length) of a layer's file, when
   * the producer can tell (direct reading: another file's blocks in an ancestor layer); optional.
   */
  originOnDisk?: (path: string, entry: TreeEntry, start: number, length: number) => Promise<Provenance | null>;
  /** Told once, before any originOnDisk question, every run that is stale or may be (to ask the disk once). */
  diskHint?: (runs: { entry: TreeEntry; start: number; length: number }[]) => void;
  /** How many files are read at once (on the main thread). */
  concurrency?: number;
  /**
   * Worker threads scanning pairs of host files besides the calling thread (scan-pool.ts): 'auto'
   * (the default) makes one thread a core when the trees are large enough to pay for them.
   */
  workers?: number | 'auto';
  onProgress?: (done: number, total: number) => void;
}

function base(path: string, kind: FileReport['kind']): FileReport {
  return {
    path,
    class: 'match',
    kind,
    expectedSize: null,
    actualSize: null,
    expectedSha256: null,
    actualSha256: null,
    provenance: null,
    regions: [],
    detail: {},
  };
}

/** What the second pass needs of a compared file. */
interface Pending {
  report: FileReport;
  result?: FileResult;
  /** The entry whose bytes the requests are about. */
  actual: TreeEntry;
  /** An extra file's whole content, looked up as one stretch. */
  extraHead?: Buffer;
}

/** Errors reading one file: reported as `unreadable`, not fatal (a permission, a vanished file). */
function readFailure(err: unknown): string | null {
  if (err instanceof UserError) return err.message;
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (typeof code === 'string' && err instanceof Error) return err.message;
  return null;
}

/**
 * What the expected files hold, kept while they are compared so that tracing need not read them
 * all again: the 64-byte head hash of each 512-byte block, its low 24 bits (3 bytes a block,
 * 6 KiB per MiB of expected bytes; at most 24 MiB, 4 GiB of expected files, past which files are
 * read again whole). Tracing then reads only the blocks whose head may be a wanted block's (a
 * head that only shares its low 24 bits with a wanted one, about one block in 16 million for each
 * wanted head, is read, hashed and dropped), and no file that has none.
 *
 * Kept in 1 MiB slabs, each file's heads one after another (a file with more than a slab's worth
 * has a slab of its own): an array a file was tens of thousands of small allocations, most of a
 * few bytes, for a tree of small files.
 */
class HeadBook {
  static readonly MAX_BLOCKS = 8 * 1024 * 1024;
  private static readonly SLAB = 1024 * 1024;
  private readonly slabs: Uint8Array[] = [];
  /** Where each file's heads are: slab * 2^44 + offset * 2^24 + blocks (exact in a double). */
  private readonly at = new Map<TreeEntry, number>();
  /** The slab being filled, and how much of it is. */
  private cur = -1;
  private used = HeadBook.SLAB;
  private blocks = 0;
  get wanted(): boolean {
    return this.blocks < HeadBook.MAX_BLOCKS;
  }
  /** Keep `e`'s heads: h[from, to), all of h by default. */
  keep(e: TreeEntry, h: Uint32Array | undefined, from = 0, to = h?.length ?? 0): void {
    const n = to - from;
    if (!h || this.blocks + n > HeadBook.MAX_BLOCKS) return;
    const need = n * 3;
    let slab: number;
    let o = 0;
    if (need > HeadBook.SLAB) {
      slab = this.slabs.push(new Uint8Array(need)) - 1;
    } else {
      if (this.used + need > HeadBook.SLAB) {
        this.cur = this.slabs.push(new Uint8Array(HeadBook.SLAB)) - 1;
        this.used = 0;
      }
      slab = this.cur;
      o = this.used;
      this.used += need;
    }
    this.at.set(e, slab * 2 ** 44 + o * 2 ** 24 + n);
    const low = this.slabs[slab]!;
    for (let i = from; i < to; i++, o += 3) {
      const v = h[i]!;
      low[o] = v & 0xff;
      low[o + 1] = (v >>> 8) & 0xff;
      low[o + 2] = (v >>> 16) & 0xff;
    }
    this.blocks += n;
  }
  /**
   * The blocks of `e` that may hold a wanted block ([] when none), or null when `e` was not
   * recorded (it is read whole). A stale stretch shorter than 64 bytes, looked up by its 32-byte
   * head, is traced only to files read anyway: that little text names its origin poorly anyway.
   */
  candidates(e: TreeEntry, wanted: Wanted): number[] | null {
    const loc = this.at.get(e);
    if (loc === undefined) return null;
    const slab = Math.floor(loc / 2 ** 44);
    const offset = Math.floor(loc / 2 ** 24) % 2 ** 20;
    const blocks = loc % 2 ** 24;
    const low = this.slabs[slab]!;
    const out: number[] = [];
    for (let i = 0, o = offset; i < blocks; i++, o += 3) if (wanted.mayHave64(low[o]! | (low[o + 1]! << 8) | (low[o + 2]! << 16))) out.push(i);
    return out;
  }
}

async function compareFiles(e: TreeEntry, a: TreeEntry, opts: CompareOptions, book: HeadBook, scan?: SameSizeScan): Promise<Pending> {
  let res: FileResult;
  try {
    // What the scan pool left of the pair (its scan, when it made one) compared here.
    res = await compareFile(e, a, opts.blockSize ?? DEFAULT_BLOCK_SIZE, { heads: book.wanted, scan });
  } catch (err) {
    const why = readFailure(err);
    if (why === null) throw err;
    const r = base(e.path, 'file');
    r.class = 'unreadable';
    r.expectedSize = sizeOrNull(e);
    r.actualSize = sizeOrNull(a);
    r.detail = { reason: why, side: 'host' };
    return { report: r, actual: a };
  }
  return compared(e, a, res, book);
}

/** A file's size, or null when it cannot be had (a file listed without one, and gone since). */
function sizeOrNull(e: TreeEntry): number | null {
  try {
    return e.size;
  } catch {
    return null;
  }
}

/** The report of a file that holds exactly its expected bytes (as base and compared make it). */
function matchReport(path: string, size: number, sha256: string): FileReport {
  return {
    path,
    class: 'match',
    kind: 'file',
    expectedSize: size,
    actualSize: size,
    expectedSha256: sha256,
    actualSha256: sha256,
    provenance: null,
    regions: size > 0 ? [{ offset: 0, length: size, class: 'match' }] : [],
    detail: {},
  };
}

/** The report of a compared pair of files, and what the second pass needs of it. */
function compared(e: TreeEntry, a: TreeEntry, res: FileResult, book: HeadBook): Pending {
  book.keep(e, res.expectedHeads);
  // Not `delete`: that turns each result into a dictionary-mode object (about 1.5 KB a file).
  res.expectedHeads = undefined;
  const r = base(e.path, 'file');
  r.class = res.class;
  r.expectedSize = res.expectedSize;
  r.actualSize = res.actualSize;
  r.expectedSha256 = res.expectedSha256;
  r.actualSha256 = res.actualSha256;
  r.regions = res.regions;
  r.detail = res.detail;
  // Kept for the second pass only when it has something to trace.
  const keep = res.requests.length > 0 || res.dirRequests.length > 0;
  return { report: r, result: keep ? res : undefined, actual: a };
}

/** A file present in the layer but not among the expected sources; self-evidence in `detail`. */
async function extraEntry(a: TreeEntry): Promise<Pending> {
  const r = base(a.path, a.kind);
  r.class = 'extra';
  if (a.unreadable) {
    r.detail = { unreadable: a.unreadable };
    return { report: r, actual: a };
  }
  if (a.kind === 'symlink') {
    r.detail = { linkTarget: a.linkTarget };
    return { report: r, actual: a };
  }
  if (a.kind !== 'file') {
    r.detail = { special: a.special };
    return { report: r, actual: a };
  }
  try {
    const { hash, head } = await hashAndHead(a);
    r.actualSize = a.size;
    r.actualSha256 = hash;
    r.detail = { content: selfEvidence(head, a.size) };
    const data = r.detail.content === 'data';
    return { report: r, actual: a, extraHead: data ? head.subarray(0, REQUEST_HEAD) : undefined };
  } catch (err) {
    const why = readFailure(err);
    if (why === null) throw err;
    r.detail = { unreadable: why };
    return { report: r, actual: a };
  }
}

/** sha256 of a file, streamed, and its first bytes. */
async function hashAndHead(a: TreeEntry): Promise<{ hash: string; head: Buffer }> {
  if (a.size <= 1024 * 1024 || !a.openReader) {
    const buf = await a.read();
    return { hash: await sha256Hex(buf), head: buf.subarray(0, 1024 * 1024) };
  }
  const { createHash } = await import('node:crypto');
  const h = createHash('sha256');
  const r = await a.openReader();
  let head: Buffer | null = null;
  try {
    const buf = Buffer.allocUnsafe(1024 * 1024);
    for (let pos = 0; pos < a.size; ) {
      const n = await r.read(buf, pos);
      if (n <= 0) break;
      h.update(buf.subarray(0, n));
      if (!head) head = Buffer.from(buf.subarray(0, n));
      pos += n;
    }
  } finally {
    await r.close();
  }
  return { hash: h.digest('hex'), head: head ?? Buffer.alloc(0) };
}

/** What a file holds on its own, without anything to compare with (at most its first MiB is looked at). */
export function selfEvidence(buf: Uint8Array, size = buf.length): 'empty' | 'zeros' | 'directory-block' | 'data' {
  if (size === 0) return 'empty';
  if (buf.length === size && isAllZero(buf)) return 'zeros';
  if (decodeDirectoryBlock(buf)) return 'directory-block';
  return 'data';
}

async function compareEntry(path: string, e: TreeEntry | undefined, a: TreeEntry | undefined, opts: CompareOptions, book: HeadBook, scan?: SameSizeScan): Promise<Pending> {
  if (!e) return extraEntry(a!);
  if (!a) {
    const r = base(path, e.kind);
    r.class = 'missing';
    if (e.kind === 'file' && !e.unreadable) {
      r.expectedSize = e.size;
      try {
        r.expectedSha256 = (await hashAndHead(e)).hash;
      } catch (err) {
        if (readFailure(err) === null) throw err;
      }
    }
    return { report: r, actual: e };
  }
  if (a.unreadable || e.unreadable) {
    // Read by neither side's producer: never guessed to be missing or damaged.
    const r = base(path, a.kind);
    r.class = 'unreadable';
    if (e.kind === 'file') r.expectedSize = e.size;
    if (a.kind === 'file' && !a.unreadable) r.actualSize = a.size;
    r.detail = { reason: a.unreadable ?? e.unreadable ?? '', side: a.unreadable ? 'layer' : 'expected' };
    return { report: r, actual: a };
  }
  if (e.kind !== a.kind) {
    const r = base(path, a.kind);
    r.class = 'type-mismatch';
    r.detail = { expectedKind: e.kind, actualKind: a.kind, linkTarget: a.linkTarget, special: a.special };
    if (e.kind === 'file') r.expectedSize = e.size;
    if (a.kind === 'file') r.actualSize = a.size;
    return { report: r, actual: a };
  }
  if (e.kind === 'symlink') {
    const r = base(path, 'symlink');
    r.class = e.linkTarget === a.linkTarget ? 'match' : 'link-mismatch';
    r.detail = { expectedTarget: e.linkTarget, actualTarget: a.linkTarget };
    return { report: r, actual: a };
  }
  if (e.kind === 'special') {
    // Reported, never read.
    const r = base(path, 'special');
    r.class = e.special === a.special ? 'match' : 'type-mismatch';
    r.detail = { expectedSpecial: e.special, actualSpecial: a.special };
    return { report: r, actual: a };
  }
  return compareFiles(e, a, opts, book, scan);
}

/** The hashes a stretch will be looked up by (see ProvenanceIndex.lookup). */
function addWanted(wanted: Wanted, head: Uint8Array): void {
  const h = newHashes();
  const blocks = Math.ceil(head.length / BLOCK);
  const step = Math.max(1, Math.ceil(blocks / 128));
  for (let b = 0; b < blocks; b += step) {
    const off = b * BLOCK;
    const len = Math.min(BLOCK, head.length - off);
    if (isAllZero(head.subarray(off, off + len))) continue;
    hashBlock(head, off, len, h);
    wanted.add(512, h);
    if (len < BLOCK) {
      if (len >= 256) wanted.add(256, h);
      else if (len >= 64) wanted.add(64, h);
      else if (len >= 32) wanted.add(32, h);
    }
  }
}

async function buildIndex(candidates: CandidateSource[], wanted: Wanted, book: HeadBook): Promise<ProvenanceIndex> {
  const index = new ProvenanceIndex({ wanted });
  for (const c of candidates) await indexTree(index, c.tree, c.source, c.root, c.name, 4, (e) => book.candidates(e, wanted));
  index.seal();
  return index;
}

/** Whether the names say the match is another version of the same file (tls.opam ~ packages/tls/tls.1.0/opam). */
function sameFileByName(own: string, other: string): boolean {
  const a = basename(own);
  const b = basename(other);
  if (a === b) return true;
  const stem = a.replace(/\.opam$/, '');
  return b === 'opam' && new RegExp(`(^|/)${stem.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(/|\\.)`).test(other);
}

/**
 * An edit run shown to be stale by an exact match with another file's aligned blocks: the match
 * must cover every differing byte of the run, stop at the run's ends (a file that goes on agreeing
 * with the layer's bytes around the run is another version of this file, not stale blocks), and,
 * for a whole file, not be the candidate entire, not be named like this file (tls.opam and
 * packages/tls/tls.1.0/opam are one file), and not be nearly all the expected bytes.
 */
async function rescues(q: ProvenanceRequest, m: Match, ownPath: string): Promise<boolean> {
  const len = q.end - q.start;
  // Matched up to the candidate's end, the rest of its last fragment reads as zeros.
  let covered = m.stretchOffset + m.matchedBytes;
  if (m.offset + m.matchedBytes === m.candidateSize && covered < len && len <= q.head.length && isAllZero(q.head.subarray(covered, len))) covered = len;
  if (m.stretchOffset > q.edges[0] || covered < len - q.edges[1]) return false;
  // A block at least, counting the zeros after the candidate's end (its last fragment's rest).
  if (covered - m.stretchOffset < Math.min(BLOCK, len)) return false;
  const delta = m.offset - m.stretchOffset - q.start;
  const extendsInto = async (bytes: Buffer | null, at: number, readCand: (pos: number, n: number) => Promise<Buffer>): Promise<boolean> => {
    if (!bytes) return false;
    const pos = at + delta;
    if (pos < 0 || pos + bytes.length > m.candidateSize) return false;
    const c = await readCand(pos, bytes.length);
    return c.equals(bytes);
  };
  const readCand = m.read;
  if (await extendsInto(q.before, q.start - BLOCK, readCand)) return false;
  if (await extendsInto(q.after, q.end, readCand)) return false;
  if (q.wholeFile) {
    // The whole file is that candidate, byte for byte: a copy of it (another version kept in the
    // corpus), not blocks of it.
    if (m.offset === 0 && m.candidateSize === q.end && m.matchedBytes === q.end) return false;
    if (sameFileByName(ownPath, m.path)) return false;
    // Nearly all of it the expected bytes: an edit that happens to be in the corpus too.
    if (q.explained === undefined || q.explained >= 0.98) return false;
  }
  return true;
}

/** Attach a match to the file and to the region holding its first byte. */
function attach(r: FileReport, p: Provenance): void {
  const at = p.fileOffset ?? 0;
  const region = r.regions.find((x) => at >= x.offset && at < x.offset + x.length && x.class !== 'match');
  if (region && !region.provenance) region.provenance = p;
  if (!r.provenance || p.matchedBytes > r.provenance.matchedBytes) r.provenance = p;
}

function toProvenance(m: Match, fileOffset: number): Provenance {
  return { source: m.source, path: m.path, root: m.root, matchedBytes: m.matchedBytes, offset: m.offset, fileOffset };
}

/** The index of the candidate origins, built for what the pending requests may match; or none. */
async function indexFor(withRequests: Pending[], opts: CompareOptions, book: HeadBook): Promise<ProvenanceIndex | null> {
  if (opts.provenance) return opts.provenance;
  if ((opts.candidates?.length ?? 0) === 0) return null;
  const wanted = new Wanted();
  for (const p of withRequests) {
    for (const q of p.result?.requests ?? []) addWanted(wanted, q.head);
    if (p.extraHead) addWanted(wanted, p.extraHead);
  }
  return buildIndex(opts.candidates!, wanted, book);
}

/**
 * Where a run's bytes came from: for a stale run, the candidate file holding them; for an edit
 * that may be stale (rescue), a candidate match that passes the guards, else the disk itself
 * (another file's blocks in an ancestor layer). Null when nothing shows it.
 */
async function originOf(p: Pending, q: ProvenanceRequest, index: ProvenanceIndex | null, opts: CompareOptions): Promise<Provenance | null> {
  const readMore = (pos: number, n: number) => readRange(p.actual, q.start + pos, n);
  const m = index ? await index.lookup(q.head, { exclude: { source: 'expected', path: p.report.path }, length: q.end - q.start, readMore }) : null;
  if (q.kind === 'stale') return m ? toProvenance(m, q.start + m.stretchOffset) : null;
  if (m && (await rescues(q, m, p.report.path))) return toProvenance(m, q.start + m.stretchOffset);
  // The disk is asked only about runs that rule 5 alone kept from stale: the question can cost a
  // scan of an ancestor's inodes, and an edit-like run elsewhere in a file was never stale.
  return opts.originOnDisk && q.wantsOrigin ? opts.originOnDisk(p.report.path, p.actual, q.start, q.end - q.start) : null;
}

/** One file's second pass: its runs traced, the rescued ones turned stale, provenance attached. */
async function traceFile(p: Pending, index: ProvenanceIndex | null, opts: CompareOptions): Promise<void> {
  const r = p.report;
  if (p.extraHead) {
    const m = index ? await index.lookup(p.extraHead, { length: p.actual.size }) : null;
    if (m) r.provenance = toProvenance(m, m.stretchOffset);
    return;
  }
  const res = p.result!;
  const rescued = new Set<number>();
  const found: Provenance[] = [];
  for (const q of res.requests) {
    const prov = await originOf(p, q, index, opts);
    if (!prov) continue;
    if (q.kind === 'rescue') rescued.add(q.run);
    found.push(prov);
  }
  if (rescued.size > 0 && res.refinish) {
    const again = await res.refinish(rescued);
    r.class = again.class;
    r.regions = again.regions;
    r.detail = again.detail;
  }
  // Provenance of runs that ended up stale only.
  for (const p2 of found) {
    const region = r.regions.find((x) => (p2.fileOffset ?? 0) >= x.offset && (p2.fileOffset ?? 0) < x.offset + x.length);
    if (r.class === 'modified' || region?.class === 'modified') continue;
    attach(r, p2);
  }
}

/** A directory block's directory, by the inode its `.` entry names (the producer answers). */
async function nameDirectories(pending: Pending[], directoryOfInode: DirectoryOfInode): Promise<void> {
  const cache = new Map<number, Promise<string | null>>();
  for (const p of pending) {
    for (const d of p.result?.dirRequests ?? []) {
      const r = p.report;
      const region = r.regions.find((x) => d.start >= x.offset && d.start < x.offset + x.length);
      if (r.class === 'modified' || region?.class !== 'directory-block') continue;
      if (!cache.has(d.ino)) cache.set(d.ino, directoryOfInode(d.ino, d.names).catch(() => null));
      const dir = await cache.get(d.ino)!;
      if (!dir) continue;
      const prov: Provenance = { source: 'guest', path: dir, root: '/', matchedBytes: d.length, offset: 0, fileOffset: d.start };
      if (!region.provenance) region.provenance = prov;
      if (!r.provenance) r.provenance = prov;
      r.detail = { ...r.detail, directoryInode: d.ino };
    }
  }
}

/** The second pass: trace stale stretches, and turn back into stale the edits a match explains. */
async function trace(pending: Pending[], opts: CompareOptions, book: HeadBook): Promise<void> {
  const withRequests = pending.filter((p) => (p.result?.requests.length ?? 0) > 0 || p.extraHead);
  if (withRequests.length > 0) {
    const index = await indexFor(withRequests, opts, book);
    opts.diskHint?.(
      withRequests.flatMap((p) => (p.result?.requests ?? []).filter((q) => q.kind === 'stale' || q.wantsOrigin).map((q) => ({ entry: p.actual, start: q.start, length: q.end - q.start }))),
    );
    if (index || opts.originOnDisk) await mapPool(withRequests, { concurrency: 4 }, (p) => traceFile(p, index, opts));
  }
  if (opts.directoryOfInode) await nameDirectories(pending, opts.directoryOfInode);
}

/**
 * The first pass: every path compared. The pairs of host files are handed to the scan pool all at
 * once and made reports of as they are answered (most are the same bytes, or judged by the thread
 * that scanned them); the other paths, and the pairs the pool left, are compared here, a few at a
 * time, as they come.
 */
async function firstPass(list: string[], expected: Tree, actual: Tree, opts: CompareOptions, book: HeadBook): Promise<Pending[]> {
  const out = new Array<Pending>(list.length);
  const pairs: { i: number; e: TreeEntry; a: TreeEntry }[] = [];
  const others: number[] = [];
  for (let i = 0; i < list.length; i++) {
    const p = list[i]!;
    const e = expected.get(p);
    const a = actual.get(p);
    if (scannable(e, a)) pairs.push({ i, e: e!, a: a! });
    else others.push(i);
  }
  let done = 0;
  const finished = (i: number, p: Pending): void => {
    out[i] = p;
    opts.onProgress?.(++done, list.length);
  };
  const run = limiter(Math.max(1, opts.concurrency ?? 8));
  const tasks: Promise<void>[] = [];
  let failure: unknown = null;
  const compareHere = (i: number, scan?: SameSizeScan): void => {
    const p = list[i]!;
    const task = run(() => compareEntry(p, expected.get(p), actual.get(p), opts, book, scan));
    // Caught at once (a task may fail while the scan is still going), thrown when all are done.
    tasks.push(task.then((r) => finished(i, r)).catch((err: unknown) => void (failure ??= err)));
  };
  for (const i of others) compareHere(i);
  const pool = pairs.length > 0 ? new ScanPool(scanWorkers(opts.workers, pairs.map((x) => x.e))) : null;
  try {
    await pool?.scan(pairs, opts.blockSize ?? DEFAULT_BLOCK_SIZE, book.wanted, {
      each: (k, s) => {
        const { i, e, a } = pairs[k]!;
        if (s) {
          // The size the scan read both at: what a listing without sizes learns of them.
          e.sawSize?.(s.scan.size);
          a.sawSize?.(s.scan.size);
        }
        // The pairs told here differ (the same bytes are told to `same`): judged by the thread
        // that scanned them, or left (with their scan, when there is one) to the usual path.
        const res = s?.result ?? null;
        if (res) finished(i, compared(e, a, res, book));
        else compareHere(i, s?.scan);
      },
      same: (k, size, sha256, heads, from, to) => {
        const { i, e, a } = pairs[k]!;
        e.sawSize?.(size);
        a.sawSize?.(size);
        if (heads) book.keep(e, heads, from, to);
        finished(i, { report: matchReport(e.path, size, sha256), actual: a });
      },
    });
    await Promise.all(tasks);
  } finally {
    await pool?.close();
  }
  if (failure !== null) throw failure;
  return out;
}

/**
 * Every path of either tree (directories aside) with its class. Files are read a few at a time
 * and streamed, so large trees pass through bounded memory.
 */
export async function compareTrees(expected: Tree, actual: Tree, opts: CompareOptions = {}): Promise<FileReport[]> {
  const paths = new Set<string>();
  // forEach, not for-of: no [path, entry] pair made for each of tens of thousands of entries.
  expected.forEach((e, p) => {
    if (e.kind !== 'directory' || actual.get(p)?.kind !== 'directory') paths.add(p);
  });
  actual.forEach((a, p) => {
    if (a.kind !== 'directory' || (expected.has(p) && expected.get(p)!.kind !== 'directory')) paths.add(p);
  });
  // A directory on both sides, or an extra directory, is not a finding.
  for (const p of [...paths]) {
    const e = expected.get(p);
    const a = actual.get(p);
    if (e?.kind === 'directory' && !a) paths.delete(p);
    if (!e && a?.kind === 'directory') paths.delete(p);
  }
  const list = [...paths].sort();
  const book = new HeadBook();
  const pending = await firstPass(list, expected, actual, opts, book);
  await trace(pending, opts, book);
  return pending.map((p) => p.report);
}

export type { Match };
