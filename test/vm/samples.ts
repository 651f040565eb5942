// Test helper: the sample store built by samples/build-store.sh, and a minimal chain resolver
// (backing names read from qcow2 headers, remapped onto the store root) so these tests do not
// depend on src/store.

import { existsSync, readFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { spawnSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const LAYERS_JSON = join(ROOT, 'samples/out/layers.json');

export interface Samples {
  store: string;
  layers: Record<string, string>;
  sshKey: string;
  sshUser: string;
  dst: string;
  expected: string;
}

let tried = false;
/** The sample store's description, building it once if it is missing; null when it cannot be built. */
export function loadSamples(): Samples | null {
  if (!existsSync(LAYERS_JSON) && !tried && existsSync(join(ROOT, 'samples/build-store.sh'))) {
    tried = true;
    spawnSync('bash', [join(ROOT, 'samples/build-store.sh')], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'], timeout: 600_000 });
  }
  if (!existsSync(LAYERS_JSON)) return null;
  const j = JSON.parse(readFileSync(LAYERS_JSON, 'utf8')) as Partial<Samples>;
  return {
    store: j.store!,
    layers: j.layers!,
    sshKey: j.sshKey!,
    sshUser: j.sshUser ?? 'opam',
    dst: j.dst ?? '/home/opam/src',
    expected: j.expected ?? join(ROOT, 'samples/expected'),
  };
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
