// One layer of an audit: open the layer's view of the disk and its parent's, collect the
// self-evidence (self-evidence.ts), name each damaged file by its absolute guest path (mount
// points from the root partition's /etc/fstab), class its stale bytes, trace them to their owner
// in an ancestor layer, and give the verdict. Everything is read in-process, read-only.

import { isAllZero } from '../classify/bytes.js';
import type { ChainDevice } from '../image/chain-device.js';
import { mountsDisk, partitionForSpec } from '../extract/direct/fstab.js';
import { readFstab } from '../extract/direct/locate.js';
import { traceToAncestors } from '../extract/direct/trace.js';
import { detectFilesystem } from '../fs/detect.js';
import type { FfsFilesystem } from '../fs/ffs/index.js';
import type { FileReport, Provenance, Region } from '../report/schema.js';
import type { ChainLink } from '../store/chain.js';
import { elementLabel, openLayerDevice } from '../store/layer-device.js';
import { UserError } from '../util/errors.js';
import type { Partition } from '../volume/index.js';
import { ownRanges } from './own-clusters.js';
import {
  bytesAt,
  collectEvidence,
  dataPartitions,
  ensurePaths,
  isAmbiguous,
  isStale,
  openFfs,
  refineEqualBlocks,
  type ChangedFile,
  type PartitionEvidence,
  type Views,
} from './self-evidence.js';
import { classifyStale } from './stale-content.js';

export type AuditVerdict = 'clean' | 'soft-updates-data-loss' | 'inconclusive';

export interface AuditFile {
  /** Absolute guest path when the mount point is known, else the path in the partition's filesystem. */
  path: string;
  class: FileReport['class'];
  provenance: Provenance | null;
  /** One line: what the blocks show. */
  evidence: string;
  /** The report entry (regions, storage, detail), for a caller that wants it all. */
  report: FileReport;
}

export interface LayerAuditResult {
  verdict: AuditVerdict;
  files: AuditFile[];
  /** Why the evidence cannot decide (inconclusive), or what could not be compared. */
  notes: string[];
  /** Inodes changed and blocks newly assigned, for the record. */
  stats: { partitions: number; changedInodes: number; newBlocks: number; staleBlocks: number; ambiguousBlocks: number };
}

/** Mount points by partition, when the caller knows them; else paths are in-filesystem. */
export type MountPoints = (partition: Partition) => string | null;

export interface AuditLayerOptions {
  /** L2 table cache per open chain, bytes (default: the image layer's default, 8 MiB). */
  cacheBytes?: number;
}

type Chain = readonly Pick<ChainLink, 'image' | 'format'>[];

/** Mount points from /etc/fstab on whichever partition has one (the root partition). */
export function fstabMounts(parts: readonly Partition[], fsOf: (p: Partition) => FfsFilesystem | null): MountPoints {
  const byOffset = new Map<number, string>();
  for (const p of parts) {
    const fs = fsOf(p);
    const entries = fs ? readFstab(fs) : null;
    if (!entries) continue;
    const volumeName = (q: Partition): string | null => fsOf(q)?.info.volumeName ?? null;
    for (const e of entries.filter(mountsDisk)) {
      const target = partitionForSpec(e.spec, parts, volumeName);
      if (target && !byOffset.has(target.offset)) byOffset.set(target.offset, e.mountpoint);
    }
    break;
  }
  return (p) => byOffset.get(p.offset) ?? null;
}

function prefixOf(mount: string | null): string {
  return (mount ?? '').replace(/\/+$/, '');
}

/** Where the bytes of each stale block come from: the chain element's label (null: none, zeros). */
function storageOf(f: ChangedFile, layer: ChainDevice): NonNullable<FileReport['storage']> {
  const blocks = f.blocks.filter(isStale).sort((a, b) => a.fileOffset - b.fileOffset);
  return {
    inode: f.ino,
    blocks: blocks.map((b) => {
      const e = layer.map(b.disk, b.length).find((x) => x.element !== 0);
      const element = e ? e.element : 0;
      return { offset: b.fileOffset, length: b.length, disk: b.disk, layer: element === null ? null : (layer.elements[element]?.label ?? null) };
    }),
  };
}

