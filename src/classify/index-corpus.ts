// Feed a provenance index from trees: the expected sources, --corpus directories, guest files.
// Reading a directory into a tree is the extract layer's job; this only indexes trees. Large
// files are read in chunks through reused buffers, so indexing holds at most a few MiB of file
// data whatever the corpus.

import type { Provenance } from '../report/schema.js';
import type { Tree, TreeEntry } from '../tree/tree.js';
import { mapPool } from '../util/pool.js';
import type { ProvenanceIndex } from './provenance.js';

/** Files up to this size are read whole; larger ones in chunks of this size through reused buffers. */
const WHOLE = 256 * 1024;
/** As stream-pass.ts's CHUNK: a buffer that stays in the L2 cache while it is hashed. */
const CHUNK = 128 * 1024;

const spare: Buffer[] = [];

async function feed(index: ProvenanceIndex, e: TreeEntry, file: Parameters<ProvenanceIndex['adder']>[0]): Promise<void> {
  const adder = index.adder(file);
  if (e.size <= WHOLE || !e.openReader) {
    adder.chunk(await e.read(), 0);
    adder.done();
    return;
  }
  const r = await e.openReader();
  const buf = spare.pop() ?? Buffer.allocUnsafe(CHUNK);
  try {
    for (let pos = 0; pos < e.size; ) {
      let got = 0;
      while (got < CHUNK && pos + got < e.size) {
        const n = await r.read(buf.subarray(got), pos + got);
        if (n <= 0) break;
        got += n;
      }
      if (got === 0) break;
      adder.chunk(buf.subarray(0, got), pos);
      pos += got;
      if (got < CHUNK) break;
    }
    adder.done();
  } finally {
    if (spare.length < 8) spare.push(buf);
    await r.close();
  }
}

/** Add every regular, readable file of `tree`, a few at a time. Returns how many were read. */
export async function indexTree(
  index: ProvenanceIndex,
  tree: Tree,
  source: Provenance['source'],
  root: string,
  /** How a tree path is named in provenance (guest files are named by absolute guest path). */
  name: (rel: string) => string = (rel) => rel,
  concurrency = 8,
  /**
   * Which 512-byte blocks of a file may hold what the index wants: null to read it whole, a list
   * of block numbers to read only those (none: the file is not read at all).
   */
  blocksOf?: (e: TreeEntry) => number[] | null,
): Promise<number> {
  const files = [...tree.values()].filter((e) => e.kind === 'file' && e.size > 0 && !e.unreadable);
  let read = 0;
  await mapPool(files, { concurrency }, async (e) => {
    const blocks = blocksOf?.(e) ?? null;
    if (blocks && blocks.length === 0) return;
    read++;
    const file = { source, root, path: name(e.path), size: e.size, entry: e };
    try {
      if (blocks) await feedBlocks(index, e, file, blocks);
      else await feed(index, e, file);
    } catch {
      // A candidate that cannot be read explains nothing; it is not an error of the run.
    }
  });
  return read;
}

/** Index only the given blocks of a file (runs of adjacent blocks read in one go, one open). */
async function feedBlocks(index: ProvenanceIndex, e: TreeEntry, file: Parameters<ProvenanceIndex['adder']>[0], blocks: number[]): Promise<void> {
  const adder = index.adder(file);
  const whole = e.size <= WHOLE || !e.openReader ? await e.read() : null;
  const r = whole ? null : await e.openReader!();
  try {
    for (let i = 0; i < blocks.length; ) {
      let j = i + 1;
      while (j < blocks.length && blocks[j] === blocks[j - 1]! + 1 && j - i < 256) j++;
      const pos = blocks[i]! * 512;
      const len = Math.min((j - i) * 512, e.size - pos);
      let bytes: Buffer;
      if (whole) bytes = whole.subarray(pos, pos + len);
      else {
        bytes = Buffer.allocUnsafe(len);
        let got = 0;
        while (got < len) {
          const n = await r!.read(bytes.subarray(got), pos + got);
          if (n <= 0) break;
          got += n;
        }
        bytes = bytes.subarray(0, got);
      }
      adder.chunk(bytes, pos);
      i = j;
    }
    adder.done();
  } finally {
    await r?.close();
  }
}
