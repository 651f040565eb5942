// A generated obuilder QEMU store for the audit's tests and benchmarks: test tooling, not product
// code. N layers on an OpenBSD-shaped base disk (MBR + 0xA6 disklabel; `a` the root FFS2 with an
// /etc/fstab naming `<duid>.e /home ffs rw,softdep,noatime 1 2`; `e` /home, FFS2 with its
// superblock at 65536), chains up to 20 images deep, branching like a CI cache (jobs share their
// first steps and diverge), each layer writing 1–50 files. Like obuilder's overlays
// (`qemu-img create -b <parent, absolute path> -F qcow2`), every layer's qcow2 holds only the
// 64 KiB clusters its step wrote, with an absolute backing path, and `state/db.sqlite` has a row
// per layer.
//
// A known few percent of layers carry an injected soft-updates loss (the FFS writer's `lose`:
// metadata written, data blocks not), one kind each; a share of the others are legit but tricky
// (metadata only, renames, hard links, appends, truncation, same-bytes rewrites, zero files,
// deletions, a directory growing). The generator returns the ground truth: which layers are
// corrupt, which files, their classes, and which object, alive in which layer, each file's stale
// bytes came from.
//
// How losses are made reproducible: the writer allocates an inode in its parent's cylinder group
// (or the one asked for) and blocks in the inode's group, lowest free first. The base holds
// "sources" (a directory with entries, an empty directory, a text file, a binary file), each alone
// in its own cylinder group; a layer deletes one as its last operation, and its child writes a
// lost file in that group, which gets exactly the source's freed blocks. Never-used zeros come
// from groups nothing else writes. Normal files live in groups 0–3. So each lost block's cluster is
// one the corrupt layer did not write (the audit's proof), and every owner is known in advance.
//
// `tsx bench/store-generator.ts --out DIR [--layers N] [--seed S]` writes a store and truth.json.

import { createHash } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { CHUNK, Disk } from '../samples/lib/disk.js';
import { openbsdIncidentDisk, SECTOR } from '../samples/lib/disk-layout.js';
import { Ffs, newfs, type Lose, type Placement } from '../samples/lib/ffs/index.js';
import { writeBuildsDb } from '../samples/lib/obuilder-db.js';
import { writeQcow2Layer } from '../samples/lib/qcow2-writer.js';

export const LOSS_KINDS = ['zeros', 'directory-block', 'empty-directory-block', 'foreign-text', 'foreign-binary', 'partial', 'indirect'] as const;
export const TRICKY_KINDS = ['metadata', 'rename', 'hardlink', 'append', 'truncate', 'rewrite-same', 'zero-files', 'delete', 'dir-grow'] as const;
export type LossKind = (typeof LOSS_KINDS)[number];
export type TrickyKind = (typeof TRICKY_KINDS)[number];
export type LayerKind = 'normal' | LossKind | TrickyKind;

export interface GeneratorOptions {
  /** The store directory to create (emptied first). */
  root: string;
  /** Layers to make (the base image is extra); required unless `script` is given. */
  layers?: number;
  /** Default 1: the same seed gives the same store (ids, contents, shape). */
  seed?: number;
  /** Longest chain, in images (the layer and its ancestors and the base): default 20. */
  maxDepth?: number;
  /** Share of layers with an injected loss (default 0.04); each kind at least once from 30 layers on. */
  lossRate?: number;
  /** Share of legit tricky layers (default 0.15); each kind at least once from 30 layers on. */
  trickyRate?: number;
  /** Virtual disk size (default 40 GiB, obuilder's). */
  diskSize?: number;
  /** Base image name (default `openbsd-78-amd64`). */
  baseName?: string;
  /** Creation time of the first layer (default 2026-05-01T00:00:00Z). */
  start?: Date;
  /** Write `<root>.truth.json` too (default false). */
  writeTruth?: boolean;
  /**
   * Instead of a random tree: exactly these layers, in order, each on the layer at index `parent`
   * (default: the one before; null: the base), of the given kind, or running `step` (a test's own
   * operations; its truth is the test's business). `layers`, `lossRate` and `trickyRate` are ignored.
   */
  script?: ScriptStep[];
  onProgress?: (done: number, total: number) => void;
}

/** What a scripted step may touch: the layer's two filesystems, as the FFS writer. */
export interface LayerFs {
  /** `/` (partition a) and `/home` (partition e); paths are inside each filesystem. */
  root: Ffs;
  home: Ffs;
  index: number;
}

export interface ScriptStep {
  kind?: LayerKind;
  parent?: number | null;
  step?: (fs: LayerFs) => void;
}

/** Where a file's stale bytes came from: the object that owned them, in the layer it was last alive in. */
export interface TruthOwner {
  /** A layer id, or `base:<name>`. */
  layer: string;
  /** Absolute guest path. */
  path: string;
}

