// Devices and tool runners for the volume tests: images are made by real tools (sfdisk) or by
// samples/lib/disk-layout.ts, and read back both by readVolumes and by The Sleuth Kit's mmls.

import { execa } from 'execa';
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { BlockDevice } from '../../src/image/block-device.js';
import { UserError } from '../../src/util/errors.js';

export async function tempDir(): Promise<string> {
  return mkdtemp(path.join(os.tmpdir(), 'lf-volume-'));
}

export async function removeAll(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}

/** A device over bytes in memory (the property tests corrupt these). */
export class MemDevice implements BlockDevice {
  readonly size: number;
  reads = 0;
  constructor(
    readonly bytes: Uint8Array,
    readonly name = 'test disk',
  ) {
    this.size = bytes.length;
  }
  read(buf: Uint8Array, offset: number): void {
    this.reads++;
    if (!Number.isSafeInteger(offset) || offset < 0 || offset + buf.length > this.size) {
      throw new UserError(`${this.name}: read of ${buf.length} bytes at ${offset} is outside its ${this.size} bytes`);
    }
    buf.set(this.bytes.subarray(offset, offset + buf.length));
  }
}

/** A large device that is zeros except for the patches (a multi-TiB disk without the bytes). */
export class SparseDevice implements BlockDevice {
  constructor(
    readonly size: number,
    readonly patches: readonly { offset: number; bytes: Uint8Array }[],
    readonly name = 'sparse disk',
  ) {}
  read(buf: Uint8Array, offset: number): void {
    if (offset < 0 || offset + buf.length > this.size) throw new UserError(`${this.name}: read of ${buf.length} bytes at ${offset} is outside`);
    buf.fill(0);
    for (const p of this.patches) {
      const from = Math.max(offset, p.offset);
      const to = Math.min(offset + buf.length, p.offset + p.bytes.length);
      if (from < to) buf.set(p.bytes.subarray(from - p.offset, to - p.offset), from - offset);
    }
  }
}

/** A read-only device over an image file, read with positioned sync reads. */
export class FileDevice implements BlockDevice {
  readonly size: number;
  private readonly fd: number;
  constructor(
    readonly file: string,
    readonly name = path.basename(file),
  ) {
    this.fd = openSync(file, 'r');
    this.size = statSync(file).size;
  }
  read(buf: Uint8Array, offset: number): void {
    if (offset < 0 || offset + buf.length > this.size) throw new UserError(`${this.name}: read of ${buf.length} bytes at ${offset} is outside`);
    let done = 0;
    while (done < buf.length) {
      const n = readSync(this.fd, buf, done, buf.length - done, offset + done);
      if (n === 0) throw new UserError(`${this.name}: short read at ${offset + done}`);
      done += n;
    }
  }
  close(): void {
    closeSync(this.fd);
  }
}

export function withFile<T>(file: string, fn: (dev: FileDevice) => T): T {
  const dev = new FileDevice(file);
  try {
    return fn(dev);
  } finally {
    dev.close();
  }
}

export interface MmlsRow {
  slot: string;
  /** Sectors, as mmls prints them (relative to its -o offset). */
  start: number;
  length: number;
  description: string;
}

/** `mmls -a` (allocated volumes only): the rows, and the header's "Offset Sector". */
export async function mmls(img: string, args: string[] = []): Promise<{ type: string; offsetSector: number; rows: MmlsRow[] }> {
  const { stdout } = await execa('mmls', ['-a', ...args, img]);
  const lines = stdout.split('\n');
  const rows: MmlsRow[] = [];
  for (const line of lines) {
    const m = /^\d+:\s+(\S+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(.*)$/.exec(line);
    if (m) rows.push({ slot: m[1]!, start: Number(m[2]), length: Number(m[4]), description: m[5]! });
  }
  const offsetSector = Number(/^Offset Sector: (\d+)/m.exec(stdout)?.[1] ?? NaN);
  return { type: lines[0] ?? '', offsetSector, rows };
}

/** Partition an image file with sfdisk (a script on stdin, as in sfdisk(8)). */
export async function sfdisk(img: string, script: string): Promise<void> {
  await execa('sfdisk', ['--no-reread', '--no-tell-kernel', '-q', img], { input: script });
}

/** sfdisk's own dump of the table, for facts the test asserts (GUIDs, names). */
export async function sfdiskJson(img: string): Promise<{ partitiontable: { label: string; partitions: Record<string, unknown>[] } }> {
  const { stdout } = await execa('sfdisk', ['--json', img]);
  return JSON.parse(stdout) as { partitiontable: { label: string; partitions: Record<string, unknown>[] } };
}
