// obuilder's state/db.sqlite: the `builds` table as obuilder's Db_store creates it, in WAL mode,
// written and closed cleanly. Shared by the test stores, the generated benchmark stores and the
// fuzzer's seeds, so that all of them hold the schema the tool reads.

import Database from 'better-sqlite3';

export const BUILDS_SCHEMA = `CREATE TABLE IF NOT EXISTS builds (
      id TEXT PRIMARY KEY, created DATETIME NOT NULL, used DATETIME NOT NULL,
      rc INTEGER NOT NULL, parent TEXT,
      FOREIGN KEY (parent) REFERENCES builds (id) ON DELETE RESTRICT)`;

export interface BuildRow {
  id: string;
  /** obuilder's 'YYYY-MM-DD HH:MM:SS' (UTC). */
  created: string;
  used?: string;
  rc?: number;
  parent: string | null;
}

/** Write (or add to) the builds table of `file`, in one transaction. */
export function writeBuildsDb(file: string, rows: Iterable<BuildRow>): void {
  const db = new Database(file);
  try {
    db.pragma('journal_mode = WAL');
    db.exec(BUILDS_SCHEMA);
    const ins = db.prepare('INSERT OR REPLACE INTO builds (id, created, used, rc, parent) VALUES (?, ?, ?, ?, ?)');
    db.transaction(() => {
      for (const r of rows) ins.run(r.id, r.created, r.used ?? r.created, r.rc ?? 0, r.parent);
    })();
  } finally {
    db.close();
  }
}