export interface LostFile {
  /** Absolute guest path. */
  path: string;
  /** The class the audit should give it. */
  class: 'zeros' | 'directory-block' | 'foreign-text' | 'foreign-binary' | 'partial';
  /** The owner of its stale bytes, or null (never-used blocks: zeros). */
  owner: TruthOwner | null;
  size: number;
  /**
   * Its lost blocks: offset in the file, disk offset, bytes allocated, and whether the corrupt
   * layer's image lacks (part of) the block's cluster (`unwritten`: the audit's proof). A lost
   * block in a cluster the layer wrote for a neighbour holds the parent's bytes there.
   */
  lostBlocks: { fileOffset: number; disk: number; allocated: number; unwritten: boolean }[];
  /** Blocks of it that were written. */
  writtenBlocks: number;
}

export interface GeneratedLayer {
  id: string;
  /** Parent layer id, null on the base. */
  parent: string | null;
  /** Images in the chain, this one and the base included. */
  chainDepth: number;
  /** obuilder's `YYYY-MM-DD HH:MM:SS` (UTC). */
  created: string;
  kind: LayerKind;
  /** The verdict the audit must give. */
  expect: 'clean' | 'soft-updates-data-loss';
  lost: LostFile[];
  /** Files this layer wrote (lost ones included). */
  filesWritten: number;
  /** Clusters its image holds. */
  clusters: number;
}

export interface GeneratedStore {
  root: string;
  /** `qemu:<root>`. */
  spec: string;
  base: string;
  baseImage: string;
  duid: string;
  diskSize: number;
  /** In creation order (parents first). */
  layers: GeneratedLayer[];
  /** Bytes of every image written. */
  bytes: number;
  ms: number;
}

// ------------------------------------------------------------------------------------ constants

const DUID = 'a1b2c3d4e5f60718';
const HOME = '/home';
/** Cylinder groups of /home: normal files in 0–3; sources from 8; never-used groups after them. */
const NORMAL_CGS = 4;
const SOURCE_CG0 = 8;
const SOURCE_KINDS = ['dir', 'empty-dir', 'text', 'binary'] as const;
type SourceKind = (typeof SOURCE_KINDS)[number];
const SOURCE_OF: Partial<Record<LossKind, SourceKind>> = {
  'directory-block': 'dir',
  'empty-directory-block': 'empty-dir',
  'foreign-text': 'text',
  'foreign-binary': 'binary',
};

// ------------------------------------------------------------------------------------ randomness

/** splitmix32: small, fast, deterministic. */
class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  next(): number {
    this.s = (this.s + 0x9e3779b9) >>> 0;
    let z = this.s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return ((z ^ (z >>> 16)) >>> 0) / 2 ** 32;
  }
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.next() * xs.length)]!;
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  shuffle<T>(xs: T[]): T[] {
    for (let i = xs.length - 1; i > 0; i--) {
      const j = Math.floor(this.next() * (i + 1));
      [xs[i], xs[j]] = [xs[j]!, xs[i]!];
    }
    return xs;
  }
}

const WORDS = ['ocaml', 'dune', 'opam', 'tls', 'lwt', 'async', 'cstruct', 'mirage', 'ppx_sexp_conv', 'eio', 'fmt', 'logs', 'x509', 'ptime', 'domain-name', 'base64', 'alcotest', 'cmdliner', 'zarith', 'digestif'];

/** opam-file-like text of `size` bytes, unique to `name` (no NUL, no whole block of one byte). */
export function opamText(rng: Rng, name: string, size: number): Buffer {
  const head = `opam-version: "2.0"\nname: "${name}"\nversion: "${rng.int(0, 9)}.${rng.int(0, 30)}.${rng.int(0, 9)}"\nsynopsis: "${rng.pick(WORDS)} bindings for ${rng.pick(WORDS)}"\nmaintainer: "dev-${rng.int(1, 999)}@example.org"\ndepends: [\n`;
  const parts = [head];
  let len = head.length;
  let i = 0;
  while (len < size) {
    const line = `  "${rng.pick(WORDS)}" {>= "${rng.int(0, 5)}.${rng.int(0, 20)}"} # ${name} ${i++}\n`;
    parts.push(line);
    len += line.length;
  }
  return Buffer.from(parts.join(''), 'utf8').subarray(0, size);
}

/** An ELF-looking binary of `size` bytes (random after the header: no all-zero block). */
export function binaryBytes(rng: Rng, size: number): Buffer {
  const b = Buffer.allocUnsafe(size);
  for (let i = 0; i < size; i += 4) b.writeUInt32LE(Math.floor(rng.next() * 2 ** 32) >>> 0, Math.min(i, size - 4));
  Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0]).copy(b, 0, 0, Math.min(8, size));
  return b;
}

// ------------------------------------------------------------------------------------ the plan

interface SourceRef {
  kind: SourceKind;
  /** Path in /home's filesystem. */
  fsPath: string;
  cg: number;
}

interface PlanNode {
  index: number;
  id: string;
  parent: number; // -1: the base
  depth: number;
  created: number; // seconds
  kind: LayerKind;
  /** The source whose freed blocks this (loss) layer's lost file gets. */
  source?: SourceRef;
  /** Sources this layer deletes, last, for its children. */
  prepDeletes: SourceRef[];
  /** A never-used cylinder group for this layer's zeros, partial, indirect or zero files. */
  freshCg: number;
  children: number[];
  /** A scripted layer's own operations. */
  step?: (fs: LayerFs) => void;
}

function layerId(seed: number, index: number): string {
  return createHash('sha256').update(`layer-forensics store-generator ${seed} ${index}`).digest('hex');
}

