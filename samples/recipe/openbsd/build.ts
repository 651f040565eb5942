// Builds the OpenBSD-shaped sample into the sample store (samples/build-store.sh runs it after
// the Linux sample): a base image laid out like the incident's disks (MBR, an 0xA6 partition
// holding a disklabel with DUID, `a` / FFS2 whose /etc/fstab names `<duid>.e /home ffs
// rw,softdep,noatime`, `e` /home FFS2 with the superblock at 65536), and obuilder layers that
// each hold only the 64 KiB clusters their step wrote, with absolute backing paths:
//
//   from (empty) → opamRepo (clone: packages, a repository config, a download cache)
//     → prune (git rm of packages and a README, set-url rewrites the config, rm the cache)
//       → copyCorrupt: the tls sources copied in, metadata written, data lost the soft-updates
//         way: tls.opam holds a directory block freed by the prune, tls-async.opam the zxcvbn opam
//         file it freed, tls-lwt.opam the old repository config, tls-eio.opam zeros (blocks never
//         used), CHANGES.md its last blocks, stale blocks of a deleted README up to its end
//         (partial: only the disk tells them from an edit), tests/vectors.json the
//         blocks behind its indirect block (a deleted download's bytes);
//       → copyClean: the same copy done right (a sibling).
//
// It cannot be booted (no OpenBSD kernel here); `diagnose --via direct` reads it.
// Usage: tsx samples/recipe/openbsd/build.ts <root> <store> <out>

import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { Disk } from '../../lib/disk.js';
import { openbsdIncidentDisk, SECTOR } from '../../lib/disk-layout.js';
import { Ffs, newfs, type Lose, type Placement } from '../../lib/ffs/index.js';
import { writeQcow2Layer } from '../../lib/qcow2-writer.js';
import { BASE, COMMIT, DST, DUID, LAYERS, SOURCES, jobLog } from './plan.js';
import { README_WORDS, expectedSources, makeRng, opamRepository, randomBytes, repoConfig, textBlob } from './content.js';

const DISK_BYTES = 2 ** 30;
const CLUSTER = 65536;
const T0 = 1782748800; // 2026-06-29 16:00:00 UTC
const OPAM = { uid: 1000, gid: 1000 };
/** The cylinder groups of /home each stale source (and the file that reuses its blocks) lives in. */
const CG = { zxcvbn: 2, config: 3, directory: 4, zeros: 5, readme: 6, download: 7 };

interface State {
  disk: Disk;
  root: Ffs;
  home: Ffs;
}

interface Layout {
  a: { offset: number; size: number };
  e: { offset: number; size: number };
}

function layout(): { layout: Layout; disk: Disk } {
  const disk = Disk.create(DISK_BYTES);
  const { patches, partitions } = openbsdIncidentDisk(DISK_BYTES / SECTOR, DUID);
  for (const p of patches) disk.write(p.bytes, p.offset);
  const part = (l: 'a' | 'e') => ({ offset: partitions[l].offset * SECTOR, size: partitions[l].size * SECTOR });
  return { layout: { a: part('a'), e: part('e') }, disk };
}

/** The base: both filesystems made, / with its fstab, /home with the opam user's home. */
function baseState(l: Layout, disk: Disk): State {
  const root = newfs(disk, { offset: l.a.offset, size: l.a.size, mountPoint: '/', time: T0 });
  root.mkdir('/etc');
  root.writeFile('/etc/fstab', [`${DUID}.a / ffs rw 1 1`, `${DUID}.b none swap sw`, `${DUID}.e /home ffs rw,softdep,noatime,nodev,nosuid 1 2`, ''].join('\n'));
  root.writeFile('/etc/myname', 'openbsd-78-amd64-sample.example.org\n');
  root.mkdir('/usr/local/bin', { parents: true });
  root.writeFile('/usr/local/bin/gtar', randomBytes(makeRng(7), 90_000), { mode: 0o555 });
  root.mkdir('/tmp', { mode: 0o1777 });
  const home = newfs(disk, { offset: l.e.offset, size: l.e.size, mountPoint: '/home', time: T0, ncg: 10 });
  home.mkdir('/opam', { ...OPAM, mode: 0o755 });
  home.writeFile('/opam/.profile', 'export PATH=/usr/local/bin:/usr/bin:/bin\nexport OPAMYES=1\n', OPAM);
  return { disk, root, home };
}

