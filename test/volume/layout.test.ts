// The structure tables against the numbers their headers state: OpenBSD's _LOCORE offsets
// (d_secsize 40 … d_secperunit 60, d_end_ 404), FreeBSD's CTASSERT (148 + 8 * 16) and the
// le32enc offsets of g_part_bsd.c, the UEFI GPT header (92 bytes) and entry (128 bytes).

import { describe, expect, test } from 'vitest';
import { crc32 } from '../../src/volume/crc32.js';
import {
  CLASSIC_PARTITION,
  decodeFragblock,
  encodeFragblock,
  FREEBSD_LABEL,
  OPENBSD_LABEL,
  OPENBSD_MAXPARTITIONS,
  OPENBSD_PARTITION,
} from '../../src/volume/disklabel.js';
import { guidBytes, guidText } from '../../src/volume/gpt-types.js';
import { GPT_ENTRY, GPT_HEADER } from '../../src/volume/gpt.js';
import { DOS_PARTITION, DOSPARTOFF, MBR } from '../../src/volume/mbr.js';

describe('structure tables', () => {
  test('OpenBSD disklabel: the offsets sys/sys/disklabel.h gives its assembler', () => {
    const o = OPENBSD_LABEL.offset;
    expect([o.d_secsize, o.d_nsectors, o.d_ntracks, o.d_ncylinders, o.d_secpercyl, o.d_secperunit]).toEqual([40, 44, 48, 52, 56, 60]);
    expect(OPENBSD_LABEL.size + OPENBSD_MAXPARTITIONS * OPENBSD_PARTITION.size).toBe(404); // d_end_
    expect(o.d_uid).toBe(64);
    expect([o.d_magic2, o.d_checksum, o.d_npartitions]).toEqual([132, 136, 138]);
    expect(OPENBSD_PARTITION.offset).toEqual({ p_size: 0, p_offset: 4, p_offseth: 8, p_sizeh: 10, p_fstype: 12, p_fragblock: 13, p_cpg: 14 });
  });

  test("FreeBSD disklabel: CTASSERT(sizeof == 148 + 8 * 16) and g_part_bsd.c's offsets", () => {
    const o = FREEBSD_LABEL.offset;
    expect(FREEBSD_LABEL.size + 8 * CLASSIC_PARTITION.size).toBe(148 + 8 * 16);
    expect([o.d_secsize, o.d_nsectors, o.d_ntracks, o.d_ncylinders, o.d_secpercyl, o.d_secperunit]).toEqual([40, 44, 48, 52, 56, 60]);
    expect([o.d_rpm, o.d_magic2, o.d_checksum, o.d_npartitions, o.d_bbsize]).toEqual([72, 132, 136, 138, 140]);
    expect(CLASSIC_PARTITION.offset).toEqual({ p_size: 0, p_offset: 4, p_fsize: 8, p_fstype: 12, p_frag: 13, p_cpg: 14 });
  });

  test('MBR and GPT', () => {
    expect(MBR.size).toBe(512);
    expect(DOSPARTOFF).toBe(446);
    expect(MBR.offset.dmbr_sign).toBe(510);
    expect(DOS_PARTITION.size).toBe(16);
    expect(DOS_PARTITION.offset.dp_start).toBe(8);
    expect(GPT_HEADER.size).toBe(92);
    expect([GPT_HEADER.offset.gh_csum, GPT_HEADER.offset.gh_part_lba, GPT_HEADER.offset.gh_part_csum]).toEqual([16, 72, 88]);
    expect(GPT_ENTRY.size).toBe(128);
    expect([GPT_ENTRY.offset.gp_lba_start, GPT_ENTRY.offset.gp_name]).toEqual([32, 56]);
  });
});

describe('helpers', () => {
  test('CRC-32 check value ("123456789" → 0xCBF43926) and chaining', () => {
    const data = Buffer.from('123456789');
    expect(crc32(data)).toBe(0xcbf43926);
    expect(crc32(data.subarray(4), crc32(data.subarray(0, 4)))).toBe(0xcbf43926);
    expect(crc32(new Uint8Array(0))).toBe(0);
  });

  test("p_fragblock: OpenBSD's DISKLABELV1_FFS_FRAGBLOCK(2048, 8) is 0x14 (16 KiB blocks)", () => {
    expect(encodeFragblock(2048, 8)).toBe(0x14);
    expect(decodeFragblock(0x14)).toEqual({ fsize: 2048, bsize: 16384 });
    expect(decodeFragblock(encodeFragblock(4096, 8))).toEqual({ fsize: 4096, bsize: 32768 });
    expect(decodeFragblock(0)).toEqual({ fsize: 0, bsize: 0 });
    expect(decodeFragblock(0x10)).toEqual({ fsize: 0, bsize: 0 });
  });

  test('GUIDs: mixed-endian on disk (the EFI system type starts 28 73 2A C1)', () => {
    const b = guidBytes('C12A7328-F81F-11D2-BA4B-00A0C93EC93B');
    expect(Buffer.from(b).toString('hex')).toBe('28732ac11ff8d211ba4b00a0c93ec93b');
    expect(guidText(b)).toBe('C12A7328-F81F-11D2-BA4B-00A0C93EC93B');
  });
});