/** Jobs branch from an existing layer (a shared prefix) or the base, and add 1–6 steps. */
function planTree(rng: Rng, n: number, maxDepth: number, seed: number, start: number): PlanNode[] {
  const nodes: PlanNode[] = [];
  let t = start;
  const add = (parent: number): PlanNode => {
    t += rng.int(30, 600);
    const depth = parent < 0 ? 2 : nodes[parent]!.depth + 1;
    const node: PlanNode = { index: nodes.length, id: layerId(seed, nodes.length), parent, depth, created: t, kind: 'normal', prepDeletes: [], freshCg: 0, children: [] };
    nodes.push(node);
    if (parent >= 0) nodes[parent]!.children.push(node.index);
    return node;
  };
  while (nodes.length < n) {
    let parent = -1;
    if (nodes.length > 0 && !rng.chance(0.04)) {
      // A random branch point, preferring layers that can still grow.
      for (let tries = 0; tries < 8; tries++) {
        const c = rng.int(0, nodes.length - 1);
        if (nodes[c]!.depth < maxDepth) {
          parent = c;
          break;
        }
      }
    }
    const steps = rng.int(1, 6);
    for (let s = 0; s < steps && nodes.length < n; s++) {
      if (parent >= 0 && nodes[parent]!.depth >= maxDepth) break;
      parent = add(parent).index;
    }
  }
  return nodes;
}

/** A scripted plan: the given layers, in order. */
function planScript(rng: Rng, script: readonly ScriptStep[], seed: number, start: number): PlanNode[] {
  const nodes: PlanNode[] = [];
  let t = start;
  script.forEach((st, index) => {
    const parent = st.parent === null ? -1 : (st.parent ?? index - 1);
    if (parent >= index) throw new Error(`store-generator: script step ${index}: parent ${parent} comes after it`);
    t += rng.int(30, 600);
    const node: PlanNode = { index, id: layerId(seed, index), parent, depth: parent < 0 ? 2 : nodes[parent]!.depth + 1, created: t, kind: st.kind ?? 'normal', prepDeletes: [], freshCg: 0, children: [] };
    if (st.step) node.step = st.step;
    if (parent >= 0) nodes[parent]!.children.push(index);
    nodes.push(node);
  });
  return nodes;
}

interface Plan {
  nodes: PlanNode[];
  sources: SourceRef[];
}

/** The base's sources: `perKind` of each kind, each alone in its cylinder group. */
function makeSources(perKind: number): SourceRef[] {
  const sources: SourceRef[] = [];
  SOURCE_KINDS.forEach((kind, k) => {
    for (let i = 0; i < perKind; i++) {
      const cg = SOURCE_CG0 + k * perKind + i;
      const name = kind === 'dir' || kind === 'empty-dir' ? `${kind}-src-${i}` : `${kind}-src-${i}.dat`;
      sources.push({ kind, fsPath: `/opam/.cache/${name}`, cg });
    }
  });
  return sources;
}

/** Give a loss layer its source: its parent deletes it, last. False when none is left or it sits on the base. */
function assignSource(x: PlanNode, nodes: PlanNode[], unused: Map<SourceKind, SourceRef[]>): boolean {
  const sk = SOURCE_OF[x.kind as LossKind];
  if (!sk) return true;
  const pool = unused.get(sk)!;
  if (pool.length === 0 || x.parent < 0) return false;
  x.source = pool.shift()!;
  nodes[x.parent]!.prepDeletes.push(x.source);
  return true;
}

function setFreshCgs(nodes: PlanNode[], firstFresh: number, ncg: number, losses: number): void {
  if (firstFresh + 8 > ncg) throw new Error(`store-generator: /home has ${ncg} cylinder groups, too few for ${losses} losses`);
  for (const x of nodes) x.freshCg = firstFresh + (x.index % (ncg - firstFresh));
}

/** A scripted plan's sources: one per loss layer that needs one. */
function scriptKinds(nodes: PlanNode[], ncg: number): Plan {
  const losses = nodes.filter((x) => SOURCE_OF[x.kind as LossKind]).length;
  const sources = makeSources(losses + 1);
  const unused = new Map<SourceKind, SourceRef[]>(SOURCE_KINDS.map((k) => [k, sources.filter((s) => s.kind === k)]));
  for (const x of nodes) {
    if (!assignSource(x, nodes, unused)) throw new Error(`store-generator: script step ${x.index} (${x.kind}) needs a parent layer (not the base)`);
  }
  setFreshCgs(nodes, SOURCE_CG0 + SOURCE_KINDS.length * (losses + 1), ncg, losses);
  return { nodes, sources };
}

