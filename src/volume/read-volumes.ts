// One entry point over the scheme readers, like tsk_vs_open with autodetection: which table the
// device holds, then one flat partition list with nested disklabels after their container.
//
// Detection order:
// 1. Sector 0 is an MBR (0x55AA, sane boot flags, at least one entry): a protective 0xEE entry
//    means GPT; otherwise MBR primaries and logicals, with the disklabel read out of the first
//    0xA6 partition (as OpenBSD's readdoslabel does) and out of every 0xA5 slice.
// 2. A GPT header at LBA 1 without a protective MBR: GPT, with a warning.
// 3. A disklabel at sector 1 of the device: a bare label (OpenBSD or FreeBSD "dangerously dedicated").
// 4. Anything else: no partition table; one entry covering the device (a bare filesystem).

import { readBytes, type BlockDevice } from '../image/block-device.js';
import { escapeText } from '../report/escape.js';
import { UserError } from '../util/errors.js';
import { hasDisklabelMagic, LABEL_BYTE_OFFSET, LABEL_BYTES, readDisklabel, type Flavor } from './disklabel.js';
import { GPT_TYPE_OPENBSD, gptFsHint, gptTypeName } from './gpt-types.js';
import { gptSignatureAt, readGpt } from './gpt.js';
import { DOSPTYP_EFI, DOSPTYP_FREEBSD, DOSPTYP_OPENBSD, mbrFsHint, mbrTypeCode, mbrTypeName } from './mbr-types.js';
import { parseMbrSector, readMbrPartitions, type MbrEntry } from './mbr.js';
import { checkOverlaps, place, SECTOR, type Found, type Partition, type VolumeSystem } from './types.js';

export function readVolumes(dev: BlockDevice): VolumeSystem {
  const warnings: string[] = [];
  if (!Number.isSafeInteger(dev.size) || dev.size < 0) throw new UserError(`${dev.name}: size ${dev.size} is not a byte count`);
  if (dev.size === 0) return { scheme: 'none', partitions: [], warnings: [`${dev.name}: empty device (0 bytes)`] };
  if (dev.size < SECTOR) {
    warnings.push(`${dev.name}: ${dev.size} bytes, less than one sector; no partition table`);
    return whole(dev, warnings);
  }
  const mbr = parseMbrSector(readBytes(dev, 0, SECTOR));
  if (mbr.ok && mbr.entries.length > 0) {
    if (mbr.entries.some((e) => e.type === DOSPTYP_EFI)) return fromGpt(dev, gptSignatureAt(dev) ?? SECTOR, mbr.entries, warnings);
    return fromMbr(dev, mbr.entries, warnings);
  }
  const ss = gptSignatureAt(dev);
  if (ss !== null) {
    warnings.push(`${dev.name}: GPT header at LBA 1 but no protective MBR (${mbr.ok ? 'its table is empty' : mbr.why})`);
    return fromGpt(dev, ss, [], warnings);
  }
  if (dev.size >= LABEL_BYTE_OFFSET + LABEL_BYTES && hasDisklabelMagic(readBytes(dev, LABEL_BYTE_OFFSET, LABEL_BYTES))) {
    const r = readDisklabel(dev, LABEL_BYTE_OFFSET, { flavor: 'auto', areaStart: 0 }, warnings);
    if (!r.ok) throw new UserError(`${dev.name}: disklabel at sector 1 cannot be read: ${r.why}`);
    return finish(dev, 'disklabel', r.partitions, warnings, r.label.duid);
  }
  return whole(dev, warnings);
}

function whole(dev: BlockDevice, warnings: string[]): VolumeSystem {
  const f: Found = {
    scheme: 'none',
    index: 0,
    name: 'whole',
    type: 'none',
    typeName: 'no partition table (the whole device)',
    fsHint: null,
    offset: 0,
    size: dev.size,
    container: false,
    deviceName: '(whole device)',
  };
  return finish(dev, 'none', [f], warnings);
}

