// The OpenBSD-shaped sample job: the incident's (seeds/000_…): OpenBSD 7.8 amd64, an MBR
// partition of type 0xA6 holding a disklabel, `/` on `a` and `/home` on `e` (FFS2, softdep), the
// tls sources copied into /home/opam/src, and a hard power-off losing their data blocks.
//
// Layer ids are deterministic (sha256 of a description of the step and its parent, as
// samples/recipe/steps.mjs makes the Linux sample's). Run `tsx samples/recipe/openbsd/plan.ts
// joblog > samples/openbsd/job.log` to regenerate the committed job log.

import { createHash } from 'node:crypto';
import { pathToFileURL } from 'node:url';

const sha = (s: string): string => createHash('sha256').update(s).digest('hex');

export const BASE = 'openbsd-78-amd64-sample';
export const WORKER = 'openbsd-amd64-sample';
export const DUID = '5a3cefcc9d46270c';
export const DST = '/home/opam/src';
/** What the job tested: ocaml-ci's header names the commit. */
export const COMMIT = '5a3cefcc9d46270c3f8a1b2e4d6c8e0a1b3c5d7e';

/** The copy step's sources, relative to the expected directory. */
export const SOURCES = ['tls.opam', 'tls-async.opam', 'tls-lwt.opam', 'tls-mirage.opam', 'tls-eio.opam', 'tls-miou-unix.opam', 'CHANGES.md', 'tests'];

const REPO_CMD = 'cd ~ && git clone -q https://github.com/ocaml/opam-repository.git && opam repository add default ~/opam-repository';
const PRUNE_CMD = 'cd ~/opam-repository && git rm -rq README.md packages/zxcvbn packages/ocaml-base-compiler && opam repository set-url default file:///home/opam/opam-repository && rm -rf ~/.cache/download';
const copyOp = `(copy (src ${SOURCES.join(' ')}) (dst ${DST}/./))`;

const fromId = sha(BASE);
const opamRepoId = sha(`run\0${fromId}\0/\0${REPO_CMD}`);
const pruneId = sha(`run\0${opamRepoId}\0/\0${PRUNE_CMD}`);
const copyCorruptId = sha(`copy\0${pruneId}\0${copyOp}`);
const copyCleanId = sha(`copy\0${pruneId}\0${copyOp}\0after ocurrent/obuilder#212`);

export const LAYERS = { from: fromId, opamRepo: opamRepoId, prune: pruneId, copyCorrupt: copyCorruptId, copyClean: copyCleanId };

export function jobLog(): string {
  const l: string[] = [];
  l.push('2026-06-29 16:01.02: New job: test tls.dev, tls-async.dev, tls-lwt.dev, using opam 2.3');
  l.push(`                              from https://github.com/mirleft/ocaml-tls.git#refs/pull/512/head (${COMMIT})`);
  l.push(`                              on ${BASE}`);
  l.push('');
  l.push('2026-06-29 16:01.02: Waiting for resource in pool OCluster');
  l.push('2026-06-29 16:01.09: Got resource from pool OCluster');
  l.push(`Building on ${WORKER}`);
  l.push('');
  l.push(`(from ${BASE})`);
  l.push(`2026-06-29 16:01.11 ---> using "${fromId}" from cache`);
  l.push('');
  l.push(`/: (run (shell "${REPO_CMD}"))`);
  l.push(`2026-06-29 16:01.12 ---> using "${opamRepoId}" from cache`);
  l.push('');
  l.push(`/: (run (shell "${PRUNE_CMD}"))`);
  l.push(`2026-06-29 16:01.13 ---> using "${pruneId}" from cache`);
  l.push('');
  l.push(`/: (copy (src ${SOURCES.slice(0, 4).join(' ')}`);
  l.push(`             ${SOURCES.slice(4).join(' ')})`);
  l.push(`        (dst ${DST}/./))`);
  l.push(`2026-06-29 16:02.38 ---> saved as "${copyCorruptId}"`);
  l.push('');
  l.push(`${DST}: (run (network host)`);
  l.push("                     (shell \"opam pin add -yn tls.dev './' && opam pin add -yn tls-async.dev './'\"))");
  l.push('[ERROR] At /home/opam/.opam/5.5.0/.opam-switch/sources/tls/tls.opam:1:0-1:1::');
  l.push('        Parse error [skipped]');
  l.push('');
  l.push('[ERROR] No valid package definition found for tls');
  l.push('2026-06-29 16:03.20: Job failed: Failed: Build failed');
  return `${l.join('\n')}\n`;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  if (process.argv[2] === 'joblog') process.stdout.write(jobLog());
  else {
    process.stderr.write('usage: tsx samples/recipe/openbsd/plan.ts joblog\n');
    process.exit(2);
  }
}
