// The steps of the sample job, their layer ids, and the store metadata written from them.
//   node steps.mjs ids                       -> shell assignments FROM_ID=... (eval'd by build-store.sh)
//   node steps.mjs joblog                    -> the CI job log (committed as samples/job.log)
//   node steps.mjs finish <root> <store> <out> -> result/<id>/log, state/db.sqlite, <out>/layers.json
// Ids are deterministic: the `from` layer is sha256 of the base name (as obuilder's get_base does);
// the others are sha256 of a description of the step and its parent.
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync, rmSync, existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

const sha = (s) => createHash('sha256').update(s).digest('hex');

export const BASE = 'linux-sample';
export const WORKER = 'sample-worker';
export const DST = '/home/opam/src';
export const SOURCES = ['tls.opam', 'tls-async.opam', 'tls-lwt.opam', 'tls-mirage.opam', 'tls-eio.opam', 'tls-miou-unix.opam'];
export const STALE_SOURCE = 'packages/zxcvbn/zxcvbn.2.4+1/opam';
const REPO_COMMIT = '8f7c3b2e4d1a09c6f5e2b7a3d8c4e1f0a9b6c2d7';
const REPO_CMD = `cd ~ && git clone -q https://github.com/ocaml/opam-repository.git && cd opam-repository && git reset -q --hard ${REPO_COMMIT} && git log --no-decorate -n1 --oneline && opam repository set-url default file:///home/opam/opam-repository`;
const RUN_CMD = 'cd /home/opam/src && ls -l *.opam > ~/build-output.txt && cat ~/build-output.txt';

const fromId = sha(BASE);
const opamRepoId = sha(`run\0${fromId}\0/\0${REPO_CMD}`);
const copyOp = `(copy (src ${SOURCES.join(' ')}) (dst ${DST}/./))`;
const copyCorruptId = sha(`copy\0${opamRepoId}\0${copyOp}`);
const runOnTopId = sha(`run\0${copyCorruptId}\0${DST}\0${RUN_CMD}`);
// The same copy, re-run after the fix (sync before power-off) on a wiped worker: a sibling of the corrupt one.
const copyCleanId = sha(`copy\0${opamRepoId}\0${copyOp}\0after ocurrent/obuilder#212`);

export const LAYERS = { from: fromId, opamRepo: opamRepoId, copyCorrupt: copyCorruptId, runOnTop: runOnTopId, copyClean: copyCleanId };

function ids() {
  const out = Object.entries({ FROM_ID: fromId, OPAMREPO_ID: opamRepoId, COPYCORRUPT_ID: copyCorruptId, RUNONTOP_ID: runOnTopId, COPYCLEAN_ID: copyCleanId });
  console.log(out.map(([k, v]) => `${k}=${v}`).join('\n'));
}

function joblog() {
  const l = [];
  l.push('2026-06-29 15:58.02: New job: test tls.dev, tls-async.dev, tls-lwt.dev, tls-mirage.dev, tls-eio.dev, tls-miou-unix.dev');
  l.push('                     on linux-sample-5.5/amd64 (opam-repo-ci sample)');
  l.push('2026-06-29 15:58.02: Waiting for resource in pool OCluster');
  l.push('2026-06-29 15:58.09: Waiting for worker…');
  l.push(`2026-06-29 15:58.10: Got resource from pool OCluster`);
  l.push(`Building on ${WORKER}`);
  l.push('');
  l.push(`(from ${BASE})`);
  l.push(`2026-06-29 15:58.10 ---> using "${fromId}" from cache`);
  l.push('');
  l.push(`/: (run (shell "${REPO_CMD.replace(/"/g, '\\"')}"))`);
  l.push(`2026-06-29 15:58.11 ---> using "${opamRepoId}" from cache`);
  l.push('');
  l.push('/: (copy (src tls.opam tls-async.opam tls-lwt.opam tls-mirage.opam');
  l.push('             tls-eio.opam tls-miou-unix.opam)');
  l.push(`        (dst ${DST}/./))`);
  l.push(`2026-06-29 16:02.38 ---> saved as "${copyCorruptId}"`);
  l.push('');
  l.push(`${DST}: (run (shell "${RUN_CMD}"))`);
  l.push(...buildOutput().trimEnd().split('\n'));
  l.push(`2026-06-29 16:02.51 ---> saved as "${runOnTopId}"`);
  l.push('');
  l.push(`${DST}: (run (network host)`);
  l.push('                        (shell "opam pin add -yn tls.dev \'./\' && opam pin add -yn tls-async.dev \'./\' && opam pin add -yn tls-lwt.dev \'./\'"))');
  l.push('[ERROR] At /home/opam/src/tls.opam:1:0-1:1::');
  l.push('        Parse error [skipped]');
  l.push('');
  l.push('[ERROR] At /home/opam/.opam/5.5.0/.opam-switch/sources/tls/tls.opam:1:0-1:1::');
  l.push('        Parse error [skipped]');
  l.push('');
  l.push('[ERROR] No valid package definition found for tls');
  l.push('"/bin/sh" "-c" "opam pin add -yn tls.dev \'./\' && opam pin add -yn tls-async.dev \'./\' && opam pin add -yn tls-lwt.dev \'./\'" failed with exit status 1');
  l.push('2026-06-29 16:03.20: Job failed: Failed: Build failed');
  return l.join('\n') + '\n';
}

