// A tar stream (from a guest) parsed into a Tree. Names in the archive are DATA: they are
// normalised as strings and never joined to a host path.
//
//   - `./a//b/` -> `a/b`; the archive root (`.`) is skipped;
//   - names that are absolute or contain a `..` segment (or a NUL) are not put in the tree: they
//     are listed in `unsafe` with the raw name (a tar made with `tar -C dst -cf - .` never has them,
//     so they are evidence of something odd, not files to compare);
//   - directories are kind 'directory'; symlinks kind 'symlink' with linkTarget (never followed);
//   - a hard link (tar streams the second name of a file as a `link` entry) is the same kind as
//     the name it links to, with the same bytes and `hardLinkOf` set: an intact pair is two
//     intact files. A link whose target is an unsafe name or is not in the archive is listed in
//     `unsafe` (a link out of the tree) and left out;
//   - devices and fifos are kind 'special' ('char-device', 'block-device', 'fifo');
//   - regular files up to `spillFromBytes` are held in memory; larger ones (and every file once
//     `maxMemoryBytes` are held) are streamed to a file in the run's own temp dir (`spill`, made
//     by makeRunDir: owner-marked, removed by its CleanupScope, swept after a SIGKILL) and read
//     back from there with positioned reads. Nothing from the archive names those files: they
//     are numbered. All regular file bytes together are bounded by `maxTotalBytes` (the
//     budget): over it -> UserError naming the file and the budget, or (oversize: 'skip') the
//     file is listed in `skipped` and left out of the tree;
//   - a name seen twice: the later entry wins (as tar extraction would), counted in `duplicates`.

import { open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import tar from 'tar-stream';
import type { ChunkReader, Tree, TreeEntry } from '../tree/tree.js';
import { processScope, type CleanupScope } from '../util/cleanup.js';
import { UserError } from '../util/errors.js';
import { errnoCode } from '../util/fs-errors.js';
import { emit, type OnEvent } from '../util/events.js';
import { readFully } from '../util/read-fully.js';
import { makeRunDir } from '../util/temp-dir.js';

export interface TarLimits {
  /** Largest regular file accepted, bytes (default: no limit of its own, only the budget). */
  maxFileBytes?: number;
  /** The budget: all regular file bytes extracted, in memory and spilled (default 8 GiB). */
  maxTotalBytes?: number;
  /** Files larger than this go to the run's temp dir instead of memory (default 1 MiB). */
  spillFromBytes?: number;
  /** Most file bytes held in memory; once reached, every further file goes to the temp dir (default 128 MiB). */
  maxMemoryBytes?: number;
  /** Most entries of any kind (default 200 000). */
  maxEntries?: number;
  /** What to do with a file over maxFileBytes or the budget: 'error' (default) or 'skip' (for corpora). */
  oversize?: 'error' | 'skip';
}

export const DEFAULT_TAR_LIMITS: Required<TarLimits> = {
  maxFileBytes: Number.MAX_SAFE_INTEGER,
  maxTotalBytes: 8 * 1024 ** 3,
  spillFromBytes: 1024 * 1024,
  maxMemoryBytes: 128 * 1024 * 1024,
  maxEntries: 200_000,
  oversize: 'error',
};

export interface UnsafeEntry {
  /** The name exactly as in the archive. */
  rawName: string;
  type: string;
  reason: string;
}

export interface TarTreeResult {
  tree: Tree;
  /** Regular files in the tree (hard links included), and their bytes. */
  files: number;
  bytes: number;
  /** Entries of any kind read from the archive (including the ones left out). */
  entries: number;
  /** Entries left out: unsafe names, and hard links to unsafe names or to names not in the archive. */
  unsafe: UnsafeEntry[];
  /** Files left out because of a limit (oversize: 'skip'). */
  skipped: { path: string; size: number; reason: string }[];
  duplicates: number;
  /** Bytes of files kept in the temp dir, and how many files. */
  spilledBytes: number;
  spilledFiles: number;
}

/** A limit or the budget was reached, or a large file could not be kept: the tool's own stop, not the guest's. */
export class ExtractLimitError extends UserError {
  override name = 'ExtractLimitError';
}

/** The archive itself is malformed (or was cut short: the producer may have died). */
export class TarFormatError extends UserError {
  override name = 'TarFormatError';
}

/** Where large files go: a directory of the tool's own, made on first use. */
export interface SpillTarget {
  dir(): string;
}

/** A spill target in a new run dir (makeRunDir) of `scope`, made only when a file needs it. */
export function spillToRunDir(scope: CleanupScope = processScope): SpillTarget {
  let dir: string | null = null;
  return {
    dir: () => (dir ??= makeRunDir(scope).dir),
  };
}

export interface TarTreeOptions {
  limits?: TarLimits;
  onEvent?: OnEvent;
  /** Names the stream in errors (e.g. "guest tar of /home/opam/src"). */
  what?: string;
  /** Where large files go (default: a run dir on the process's cleanup scope, made when needed). */
  spill?: SpillTarget;
}

/** Normalise a tar member name; null for the archive root; throws a reason string when unsafe. */
export function normaliseTarName(raw: string): string | null {
  if (raw.includes('\0')) throw 'contains a NUL byte';
  if (raw.startsWith('/')) throw 'is an absolute path';
  if (/^[A-Za-z]:[\\/]/.test(raw) || raw.startsWith('\\\\')) throw 'is an absolute Windows path';
  const parts = raw.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.some((p) => p === '..')) throw 'has a ".." segment';
  if (parts.length === 0) return null;
  return parts.join('/');
}