/** Kinds: each loss and tricky kind once (from 30 layers on), then more by the rates. */
function planKinds(rng: Rng, nodes: PlanNode[], lossRate: number, trickyRate: number, ncg: number): Plan {
  const n = nodes.length;
  const nLoss = Math.max(Math.round(n * lossRate), n >= 30 ? LOSS_KINDS.length : 0);
  const nTricky = Math.max(Math.round(n * trickyRate), n >= 30 ? TRICKY_KINDS.length : 0);
  const perKind = Math.ceil(nLoss / LOSS_KINDS.length) + 1;
  const sources = makeSources(perKind);
  const unused = new Map<SourceKind, SourceRef[]>(SOURCE_KINDS.map((k) => [k, sources.filter((s) => s.kind === k)]));
  const order = rng.shuffle(nodes.map((x) => x.index));
  let cursor = 0;
  const take = (ok: (x: PlanNode) => boolean): PlanNode | null => {
    for (let i = cursor; i < order.length; i++) {
      const x = nodes[order[i]!]!;
      if (x.kind === 'normal' && ok(x)) {
        [order[i], order[cursor]] = [order[cursor]!, order[i]!];
        cursor++;
        return x;
      }
    }
    return null;
  };
  for (let i = 0; i < nLoss; i++) {
    const kind = LOSS_KINDS[i % LOSS_KINDS.length]!;
    const sk = SOURCE_OF[kind];
    if (sk && unused.get(sk)!.length === 0) continue;
    const x = take((c) => !sk || c.parent >= 0);
    if (!x) break;
    x.kind = kind;
    assignSource(x, nodes, unused);
  }
  for (let i = 0; i < nTricky; i++) {
    const x = take(() => true);
    if (!x) break;
    x.kind = TRICKY_KINDS[i % TRICKY_KINDS.length]!;
  }
  setFreshCgs(nodes, SOURCE_CG0 + SOURCE_KINDS.length * perKind, ncg, nLoss);
  return { nodes, sources };
}

// ------------------------------------------------------------------------------------ the base

interface Partitions {
  aOffset: number;
  aSize: number;
  eOffset: number;
  eSize: number;
}

function baseFstab(): string {
  return [
    `${DUID}.a / ffs rw 1 1`,
    `${DUID}.b none swap sw`,
    `${DUID}.e ${HOME} ffs rw,softdep,noatime 1 2`,
    '',
  ].join('\n');
}

/** Root: /etc (fstab, myname, hosts), a shell, /usr/local. */
function populateRoot(rng: Rng, a: Ffs): void {
  a.mkdir('/etc');
  a.writeFile('/etc/fstab', baseFstab());
  a.writeFile('/etc/myname', 'openbsd-78-amd64.example.org\n');
  a.writeFile('/etc/hosts', '127.0.0.1 localhost\n::1 localhost\n');
  a.mkdir('/bin');
  a.writeFile('/bin/ksh', binaryBytes(rng, 300_000), { mode: 0o555 });
  a.mkdir('/usr/local/share/doc', { parents: true });
  a.mkdir('/tmp', { mode: 0o1777 });
}

/** /home: the opam user's tree, an opam-repository-like set of packages, and the loss sources. */
function populateHome(rng: Rng, e: Ffs, sources: SourceRef[], bsize: number): void {
  e.mkdir('/opam', { uid: 1000, gid: 1000 });
  for (const d of ['/opam/src', '/opam/.opam/default/lib', '/opam/.cache', '/opam/opam-repository/packages']) e.mkdir(d, { parents: true, uid: 1000 });
  e.writeFile('/opam/.opam/config', opamText(rng, 'config', 900));
  for (let i = 0; i < 60; i++) {
    const pkg = `${rng.pick(WORDS)}-${i}`;
    const dir = `/opam/opam-repository/packages/${pkg}/${pkg}.1.${i}`;
    e.mkdir(dir, { parents: true });
    e.writeFile(`${dir}/opam`, opamText(rng, pkg, rng.int(300, 4000)));
  }
  for (const s of sources) {
    switch (s.kind) {
      case 'dir':
        e.mkdir(s.fsPath, { cg: s.cg });
        for (let k = 0; k < 4; k++) e.writeFile(`${s.fsPath}/entry-${k}.opam`, opamText(rng, `entry-${k}`, rng.int(200, 1500)));
        break;
      case 'empty-dir':
        e.mkdir(s.fsPath, { cg: s.cg });
        break;
      case 'text':
        e.writeFile(s.fsPath, opamText(rng, path.basename(s.fsPath), 3 * bsize), { cg: s.cg });
        break;
      case 'binary':
        e.writeFile(s.fsPath, binaryBytes(rng, 3 * bsize), { cg: s.cg });
        break;
    }
  }
}

/** The partitioned disk with both filesystems made (empty). */
function makeBaseDisk(diskSize: number, now: number): { disk: Disk; parts: Partitions; root: Ffs; home: Ffs } {
  const disk = Disk.create(diskSize);
  const { patches, partitions } = openbsdIncidentDisk(Math.floor(diskSize / SECTOR), DUID);
  for (const p of patches) disk.write(p.bytes, p.offset);
  const parts: Partitions = {
    aOffset: partitions.a.offset * SECTOR,
    aSize: partitions.a.size * SECTOR,
    eOffset: partitions.e.offset * SECTOR,
    eSize: partitions.e.size * SECTOR,
  };
  const root = newfs(disk, { offset: parts.aOffset, size: parts.aSize, mountPoint: '/', time: now });
  const home = newfs(disk, { offset: parts.eOffset, size: parts.eSize, mountPoint: HOME, time: now });
  return { disk, parts, root, home };
}

// ------------------------------------------------------------------------------------ layer steps

