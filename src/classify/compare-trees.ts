// Compare the tree found in a layer with the expected sources, file by file.

import type { FileReport, Provenance } from '../report/schema.js';
import { classifyContent, DEFAULT_BLOCK_SIZE } from './content.js';
import { decodeDirectoryBlock } from './directory-block.js';
import { commonPrefix, isAllZero } from './bytes.js';
import type { ProvenanceIndex } from './provenance.js';
import { createHash } from 'node:crypto';
import type { Tree, TreeEntry } from './tree.js';
import { sha256Hex as sha256 } from './hash.js';

export interface CompareOptions {
  blockSize?: number;
  /** Candidates for the origin of stale bytes (expected sources, corpora, guest files). */
  provenance?: ProvenanceIndex;
  /** How many files are read at once. */
  concurrency?: number;
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

/** Files at least this large are first compared as a stream, in chunks, through reused buffers. */
const STREAM_FROM = 512 * 1024;
const CHUNK = 1024 * 1024;

/** Chunk buffers are reused: two fresh ones per large file kept the heap (and RSS) high. */
const chunkPool: Buffer[] = [];
const takeChunk = (): Buffer => chunkPool.pop() ?? Buffer.allocUnsafe(CHUNK);
const giveChunk = (b: Buffer): void => {
  if (chunkPool.length < 32) chunkPool.push(b);
};

/**
 * Stream both files side by side, hashing and comparing chunk by chunk. Returns the hashes when
 * the files are identical, null as soon as they are known to differ (the caller then reads them
 * whole to classify). Large matching files, the common case, never sit whole in memory.
 */
async function streamMatch(e: TreeEntry, a: TreeEntry): Promise<string | null> {
  const [re, ra] = await Promise.all([e.openReader!(), a.openReader!()]);
  try {
    // Identical bytes have identical hashes: one hash serves both sides.
    const h = createHash('sha256');
    const be = takeChunk();
    const ba = takeChunk();
    try {
      for (let pos = 0; ; pos += CHUNK) {
        const [ne, na] = await Promise.all([re.read(be, pos), ra.read(ba, pos)]);
        if (ne !== na || Buffer.compare(be.subarray(0, ne), ba.subarray(0, na)) !== 0) return null;
        if (ne === 0) break;
        h.update(be.subarray(0, ne));
        if (ne < CHUNK) break;
      }
    } finally {
      giveChunk(be);
      giveChunk(ba);
    }
    return h.digest('hex');
  } finally {
    await Promise.all([re.close(), ra.close()]);
  }
}

async function compareFiles(e: TreeEntry, a: TreeEntry, opts: CompareOptions): Promise<FileReport> {
  const r = base(e.path, 'file');
  if (e.size === a.size && e.size >= STREAM_FROM && e.openReader && a.openReader) {
    const digest = await streamMatch(e, a);
    if (digest) {
      r.expectedSize = r.actualSize = e.size;
      r.expectedSha256 = r.actualSha256 = digest;
      r.regions = [{ offset: 0, length: e.size, class: 'match' }];
      return r;
    }
  }
  const [eb, ab] = await Promise.all([e.read(), a.read()]);
  r.expectedSize = eb.length;
  r.actualSize = ab.length;
  if (eb.length === ab.length && eb.equals(ab)) {
    // Identical bytes: one hash serves both sides.
    r.expectedSha256 = r.actualSha256 = await sha256(eb);
    r.regions = eb.length > 0 ? [{ offset: 0, length: eb.length, class: 'match' }] : [];
    return r;
  }
  [r.expectedSha256, r.actualSha256] = await Promise.all([sha256(eb), sha256(ab)]);
  if (eb.length !== ab.length) {
    const common = commonPrefix(eb, ab);
    r.class = 'size-mismatch';
    r.detail = {
      commonPrefixBytes: common,
      truncated: ab.length < eb.length && common === ab.length,
      overlong: ab.length > eb.length && common === eb.length,
    };
    return r;
  }
  const c = await classifyContent(ab, eb, opts.blockSize ?? DEFAULT_BLOCK_SIZE);
  r.class = c.class;
  r.regions = c.regions;
  r.detail = c.detail;
  if (opts.provenance && (c.class === 'foreign-text' || c.class === 'foreign-binary' || c.class === 'partial')) {
    r.provenance = traceStale(ab, c.class === 'partial' ? c.regions : null, opts.provenance, e.path);
  }
  return r;
}

/** For `partial`, trace the first stale region; otherwise the whole file. */
function traceStale(
  actual: Uint8Array,
  regions: FileReport['regions'] | null,
  index: ProvenanceIndex,
  ownPath: string,
): Provenance | null {
  const exclude = { source: 'expected' as const, path: ownPath };
  if (!regions) return index.lookup(actual, exclude);
  const stale = regions.find((reg) => reg.class === 'foreign-text' || reg.class === 'foreign-binary');
  return stale ? index.lookup(actual.subarray(stale.offset), exclude) : null;
}

/** A file present in the layer but not among the expected sources; self-evidence in `detail`. */
async function extraEntry(a: TreeEntry, opts: CompareOptions): Promise<FileReport> {
  const r = base(a.path, a.kind);
  r.class = 'extra';
  if (a.kind === 'symlink') {
    r.detail = { linkTarget: a.linkTarget };
    return r;
  }
  if (a.kind !== 'file') {
    r.detail = { special: a.special };
    return r;
  }
  const ab = await a.read();
  r.actualSize = ab.length;
  r.actualSha256 = await sha256(ab);
  r.detail = { content: selfEvidence(ab) };
  if (r.detail.content !== 'zeros' && r.detail.content !== 'empty' && opts.provenance) {
    r.provenance = opts.provenance.lookup(ab);
  }
  return r;
}

/** What a file holds on its own, without anything to compare with. */
export function selfEvidence(buf: Uint8Array): 'empty' | 'zeros' | 'directory-block' | 'data' {
  if (buf.length === 0) return 'empty';
  if (isAllZero(buf)) return 'zeros';
  if (decodeDirectoryBlock(buf)) return 'directory-block';
  return 'data';
}

async function compareEntry(path: string, e: TreeEntry | undefined, a: TreeEntry | undefined, opts: CompareOptions): Promise<FileReport> {
  if (!e) return extraEntry(a!, opts);
  if (!a) {
    const r = base(path, e.kind);
    r.class = 'missing';
    if (e.kind === 'file') {
      const eb = await e.read();
      r.expectedSize = eb.length;
      r.expectedSha256 = await sha256(eb);
    }
    return r;
  }
  if (e.kind !== a.kind) {
    const r = base(path, a.kind);
    r.class = 'type-mismatch';
    r.detail = { expectedKind: e.kind, actualKind: a.kind, linkTarget: a.linkTarget, special: a.special };
    if (e.kind === 'file') r.expectedSize = e.size;
    if (a.kind === 'file') r.actualSize = a.size;
    return r;
  }
  if (e.kind === 'symlink') {
    const r = base(path, 'symlink');
    r.class = e.linkTarget === a.linkTarget ? 'match' : 'link-mismatch';
    r.detail = { expectedTarget: e.linkTarget, actualTarget: a.linkTarget };
    return r;
  }
  if (e.kind === 'special') {
    // Reported, never read.
    const r = base(path, 'special');
    r.class = e.special === a.special ? 'match' : 'type-mismatch';
    r.detail = { expectedSpecial: e.special, actualSpecial: a.special };
    return r;
  }
  return compareFiles(e, a, opts);
}

/**
 * Every path of either tree (directories aside) with its class. Files are read a few at a time
 * so that large trees stream through memory.
 */
export async function compareTrees(expected: Tree, actual: Tree, opts: CompareOptions = {}): Promise<FileReport[]> {
  const paths = new Set<string>();
  for (const [p, e] of expected) if (e.kind !== 'directory' || actual.get(p)?.kind !== 'directory') paths.add(p);
  for (const [p, a] of actual) if (a.kind !== 'directory' || (expected.has(p) && expected.get(p)!.kind !== 'directory')) paths.add(p);
  // A directory on both sides, or an extra directory, is not a finding.
  for (const p of [...paths]) {
    const e = expected.get(p);
    const a = actual.get(p);
    if (e?.kind === 'directory' && !a) paths.delete(p);
    if (!e && a?.kind === 'directory') paths.delete(p);
  }
  const list = [...paths].sort();
  const out = new Array<FileReport>(list.length);
  let next = 0;
  let done = 0;
  const worker = async (): Promise<void> => {
    while (next < list.length) {
      const i = next++;
      const p = list[i]!;
      out[i] = await compareEntry(p, expected.get(p), actual.get(p), opts);
      done++;
      opts.onProgress?.(done, list.length);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, opts.concurrency ?? 8) }, worker));
  return out;
}
