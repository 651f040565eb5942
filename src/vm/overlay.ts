// A throwaway qcow2 overlay on top of a layer, in the run's own temp dir. The layer is never
// opened for writing: `qemu-img create -u` does not open the backing file at all, and the format
// and virtual size come from the chain the store resolved (nothing is probed again here).

import { join } from 'node:path';
import { execa } from 'execa';
import { UserError } from '../util/errors.js';

/** One image of a resolved chain, as the VM layer needs it. */
export interface ChainImage {
  path: string;
  format: 'qcow2' | 'raw';
  /** The image's virtual size in bytes (a raw image's file size). */
  virtualSize: number;
}

export interface Overlay {
  /** Absolute path of the overlay image (inside `tmpDir`). */
  path: string;
  virtualSize: number;
}

function firstLine(s: string): string {
  return s.split('\n').map((l) => l.trim()).find((l) => l.length > 0) ?? '';
}

/**
 * Create `<tmpDir>/overlay.qcow2` backed by `layer`. The overlay's header names the layer, but
 * QEMU is given the chain explicitly (qemu-command.ts), so that name is informational. Removing
 * the overlay is the temp dir's cleanup.
 */
export async function createOverlay(layer: ChainImage, tmpDir: string): Promise<Overlay> {
  const path = join(tmpDir, 'overlay.qcow2');
  const r = await execa(
    'qemu-img',
    ['create', '-q', '-f', 'qcow2', '-u', '-b', layer.path, '-F', layer.format, path, String(layer.virtualSize)],
    { reject: false, stdin: 'ignore' },
  );
  if (r.failed) {
    const why = r.code === 'ENOENT' ? 'qemu-img not found (install qemu-utils)' : firstLine(r.stderr) || r.message;
    throw new UserError(`overlay for ${layer.path}: qemu-img create failed: ${why}`);
  }
  return { path, virtualSize: layer.virtualSize };
}