/** Regions of the stale blocks, each classed by its own bytes, merged where they continue. */
async function staleRegions(f: ChangedFile, parts: Buffer[], inodeCount: number): Promise<Region[]> {
  const stale = f.blocks.filter(isStale).sort((a, b) => a.fileOffset - b.fileOffset);
  const regions: Region[] = [];
  for (const [i, b] of stale.entries()) {
    const cls = (await classifyStale(parts[i]!, inodeCount)).class;
    const last = regions[regions.length - 1];
    if (last && last.class === cls && last.offset + last.length === b.fileOffset) last.length += b.length;
    else regions.push({ offset: b.fileOffset, length: b.length, class: cls });
  }
  return regions;
}

/**
 * A damaged file as a report entry: its class from the bytes of its stale blocks (`partial` when
 * it also holds blocks that are not stale: kept from the parent or written), regions, storage.
 */
export async function reportFor(f: ChangedFile, path: string, layer: ChainDevice, inodeCount: number): Promise<FileReport> {
  const stale = f.blocks.filter(isStale).sort((a, b) => a.fileOffset - b.fileOffset);
  const parts = stale.map((b) => bytesAt(layer, b.disk, b.length));
  const c = await classifyStale(Buffer.concat(parts), inodeCount);
  const fine = f.keptBlocks > 0 || f.blocks.some((b) => !isStale(b) && !isAmbiguous(b));
  return {
    path,
    class: fine ? 'partial' : c.class,
    kind: f.kind,
    expectedSize: null,
    actualSize: f.size,
    expectedSha256: null,
    actualSha256: null,
    provenance: null,
    regions: await staleRegions(f, parts, inodeCount),
    detail: fine ? { staleBytes: parts.reduce((n, p) => n + p.length, 0), staleClass: c.class, ...c.detail } : c.detail,
    storage: storageOf(f, layer),
  };
}

function evidenceLine(r: FileReport, f: ChangedFile): string {
  const stale = f.blocks.filter(isStale);
  const unwritten = stale.filter((b) => b.state === 'unwritten').length;
  const dirs = stale.length - unwritten;
  const what: string[] = [];
  if (unwritten > 0) what.push(`${unwritten} newly assigned block${unwritten === 1 ? '' : 's'} never written by this layer`);
  if (dirs > 0) what.push(`${dirs} block${dirs === 1 ? '' : 's'} still holding the parent's directory block`);
  const of = r.class === 'partial' ? ` (of ${f.blocks.length + f.keptBlocks} blocks)` : '';
  const p = r.provenance;
  const from = p ? `; the bytes of ${p.path} in ${p.layer?.startsWith('base:') ? p.layer : `layer ${(p.layer ?? '?').slice(0, 12)}`}` : '';
  return `${r.class}: ${what.join(', ')}${of}${from}`;
}

/** Notes for blocks whose equal-to-parent bytes cannot decide (never a verdict of loss). */
function ambiguityNotes(ev: PartitionEvidence, prefix: string): string[] {
  const notes: string[] = [];
  const files = ev.files.filter((f) => !f.blocks.some(isStale) && f.blocks.some(isAmbiguous));
  ensurePaths(ev, files);
  for (const f of files) {
    const zeros = f.blocks.filter((b) => b.state === 'equal-zeros').length;
    const equal = f.blocks.filter((b) => b.state === 'equal-data').length;
    const path = `${prefix}${f.path?.display ?? `/<inode ${f.ino}>`}`;
    const s = (n: number): string => (n === 1 ? '' : 's');
    if (zeros > 0) notes.push(`${path}: ${zeros} newly assigned block${s(zeros)} of zeros, in clusters this layer wrote for something else, equal to the parent's zeros: lost data, or a legal file of zeros`);
    if (equal > 0) notes.push(`${path}: ${equal} newly assigned block${s(equal)}, in clusters this layer wrote, hold exactly the parent's bytes: stale, or the same content written again`);
  }
  return notes;
}

function ancestorsOf(chain: Chain, opts: AuditLayerOptions) {
  return chain.slice(1).map((top, i) => ({ label: elementLabel(top.image), open: () => openLayerDevice(chain.slice(i + 1), { cacheBytes: opts.cacheBytes }) }));
}

