// A throwaway qcow2 overlay on top of a layer, in the tool's own temp dir. The layer is never
// opened for writing: `qemu-img create -u` does not open the backing file at all, and the
// virtual size is read from the layer's header by hand (read-only, 32 bytes).

import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { UserError, oneLine } from '../util/errors.js';

const QCOW2_MAGIC = 0x514649fb;

export type ImageFormat = 'qcow2' | 'raw';

/** Read an image's format and virtual size without writing it (qcow2 by magic, else raw). */
export async function probeImage(path: string): Promise<{ format: ImageFormat; virtualSize: number }> {
  let fh;
  try {
    fh = await open(path, 'r');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT' ? 'does not exist' : code === 'EACCES' ? 'cannot be read (permission denied)' : oneLine(err);
    throw new UserError(`image ${path}: ${why}`);
  }
  try {
    const buf = Buffer.alloc(32);
    const { bytesRead } = await fh.read(buf, 0, 32, 0);
    if (bytesRead >= 32 && buf.readUInt32BE(0) === QCOW2_MAGIC) {
      return { format: 'qcow2', virtualSize: Number(buf.readBigUInt64BE(24)) };
    }
    const st = await fh.stat();
    return { format: 'raw', virtualSize: st.size };
  } finally {
    await fh.close();
  }
}

export interface Overlay {
  /** Absolute path of the overlay image (inside `tmpDir`). */
  path: string;
  virtualSize: number;
}

/**
 * Create `<tmpDir>/overlay.qcow2` backed by `layer` (absolute path). The overlay's header names the
 * layer, but QEMU is given the chain explicitly (qemu-command.ts), so that name is informational.
 * Removing the overlay is the temp dir's cleanup.
 */
export async function createOverlay(layer: string, tmpDir: string): Promise<Overlay> {
  const { format, virtualSize } = await probeImage(layer);
  const path = join(tmpDir, 'overlay.qcow2');
  const r = await execa(
    'qemu-img',
    ['create', '-q', '-f', 'qcow2', '-u', '-b', layer, '-F', format, path, String(virtualSize)],
    { reject: false, stdin: 'ignore' },
  );
  if (r.failed) {
    const why = r.code === 'ENOENT' ? 'qemu-img not found (install qemu-utils)' : firstLine(r.stderr) || r.message;
    throw new UserError(`overlay for ${layer}: qemu-img create failed: ${why}`);
  }
  return { path, virtualSize };
}

function firstLine(s: string): string {
  return (
    s
      .split('\n')
      .map((l) => l.trim())
      .find((l) => l.length > 0) ?? ''
  );
}