/** run: clone the opam repository, with the files the prune will free placed apart. */
function opamRepoStep(s: State): void {
  const h = s.home;
  h.now = T0 + 60;
  for (const [path, data] of opamRepository()) {
    if (path === '/opam/opam-repository/README.md') continue; // written below, in its own group
    const dir = path.slice(0, path.lastIndexOf('/'));
    if (!h.exists(dir)) h.mkdir(dir, { ...OPAM, parents: true });
    const cg = path.endsWith('/zxcvbn.2.4+1/opam') ? { cg: CG.zxcvbn } : {};
    h.writeFile(path, data, { ...OPAM, ...cg });
  }
  // A package directory of many versions: its own 2-fragment directory, alone in its group.
  h.mkdir('/opam/opam-repository/packages/ocaml-base-compiler', { ...OPAM, cg: CG.directory });
  for (let minor = 0; minor < 70; minor++) {
    const v = `ocaml-base-compiler.4.${String(minor).padStart(2, '0')}.${minor % 3}`;
    h.mkdir(`/opam/opam-repository/packages/ocaml-base-compiler/${v}`, { ...OPAM, cg: 0 });
  }
  h.writeFile('/opam/opam-repository/README.md', textBlob(makeRng(11), 'opam-repository', 64 * 1024, README_WORDS), { ...OPAM, cg: CG.readme });
  h.mkdir('/opam/.opam/repo', { ...OPAM, parents: true });
  h.writeFile('/opam/.opam/repo/repos-config', repoConfig('git+https://github.com/ocaml/opam-repository.git'), { ...OPAM, cg: CG.config });
  h.mkdir('/opam/.cache/download', { ...OPAM, parents: true });
  h.writeFile('/opam/.cache/download/ocaml-tls-1.0.4.tbz', randomBytes(makeRng(13), 400 * 1024), { ...OPAM, cg: CG.download });
}

/** run: git rm packages and the README, set-url rewrites the config, rm the download cache. */
function pruneStep(s: State): void {
  const h = s.home;
  h.now = T0 + 120;
  h.rmTree('/opam/opam-repository/packages/zxcvbn');
  h.rmTree('/opam/opam-repository/packages/ocaml-base-compiler');
  h.unlink('/opam/opam-repository/README.md');
  h.unlink('/opam/.opam/repo/repos-config');
  h.writeFile('/opam/.opam/repo/repos-config', repoConfig('file:///home/opam/opam-repository'), { ...OPAM, cg: 0 });
  h.rmTree('/opam/.cache/download');
}

/** Where each source goes and, for the corrupt copy, which of its blocks never reach the disk. */
const PLAN: { path: string; cg?: number; lose?: Lose }[] = [
  { path: 'tls.opam', cg: CG.directory, lose: true },
  { path: 'tls-async.opam', cg: CG.zxcvbn, lose: true },
  { path: 'tls-lwt.opam', cg: CG.config, lose: true },
  { path: 'tls-eio.opam', cg: CG.zeros, lose: true },
  { path: 'tls-mirage.opam' },
  { path: 'tls-miou-unix.opam' },
  { path: 'CHANGES.md', cg: CG.readme, lose: (lbn) => lbn >= 1 },
  { path: 'tests/vectors.json', cg: CG.download, lose: (lbn) => lbn >= 12 },
];

