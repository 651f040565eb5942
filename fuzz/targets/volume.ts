// Partition tables (src/volume/, readVolumes) and filesystem detection on each partition
// (src/fs/detect.ts): MBR with logical partitions, GPT (primary and backup), OpenBSD disklabels
// inside an 0xA6 partition and bare, FreeBSD bsdlabels inside an 0xA5 slice. Seeds: GPT made by
// sfdisk, the others by samples/lib/disk-layout.ts. The fixup recomputes GPT CRCs and disklabel
// checksums now and then, so mutations reach the entries behind them.

import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { detectFilesystem } from '../../src/fs/detect.js';
import type { BlockDevice } from '../../src/image/block-device.js';
import { UserError } from '../../src/util/errors.js';
import { crc32 } from '../../src/volume/crc32.js';
import { CLASSIC_PARTITION, DISKMAGIC, disklabelChecksum, FREEBSD_LABEL, OPENBSD_LABEL, OPENBSD_PARTITION } from '../../src/volume/disklabel.js';
import { readVolumes } from '../../src/volume/index.js';
import {
  applyToBuffer,
  bareOpenbsdLabel,
  extendedChain,
  FS_BSDFFS,
  FS_SWAP,
  freebsdDisk,
  mbr,
  openbsdDisk,
  type Patch,
} from '../../samples/lib/disk-layout.js';
import type { Seed } from '../mutate.js';
import { check, type FuzzTarget } from '../target.js';

/** A device over the input's bytes. */
export class MemDevice implements BlockDevice {
  readonly size: number;
  constructor(
    readonly bytes: Uint8Array,
    readonly name = 'fuzz disk',
  ) {
    this.size = bytes.length;
  }
  read(buf: Uint8Array, offset: number): void {
    if (!Number.isSafeInteger(offset) || offset < 0 || offset + buf.length > this.size) {
      throw new UserError(`${this.name}: read of ${buf.length} bytes at ${offset} is outside its ${this.size} bytes`);
    }
    buf.set(this.bytes.subarray(offset, offset + buf.length));
  }
}

const DISK = 256 * 1024;
const SECTORS = DISK / 512;

function disk(patches: Patch[]): { bytes: Buffer; hot: [number, number][] } {
  const bytes = Buffer.from(applyToBuffer(new Uint8Array(DISK), patches));
  return { bytes, hot: patches.map((p) => [p.offset, p.offset + p.bytes.length] as [number, number]) };
}

function gptSeed(work: string): Seed {
  const f = join(work, 'gpt.img');
  writeFileSync(f, Buffer.alloc(DISK));
  execFileSync('sfdisk', ['-q', '--no-reread', '--no-tell-kernel', f], {
    input: 'label: gpt\nunit: sectors\nstart=64, size=128, type=824CC7A0-36A8-11E3-890A-952519AD3F61, name="openbsd"\nstart=256, size=128, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4\n',
    stdio: ['pipe', 'ignore', 'ignore'],
  });
  const bytes = readFileSync(f);
  rmSync(f);
  return { name: 'GPT (sfdisk)', bytes, hot: [[0, 512], [512, 1024], [1024, 1024 + 512], [DISK - 33 * 512, DISK]] };
}

function fixGpt(b: Buffer): void {
  for (const at of [512, b.length - 512]) {
    if (at < 0 || at + 92 > b.length || b.toString('latin1', at, at + 8) !== 'EFI PART') continue;
    const hsize = b.readUInt32LE(at + 12);
    const lba = Number(b.readBigUInt64LE(at + 72));
    const n = b.readUInt32LE(at + 80);
    const esize = b.readUInt32LE(at + 84);
    const bytes = n * esize;
    if (bytes > 0 && bytes <= 1 << 20 && lba * 512 + bytes <= b.length) b.writeUInt32LE(crc32(b.subarray(lba * 512, lba * 512 + bytes)), at + 88);
    if (hsize >= 92 && hsize <= 512 && at + hsize <= b.length) {
      b.writeUInt32LE(0, at + 16);
      b.writeUInt32LE(crc32(b.subarray(at, at + hsize)), at + 16);
    }
  }
}

