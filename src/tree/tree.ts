import type { EntryKind } from '../report/schema.js';

/**
 * One entry of a file tree, wherever it came from (a host directory, a tar stream pulled from a
 * guest). `path` is relative, `/`-separated data: it never decides a host path.
 */
export interface TreeEntry {
  path: string;
  kind: EntryKind;
  /** Bytes of a regular file; 0 for everything else. */
  size: number;
  /** Symlink target, compared as data and never followed. */
  linkTarget?: string;
  /** For special files: 'fifo', 'socket', 'char-device', 'block-device', 'hard-link', ... */
  special?: string;
  /** The file's bytes (regular files only); lazily read for host trees, in memory for tar streams. */
  read(): Promise<Buffer>;
  /** The first `n` bytes (regular files only), without reading the rest when it can be avoided. */
  readHead?(n: number): Promise<Buffer>;
  /** Positioned reads into the caller's buffer, for streaming large files without holding them. */
  openReader?(): Promise<ChunkReader>;
}

export interface ChunkReader {
  /** Fill `buf` from `position`; returns the bytes read (0 at the end). */
  read(buf: Buffer, position: number): Promise<number>;
  close(): Promise<void>;
}

/** Path -> entry. Directories may be present but are not compared. */
export type Tree = Map<string, TreeEntry>;