/** copy: the sources into DST; `lossy`: as the unclean power-off left them. */
function copyStep(s: State, sources: Map<string, Buffer>, lossy: boolean): Map<string, Placement> {
  const h = s.home;
  h.now = T0 + 158;
  const dst = DST.replace(/^\/home/, '');
  h.mkdir(dst, OPAM);
  h.mkdir(`${dst}/tests`, OPAM);
  const placed = new Map<string, Placement>();
  for (const p of PLAN) {
    const data = sources.get(p.path);
    if (!data) throw new Error(`no expected source ${p.path}`);
    placed.set(p.path, h.writeFile(`${dst}/${p.path}`, data, { ...OPAM, mode: 0o644, ...(p.cg !== undefined ? { cg: p.cg } : {}), ...(lossy && p.lose ? { lose: p.lose } : {}) }));
  }
  // The power went off: the filesystem was not unmounted cleanly.
  if (lossy) h.setState({ clean: false });
  return placed;
}

function imagePath(store: string, id: string): string {
  return join(store, 'result', id, 'rootfs', 'image.qcow2');
}

/** The clusters written since the last layer, as a qcow2 backed by `backing`. */
function writeLayer(disk: Disk, path: string, backing: string | null): number {
  mkdirSync(join(path, '..'), { recursive: true });
  const dirty = backing === null ? disk.heldChunks() : disk.takeDirty(CLUSTER);
  if (backing === null) disk.takeDirty(CLUSTER);
  const clusters = dirty.map((c): [number, Buffer] => [c, disk.readBytes(c * CLUSTER, CLUSTER)]);
  writeQcow2Layer({ path, virtualSize: disk.size, backing: backing ? { path: backing, format: 'qcow2' } : null, clusters });
  return clusters.length;
}

function reopen(disk: Disk, l: Layout): State {
  return { disk, root: Ffs.open(disk, l.a.offset), home: Ffs.open(disk, l.e.offset) };
}

/** Stale bytes where they were meant to be: the build fails rather than ship a sample that lies. */
function checkLosses(placed: Map<string, Placement>): void {
  const lost = (p: string) => placed.get(p)!.blocks.filter((b) => b.lost).length;
  for (const p of ['tls.opam', 'tls-async.opam', 'tls-lwt.opam', 'tls-eio.opam']) if (lost(p) !== placed.get(p)!.blocks.length) throw new Error(`${p}: not every block was lost`);
  if (lost('CHANGES.md') < 2) throw new Error('CHANGES.md: expected its last blocks lost');
  if (lost('tests/vectors.json') < 1 || placed.get('tests/vectors.json')!.indirect.length < 1) throw new Error('tests/vectors.json: expected lost blocks behind an indirect block');
}

