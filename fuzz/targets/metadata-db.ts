// obuilder's state/db.sqlite (src/store/metadata-db.ts, readBuildsDb): read from a private copy,
// never throwing for a bad db (problems come back as warnings). Seeds: dbs written by SQLite the
// way obuilder writes them (WAL mode), checkpointed, and with rows still in the -wal. The first
// byte of an input says which file it is: even, the db itself; odd, the -wal beside a good db.

import Database from 'better-sqlite3';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readBuildsDb } from '../../src/store/metadata-db.js';
import type { Seed } from '../mutate.js';
import { check, type FuzzTarget, type RunContext } from '../target.js';
import { BUILDS_SCHEMA } from '../../samples/lib/obuilder-db.js';

const id = (n: number): string => n.toString(16).padStart(64, '0');

function makeDb(file: string, rows: number, checkpoint: boolean): void {
  for (const f of [file, `${file}-wal`, `${file}-shm`]) rmSync(f, { force: true });
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  if (!checkpoint) db.pragma('wal_autocheckpoint = 0');
  db.exec(BUILDS_SCHEMA);
  const ins = db.prepare('INSERT INTO builds VALUES (?, ?, ?, ?, ?)');
  for (let i = 0; i < rows; i++) ins.run(id(i + 1), '2026-06-29 16:02:38', '2026-06-29 16:03:00', i % 3, i ? id(i) : null);
  if (checkpoint) db.pragma('wal_checkpoint(TRUNCATE)');
  // Keep the -wal: copy it away before close checkpoints it.
  const wal = existsSync(`${file}-wal`) ? readFileSync(`${file}-wal`) : null;
  db.close();
  if (wal && !checkpoint) writeFileSync(`${file}-wal`, wal);
}

let goodDb: Buffer | null = null;

export const metadataDb: FuzzTarget = {
  name: 'metadata-db',
  parser: 'src/store/metadata-db.ts (readBuildsDb over better-sqlite3, db and -wal)',
  inputs: 15_000,
  maxLength: 64 * 1024,
  inPlace: 0.8,
  dictionary: ['SQLite format 3\u0000', '\u0010\u0000', '\u0000\u0000\u0000\u0001', 'builds', 'CREATE TABLE', '\u0037\u007f\u0006\u0082', '\u0037\u007f\u0006\u0083'],
  async seeds(ctx: RunContext) {
    const file = join(ctx.work, 'seed.sqlite');
    const seeds: Seed[] = [];
    makeDb(file, 20, true);
    goodDb = readFileSync(file);
    seeds.push({ name: 'db, checkpointed, 20 rows', bytes: Buffer.concat([Buffer.of(0), goodDb]), hot: [[1, 101], [4097, 4197], [8193, 8293]] });
    makeDb(file, 5, true);
    seeds.push({ name: 'db, 5 rows', bytes: Buffer.concat([Buffer.of(2), readFileSync(file)]), hot: [[1, 101]] });
    makeDb(file, 30, false);
    if (existsSync(`${file}-wal`)) seeds.push({ name: '-wal with 30 rows', bytes: Buffer.concat([Buffer.of(1), readFileSync(`${file}-wal`)]), hot: [[1, 33], [33, 57], [57, 200]] });
    return seeds;
  },
  run(input, ctx) {
    const file = join(ctx.work, 'db.sqlite');
    for (const f of [file, `${file}-wal`, `${file}-shm`, `${file}-journal`]) rmSync(f, { force: true });
    const body = input.subarray(1);
    if ((input[0] ?? 0) % 2 === 0) writeFileSync(file, body);
    else {
      writeFileSync(file, goodDb ?? Buffer.alloc(0));
      writeFileSync(`${file}-wal`, body);
    }
    const r = readBuildsDb(file);
    for (const w of r.warnings) check(!/[\r\n]/.test(w), `multi-line warning ${JSON.stringify(w)}`);
    for (const [k, row] of r.rows) check(k === row.id && typeof row.id === 'string', 'row id');
    // The store's files are only read: no -shm or -wal appeared beside the db.
    check(!existsSync(`${file}-shm`), 'a -shm was created beside the db');
  },
};
