// "The layer is unchanged" (design.md section 7): size and mtime of every image of the chain
// before and after, and a sha256 on request. Files are only stat'ed and read.

import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { UserError } from '../util/errors.js';
import { describeFsError } from '../util/fs-errors.js';

export interface FileFingerprint {
  path: string;
  size: number;
  /** Nanoseconds since the epoch, as a decimal string (exact, JSON-safe). */
  mtimeNs: string;
  /** Only when asked for (`{ hash: true }`). */
  sha256?: string;
}

async function sha256(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path, { flags: 'r' })) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** Fingerprint each file (a layer's `chain`). Throws `UserError` for a file that is gone. */
export async function fingerprintFiles(paths: readonly string[], opts: { hash?: boolean } = {}): Promise<FileFingerprint[]> {
  const out: FileFingerprint[] = [];
  for (const p of paths) {
    let st;
    try {
      st = await stat(p, { bigint: true });
    } catch (err) {
      throw new UserError(`${p}: ${describeFsError(err)} (it was there when the chain was resolved)`);
    }
    const fp: FileFingerprint = { path: p, size: Number(st.size), mtimeNs: st.mtimeNs.toString() };
    if (opts.hash) fp.sha256 = await sha256(p);
    out.push(fp);
  }
  return out;
}

/** What differs between two fingerprints of the same files, one line each; empty when unchanged. */
export function fingerprintChanges(before: readonly FileFingerprint[], after: readonly FileFingerprint[]): string[] {
  const changes: string[] = [];
  const byPath = new Map(after.map((f) => [f.path, f]));
  for (const b of before) {
    const a = byPath.get(b.path);
    if (!a) {
      changes.push(`${b.path}: gone`);
      continue;
    }
    if (a.size !== b.size) changes.push(`${b.path}: size ${b.size} -> ${a.size}`);
    if (a.mtimeNs !== b.mtimeNs) changes.push(`${b.path}: mtime changed`);
    if (a.sha256 !== undefined && b.sha256 !== undefined && a.sha256 !== b.sha256) changes.push(`${b.path}: sha256 changed`);
  }
  return changes;
}
