// Directory chunks: DIRBLKSIZ (512) bytes of `struct direct` records whose d_reclen chain covers
// the chunk exactly (the last record absorbs the rest). Entries are added and removed the way
// ufs_direnter / ufs_dirremove do: a record with enough slack is split (or the chunk compacted),
// a removed record is absorbed by its predecessor, or, first in its chunk, gets d_ino = 0. Names
// and old bytes stay where they were: nothing is zeroed.

import { DIRBLKSIZ, DIRECT, DIRECT_NAME_OFF, MAXNAMLEN, direntSize, rd, wr } from './layout.js';

export interface ChunkEntry {
  /** Offset of the record in the chunk. */
  off: number;
  ino: number;
  reclen: number;
  type: number;
  name: Buffer;
}

/** The records of one chunk, in order (empty ones, d_ino = 0, included). Throws on a broken chain. */
export function chunkRecords(chunk: Buffer, where = 'directory chunk'): ChunkEntry[] {
  if (chunk.length !== DIRBLKSIZ) throw new Error(`${where}: ${chunk.length} bytes, not ${DIRBLKSIZ}`);
  const out: ChunkEntry[] = [];
  let o = 0;
  while (o < DIRBLKSIZ) {
    const ino = rd(chunk, o, DIRECT.ino);
    const reclen = rd(chunk, o, DIRECT.reclen);
    const namlen = rd(chunk, o, DIRECT.namlen);
    if (reclen < 8 || reclen % 4 !== 0 || o + reclen > DIRBLKSIZ || (ino !== 0 && direntSize(namlen) > reclen)) {
      throw new Error(`${where}: bad record at ${o} (reclen ${reclen}, namlen ${namlen})`);
    }
    out.push({
      off: o,
      ino,
      reclen,
      type: rd(chunk, o, DIRECT.type),
      name: chunk.subarray(o + DIRECT_NAME_OFF, o + DIRECT_NAME_OFF + namlen),
    });
    o += reclen;
  }
  return out;
}

function putRecord(chunk: Buffer, off: number, ino: number, reclen: number, type: number, name: Buffer): void {
  wr(chunk, off, DIRECT.ino, ino);
  wr(chunk, off, DIRECT.reclen, reclen);
  wr(chunk, off, DIRECT.type, type);
  wr(chunk, off, DIRECT.namlen, name.length);
  name.copy(chunk, off + DIRECT_NAME_OFF);
  // The NUL terminator and padding up to DIRECTSIZ (what the kernel copies).
  chunk.fill(0, off + DIRECT_NAME_OFF + name.length, off + direntSize(name.length));
}

export function checkName(name: Buffer): void {
  if (name.length === 0 || name.length > MAXNAMLEN) throw new Error(`name of ${name.length} bytes (1 to ${MAXNAMLEN})`);
  if (name.includes(0x2f) || name.includes(0)) throw new Error(`name ${JSON.stringify(name.toString())} holds '/' or NUL`);
}

/** A new chunk holding one record that spans it (a directory's appended chunk). */
export function newChunk(ino: number, type: number, name: Buffer): Buffer {
  const chunk = Buffer.alloc(DIRBLKSIZ);
  putRecord(chunk, 0, ino, DIRBLKSIZ, type, name);
  return chunk;
}

/** The first chunk of a new directory: "." and "..". */
export function dotChunk(ino: number, parent: number, dtDir: number): Buffer {
  const chunk = Buffer.alloc(DIRBLKSIZ);
  const dot = Buffer.from('.');
  const dotdot = Buffer.from('..');
  putRecord(chunk, 0, ino, direntSize(1), dtDir, dot);
  putRecord(chunk, direntSize(1), parent, DIRBLKSIZ - direntSize(1), dtDir, dotdot);
  return chunk;
}

export function findInChunk(chunk: Buffer, name: Buffer): ChunkEntry | null {
  for (const r of chunkRecords(chunk)) if (r.ino !== 0 && r.name.equals(name)) return r;
  return null;
}

/** Space this chunk could give a new record, after compaction. */
export function chunkFree(chunk: Buffer): number {
  let free = 0;
  for (const r of chunkRecords(chunk)) free += r.reclen - (r.ino ? direntSize(r.name.length) : 0);
  return free;
}

/**
 * Add a record to the chunk in place if it fits (splitting the first record with enough slack,
 * or compacting the chunk when the slack is spread out). Returns false when it does not fit.
 */
export function insertIntoChunk(chunk: Buffer, ino: number, type: number, name: Buffer): boolean {
  const need = direntSize(name.length);
  const recs = chunkRecords(chunk);
  let total = 0;
  for (const r of recs) {
    const used = r.ino ? direntSize(r.name.length) : 0;
    const slack = r.reclen - used;
    if (slack >= need) {
      if (r.ino === 0) {
        putRecord(chunk, r.off, ino, r.reclen, type, name);
      } else {
        wr(chunk, r.off, DIRECT.reclen, used);
        putRecord(chunk, r.off + used, ino, slack, type, name);
      }
      return true;
    }
    total += slack;
  }
  if (total < need) return false;
  // Compact: slide the live records to the front, in order; old bytes past them stay.
  const src = Buffer.from(chunk);
  let pos = 0;
  let last = -1;
  for (const r of recs) {
    if (!r.ino) continue;
    const size = direntSize(r.name.length);
    src.copy(chunk, pos, r.off, r.off + size);
    wr(chunk, pos, DIRECT.reclen, size);
    last = pos;
    pos += size;
  }
  if (last < 0) {
    putRecord(chunk, 0, ino, DIRBLKSIZ, type, name);
    return true;
  }
  putRecord(chunk, pos, ino, DIRBLKSIZ - pos, type, name);
  return true;
}

/** Remove the named record; returns it, or null if absent. */
export function removeFromChunk(chunk: Buffer, name: Buffer): ChunkEntry | null {
  const recs = chunkRecords(chunk);
  for (let i = 0; i < recs.length; i++) {
    const r = recs[i]!;
    if (r.ino === 0 || !r.name.equals(name)) continue;
    const found = { ...r, name: Buffer.from(r.name) };
    if (i === 0) wr(chunk, r.off, DIRECT.ino, 0);
    else {
      const prev = recs[i - 1]!;
      wr(chunk, prev.off, DIRECT.reclen, prev.reclen + r.reclen);
    }
    return found;
  }
  return null;
}

/** Point an existing record at another inode (rename over an existing name, or "..") . */
export function retargetInChunk(chunk: Buffer, name: Buffer, ino: number, type: number): boolean {
  const r = findInChunk(chunk, name);
  if (!r) return false;
  wr(chunk, r.off, DIRECT.ino, ino);
  wr(chunk, r.off, DIRECT.type, type);
  return true;
}