function fixLabels(b: Buffer, openbsd: boolean): void {
  for (const at of [512, 64 * 512 + 512, 128 * 512 + 512]) {
    if (at + 512 > b.length || b.readUInt32LE(at) !== DISKMAGIC) continue;
    const sector = b.subarray(at, at + 512);
    const head = openbsd ? OPENBSD_LABEL : FREEBSD_LABEL;
    const part = openbsd ? OPENBSD_PARTITION : CLASSIC_PARTITION;
    const view = head.at(sector);
    const n = Math.min(view.u16('d_npartitions'), 22);
    view.setU16('d_checksum', disklabelChecksum(sector, head.size + n * part.size));
  }
}

export const volume: FuzzTarget = {
  name: 'volume',
  parser: 'src/volume/ (readVolumes: MBR, EBR chains, GPT, OpenBSD and FreeBSD disklabels) and src/fs/detect.ts',
  inputs: 60_000,
  maxLength: DISK + 16 * 1024,
  inPlace: 0.85,
  dictionary: ['EFI PART', '\u0057\u0045\u0056\u0082', '\u0055\u00aa', '\u00a6', '\u00a5', '\u00ee', '\u0005', '\u000f', '\u00ff\u00ff\u00ff\u00ff'],
  async seeds(ctx) {
    const ffs = { offset: 128, size: 128, fstype: FS_BSDFFS, fsize: 2048, frag: 8, cpg: 16 };
    const mk = (name: string, patches: Patch[]): Seed => ({ name, ...disk(patches) });
    return [
      mk('MBR, two primaries', [mbr([{ type: 0x83, start: 64, sectors: 128 }, { type: 0xa9, start: 256, sectors: 128, bootable: true }, null, null])]),
      mk('MBR with an extended chain', [
        mbr([{ type: 0x83, start: 32, sectors: 64 }, { type: 0x05, start: 128, sectors: 320 }, null, null]),
        ...extendedChain(128, [
          { type: 0x83, start: 129, sectors: 64 },
          { type: 0x82, start: 194, sectors: 64 },
          { type: 0xa9, start: 259, sectors: 64 },
        ]),
      ]),
      mk('OpenBSD 0xA6 with a disklabel', openbsdDisk({ diskSectors: SECTORS, duid: 'a1b2c3d4e5f60718', partitions: { a: ffs, b: { offset: 256, size: 64, fstype: FS_SWAP }, e: { offset: 320, size: 128, fstype: FS_BSDFFS, fsize: 2048, frag: 8, cpg: 16 } } })),
      mk('bare OpenBSD label', [bareOpenbsdLabel({ diskSectors: SECTORS, duid: '0102030405060708', partitions: { a: { offset: 64, size: 256, fstype: FS_BSDFFS, fsize: 2048, frag: 8, cpg: 16 } } })]),
      mk('FreeBSD 0xA5 slice with a bsdlabel', freebsdDisk({ sliceStart: 63, sliceSectors: 400, absolute: true, partitions: { a: { offset: 16, size: 128, fstype: FS_BSDFFS }, d: { offset: 160, size: 128, fstype: FS_BSDFFS } } })),
      gptSeed(ctx.work),
    ];
  },
  fixup(input, coin) {
    if (coin < 0.4) fixGpt(input);
    else if (coin < 0.6) fixLabels(input, true);
    else if (coin < 0.8) fixLabels(input, false);
    return input;
  },
  run(input) {
    const dev = new MemDevice(input);
    const vs = readVolumes(dev);
    for (const w of vs.warnings) check(!/[\r\n]/.test(w), `multi-line warning ${JSON.stringify(w)}`);
    for (const p of vs.partitions) {
      check(Number.isSafeInteger(p.offset) && Number.isSafeInteger(p.size) && p.offset >= 0 && p.size >= 0, `partition ${p.name} at ${p.offset} size ${p.size}`);
      check(p.offset + p.size <= dev.size, `partition ${p.name} runs past the device`);
      if (!p.container && p.size > 0) detectFilesystem(p.device);
    }
  },
};
