// Test helper: the sample store built by samples/build-store.sh, and a minimal chain resolver
// (backing names read from qcow2 headers, remapped onto the store root) so these tests do not
// depend on src/store.

import { open } from 'node:fs/promises';
import { loadSample, type Sample } from '../helpers/sample.js';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export type Samples = Sample;

/** The sample store's description (built if missing; a failed build fails the test). */
export function loadSamples(): Samples {
  return loadSample();
}

export function layerImage(store: string, id: string): string {
  return join(store, 'result', id, 'rootfs', 'image.qcow2');
}

async function backingName(image: string): Promise<string | null> {
  const fh = await open(image, 'r');
  try {
    const h = Buffer.alloc(20);
    await fh.read(h, 0, 20, 0);
    const off = Number(h.readBigUInt64BE(8));
    const len = h.readUInt32BE(16);
    if (off === 0 || len === 0) return null;
    const b = Buffer.alloc(len);
    await fh.read(b, 0, len, off);
    return b.toString('utf8');
  } finally {
    await fh.close();
  }
}

/** Layer first, base last; recorded absolute paths remapped onto `store`. */
export async function sampleChain(store: string, image: string): Promise<string[]> {
  const chain = [image];
  for (let cur = image; chain.length < 64; ) {
    const name = await backingName(cur);
    if (!name) break;
    const m = /\/((?:result\/[0-9a-f]{64}\/rootfs\/image\.qcow2)|(?:base-image\/[^/]+\.qcow2))$/.exec(name);
    const next = m ? join(store, m[1]!) : name;
    chain.push(next);
    cur = next;
  }
  return chain;
}