/** What a layer's filesystem holds that later layers may touch (normal files and job dirs only). */
interface PathState {
  files: string[];
  dirs: string[];
}

interface StepContext {
  rng: Rng;
  node: PlanNode;
  root: Ffs;
  home: Ffs;
  state: PathState;
  /** Files written, lost ones included. */
  written: number;
  /** Directories made by this layer. */
  dirs: number;
  lost: { placement: Placement; kind: LossKind; source?: SourceRef }[];
}

/** A new directory for this layer's files; `track`: later layers may delete it (not a loss layer's). */
function jobDir(c: StepContext, track = true): string {
  const n = c.dirs++;
  const d = c.rng.chance(0.5) ? `/opam/src/job-${c.node.index}-${n}` : `/opam/.opam/default/lib/pkg-${c.node.index}-${n}`;
  c.home.mkdir(d, { cg: c.rng.int(0, NORMAL_CGS - 1) });
  if (track) c.state.dirs.push(d);
  return d;
}

function normalFile(c: StepContext, dir: string, i: number): void {
  const r = c.rng.next();
  const name = `${dir}/f${i}-${c.node.index}${r < 0.8 ? '.opam' : '.bin'}`;
  let data: Buffer;
  if (r < 0.75) data = opamText(c.rng, path.basename(name), c.rng.int(60, 20_000));
  else if (r < 0.8) data = opamText(c.rng, path.basename(name), c.rng.int(200_000, 400_000));
  else data = binaryBytes(c.rng, c.rng.int(4000, 200_000));
  c.home.writeFile(name, data, c.rng.chance(0.3) ? { chunk: 4096 } : {});
  c.state.files.push(name);
  c.written++;
}

/** Some files of earlier layers, removed from the state when `remove`. */
function someFiles(c: StepContext, n: number, remove = false): string[] {
  const out: string[] = [];
  for (let k = 0; k < n && c.state.files.length > 0; k++) {
    const i = c.rng.int(0, c.state.files.length - 1);
    const f = c.state.files[i]!;
    if (out.includes(f)) continue;
    out.push(f);
    if (remove) c.state.files.splice(i, 1);
  }
  return out;
}

function writeNormalFiles(c: StepContext, n: number): void {
  const dir = jobDir(c);
  for (let i = 0; i < n; i++) normalFile(c, dir, i);
}

/** A normal step: new files, sometimes deletions, appends, root-partition files, metadata. */
function normalStep(c: StepContext): void {
  if (c.rng.chance(0.2)) for (const f of someFiles(c, c.rng.int(1, 5), true)) c.home.unlink(f);
  writeNormalFiles(c, c.rng.int(1, 50));
  if (c.rng.chance(0.1)) for (const f of someFiles(c, 2)) c.home.append(f, opamText(c.rng, 'appended', c.rng.int(10, 5000)));
  if (c.rng.chance(0.1)) for (const f of someFiles(c, 3)) c.home.chmod(f, 0o600);
  if (c.rng.chance(0.15)) {
    const d = `/usr/local/share/doc/pkg-${c.node.index}`;
    c.root.mkdir(d);
    for (let i = 0; i < c.rng.int(1, 3); i++) c.root.writeFile(`${d}/README-${i}`, opamText(c.rng, `readme-${i}`, c.rng.int(100, 8000)));
  }
}

/** A lost file in `cg`: its inode and directory entry written, its data blocks (`lose`) not. */
function loseFile(c: StepContext, dir: string, name: string, data: Buffer, cg: number, kind: LossKind, lose: Lose, source?: SourceRef): void {
  const placement = c.home.writeFile(`${dir}/${name}`, data, { cg, lose });
  c.lost.push({ placement, kind, ...(source ? { source } : {}) });
  c.written++;
}

/** A loss step: normal files written first, then the lost ones (soft updates lose the last writes). */
function lossStep(c: StepContext, kind: LossKind): void {
  const dir = jobDir(c, false);
  for (let i = 0, n = c.rng.int(1, 12); i < n; i++) normalFile(c, dir, i);
  const bsize = c.home.g.bsize;
  const cg = c.node.source?.cg ?? c.node.freshCg;
  switch (kind) {
    case 'zeros':
      for (let i = 0, n = c.rng.int(1, 4); i < n; i++) loseFile(c, dir, `lost-${i}.opam`, opamText(c.rng, `lost-${i}`, c.rng.int(300, 3 * bsize)), cg, kind, true);
      break;
    case 'directory-block':
    case 'empty-directory-block':
      loseFile(c, dir, 'tls.opam', opamText(c.rng, 'tls', c.rng.int(600, c.home.g.fsize)), cg, kind, true, c.node.source);
      break;
    case 'foreign-text':
    case 'foreign-binary':
      loseFile(c, dir, 'tls-async.opam', opamText(c.rng, 'tls-async', c.rng.int(2 * bsize + 100, 3 * bsize)), cg, kind, true, c.node.source);
      break;
    case 'partial':
      // Eight blocks, the last four lost: two 64 KiB clusters' worth, the second never written.
      loseFile(c, dir, 'big.tar', binaryBytes(c.rng, 8 * bsize + 1000), cg, kind, (lbn: number) => lbn >= 4);
      break;
    case 'indirect':
      // Past the twelve direct blocks, behind the single indirect block (which is written).
      loseFile(c, dir, 'libbig.a', binaryBytes(c.rng, (12 + 20) * bsize), cg, kind, (lbn: number) => lbn >= 12);
      break;
  }
}

