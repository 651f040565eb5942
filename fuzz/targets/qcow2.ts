// qcow2 (src/image/): the header and its extensions (qcow2-header.ts), and the image itself read
// as a chain device (qcow2.ts, chain-device.ts): L1 and L2 tables, zero and compressed clusters,
// the map of which element holds each range. Seeds: images made by qemu-img and qemu-io (v2 and
// v3, cluster sizes from 512 B to 1 MiB, a backing name and format, data, zero clusters,
// compressed clusters, extended L2, lazy refcounts). Mutations go mostly to the header cluster
// and the tables.

import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openImageChain } from '../../src/image/chain-device.js';
import { probeImageFormatSync, readQcow2HeaderSync, refuseUnsupported, type Qcow2Header } from '../../src/image/qcow2-header.js';
import { UserError } from '../../src/util/errors.js';
import type { Seed } from '../mutate.js';
import { check, type FuzzTarget, type RunContext } from '../target.js';

const img = (...args: string[]): void => void execFileSync('qemu-img', args, { stdio: 'ignore' });
const io = (file: string, ...cmds: string[]): void => void execFileSync('qemu-io', ['-f', 'qcow2', ...cmds.flatMap((c) => ['-c', c]), file], { stdio: 'ignore' });

/** The ranges of a qcow2 worth mutating: the header cluster, L1, the refcount table, the first L2 tables. */
function hotRanges(bytes: Buffer, file: string): [number, number][] {
  let h: Qcow2Header;
  try {
    h = readQcow2HeaderSync(file);
  } catch {
    return [[0, 4096]];
  }
  const out: [number, number][] = [[0, Math.min(h.clusterSize, 4096)]];
  out.push([h.l1TableOffset, h.l1TableOffset + Math.max(8, h.l1Size * 8)]);
  out.push([h.refcountTableOffset, h.refcountTableOffset + 64]);
  // L2 tables: the clusters the L1 entries point at.
  for (let i = 0; i < Math.min(h.l1Size, 8); i++) {
    const at = h.l1TableOffset + i * 8;
    if (at + 8 > bytes.length) break;
    const l2 = Number(bytes.readBigUInt64BE(at) & 0x00fffffffffffe00n);
    if (l2 > 0 && l2 < bytes.length) out.push([l2, Math.min(bytes.length, l2 + 512)]);
  }
  return out;
}

async function qcow2Seeds(ctx: RunContext): Promise<Seed[]> {
  const dir = ctx.work;
  const specs: { name: string; make: (f: string) => void }[] = [
    { name: 'v3 empty', make: (f) => img('create', '-q', '-f', 'qcow2', f, '64M') },
    { name: 'v2 (compat 0.10) with data', make: (f) => (img('create', '-q', '-f', 'qcow2', '-o', 'compat=0.10', f, '64M'), io(f, 'write -P 0x5a 0 192k', 'write -P 0xa5 40M 64k')) },
    { name: 'v3 512-byte clusters with data and zero clusters', make: (f) => (img('create', '-q', '-f', 'qcow2', '-o', 'cluster_size=512', f, '8M'), io(f, 'write -P 0x11 0 16k', 'write -z 4k 4k', 'write -P 0x22 7M 2k')) },
    { name: 'v3 1 MiB clusters', make: (f) => (img('create', '-q', '-f', 'qcow2', '-o', 'cluster_size=1M', f, '16M'), io(f, 'write -P 0x33 1M 4k')) },
    { name: 'v3 backing name and format', make: (f) => img('create', '-q', '-f', 'qcow2', '-u', '-b', '/var/cache/obuilder/result/' + '0'.repeat(64) + '/rootfs/image.qcow2', '-F', 'qcow2', f, '64M') },
    { name: 'v3 extended L2, lazy refcounts', make: (f) => (img('create', '-q', '-f', 'qcow2', '-o', 'extended_l2=on,lazy_refcounts=on', f, '16M'), io(f, 'write -P 0x44 0 96k')) },
    {
      name: 'v3 compressed clusters',
      make: (f) => {
        const raw = `${f}.raw`;
        writeFileSync(raw, Buffer.concat([Buffer.alloc(64 * 1024, 'compress me '), Buffer.alloc(64 * 1024), Buffer.alloc(64 * 1024, 'more ')]));
        img('convert', '-q', '-c', '-f', 'raw', '-O', 'qcow2', raw, f);
        rmSync(raw);
      },
    },
  ];
  const seeds: Seed[] = [];
  specs.forEach((s, i) => {
    const f = join(dir, `seed-${i}.qcow2`);
    s.make(f);
    const bytes = readFileSync(f);
    seeds.push({ name: s.name, bytes, hot: hotRanges(bytes, f) });
    rmSync(f);
  });
  return seeds;
}

