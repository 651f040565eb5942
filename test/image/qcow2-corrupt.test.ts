// Hostile qcow2 metadata, one corruption at a time, on images qemu made: each is refused with a
// one-line UserError naming the image and what is wrong, never another exception.

import { execa } from 'execa';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { deflateRawSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { openImageChain } from '../../src/image/chain-device.js';
import { UserError } from '../../src/util/errors.js';
import { removeAll, tempDir } from '../store/helpers.js';
import { createQcow2, qemuIo } from './helpers.js';

let dir: string;
/** A v3 image, 64 KiB clusters, 4 MiB: data in cluster 0 and 2, a zero cluster 1. */
let plain: Buffer;
/** The same, compressed by qemu-img convert -c. */
let compressed: Buffer;
/** A v2 image with data in cluster 0. */
let v2: Buffer;

beforeAll(async () => {
  dir = await tempDir('lf-corrupt-');
  const p = path.join(dir, 'plain.qcow2');
  await createQcow2(p, '4M');
  await qemuIo(p, ['write -P 0x11 0 64k', 'write -z 64k 64k', 'write -P 0x22 128k 64k']);
  plain = await readFile(p);
  const c = path.join(dir, 'compressed.qcow2');
  await execa('qemu-img', ['convert', '-c', '-O', 'qcow2', p, c]);
  compressed = await readFile(c);
  const v = path.join(dir, 'v2.qcow2');
  await createQcow2(v, '4M', { options: 'compat=0.10' });
  await qemuIo(v, ['write -P 0x33 0 64k']);
  v2 = await readFile(v);
});
afterAll(async () => {
  await removeAll(dir);
});

const CS = 65536;
const l1Offset = (b: Buffer) => Number(b.readBigUInt64BE(40));
const l2Offset = (b: Buffer) => Number(b.readBigUInt64BE(l1Offset(b)) & 0x00fffffffffffe00n);
/** Byte offset of L2 entry `i` (of the first table). */
const l2Entry = (b: Buffer, i: number) => l2Offset(b) + 8 * i;

let n = 0;
/** Write `bytes` to a fresh file, open and read it all; return the UserError it must throw. */
async function refused(bytes: Buffer): Promise<{ err: UserError; file: string }> {
  const file = path.join(dir, `bad-${n++}.qcow2`);
  await writeFile(file, bytes);
  try {
    const dev = openImageChain([{ path: file, format: 'qcow2', label: 'bad' }]);
    try {
      // The fixtures are 4 MiB; a device that claims more is read only that far.
      const head = Buffer.alloc(Math.min(dev.size, 4 << 20));
      dev.read(head, 0);
      dev.map(0, dev.size);
    } finally {
      dev.close();
    }
  } catch (err) {
    if (!(err instanceof UserError)) throw err;
    expect(err.message.startsWith(`${file}: `)).toBe(true);
    expect(err.message).not.toContain('\n');
    return { err, file };
  }
  throw new Error('expected a UserError, but the image read');
}

function mutate(src: Buffer, f: (b: Buffer) => void): Buffer {
  const b = Buffer.from(src);
  f(b);
  return b;
}

describe('the L1 table', () => {
  test('not cluster-aligned', async () => {
    const { err } = await refused(mutate(plain, (b) => b.writeBigUInt64BE(BigInt(l1Offset(b) + 8), 40)));
    expect(err.message).toMatch(/corrupt qcow2 image \(L1 table offset \d+ is not cluster-aligned\)$/);
  });
  test('inside the header', async () => {
    const { err } = await refused(mutate(plain, (b) => b.writeBigUInt64BE(0n, 40)));
    expect(err.message).toMatch(/L1 table offset 0 points inside the header/);
  });
  test('past the end of the file', async () => {
    const { err } = await refused(mutate(plain, (b) => b.writeBigUInt64BE(BigInt(Math.ceil(b.length / CS) * CS), 40)));
    expect(err.message).toMatch(/L1 table \(8 bytes at offset \d+\) runs past the end of the file \(\d+ bytes\)/);
  });
  test('too small for the virtual size', async () => {
    const { err } = await refused(mutate(plain, (b) => b.writeBigUInt64BE(1n << 50n, 24)));
    expect(err.message).toMatch(/L1 table of 1 entries, too small for the virtual size of 1125899906842624 bytes \(needs 2097152\)/);
  });
  test('larger than qemu allows, whatever the file holds (nothing is allocated from it)', async () => {
    const { err } = await refused(mutate(plain, (b) => b.writeUInt32BE(0xffffffff, 36)));
    expect(err.message).toMatch(/L1 table of 4294967295 entries, more than qemu's limit of 4194304/);
  });
  test('a huge virtual size with an L1 to match it cannot fit in the file', async () => {
    const { err } = await refused(
      mutate(plain, (b) => {
        b.writeBigUInt64BE(64n << 40n, 24); // 64 TiB: 131072 L1 entries, 1 MiB
        b.writeUInt32BE(131072, 36);
      }),
    );
    expect(err.message).toMatch(/L1 table \(1048576 bytes at offset \d+\) runs past the end of the file/);
  });
  test('an L2 table offset not aligned, past the end, inside the header, on the L1 table, on the refcount table', async () => {
    const at = (b: Buffer, v: bigint) => b.writeBigUInt64BE(v | (1n << 63n), l1Offset(b));
    expect((await refused(mutate(plain, (b) => at(b, BigInt(l2Offset(b) + 512))))).err.message).toMatch(
      /L2 table of L1 entry 0 at offset \d+ is not cluster-aligned/,
    );
    expect((await refused(mutate(plain, (b) => at(b, 1n << 40n)))).err.message).toMatch(/L2 table of L1 entry 0 at offset 1099511627776 is past the end of the file/);
    expect((await refused(mutate(plain, (b) => at(b, BigInt(l1Offset(b)))))).err.message).toMatch(/L2 table of L1 entry 0 at offset \d+ overlaps the L1 table/);
    expect((await refused(mutate(plain, (b) => at(b, b.readBigUInt64BE(48))))).err.message).toMatch(/overlaps the refcount table/);
  });
});

describe('L2 entries', () => {
  test('a data cluster not aligned, past the end, on the L1 table', async () => {
    const host = (b: Buffer) => Number(b.readBigUInt64BE(l2Entry(b, 0)) & 0x00fffffffffffe00n);
    const at = (b: Buffer, v: number) => b.writeBigUInt64BE(BigInt(v) | (1n << 63n), l2Entry(b, 0));
    expect((await refused(mutate(plain, (b) => at(b, host(b) + 4096)))).err.message).toMatch(
      /data cluster for guest offset 0 at offset \d+ is not cluster-aligned/,
    );
    expect((await refused(mutate(plain, (b) => at(b, Math.ceil(b.length / CS) * CS + CS)))).err.message).toMatch(
      /data cluster for guest offset 0 at offset \d+ is past the end of the file/,
    );
    expect((await refused(mutate(plain, (b) => at(b, l1Offset(b))))).err.message).toMatch(/data cluster for guest offset 0 at offset \d+ overlaps the L1 table/);
  });

  test('the third entry is checked too (runs are validated entry by entry)', async () => {
    const { err } = await refused(mutate(plain, (b) => b.writeBigUInt64BE((1n << 40n) | (1n << 63n), l2Entry(b, 2))));
    expect(err.message).toMatch(/data cluster for guest offset 131072 at offset 1099511627776 is past the end of the file/);
  });

  test('a zero cluster in a version 2 image', async () => {
    const { err } = await refused(mutate(v2, (b) => b.writeBigUInt64BE(1n, l2Entry(b, 1))));
    expect(err.message).toMatch(/zero cluster entry in a version 2 image, guest offset 65536/);
  });
});

describe('compressed clusters', () => {
  const entry = (b: Buffer, i = 0) => b.readBigUInt64BE(l2Entry(b, i));
  const coffset = (b: Buffer, i = 0) => Number(entry(b, i) & ((1n << 54n) - 1n));

  test('the fixture holds compressed clusters and reads', async () => {
    expect(entry(compressed) >> 62n).toBe(1n);
    const f = path.join(dir, 'c-ok.qcow2');
    await writeFile(f, compressed);
    const dev = openImageChain([{ path: f, format: 'qcow2', label: 'c' }]);
    try {
      expect(dev.map(0, 3 * CS).map((e) => e.how)).toEqual(['compressed', 'none', 'compressed']);
    } finally {
      dev.close();
    }
  });

  test('bytes that do not inflate', async () => {
    const { err } = await refused(mutate(compressed, (b) => b.fill(0xff, coffset(b), coffset(b) + 16)));
    expect(err.message).toMatch(/compressed cluster for guest offset 0 \(\d+ bytes at offset \d+\) does not inflate: /);
  });

  test('a size field too small: the stream is cut short of a cluster', async () => {
    // Point at a copy of cluster 0's stream cut to one sector, at a sector boundary near the end.
    const { err } = await refused(
      mutate(compressed, (b) => {
        const big = deflateRawSync(Buffer.from(Array.from({ length: CS }, (_, i) => (i * 7919) % 251)));
        const at = Math.floor((b.length - 1024) / 512) * 512;
        big.copy(b, at, 0, 512);
        b.writeBigUInt64BE((1n << 62n) | BigInt(at), l2Entry(b, 0));
      }),
    );
    expect(err.message).toMatch(/compressed cluster for guest offset 0 \(512 bytes at offset \d+\) inflates to \d+ bytes, not 65536/);
  });

  test('a stream that inflates to more than a cluster', async () => {
    const { err } = await refused(
      mutate(compressed, (b) => {
        const big = deflateRawSync(Buffer.alloc(CS * 2, 1));
        big.copy(b, coffset(b));
      }),
    );
    expect(err.message).toMatch(/inflates to more than a cluster/);
  });

  test('an offset inside the header, or past the end of the file', async () => {
    expect((await refused(mutate(compressed, (b) => b.writeBigUInt64BE((1n << 62n) | 100n, l2Entry(b, 0))))).err.message).toMatch(
      /compressed cluster for guest offset 0 at offset 100 overlaps the header/,
    );
    expect(
      (await refused(mutate(compressed, (b) => b.writeBigUInt64BE((1n << 62n) | BigInt(b.length + 10), l2Entry(b, 0))))).err.message,
    ).toMatch(/compressed cluster for guest offset 0 at offset \d+ is past the end of the file/);
  });
});

describe('the header', () => {
  test('an extension overrunning the header area, a backing name past the end of the file', async () => {
    const ext = await refused(
      mutate(plain, (b) => {
        const at = b.readUInt32BE(100);
        b.writeUInt32BE(0x12345678, at);
        b.writeUInt32BE(CS, at + 4);
      }),
    );
    expect(ext.err.message).toMatch(/corrupt qcow2 header \(extension 0x12345678 overruns the header area\)$/);
    const name = await refused(
      mutate(plain, (b) => {
        b.writeBigUInt64BE(BigInt(CS - 100), 8);
        b.writeUInt32BE(100, 16);
      }).subarray(0, CS - 50),
    );
    expect(name.err.message).toMatch(/backing file name past the end of the file/);
  });
});