function appendStep(c: StepContext): void {
  for (const f of someFiles(c, c.rng.int(1, 5))) c.home.append(f, opamText(c.rng, 'more', c.rng.int(1, 40_000)));
}

function trickyStep(c: StepContext, kind: TrickyKind): void {
  switch (kind) {
    case 'metadata':
      for (const f of someFiles(c, c.rng.int(1, 8))) {
        c.home.chmod(f, 0o640);
        c.home.chown(f, 1000, 1000);
        c.home.utimes(f, c.node.created, c.node.created);
      }
      for (const d of c.state.dirs.slice(-3)) c.home.chmod(d, 0o750);
      break;
    case 'rename':
      renameStep(c);
      break;
    case 'hardlink': {
      const dir = jobDir(c);
      someFiles(c, c.rng.int(1, 8)).forEach((f, i) => c.home.link(f, `${dir}/link-${i}`));
      break;
    }
    case 'append':
      appendStep(c);
      break;
    case 'truncate':
      for (const f of someFiles(c, c.rng.int(1, 5))) c.home.truncate(f, Math.floor(c.home.stat(f).size / c.rng.int(2, 5)));
      break;
    case 'rewrite-same':
      someFiles(c, c.rng.int(2, 8)).forEach((f, i) => {
        c.home.writeFile(f, c.home.readFile(f), { replace: i % 2 === 0 ? 'unlink' : 'truncate' });
        c.written++;
      });
      break;
    case 'zero-files':
      zeroFilesStep(c);
      break;
    case 'delete':
      for (const f of someFiles(c, c.rng.int(1, 10), true)) c.home.unlink(f);
      deleteADir(c);
      break;
    case 'dir-grow':
      dirGrowStep(c);
      break;
  }
}

function renameStep(c: StepContext): void {
  const dir = jobDir(c);
  const files = someFiles(c, c.rng.int(2, 8), true);
  files.forEach((f, i) => {
    const to = i % 2 === 0 ? `${f}.renamed` : `${dir}/moved-${i}.opam`;
    c.home.rename(f, to);
    c.state.files.push(to);
  });
  // Over an existing name: the victim's blocks are freed.
  const [a, b] = someFiles(c, 2);
  if (a && b && a !== b) {
    c.home.rename(a, b);
    c.state.files = c.state.files.filter((f) => f !== a);
  }
}

/** Zero-filled files in a never-used cylinder group, named in an existing directory. */
function zeroFilesStep(c: StepContext): void {
  const dir = c.state.dirs.length > 0 ? c.rng.pick(c.state.dirs) : '/opam/src';
  for (let i = 0, n = c.rng.int(1, 4); i < n; i++) {
    const f = `${dir}/zeros-${c.node.index}-${i}.img`;
    // Not added to the state: no later layer appends to or deletes them (their group stays zeros).
    c.home.writeFile(f, Buffer.alloc(c.rng.int(1, 200_000)), { cg: c.node.freshCg });
    c.written++;
  }
}

function deleteADir(c: StepContext): void {
  const dirs = c.state.dirs.filter((d) => d.startsWith('/opam/src/job-'));
  if (dirs.length === 0) return;
  const d = c.rng.pick(dirs);
  c.home.rmTree(d);
  c.state.dirs = c.state.dirs.filter((x) => x !== d);
  c.state.files = c.state.files.filter((f) => !f.startsWith(`${d}/`));
}

/** A directory gains blocks: many long names (hard links and fast symlinks: no data blocks). */
function dirGrowStep(c: StepContext): void {
  const dir = c.state.dirs.length > 0 ? c.rng.pick(c.state.dirs) : '/opam/src';
  const target = someFiles(c, 1)[0];
  for (let i = 0; i < 150; i++) {
    const name = `${dir}/a-rather-long-name-so-that-the-directory-needs-more-blocks-${c.node.index}-${i}`;
    if (target && i % 2 === 0) c.home.link(target, name);
    else c.home.symlink(name, `target-${i}`);
  }
}

// ------------------------------------------------------------------------------------ the truth

function labelOf(nodes: PlanNode[], index: number, base: string): string {
  return index < 0 ? `base:${base}` : nodes[index]!.id;
}