// What the run-on-top step printed (and wrote to ~/build-output.txt): sizes are the metadata, which is right.
function buildOutput() {
  const sizes = { 'tls-async.opam': 1052, 'tls-eio.opam': 1023, 'tls-lwt.opam': 1015, 'tls-miou-unix.opam': 735, 'tls-mirage.opam': 1077, 'tls.opam': 2061 };
  return Object.keys(sizes).sort().map((n) => `-rw-r--r-- 1 opam opam ${String(sizes[n]).padStart(4)} Jun 29 16:02 ${n}`).join('\n') + '\n';
}

function finish(root, store, out) {
  const logs = {
    [fromId]: `Base image not present; importing "${BASE}"...\n`,
    [opamRepoId]: `${REPO_COMMIT.slice(0, 7)} Merge pull request #28901 from sample/release-zxcvbn-2.4+1\n`,
    [copyCorruptId]: '',
    [runOnTopId]: buildOutput(),
    [copyCleanId]: '',
  };
  for (const [id, text] of Object.entries(logs)) writeFileSync(join(store, 'result', id, 'log'), text);

  const require = createRequire(join(root, 'package.json'));
  const Database = require('better-sqlite3');
  mkdirSync(join(store, 'state'), { recursive: true });
  const dbPath = join(store, 'state', 'db.sqlite');
  if (existsSync(dbPath)) rmSync(dbPath);
  const db = new Database(dbPath);
  // Same schema as obuilder's lib/dao.ml. rc is obuilder's reference count (number of child layers).
  db.exec(`CREATE TABLE IF NOT EXISTS builds (
             id       TEXT PRIMARY KEY,
             created  DATETIME NOT NULL,
             used     DATETIME NOT NULL,
             rc       INTEGER NOT NULL,
             parent   TEXT,
             FOREIGN KEY (parent) REFERENCES builds (id) ON DELETE RESTRICT
           );
           CREATE INDEX IF NOT EXISTS lru ON builds (rc, used);`);
  const ins = db.prepare('INSERT INTO builds (id, created, used, rc, parent) VALUES (?, ?, ?, ?, ?)');
  const rows = [
    // obuilder records the base (from) layer without a parent
    [fromId, '2026-06-29 15:52:44', '2026-07-01 09:13:58', 1, null],
    [opamRepoId, '2026-06-29 15:53:31', '2026-07-01 09:13:59', 2, fromId],
    [copyCorruptId, '2026-06-29 16:02:38', '2026-06-29 16:02:51', 1, opamRepoId],
    [runOnTopId, '2026-06-29 16:02:51', '2026-06-29 16:02:51', 0, copyCorruptId],
    [copyCleanId, '2026-07-01 09:14:05', '2026-07-01 09:14:05', 0, opamRepoId],
  ];
  db.transaction(() => rows.forEach((r) => ins.run(...r)))();
  db.close();

  const layers = {
    store,
    base: BASE,
    layers: LAYERS,
    sshKey: join(out, 'ssh', 'id_ed25519'),
    sshUser: 'opam',
    dst: DST,
    corrupted: { 'tls.opam': 'directory-block', 'tls-async.opam': 'foreign-text', 'tls-lwt.opam': 'zeros' },
    staleSource: STALE_SOURCE,
    staleDirectory: 'packages',
    jobLog: join(root, 'samples', 'job.log'),
    expected: join(root, 'samples', 'expected'),
  };
  writeFileSync(join(out, 'layers.json'), JSON.stringify(layers, null, 2) + '\n');
}

const [cmd, ...args] = process.argv.slice(2);
if (cmd === 'ids') ids();
else if (cmd === 'joblog') process.stdout.write(joblog());
else if (cmd === 'build-output') process.stdout.write(buildOutput());
else if (cmd === 'finish') finish(...args);
else {
  console.error('usage: steps.mjs ids|joblog|build-output|finish <root> <store> <out>');
  process.exit(2);
}
