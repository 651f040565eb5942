// A tar stream (from a guest) parsed into a Tree, in memory. Names in the archive are DATA: they
// are normalised as strings and never joined to a host path. Nothing is written to disk.
//
//   - `./a//b/` -> `a/b`; the archive root (`.`) is skipped;
//   - names that are absolute or contain a `..` segment (or a NUL) are not put in the tree: they
//     are listed in `unsafe` with the raw name (a tar made with `tar -C dst -cf - .` never has them,
//     so they are evidence of something odd, not files to compare);
//   - directories are kind 'directory'; symlinks kind 'symlink' with linkTarget (never followed);
//   - hard links, devices, fifos are kind 'special' with `special` = 'hard-link', 'char-device',
//     'block-device', 'fifo' (a hard link's linkTarget is its normalised target, as data);
//   - regular files are buffered, bounded per file and in total (limits): over a limit ->
//     UserError naming the file and the limit, or (oversize: 'skip') the file is listed in
//     `skipped` and left out of the tree;
//   - a name seen twice: the later entry wins (as tar extraction would), counted in `duplicates`.

import type { Readable } from 'node:stream';
import tar from 'tar-stream';
import type { Tree, TreeEntry } from '../classify/tree.js';
import { UserError } from '../util/errors.js';
import { emit, type OnEvent } from '../vm/events.js';

export interface TarLimits {
  /** Largest regular file accepted, bytes (default 64 MiB). */
  maxFileBytes?: number;
  /** Largest total of regular file bytes (default 512 MiB). */
  maxTotalBytes?: number;
  /** Most entries of any kind (default 200 000). */
  maxEntries?: number;
  /** What to do with a file over maxFileBytes: 'error' (default) or 'skip' (for corpora). */
  oversize?: 'error' | 'skip';
}

export const DEFAULT_TAR_LIMITS: Required<TarLimits> = {
  maxFileBytes: 64 * 1024 * 1024,
  maxTotalBytes: 512 * 1024 * 1024,
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
  /** Regular files in the tree, and their bytes. */
  files: number;
  bytes: number;
  /** Entries of any kind read from the archive (including the ones left out). */
  entries: number;
  unsafe: UnsafeEntry[];
  skipped: { path: string; size: number; reason: string }[];
  duplicates: number;
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

function describeName(raw: string): string {
  return JSON.stringify(raw).replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

const SPECIAL: Record<string, string> = {
  link: 'hard-link',
  'character-device': 'char-device',
  'block-device': 'block-device',
  fifo: 'fifo',
};

const empty = async (): Promise<Buffer> => Buffer.alloc(0);

/**
 * Parse `input` (a tar stream) into a Tree. `what` names the stream in errors (e.g. "guest tar of
 * /home/opam/src"). Rejects with UserError on limits or a malformed archive.
 */
export async function tarToTree(
  input: Readable,
  opts: { limits?: TarLimits; onEvent?: OnEvent; what?: string } = {},
): Promise<TarTreeResult> {
  const limits = { ...DEFAULT_TAR_LIMITS, ...opts.limits };
  const what = opts.what ?? 'tar stream';
  const res: TarTreeResult = { tree: new Map(), files: 0, bytes: 0, entries: 0, unsafe: [], skipped: [], duplicates: 0 };
  const extract = tar.extract();
  let lastProgress = 0;

  const put = (e: TreeEntry): void => {
    const prev = res.tree.get(e.path);
    if (prev) {
      res.duplicates++;
      if (prev.kind === 'file') {
        res.files--;
        res.bytes -= prev.size;
      }
    }
    res.tree.set(e.path, e);
    if (e.kind === 'file') {
      res.files++;
      res.bytes += e.size;
    }
  };

  const consume = async (): Promise<void> => {
    for await (const entry of extract) {
      const h = entry.header;
      res.entries++;
      if (res.entries > limits.maxEntries) {
        entry.resume();
        throw new UserError(`${what}: more than ${limits.maxEntries} entries (limit)`);
      }
      const type = h.type ?? 'file';
      let path: string | null;
      try {
        path = normaliseTarName(h.name);
      } catch (reason) {
        res.unsafe.push({ rawName: h.name, type, reason: String(reason) });
        emit(opts.onEvent, { type: 'note', message: `${what}: entry ${describeName(h.name)} ${String(reason)}: left out` });
        entry.resume();
        continue;
      }
      if (path === null) {
        entry.resume();
        continue;
      }
      if (type === 'file' || type === 'contiguous-file') {
        const size = h.size ?? 0;
        const over =
          size > limits.maxFileBytes
            ? `is ${size} bytes, over the per-file limit of ${limits.maxFileBytes} bytes`
            : res.bytes + size > limits.maxTotalBytes
              ? `would bring the total to ${res.bytes + size} bytes, over the limit of ${limits.maxTotalBytes} bytes`
              : null;
        if (over) {
          if (limits.oversize === 'skip') {
            res.skipped.push({ path, size, reason: over });
            entry.resume();
            continue;
          }
          entry.resume();
          throw new UserError(`${what}: file ${describeName(path)} ${over}`);
        }
        const chunks: Buffer[] = [];
        let got = 0;
        for await (const c of entry as AsyncIterable<Buffer>) {
          got += c.length;
          if (got > size) throw new UserError(`${what}: file ${describeName(path)} has more data than its header says`);
          chunks.push(c);
        }
        const data = Buffer.concat(chunks, got);
        put({ path, kind: 'file', size: data.length, read: async () => data });
        if (res.bytes - lastProgress >= 256 * 1024 || res.files % 100 === 0) {
          lastProgress = res.bytes;
          emit(opts.onEvent, { type: 'extract-progress', files: res.files, bytes: res.bytes });
        }
        continue;
      }
      entry.resume();
      if (type === 'directory') put({ path, kind: 'directory', size: 0, read: empty });
      else if (type === 'symlink') put({ path, kind: 'symlink', size: 0, linkTarget: h.linkname ?? '', read: empty });
      else if (type in SPECIAL) {
        const e: TreeEntry = { path, kind: 'special', size: 0, special: SPECIAL[type], read: empty };
        if (type === 'link' && h.linkname != null) {
          try {
            e.linkTarget = normaliseTarName(h.linkname) ?? '.';
          } catch {
            e.linkTarget = h.linkname;
          }
        }
        put(e);
      } else {
        put({ path, kind: 'special', size: 0, special: type, read: empty });
      }
    }
  };

  const done = consume();
  input.on('error', (err) => extract.destroy(err));
  input.pipe(extract);
  try {
    await done;
  } catch (err) {
    // Stop reading: the producer (ssh) is killed by the caller; a tar-stream pack has no unpipe.
    input.destroy();
    if (err instanceof UserError) throw err;
    throw new UserError(`${what}: not a valid tar stream (${(err as Error).message})`);
  }
  emit(opts.onEvent, { type: 'extract-progress', files: res.files, bytes: res.bytes });
  return res;
}
