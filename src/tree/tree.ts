// A file tree, wherever it came from: a host directory (`classify`), a guest's tar stream (boot),
// or a filesystem read in-process from the layer's disk (direct). Classification, verdicts and
// reports only ever see this, so the producers are interchangeable (design.md section 8).
//
// Paths are relative and `/`-separated DATA: they never decide a host path.

/** What an entry is. Hard links are regular files (each name reads the same bytes). */
export type EntryKind = 'file' | 'symlink' | 'directory' | 'special';

/** Where a file's bytes are on the layer's disk (direct reading only). */
export interface FileStorage {
  inode: number;
  /** Extents in file order: file offset, length, disk byte offset (null: a hole), chain element. */
  blocks: StorageBlock[];
}

export interface StorageBlock {
  /** Offset in the file. */
  offset: number;
  length: number;
  /** Byte offset on the whole disk (not the partition); null for a hole (reads as zeros). */
  disk: number | null;
  /** The chain element whose image holds these bytes: a layer id, `base:<name>`, or null (none: zeros). */
  layer: string | null;
}

export interface TreeEntry {
  path: string;
  kind: EntryKind;
  /** Bytes of a regular file; 0 for everything else. */
  size: number;
  /** Symlink target, compared as data and never followed. */
  linkTarget?: string;
  /** For special files: 'fifo', 'socket', 'char-device', 'block-device', ... */
  special?: string;
  /** For a hard link: the path of the name it was first seen under (the bytes are the same). */
  hardLinkOf?: string;
  /** Why the producer could not read this entry's content (permission denied, vanished): never guessed. */
  unreadable?: string;
  /** Where the bytes are on disk, when the producer knows (direct reading). */
  storage?: FileStorage;
  /**
   * A host file holding exactly these bytes (a host directory's file, a guest file spilled to the
   * run's temp dir), when there is one: code on another thread may open it by this name instead
   * of calling read(). Whoever opens it checks it is still a regular file of `size` bytes.
   */
  hostFile?: string;
  /**
   * For a file listed without its size (a host directory's walk does not stat each file: the
   * scan's own open tells it): the size when known already, else undefined, without asking.
   * Reading `size` asks the filesystem when it is not known.
   */
  peekSize?(): number | undefined;
  /** The size an open descriptor on `hostFile` showed, for an entry that did not know it yet. */
  sawSize?(n: number): void;
  /** The file's bytes (regular files only). */
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

const EMPTY = Buffer.alloc(0);

/**
 * The same entry under another path. Entries may be class instances whose reading lives on their
 * prototype, which a spread (`{ ...e }`) would drop.
 */
export function atPath(e: TreeEntry, path: string): TreeEntry {
  return Object.assign(Object.create(Object.getPrototypeOf(e) as object) as TreeEntry, e, { path });
}

/** An entry without content (directory, symlink, special file). */
export function contentless(path: string, kind: Exclude<EntryKind, 'file'>, extra: Partial<TreeEntry> = {}): TreeEntry {
  return { path, kind, size: 0, read: async () => EMPTY, ...extra };
}

/** Regular files and their bytes: the totals an extraction reports. */
export function treeTotals(tree: Tree): { files: number; bytes: number } {
  let files = 0;
  let bytes = 0;
  for (const e of tree.values()) {
    if (e.kind === 'file') {
      files++;
      bytes += e.size;
    }
  }
  return { files, bytes };
}