async function partitionFiles(ev: PartitionEvidence, chain: Chain, layer: ChainDevice, mount: string | null, opts: AuditLayerOptions): Promise<AuditFile[]> {
  const damaged = ev.files.filter((f) => f.blocks.some(isStale));
  if (damaged.length === 0) return [];
  ensurePaths(ev, damaged);
  const prefix = prefixOf(mount);
  const inodeCount = ev.fs.info.inodeCount;
  const reports = await Promise.all(damaged.map((f) => reportFor(f, `${prefix}${f.path?.display ?? `/<inode ${f.ino}>`}`, layer, inodeCount)));
  const input = { disk: layer, ancestors: ancestorsOf(chain, opts), partitionOffset: ev.partition.offset, fragmentSize: ev.fs.info.fragmentSize, mountpoint: mount };
  // Zeros are not traced: never-used blocks have no owner, and walking every ancestor to find none costs the most.
  const traced = reports.map((r) => ({ ...r, detail: { ...r.detail }, storage: { inode: r.storage!.inode, blocks: r.storage!.blocks.filter((b) => !isAllZeroAt(layer, b.disk!, b.length)) } }));
  // trace.ts also names a directory removed in the parent, by its block's "." entry.
  traceToAncestors({ ...input, files: traced });
  return reports.map((r, i) => {
    const t = traced[i]!;
    r.provenance = t.provenance;
    if (t.detail.owners) r.detail.owners = t.detail.owners;
    return { path: r.path, class: r.class, provenance: r.provenance, evidence: evidenceLine(r, damaged[i]!), report: r };
  });
}

function isAllZeroAt(dev: ChainDevice, disk: number, length: number): boolean {
  return isAllZero(bytesAt(dev, disk, length));
}

/** Every data partition of the layer's view with its FFS (null when it has none this reader opens). */
function openPartitions(layer: ChainDevice): { partition: Partition; fs: FfsFilesystem | null }[] {
  return dataPartitions(layer).map((partition) => ({ partition, fs: openFfs(partition) }));
}

function noFfs(parts: { partition: Partition; fs: FfsFilesystem | null }[]): UserError {
  const seen = parts.map((p) => `${p.partition.name}: ${detectFilesystem(p.partition.device).name}`).join(', ');
  return new UserError(`no FFS (UFS1/UFS2) partition the audit can read on the layer's disk (${seen || 'no partitions'})`);
}

function statsOf(evidence: PartitionEvidence[]): LayerAuditResult['stats'] {
  const all = evidence.flatMap((e) => e.files.flatMap((f) => f.blocks));
  return {
    partitions: evidence.length,
    changedInodes: evidence.reduce((n, e) => n + e.changedInodes, 0),
    newBlocks: all.length,
    staleBlocks: all.filter(isStale).length,
    ambiguousBlocks: all.filter(isAmbiguous).length,
  };
}

/**
 * Audit one layer given its resolved chain (the layer first). `mounts` names where each
 * partition is mounted (default: the root partition's /etc/fstab). Throws UserError when the
 * chain cannot be read or its disk has no FFS partition.
 */
export async function auditLayer(chain: Chain, mounts?: MountPoints, opts: AuditLayerOptions = {}): Promise<LayerAuditResult> {
  if (chain.length < 2) {
    return { verdict: 'inconclusive', files: [], notes: ['the layer has no parent to compare with'], stats: statsOf([]) };
  }
  const layer = openLayerDevice(chain, { cacheBytes: opts.cacheBytes });
  const parent = openLayerDevice(chain.slice(1), { cacheBytes: opts.cacheBytes });
  try {
    const v: Views = { layer, parent, own: ownRanges(chain[0]!.image) };
    const parts = openPartitions(layer);
    if (!parts.some((p) => p.fs)) throw noFfs(parts);
    const mountOf = mounts ?? fstabMounts(parts.map((p) => p.partition), (q) => parts.find((p) => p.partition.offset === q.offset)?.fs ?? null);
    const undecided: string[] = [];
    const evidence = collectEvidence(v, undecided, parts);
    const files: AuditFile[] = [];
    const ambiguity: string[] = [];
    for (const ev of evidence) {
      refineEqualBlocks(v, ev);
      const mount = mountOf(ev.partition);
      const found = await partitionFiles(ev, chain, layer, mount, opts);
      if (found.length > 0 && mount === null) undecided.push(`partition ${ev.partition.name}: no /etc/fstab names its mount point, so its paths are inside its own filesystem`);
      files.push(...found);
      ambiguity.push(...ambiguityNotes(ev, prefixOf(mount)));
    }
    const verdict: AuditVerdict = files.length > 0 ? 'soft-updates-data-loss' : undecided.length + ambiguity.length > 0 ? 'inconclusive' : 'clean';
    return { verdict, files, notes: [...undecided, ...ambiguity], stats: statsOf(evidence) };
  } finally {
    layer.close();
    parent.close();
  }
}