function fromMbr(dev: BlockDevice, primaries: readonly MbrEntry[], warnings: string[]): VolumeSystem {
  const found: Found[] = [];
  let duid: string | undefined;
  let openbsd: string | null = null;
  for (const p of readMbrPartitions(dev, primaries, warnings)) {
    const entry: Found = {
      scheme: 'mbr',
      index: p.index,
      name: p.name,
      type: mbrTypeCode(p.type),
      typeName: mbrTypeName(p.type),
      fsHint: p.extended ? null : mbrFsHint(p.type),
      offset: p.start * SECTOR,
      size: p.sectors * SECTOR,
      container: p.extended,
      ...(p.parent !== undefined ? { parent: p.parent } : {}),
      bootable: p.bootable,
      deviceName: `partition ${p.name}`,
    };
    found.push(entry);
    let flavor: Flavor | null = null;
    if (p.type === DOSPTYP_OPENBSD) {
      // OpenBSD reads the label of the first 0xA6 partition only (readdoslabel/spoofmbr).
      if (openbsd === null) {
        openbsd = p.name;
        flavor = 'openbsd';
      } else {
        warnings.push(`${dev.name}: MBR partition ${p.name} is a second OpenBSD (0xa6) partition; OpenBSD reads only ${openbsd}'s label, and so does this`);
      }
    } else if (p.type === DOSPTYP_FREEBSD) {
      flavor = 'freebsd';
    }
    if (flavor) {
      const labels = nestedLabel(dev, entry, flavor, warnings);
      if (labels) {
        found.push(...labels.partitions);
        duid ??= labels.duid;
      }
    }
  }
  return finish(dev, 'mbr', found, warnings, duid);
}

function fromGpt(dev: BlockDevice, ss: number, mbrEntries: readonly MbrEntry[], warnings: string[]): VolumeSystem {
  const others = mbrEntries.filter((e) => e.type !== DOSPTYP_EFI);
  if (others.length > 0) {
    warnings.push(`${dev.name}: hybrid MBR (entries ${others.map((e) => e.slot + 1).join(', ')} beside the 0xee one); the GPT is read, the MBR entries are not`);
  }
  const gpt = readGpt(dev, ss, warnings);
  const found: Found[] = [];
  let duid: string | undefined;
  for (const e of gpt.entries) {
    const name = String(e.index + 1);
    const entry: Found = {
      scheme: 'gpt',
      index: e.index,
      name,
      type: e.type,
      typeName: gptTypeName(e.type),
      fsHint: gptFsHint(e.type),
      offset: toBytes(e.start, ss),
      size: toBytes(e.end - e.start + 1n, ss),
      container: false,
      label: e.name,
      guid: e.guid,
      deviceName: `partition ${name}`,
    };
    found.push(entry);
    if (e.type === GPT_TYPE_OPENBSD) {
      const labels = nestedLabel(dev, entry, 'openbsd', warnings);
      if (labels) {
        found.push(...labels.partitions);
        duid ??= labels.duid;
      }
    }
  }
  return finish(dev, 'gpt', found, warnings, duid);
}

/**
 * The disklabel at sector 1 of an MBR or GPT partition. Found: the partition becomes a container
 * and the label's partitions are returned. Not found: a warning, and the partition stays a
 * candidate filesystem of its own.
 */
function nestedLabel(dev: BlockDevice, container: Found, flavor: Flavor, warnings: string[]): { partitions: Found[]; duid?: string } | null {
  const at = container.offset + LABEL_BYTE_OFFSET;
  const what = `${dev.name}: ${container.scheme.toUpperCase()} partition ${container.name} (${container.typeName})`;
  if (!Number.isSafeInteger(at) || container.size < LABEL_BYTE_OFFSET + LABEL_BYTES) {
    warnings.push(`${what} is too small to hold a disklabel`);
    return null;
  }
  const r = readDisklabel(dev, at, { flavor, areaStart: container.offset, parent: container.name }, warnings);
  if (!r.ok) {
    warnings.push(`${what} holds no disklabel at its sector 1: ${escapeText(r.why)}`);
    return null;
  }
  container.container = true;
  container.fsHint = null;
  return { partitions: r.partitions, ...(r.label.duid ? { duid: r.label.duid } : {}) };
}

/** Sectors to bytes; an absurd count becomes an unsafe number that place() turns into a warning. */
function toBytes(sectors: bigint, ss: number): number {
  return Number(sectors * BigInt(ss));
}

function finish(dev: BlockDevice, scheme: VolumeSystem['scheme'], found: readonly Found[], warnings: string[], duid?: string): VolumeSystem {
  const partitions: Partition[] = [];
  for (const f of found) {
    const p = place(dev, f, warnings);
    if (p) partitions.push(p);
  }
  checkOverlaps(dev, partitions, warnings);
  return { scheme, partitions, warnings, ...(duid ? { duid } : {}) };
}
