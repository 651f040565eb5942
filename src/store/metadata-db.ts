// Reading obuilder's `state/db.sqlite` without touching it.
//
// obuilder keeps the db in WAL mode (`PRAGMA journal_mode=WAL`). Opening a WAL database even with
// `{ readonly: true }` makes SQLite create `db.sqlite-wal` and `db.sqlite-shm` beside it and leave
// them there (checked with better-sqlite3 12), and a live or crashed db may hold committed rows
// only in its -wal. So the db (and its -wal and -journal when present) is copied into a private
// temporary directory, the copy is opened with `{ readonly: true, fileMustExist: true }`, read,
// closed, and the directory removed. The store's own files are only ever read.

import Database from 'better-sqlite3';
import { copyFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** One row of `builds(id TEXT PRIMARY KEY, created DATETIME, used DATETIME, rc INTEGER, parent TEXT)`. */
export interface BuildRow {
  id: string;
  /** ISO 8601 (UTC), or null when the column could not be read as a time. */
  created: string | null;
  used: string | null;
  /** obuilder's `rc` column: the number of builds that use this one as their parent (a reference count). */
  rc: number | null;
  parent: string | null;
}

export interface DbRead {
  rows: Map<string, BuildRow>;
  warnings: string[];
}

/**
 * obuilder writes `YYYY-MM-DD HH:MM:SS` in UTC (`Unix.gmtime`); turn that (or any other
 * parseable time, or seconds since the epoch) into ISO 8601. Null when it is not a time.
 */
export function sqliteTimeToIso(v: unknown): string | null {
  if (typeof v === 'number' && Number.isFinite(v)) {
    const d = new Date(v * 1000);
    return Number.isNaN(d.getTime()) ? null : d.toISOString();
  }
  if (typeof v !== 'string') return null;
  const s = v.trim();
  const m = /^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)$/.exec(s);
  const d = m ? new Date(`${m[1]}T${m[2]}Z`) : /^\d{4}-\d{2}-\d{2}T/.test(s) ? new Date(s) : null;
  return d && !Number.isNaN(d.getTime()) ? d.toISOString() : null;
}

function asText(v: unknown): string | null {
  return typeof v === 'string' && v !== '' ? v : null;
}

function asInt(v: unknown): number | null {
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'bigint') return Number(v);
  return null;
}

function query(file: string, readonly: boolean): Record<string, unknown>[] {
  const db = new Database(file, { readonly, fileMustExist: true });
  try {
    return db.prepare('SELECT id, created, used, rc, parent FROM builds').all() as Record<string, unknown>[];
  } finally {
    db.close();
  }
}

/**
 * Read the `builds` table of `dbPath` from a private copy. Never throws for a bad db: problems
 * come back as `warnings` (and no rows), so that a layer listing can fall back to the images.
 */
export function readBuildsDb(dbPath: string): DbRead {
  const warnings: string[] = [];
  const rows = new Map<string, BuildRow>();
  let dir: string | null = null;
  try {
    dir = mkdtempSync(path.join(os.tmpdir(), 'layer-forensics-db-'));
    const copy = path.join(dir, 'db.sqlite');
    copyFileSync(dbPath, copy);
    for (const suffix of ['-wal', '-journal']) {
      if (existsSync(dbPath + suffix)) copyFileSync(dbPath + suffix, copy + suffix);
    }
    let raw: Record<string, unknown>[];
    try {
      raw = query(copy, true);
    } catch (err) {
      // A hot rollback journal needs a writable connection to be rolled back: the copy is ours.
      const code = (err as { code?: unknown }).code;
      if (typeof code === 'string' && code.startsWith('SQLITE_READONLY')) raw = query(copy, false);
      else throw err;
    }
    for (const r of raw) {
      const id = asText(r.id);
      if (!id) continue;
      const created = sqliteTimeToIso(r.created);
      if (r.created != null && created === null) {
        warnings.push(`${dbPath}: build ${id} has an unreadable created time ${JSON.stringify(r.created)}`);
      }
      rows.set(id, {
        id,
        created,
        used: sqliteTimeToIso(r.used),
        rc: asInt(r.rc),
        parent: asText(r.parent),
      });
    }
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    warnings.push(`${dbPath}: cannot read the builds table (${msg.replace(/\s*\n\s*/g, ' ')}); using the images alone`);
    rows.clear();
  } finally {
    if (dir) rmSync(dir, { recursive: true, force: true });
  }
  return { rows, warnings };
}