const DICT = ['QFI\u00fb', '\u0000\u0000\u0000\u0003', '\u0000\u0000\u0000\u0002', '\u00e2\u0079\u002a\u00ca', '\u0068\u0003\u00f8\u0057', '\u0044\u0041\u0054\u0041', 'qcow2', 'raw', '../../../../etc/passwd', '\u0080\u0000\u0000\u0000\u0000\u0000\u0000\u0000', '\u0040\u0000\u0000\u0000\u0000\u0000\u0000\u0000'];

export const qcow2Header: FuzzTarget = {
  name: 'qcow2-header',
  parser: 'src/image/qcow2-header.ts (parseQcow2Header, refuseUnsupported, probeImageFormat)',
  inputs: 120_000,
  maxLength: 8 * 1024,
  inPlace: 0.7,
  dictionary: DICT,
  async seeds(ctx) {
    // The header cluster's first 8 KiB is all the header reader looks at (the name is in it).
    return (await qcow2Seeds(ctx)).map((s) => ({ ...s, bytes: s.bytes.subarray(0, 8192), hot: [[0, 1024]] }));
  },
  run(input, ctx) {
    const file = join(ctx.work, 'header.qcow2');
    writeFileSync(file, input);
    probeImageFormatSync(file);
    const h = readQcow2HeaderSync(file);
    check(h.clusterSize >= 512 && h.clusterSize <= 2 * 1024 * 1024 && (h.clusterSize & (h.clusterSize - 1)) === 0, `cluster size ${h.clusterSize}`);
    check(Number.isSafeInteger(h.virtualSize) && h.virtualSize >= 0, `virtual size ${h.virtualSize}`);
    check(h.backingFile === null || !h.backingFile.includes('\u0000'), 'NUL in the backing name');
    for (const e of h.extensions) check(e.offset + e.length <= h.clusterSize, 'extension past the first cluster');
    refuseUnsupported(h, file);
  },
};

export const qcow2Image: FuzzTarget = {
  name: 'qcow2-image',
  parser: 'src/image/qcow2.ts, chain-device.ts (L1/L2 tables, zero and compressed clusters, reads and the element map)',
  inputs: 50_000,
  maxLength: 1024 * 1024,
  inPlace: 0.8,
  dictionary: DICT,
  // The 1 MiB-cluster seed (6 MiB) is left to the header target: whole images are written per input.
  seeds: async (ctx) => (await qcow2Seeds(ctx)).filter((s) => s.bytes.length <= 1024 * 1024),
  run(input, ctx) {
    const file = join(ctx.work, 'image.qcow2');
    const base = join(ctx.work, 'base.raw');
    writeFileSync(file, input);
    let backed = false;
    try {
      backed = readQcow2HeaderSync(file).backingFile !== null;
    } catch (err) {
      if (!(err instanceof UserError)) throw err;
    }
    if (backed) writeFileSync(base, Buffer.alloc(1024 * 1024, 0x77));
    const dev = openImageChain(
      backed ? [{ path: file, format: 'qcow2', label: 'fuzz' }, { path: base, format: 'raw', label: 'base' }] : [{ path: file, format: 'qcow2', label: 'fuzz' }],
    );
    try {
      const span = Math.min(dev.size, 16 * 1024 * 1024);
      const map = dev.map(0, span);
      let covered = 0;
      for (const e of map) {
        check(e.offset === covered, `map hole at ${covered}`);
        check(e.length > 0, 'empty extent');
        check(e.element === null || (e.element >= 0 && e.element < dev.elements.length), `element ${e.element}`);
        covered += e.length;
      }
      check(covered === span, `map covers ${covered} of ${span}`);
      const buf = Buffer.alloc(Math.min(dev.size, 256 * 1024));
      dev.read(buf, 0);
      if (dev.size > 4096) {
        const at = (input.length * 7919) % (dev.size - 4096);
        dev.read(Buffer.alloc(4096), at - (at % 512));
      }
    } finally {
      dev.close();
    }
  },
};