function writeMetadata(root: string, store: string, out: string, placed: Map<string, Placement>, l: Layout): void {
  const logs: Record<string, string> = { [LAYERS.from]: `Base image not present; importing "${BASE}"...\n`, [LAYERS.opamRepo]: '', [LAYERS.prune]: '', [LAYERS.copyCorrupt]: '', [LAYERS.copyClean]: '' };
  for (const [id, text] of Object.entries(logs)) writeFileSync(join(store, 'result', id, 'log'), text);
  const Database = createRequire(join(root, 'package.json'))('better-sqlite3');
  const db = new Database(join(store, 'state', 'db.sqlite'));
  const ins = db.prepare('INSERT INTO builds (id, created, used, rc, parent) VALUES (?, ?, ?, ?, ?)');
  const rows: [string, string, string, number, string | null][] = [
    [LAYERS.from, '2026-06-29 15:40:01', '2026-07-01 09:13:58', 1, null],
    [LAYERS.opamRepo, '2026-06-29 15:41:30', '2026-07-01 09:13:58', 1, LAYERS.from],
    [LAYERS.prune, '2026-06-29 15:42:10', '2026-07-01 09:13:59', 2, LAYERS.opamRepo],
    [LAYERS.copyCorrupt, '2026-06-29 16:02:38', '2026-06-29 16:02:38', 0, LAYERS.prune],
    [LAYERS.copyClean, '2026-07-01 09:14:05', '2026-07-01 09:14:05', 0, LAYERS.prune],
  ];
  db.transaction(() => rows.forEach((r) => ins.run(...r)))();
  db.close();
  const corrupted = { 'tls.opam': 'directory-block', 'tls-async.opam': 'foreign-text', 'tls-lwt.opam': 'foreign-text', 'tls-eio.opam': 'zeros', 'CHANGES.md': 'partial', 'tests/vectors.json': 'partial' };
  const blocks = Object.fromEntries([...placed].map(([p, pl]) => [p, pl.blocks.map((b) => ({ fileOffset: b.fileOffset, length: b.length, disk: b.disk, lost: b.lost }))]));
  const doc = {
    store,
    base: BASE,
    duid: DUID,
    /** Byte offsets and sizes of the disklabel's `a` (/) and `e` (/home). */
    partitions: l,
    layers: LAYERS,
    dst: DST,
    commit: COMMIT,
    sources: SOURCES,
    corrupted,
    /** Where the stale bytes of each damaged file came from: the owner, and the layer it was last alive in. */
    staleFrom: {
      'tls.opam': { path: '/home/opam/opam-repository/packages/ocaml-base-compiler', layer: LAYERS.opamRepo },
      'tls-async.opam': { path: '/home/opam/opam-repository/packages/zxcvbn/zxcvbn.2.4+1/opam', layer: LAYERS.opamRepo },
      'tls-lwt.opam': { path: '/home/opam/.opam/repo/repos-config', layer: LAYERS.opamRepo },
      'CHANGES.md': { path: '/home/opam/opam-repository/README.md', layer: LAYERS.opamRepo },
      'tests/vectors.json': { path: '/home/opam/.cache/download/ocaml-tls-1.0.4.tbz', layer: LAYERS.opamRepo },
    },
    blocks,
    jobLog: join(root, 'samples', 'openbsd', 'job.log'),
    expected: join(out, 'openbsd', 'expected'),
  };
  writeFileSync(join(out, 'openbsd.json'), `${JSON.stringify(doc, null, 2)}\n`);
}

function writeExpected(dir: string, sources: Map<string, Buffer>): void {
  rmSync(dir, { recursive: true, force: true });
  for (const [p, data] of sources) {
    mkdirSync(join(dir, p, '..'), { recursive: true });
    writeFileSync(join(dir, p), data);
  }
}

function main(): void {
  const [root, store, out] = process.argv.slice(2);
  if (!root || !store || !out) throw new Error('usage: tsx samples/recipe/openbsd/build.ts <root> <store> <out>');
  const sources = expectedSources(join(root, 'samples', 'expected'));
  writeExpected(join(out, 'openbsd', 'expected'), sources);
  if (jobLog() !== readFileSync(join(root, 'samples', 'openbsd', 'job.log'), 'utf8')) {
    throw new Error('samples/openbsd/job.log is out of date: tsx samples/recipe/openbsd/plan.ts joblog > samples/openbsd/job.log');
  }
  const { layout: l, disk } = layout();
  const base = join(store, 'base-image', `${BASE}.qcow2`);
  const s = baseState(l, disk);
  writeLayer(s.disk, base, null);
  writeLayer(s.disk, imagePath(store, LAYERS.from), base);
  opamRepoStep(s);
  writeLayer(s.disk, imagePath(store, LAYERS.opamRepo), imagePath(store, LAYERS.from));
  pruneStep(s);
  writeLayer(s.disk, imagePath(store, LAYERS.prune), imagePath(store, LAYERS.opamRepo));
  const sibling = reopen(s.disk.clone(), l);
  const placed = copyStep(s, sources, true);
  checkLosses(placed);
  writeLayer(s.disk, imagePath(store, LAYERS.copyCorrupt), imagePath(store, LAYERS.prune));
  copyStep(sibling, sources, false);
  writeLayer(sibling.disk, imagePath(store, LAYERS.copyClean), imagePath(store, LAYERS.prune));
  writeMetadata(root, store, out, placed, l);
  if (readdirSync(join(store, 'result')).length === 0) throw new Error('no layers written');
}

main();
