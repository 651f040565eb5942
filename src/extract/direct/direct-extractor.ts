// The direct producer (design.md section 9): the layer's chain opened read-only in-process as one
// block device (image), its partition table read (volume), the partition holding dst found and
// its FFS opened (filesystem), and the files under dst read into the same Tree the boot path
// gives (file), each with its disk extents and the chain element holding them. Nothing is
// written, no overlay is needed, no QEMU starts. close() closes the image files.

import { elementLabel, openLayerDevice } from '../../store/layer-device.js';
import type { ChainDevice } from '../../image/chain-device.js';
import type { FileReport } from '../../report/schema.js';
import type { ChainLink } from '../../store/chain.js';
import { treeTotals, type Tree, type TreeEntry } from '../../tree/tree.js';
import { firstPaths, ROOTINO } from '../../fs/ffs/index.js';
import { runStep } from '../../util/events.js';
import { noGaps, type Extracted, type Extractor, type ExtractRequest } from '../extractor.js';
import { FsSource } from './fs-source.js';
import { readFsTree } from './fs-tree.js';
import { locateDst, type Located } from './locate.js';
import { ancestorOwnerOf, fragmentsOfExtent, fragmentsOfFile, traceToAncestors, type AncestorView, type DiskInput } from './trace.js';

export interface DirectExtractorOptions {
  /** The layer's resolved chain, the layer first, the base last. */
  links: readonly Pick<ChainLink, 'image' | 'format'>[];
  /** --partition: which partition holds dst (a disklabel letter, a partition number or index). */
  partition?: string;
}

export const DIRECT_STEPS = {
  extract: [
    { id: 'image', label: 'Open the image chain' },
    { id: 'volume', label: 'Find the partition' },
    { id: 'extract', label: 'Read the files' },
  ],
  close: [{ id: 'close', label: 'Close the image' }],
};

/** The views of the disk from the parent up to the base, for tracing stale blocks. */
function ancestorsOf(links: DirectExtractorOptions['links']): AncestorView[] {
  return links.slice(1).map((top, i) => {
    const view = links.slice(i + 1);
    return { label: elementLabel(top.image), open: (): ChainDevice => openLayerDevice(view) };
  });
}

/**
 * The fragments of the tree's files whose bytes an ancestor's image holds (this layer never wrote
 * them): where stale blocks are, and what the disk is asked about first (trace.ts `likely`).
 */
function notWrittenHere(tree: Tree, own: string, partitionOffset: number, fsize: number): number[] {
  const out: number[] = [];
  for (const e of tree.values()) {
    for (const b of e.storage?.blocks ?? []) {
      if (b.disk !== null && b.layer !== own) out.push(...fragmentsOfExtent(b.disk, b.length, partitionOffset, fsize));
    }
  }
  return out;
}

/**
 * What the disk itself says about stale bytes (design.md section 9): the owner of a run in an
 * ancestor layer, asked during classification (one scan of the ancestors for every question, the
 * runs hinted first and the blocks this layer never wrote with them), and the owners of the stale
 * files once classified.
 */
function diskEvidence(o: DirectExtractorOptions, disk: ChainDevice, loc: Located, tree: Tree): Pick<Extracted, 'traceStale' | 'diskHint' | 'originOnDisk'> {
  const partitionOffset = loc.partition.offset;
  const fsize = loc.fs.info.fragmentSize;
  const hinted: number[] = [];
  const onDisk: DiskInput = {
    disk,
    ancestors: ancestorsOf(o.links),
    partitionOffset,
    fragmentSize: fsize,
    mountpoint: loc.mountpoint,
    known: new Map(),
    likely: () => [...notWrittenHere(tree, elementLabel(o.links[0]!.image), partitionOffset, fsize), ...hinted],
  };
  return {
    traceStale: async (reports: FileReport[]) => traceToAncestors({ files: reports, ...onDisk }),
    diskHint: (runs: { entry: TreeEntry; start: number; length: number }[]) => {
      for (const r of runs) if (r.entry.storage) hinted.push(...fragmentsOfFile(r.entry.storage, r.start, r.length, partitionOffset, fsize));
    },
    originOnDisk: async (path: string, entry: TreeEntry, start: number, length: number) =>
      entry.storage ? ancestorOwnerOf(onDisk, { storage: entry.storage, generation: loc.fs.inode(entry.storage.inode).generation, name: path }, start, length) : null,
  };
}