/** Ground truth for each lost file of a layer, checked against what the writer did. */
function truthOf(c: StepContext, dirty: Set<number>, nodes: PlanNode[], base: string, sourceBlocks: Map<string, number[]>): LostFile[] {
  return c.lost.map(({ placement, kind, source }) => {
    const unwritten = (disk: number, allocated: number): boolean => {
      for (let cl = Math.floor(disk / CHUNK); cl <= Math.floor((disk + allocated - 1) / CHUNK); cl++) if (!dirty.has(cl)) return true;
      return false;
    };
    const lostBlocks = placement.blocks
      .filter((b) => b.lost)
      .map((b) => ({ fileOffset: b.fileOffset, disk: b.disk, allocated: b.allocated, unwritten: unwritten(b.disk, b.allocated) }));
    // Only partial losses may have lost blocks beside their own written ones; every other lost
    // block is alone in its cluster by construction.
    const mustAll = kind !== 'partial' && kind !== 'indirect';
    if (mustAll ? !lostBlocks.every((b) => b.unwritten) : !lostBlocks.some((b) => b.unwritten)) {
      throw new Error(`store-generator: layer ${c.node.index}: lost blocks of ${placement.path} are in clusters the layer wrote`);
    }
    if (source) {
      const want = sourceBlocks.get(source.fsPath) ?? [];
      if (!lostBlocks.every((b) => want.includes(b.disk))) throw new Error(`store-generator: layer ${c.node.index}: ${placement.path} did not get the blocks of ${source.fsPath}`);
    }
    const writtenBlocks = placement.blocks.length - lostBlocks.length;
    const cls: LostFile['class'] = writtenBlocks > 0 ? 'partial' : kind === 'directory-block' || kind === 'empty-directory-block' ? 'directory-block' : kind === 'foreign-text' || kind === 'foreign-binary' ? kind : 'zeros';
    const owner = source ? { layer: labelOf(nodes, nodes[c.node.parent]!.parent, base), path: `${HOME}${source.fsPath}` } : null;
    return { path: `${HOME}${placement.path}`, class: cls, owner, size: placement.size, lostBlocks, writtenBlocks };
  });
}

/** Disk offsets of each source's data blocks in the base (to check that a lost file got them). */
function sourceBlockMap(e: Ffs, sources: SourceRef[]): Map<string, number[]> {
  return new Map(sources.map((s) => [s.fsPath, e.extents(s.fsPath).map((x) => x.disk)]));
}

// ------------------------------------------------------------------------------------ writing

function isoSeconds(t: number): string {
  return new Date(t * 1000).toISOString().replace('T', ' ').slice(0, 19);
}

function imagePath(root: string, id: string): string {
  return path.join(root, 'result', id, 'rootfs', 'image.qcow2');
}

/** The clusters written since the last call, as a qcow2 backed by `backing` (absolute). */
function writeImage(disk: Disk, file: string, backing: string | null): { clusters: number; bytes: number; dirty: Set<number> } {
  const dirty = disk.takeDirty(CHUNK);
  mkdirSync(path.dirname(file), { recursive: true });
  function* clusters(): Generator<[number, Uint8Array]> {
    for (const idx of dirty) yield [idx, disk.readBytes(idx * CHUNK, Math.min(CHUNK, disk.size - idx * CHUNK))];
  }
  const info = writeQcow2Layer({ path: file, virtualSize: disk.size, backing: backing ? { path: backing, format: 'qcow2' } : null, clusters: clusters() });
  return { clusters: dirty.length, bytes: info.fileSize, dirty: new Set(dirty) };
}

function writeDb(root: string, nodes: PlanNode[]): void {
  writeBuildsDb(
    path.join(root, 'state', 'db.sqlite'),
    nodes.map((x) => ({
      id: x.id,
      created: isoSeconds(x.created),
      used: isoSeconds(x.children.length > 0 ? Math.max(...x.children.map((c) => nodes[c]!.created)) : x.created),
      rc: x.children.length,
      parent: x.parent < 0 ? null : nodes[x.parent]!.id,
    })),
  );
}

interface GenState {
  opts: Required<Omit<GeneratorOptions, 'onProgress' | 'start' | 'script'>> & Pick<GeneratorOptions, 'onProgress'>;
  rng: Rng;
  nodes: PlanNode[];
  parts: Partitions;
  baseImage: string;
  sourceBlocks: Map<string, number[]>;
  out: GeneratedLayer[];
  bytes: number;
}

/** Make one layer on a clone of its parent's disk; returns its disk (its children clone it). */
function makeLayer(g: GenState, x: PlanNode, parentDisk: Disk, state: PathState): Disk {
  const disk = parentDisk.clone();
  const root = Ffs.open(disk, g.parts.aOffset, { now: x.created });
  const home = Ffs.open(disk, g.parts.eOffset, { now: x.created });
  const c: StepContext = { rng: g.rng, node: x, root, home, state, written: 0, dirs: 0, lost: [] };
  if (x.step) x.step({ root, home, index: x.index });
  else if (x.kind === 'normal') normalStep(c);
  else if ((LOSS_KINDS as readonly string[]).includes(x.kind)) lossStep(c, x.kind as LossKind);
  else {
    trickyStep(c, x.kind as TrickyKind);
    if (x.kind !== 'zero-files' && c.written === 0) writeNormalFiles(c, g.rng.int(1, 5));
  }
  for (const s of x.prepDeletes) home.rmTree(s.fsPath);
  const backing = x.parent < 0 ? g.baseImage : imagePath(g.opts.root, g.nodes[x.parent]!.id);
  const img = writeImage(disk, imagePath(g.opts.root, x.id), backing);
  writeFileSync(path.join(g.opts.root, 'result', x.id, 'log'), `layer ${x.index} (${x.kind})\n`);
  g.bytes += img.bytes;
  const lost = truthOf(c, img.dirty, g.nodes, g.opts.baseName, g.sourceBlocks);
  g.out[x.index] = {
    id: x.id,
    parent: x.parent < 0 ? null : g.nodes[x.parent]!.id,
    chainDepth: x.depth,
    created: isoSeconds(x.created),
    kind: x.kind,
    expect: lost.length > 0 ? 'soft-updates-data-loss' : 'clean',
    lost,
    filesWritten: c.written,
    clusters: img.clusters,
  };
  return disk;
}

