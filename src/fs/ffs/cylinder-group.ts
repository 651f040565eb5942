// Cylinder group headers (struct cg, FreeBSD sys/ufs/ffs/fs.h): the used-inode map and the
// free-fragment map of each group. Headers are immutable for an open filesystem, so they are
// read once and kept in a small bounded cache.

import type { BlockDevice } from '../../image/block-device.js';
import { layout, type Decoded } from './layout.js';
import { Lru } from '../../util/lru.js';
import type { Geometry } from './superblock.js';

export const CG_MAGIC = 0x090255;

/** struct cg: 168 bytes, followed by the maps it points to. */
export const CG_HEADER = layout('struct cg', 168, {
  magic: [4, 'i32'],
  old_time: [8, 'i32'],
  cgx: [12, 'u32'],
  old_ncyl: [16, 'i16'],
  old_niblk: [18, 'i16'],
  ndblk: [20, 'u32'],
  cs_ndir: [24, 'i32'],
  cs_nbfree: [28, 'i32'],
  cs_nifree: [32, 'i32'],
  cs_nffree: [36, 'i32'],
  rotor: [40, 'u32'],
  frotor: [44, 'u32'],
  irotor: [48, 'u32'],
  old_btotoff: [84, 'i32'],
  old_boff: [88, 'i32'],
  iusedoff: [92, 'u32'],
  freeoff: [96, 'u32'],
  nextfreeoff: [100, 'u32'],
  clustersumoff: [104, 'u32'],
  clusteroff: [108, 'u32'],
  nclusterblks: [112, 'u32'],
  niblk: [116, 'u32'],
  initediblk: [120, 'u32'],
  unrefs: [124, 'u32'],
  ckhash: [132, 'u32'],
  time: [136, 'i64'],
});

export type RawCg = Decoded<typeof CG_HEADER.fields>;

export class CylinderGroup {
  constructor(
    readonly index: number,
    readonly header: RawCg,
    /** The header block (cgsize bytes); the maps are views into it. */
    private readonly block: Buffer,
    private readonly geo: Geometry,
  ) {}

  /** Whether inode number `ino % ipg` of this group is marked used. */
  inodeUsed(indexInGroup: number): boolean {
    const byte = this.block[this.header.iusedoff + (indexInGroup >> 3)]!;
    return (byte & (1 << (indexInGroup & 7))) !== 0;
  }

  /** Whether fragment `frag % fpg` of this group is marked free. */
  fragmentFree(indexInGroup: number): boolean {
    const byte = this.block[this.header.freeoff + (indexInGroup >> 3)]!;
    return (byte & (1 << (indexInGroup & 7))) !== 0;
  }

  /**
   * Inodes of this group that have ever been initialised (UFS2 initialises inode blocks lazily;
   * past this point the table holds whatever was on the disk before and reads as zeros).
   */
  get initializedInodes(): number {
    if (this.geo.version === 1) return this.geo.ipg;
    return Math.min(this.header.initediblk, this.geo.ipg);
  }
}

/** Why this cg header cannot be used, or null. */
function insaneCg(h: RawCg, c: number, geo: Geometry): string | null {
  if (h.magic !== CG_MAGIC) return `bad magic ${h.magic >>> 0}`;
  if (h.cgx !== c) return `it says it is group ${h.cgx}`;
  const frags = geo.cgFragments(c);
  if (h.ndblk !== frags) return `it says it has ${h.ndblk} fragments, not ${frags}`;
  const imap = Math.ceil(geo.ipg / 8);
  const fmap = Math.ceil(frags / 8);
  if (h.iusedoff < CG_HEADER.size || h.iusedoff + imap > geo.cgsize) return `inode map at ${h.iusedoff} is outside the ${geo.cgsize}-byte header`;
  if (h.freeoff < CG_HEADER.size || h.freeoff + fmap > geo.cgsize) return `fragment map at ${h.freeoff} is outside the ${geo.cgsize}-byte header`;
  return null;
}

/** Reads and caches cylinder group headers. */
export class CylinderGroups {
  private readonly cache = new Lru<number, CylinderGroup>(32);

  constructor(
    private readonly dev: BlockDevice,
    private readonly geo: Geometry,
  ) {}

  get(c: number): CylinderGroup {
    const hit = this.cache.get(c);
    if (hit) return hit;
    const geo = this.geo;
    if (!Number.isInteger(c) || c < 0 || c >= geo.ncg) throw geo.error(`cylinder group ${c} does not exist (0-${geo.ncg - 1})`);
    const block = Buffer.alloc(geo.cgsize);
    this.dev.read(block, geo.cgtod(c) * geo.fsize);
    const header = CG_HEADER.read(block);
    const why = insaneCg(header, c, geo);
    if (why) throw geo.error(`cylinder group ${c} header at fragment ${geo.cgtod(c)}: ${why}`);
    const cg = new CylinderGroup(c, header, block, geo);
    this.cache.set(c, cg);
    return cg;
  }
}