/**
 * A name from the archive, quoted, as messages and notes carry it: raw (bytes from the guest),
 * escaped where it is printed (report/escape.ts: escape once, where printed).
 */
export function describeName(raw: string): string {
  return `"${raw}"`;
}

const SPECIAL: Record<string, string> = {
  'character-device': 'char-device',
  'block-device': 'block-device',
  fifo: 'fifo',
};

const EMPTY = Buffer.alloc(0);
const empty = async (): Promise<Buffer> => EMPTY;

/** Why writing a spilled file failed, in words. */
function writeFailure(err: unknown): string {
  switch (errnoCode(err)) {
    case 'ENOSPC':
      return 'no space left on device';
    case 'EDQUOT':
      return 'disk quota exceeded';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EROFS':
      return 'read-only file system';
    default:
      return (err instanceof Error ? err.message : String(err)).replace(/\s*\n\s*/g, ' ');
  }
}

function humanSize(n: number): string {
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${n} bytes` : `${v.toFixed(v >= 10 ? 0 : 1)} ${units[u]} (${n} bytes)`;
}

/** A file held in memory: reads are slices, readers copy from it. */
function memoryEntry(path: string, data: Buffer): TreeEntry {
  return {
    path,
    kind: 'file',
    size: data.length,
    read: async () => data,
    readHead: async (n: number) => data.subarray(0, Math.min(n, data.length)),
    openReader: async (): Promise<ChunkReader> => ({
      read: async (buf, position) => (position >= data.length ? 0 : data.copy(buf, 0, position, Math.min(data.length, position + buf.length))),
      close: async () => {},
    }),
  };
}

/** A file kept in the run's temp dir: read back with positioned reads, never held whole unless asked. */
function spilledEntry(path: string, file: string, size: number, what: string): TreeEntry {
  const openIt = async (): Promise<FileHandle> => {
    try {
      return await open(file, 'r');
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') {
        throw new UserError(`${what}: file ${describeName(path)} was kept in ${file}, which is gone (its run has ended)`);
      }
      throw new UserError(`${what}: file ${describeName(path)}, kept in ${file}: ${writeFailure(err)}`);
    }
  };
  const readUpTo = async (n: number): Promise<Buffer> => {
    const fh = await openIt();
    try {
      const buf = Buffer.allocUnsafe(n);
      return buf.subarray(0, await readFully(fh, buf, 0));
    } finally {
      await fh.close();
    }
  };
  return {
    path,
    kind: 'file',
    size,
    hostFile: file,
    read: () => readUpTo(size),
    readHead: (n: number) => readUpTo(Math.min(n, size)),
    openReader: async (): Promise<ChunkReader> => {
      const fh = await openIt();
      return { read: (buf, position) => readFully(fh, buf, position), close: () => fh.close() };
    },
  };
}

/** A tar entry's data, as an async iterable of chunks. */
type EntryStream = AsyncIterable<Buffer> & { resume(): void };

/** The state of one parse: the result being built, the limits, the byte accounting. */
class TreeBuilder {
  readonly res: TarTreeResult = {
    tree: new Map(),
    files: 0,
    bytes: 0,
    entries: 0,
    unsafe: [],
    skipped: [],
    duplicates: 0,
    spilledBytes: 0,
    spilledFiles: 0,
  };
  /** Bytes of file data kept (memory and temp dir): what the budget bounds. */
  private stored = 0;
  private inMemory = 0;
  private lastProgress = 0;

  constructor(
    readonly limits: Required<TarLimits>,
    readonly what: string,
    private readonly onEvent: OnEvent | undefined,
    private readonly spill: SpillTarget,
  ) {}

  put(e: TreeEntry): void {
    const prev = this.res.tree.get(e.path);
    if (prev) {
      this.res.duplicates++;
      if (prev.kind === 'file') {
        this.res.files--;
        this.res.bytes -= prev.size;
      }
    }
    this.res.tree.set(e.path, e);
    if (e.kind === 'file') {
      this.res.files++;
      this.res.bytes += e.size;
    }
  }

  leaveOut(rawName: string, type: string, reason: string): void {
    this.res.unsafe.push({ rawName, type, reason });
    emit(this.onEvent, { type: 'note', message: `${this.what}: entry ${describeName(rawName)} ${reason}: left out` });
  }

  /** Why a file of `size` bytes cannot be kept, or null when it can. */
  overLimit(size: number): string | null {
    const { maxFileBytes, maxTotalBytes } = this.limits;
    if (size > maxFileBytes) return `is ${humanSize(size)}, over the per-file limit of ${humanSize(maxFileBytes)}`;
    if (this.stored + size > maxTotalBytes) {
      return `(${humanSize(size)}) would bring the files extracted to ${humanSize(this.stored + size)}, over the extraction budget of ${humanSize(maxTotalBytes)}`;
    }
    return null;
  }

  /** Read a regular file's data, into memory or the temp dir, and put it in the tree. */
  async file(stream: EntryStream, path: string, size: number): Promise<void> {
    const over = this.overLimit(size);
    if (over) {
      stream.resume();
      if (this.limits.oversize === 'skip') {
        this.res.skipped.push({ path, size, reason: over });
        return;
      }
      throw new ExtractLimitError(`${this.what}: file ${describeName(path)} ${over}`);
    }
    this.stored += size;
    const toMemory = size < this.limits.spillFromBytes && this.inMemory + size <= this.limits.maxMemoryBytes;
    if (toMemory) {
      this.inMemory += size;
      this.put(memoryEntry(path, await this.collect(stream, path, size)));
    } else {
      this.put(await this.spillFile(stream, path, size));
    }
    this.progress();
  }

  private tooMuch(path: string): UserError {
    return new TarFormatError(`${this.what}: file ${describeName(path)} has more data than its header says`);
  }

  private async collect(stream: EntryStream, path: string, size: number): Promise<Buffer> {
    const data = Buffer.allocUnsafe(size);
    let got = 0;
    for await (const c of stream) {
      if (got + c.length > size) throw this.tooMuch(path);
      c.copy(data, got);
      got += c.length;
    }
    return data.subarray(0, got);
  }

  /** Stream a file's data to a numbered file in the temp dir; the archive never names it. */
  private async spillFile(stream: EntryStream, path: string, size: number): Promise<TreeEntry> {
    let dir = 'the temp dir';
    const failed = (err: unknown): UserError =>
      new ExtractLimitError(`${this.what}: cannot keep file ${describeName(path)} (${humanSize(size)}) in ${dir}: ${writeFailure(err)}`);
    let fh: FileHandle;
    let file: string;
    try {
      dir = this.spill.dir();
      file = join(dir, `file-${this.res.spilledFiles++}`);
      fh = await open(file, 'wx', 0o600);
    } catch (err) {
      throw failed(err);
    }
    let got = 0;
    try {
      for await (const c of stream) {
        if (got + c.length > size) throw this.tooMuch(path);
        try {
          await fh.write(c, 0, c.length, got);
        } catch (err) {
          throw failed(err);
        }
        got += c.length;
      }
    } finally {
      await fh.close();
    }
    this.res.spilledBytes += got;
    return spilledEntry(path, file, got, this.what);
  }

  /** A hard link: the entry it names, under a second name. */
  link(rawName: string, path: string, linkname: string): void {
    let target: string | null;
    try {
      target = normaliseTarName(linkname);
    } catch (reason) {
      this.leaveOut(rawName, 'link', `is a hard link to ${describeName(linkname)}, which ${String(reason)}`);
      return;
    }
    const to = target === null ? undefined : this.res.tree.get(target);
    if (!to || target === path) {
      this.leaveOut(rawName, 'link', `is a hard link to ${describeName(linkname)}, which is not in the archive`);
      return;
    }
    this.put({ ...to, path, hardLinkOf: to.hardLinkOf ?? to.path });
  }

  /** Everything that is not a regular file or a hard link: no data to read. */
  other(path: string, type: string, linkname: string | null | undefined): void {
    if (type === 'directory') this.put({ path, kind: 'directory', size: 0, read: empty });
    else if (type === 'symlink') this.put({ path, kind: 'symlink', size: 0, linkTarget: linkname ?? '', read: empty });
    else this.put({ path, kind: 'special', size: 0, special: SPECIAL[type] ?? type, read: empty });
  }

  progress(final = false): void {
    if (final || this.res.bytes - this.lastProgress >= 256 * 1024 || this.res.files % 100 === 0) {
      this.lastProgress = this.res.bytes;
      emit(this.onEvent, { type: 'extract-progress', files: this.res.files, bytes: this.res.bytes });
    }
  }
}

/** One archive member: checked, named, and handed to the builder by type. */
async function takeEntry(b: TreeBuilder, header: tar.Header, stream: EntryStream): Promise<void> {
  b.res.entries++;
  if (b.res.entries > b.limits.maxEntries) {
    stream.resume();
    throw new ExtractLimitError(`${b.what}: more than ${b.limits.maxEntries} entries (limit)`);
  }
  const type = header.type ?? 'file';
  // tar-stream lets a size field it cannot read through as null (`null >= 0`), then waits for
  // data forever: an unreadable size is a malformed archive, said at once.
  if (!(typeof header.size === 'number' && Number.isSafeInteger(header.size) && header.size >= 0)) {
    stream.resume();
    throw new TarFormatError(`${b.what}: entry ${describeName(header.name)} has an unreadable size field`);
  }
  let path: string | null;
  try {
    path = normaliseTarName(header.name);
  } catch (reason) {
    stream.resume();
    b.leaveOut(header.name, type, String(reason));
    return;
  }
  if (path === null) {
    stream.resume();
    return;
  }
  if (type === 'file' || type === 'contiguous-file') {
    await b.file(stream, path, header.size);
    return;
  }
  stream.resume();
  if (type === 'link') b.link(header.name, path, header.linkname ?? '');
  else b.other(path, type, header.linkname);
}

/**
 * Parse `input` (a tar stream) into a Tree. Rejects with UserError on a limit, a malformed
 * archive, or a large file that cannot be kept in the temp dir (naming the real cause).
 */
export async function tarToTree(input: Readable, opts: TarTreeOptions = {}): Promise<TarTreeResult> {
  const b = new TreeBuilder({ ...DEFAULT_TAR_LIMITS, ...opts.limits }, opts.what ?? 'tar stream', opts.onEvent, opts.spill ?? spillToRunDir());
  const extract = tar.extract();
  const consume = async (): Promise<void> => {
    for await (const entry of extract) await takeEntry(b, entry.header, entry as unknown as EntryStream);
  };
  const done = consume();
  input.on('error', (err) => extract.destroy(err));
  input.pipe(extract);
  try {
    await done;
  } catch (err) {
    // Stop reading: the producer (ssh) is killed by the caller; a tar-stream pack has no unpipe.
    input.destroy();
    extract.destroy();
    if (err instanceof UserError) throw err;
    throw new TarFormatError(`${b.what}: not a valid tar stream (${(err as Error).message})`);
  }
  b.progress(true);
  return b.res;
}
