// Test helper: the sample store built by samples/build-store.sh, and its chains resolved the way
// the tool resolves them (src/store), as the VM layer takes them.

import { chainImages } from '../../src/diagnose/choose-extractor.js';
import { openStore } from '../../src/store/store.js';
import type { ChainImage } from '../../src/vm/overlay.js';
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

/** The chain of a sample layer as the VM layer takes it, resolved by the store (remapped onto `store`). */
export async function sampleChain(store: string, id: string): Promise<ChainImage[]> {
  return chainImages(await (await openStore(store)).getLayer(id));
}