/** Depth first, so at most one disk per chain level is held. */
function generateLayers(g: GenState, baseDisk: Disk): void {
  const roots = g.nodes.filter((x) => x.parent < 0).map((x) => x.index);
  type Frame = { index: number; disk: Disk; state: PathState };
  const stack: Frame[] = roots.reverse().map((index) => ({ index, disk: baseDisk, state: { files: [], dirs: [] } }));
  let done = 0;
  while (stack.length > 0) {
    const f = stack.pop()!;
    const x = g.nodes[f.index]!;
    const state: PathState = { files: [...f.state.files], dirs: [...f.state.dirs] };
    const disk = makeLayer(g, x, f.disk, state);
    g.opts.onProgress?.(++done, g.nodes.length);
    for (const ch of [...x.children].reverse()) stack.push({ index: ch, disk, state });
  }
}

/** Generate a store. Synchronous work, a few milliseconds per layer. */
export function generateStore(options: GeneratorOptions): GeneratedStore {
  const t0 = performance.now();
  const opts = {
    root: path.resolve(options.root),
    layers: options.script?.length ?? options.layers ?? NaN,
    seed: options.seed ?? 1,
    maxDepth: options.maxDepth ?? 20,
    lossRate: options.lossRate ?? 0.04,
    trickyRate: options.trickyRate ?? 0.15,
    diskSize: options.diskSize ?? 40 * 2 ** 30,
    baseName: options.baseName ?? 'openbsd-78-amd64',
    writeTruth: options.writeTruth ?? false,
    onProgress: options.onProgress,
  };
  if (opts.maxDepth < 2) throw new Error('store-generator: maxDepth is at least 2 (a layer and its base)');
  if (!Number.isSafeInteger(opts.layers) || opts.layers < 0) throw new Error(`store-generator: layers ${opts.layers}: give a count of layers (or a script)`);
  const rng = new Rng(opts.seed);
  const start = Math.floor((options.start ?? new Date('2026-05-01T00:00:00Z')).getTime() / 1000);
  const nodes = options.script ? planScript(rng, options.script, opts.seed, start) : planTree(rng, opts.layers, opts.maxDepth, opts.seed, start);
  const base = makeBaseDisk(opts.diskSize, start - 86_400);
  const { sources } = options.script ? scriptKinds(nodes, base.home.g.ncg) : planKinds(rng, nodes, opts.lossRate, opts.trickyRate, base.home.g.ncg);
  populateRoot(rng, base.root);
  populateHome(rng, base.home, sources, base.home.g.bsize);
  const { disk: baseDisk, parts } = base;
  const sourceBlocks = sourceBlockMap(base.home, sources);

  rmSync(opts.root, { recursive: true, force: true });
  for (const d of ['base-image', 'result', 'result-tmp', 'state', 'cache', 'cache-tmp']) mkdirSync(path.join(opts.root, d), { recursive: true });
  const baseImage = path.join(opts.root, 'base-image', `${opts.baseName}.qcow2`);
  const g: GenState = { opts, rng, nodes, parts, baseImage, sourceBlocks, out: [], bytes: writeImage(baseDisk, baseImage, null).bytes };
  generateLayers(g, baseDisk);
  writeDb(opts.root, nodes);
  const store: GeneratedStore = {
    root: opts.root,
    spec: `qemu:${opts.root}`,
    base: opts.baseName,
    baseImage,
    duid: DUID,
    diskSize: opts.diskSize,
    layers: g.out,
    bytes: g.bytes,
    ms: Math.round(performance.now() - t0),
  };
  if (opts.writeTruth) writeFileSync(`${opts.root}.truth.json`, JSON.stringify(store, null, 1));
  return store;
}

// `tsx bench/store-generator.ts --out DIR [--layers N] [--seed S]`
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const arg = (name: string): string | undefined => {
    const i = process.argv.indexOf(`--${name}`);
    return i >= 0 ? process.argv[i + 1] : undefined;
  };
  const out = arg('out');
  if (!out) {
    process.stderr.write('usage: tsx bench/store-generator.ts --out DIR [--layers N] [--seed S]\n');
    process.exit(2);
  }
  const s = generateStore({
    root: out,
    layers: Number(arg('layers') ?? 100),
    seed: Number(arg('seed') ?? 1),
    writeTruth: true,
    onProgress: (d, t) => {
      if (d % 100 === 0 || d === t) process.stderr.write(`store-generator: ${d}/${t} layers\n`);
    },
  });
  const corrupt = s.layers.filter((l) => l.expect !== 'clean').length;
  process.stdout.write(`${s.root}: ${s.layers.length} layers (${corrupt} corrupt), ${(s.bytes / 2 ** 20).toFixed(0)} MiB, ${s.ms} ms; truth in ${s.root}.truth.json\n`);
}