function extractionOf(req: ExtractRequest, loc: Located, files: number, bytes: number): Extracted['extraction'] {
  const p = loc.partition;
  return {
    via: 'direct',
    accel: null,
    dst: req.dst,
    files,
    bytes,
    partition: { scheme: p.scheme, name: p.name, fs: loc.fs.info.type, offset: p.offset, mountpoint: loc.mountpoint },
    filesystem: {
      kind: loc.fs.info.type,
      blockSize: loc.fs.info.blockSize,
      fragmentSize: loc.fs.info.fragmentSize,
      superblockOffset: loc.fs.info.superblockOffset,
    },
  };
}

/**
 * Which directory of the layer's filesystem has inode `ino` (a directory block's `.` entry), as a
 * guest path; null when that inode is not a directory now, or is another directory than the one
 * the block belonged to (none of the block's names are in it: the inode was reused). A directory
 * that is gone is found by tracing the block to an ancestor layer instead (trace.ts).
 */
function directoryOfInode(source: FsSource, loc: Located, ino: number, names: string[]): string | null {
  return source.with((fs) => {
    if (ino < ROOTINO || ino >= fs.info.inodeCount || !fs.isInodeAllocated(ino) || fs.inode(ino).kind !== 'directory') return null;
    const wanted = names.filter((n) => n !== '.' && n !== '..');
    if (wanted.length > 0) {
      const present = new Set(fs.readDir(ino).map((e) => e.name.toString('utf8')));
      if (!wanted.some((n) => present.has(n))) return null;
    }
    const mount = (loc.mountpoint ?? '').replace(/\/+$/, '');
    if (ino === ROOTINO) return mount || '/';
    const path = firstPaths(fs, [ino], () => {}, { maxEntries: 2_000_000 }).get(ino);
    return path ? `${mount}${path.toString('utf8')}` : null;
  });
}

export function directExtractor(o: DirectExtractorOptions): Extractor {
  return {
    via: 'direct',
    steps: DIRECT_STEPS,
    async extract(req: ExtractRequest): Promise<Extracted> {
      const disk = await runStep(req.onEvent, 'image', async () => openLayerDevice(o.links), {
        done: (d) => `${d.elements.length} images, ${d.size} bytes`,
      });
      try {
        const loc = await runStep(req.onEvent, 'volume', async () => locateDst(disk, req.dst, o.partition), {
          done: (l) => `${l.partition.scheme} partition ${l.partition.name}, ${l.fs.info.type}${l.mountpoint ? ` on ${l.mountpoint}` : ''} (${l.how})`,
        });
        const source = new FsSource({ reopen: () => openLayerDevice(o.links), partitionOffset: loc.partition.offset, partitionSize: loc.partition.size }, disk, loc.fs);
        const tree = await runStep(
          req.onEvent,
          'extract',
          async () => readFsTree({ fs: loc.fs, source, disk, partitionOffset: loc.partition.offset, pathInFs: loc.pathInFs, src: req.src }),
          { start: req.dst, done: (t) => `${treeTotals(t).files} files, ${treeTotals(t).bytes} bytes` },
        );
        const { files, bytes } = treeTotals(tree);
        return {
          via: 'direct',
          tree,
          extraction: extractionOf(req, loc, files, bytes),
          candidates: [],
          gaps: noGaps(),
          directoryOfInode: async (ino: number, names: string[] = []) => directoryOfInode(source, loc, ino, names),
          ...diskEvidence(o, disk, loc, tree),
          // The files stay readable after this: a read then opens the chain again for itself.
          close: async () => {
            await runStep(req.onEvent, 'close', async () => source.close());
          },
        };
      } catch (err) {
        await runStep(req.onEvent, 'close', async () => disk.close());
        throw err;
      }
    },
  };
}
