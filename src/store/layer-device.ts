// The store's resolved chain (src/store/chain.ts) as a device: labels as reports name the
// elements (design.md section 5, `storage.blocks[].layer`): the layer id for
// `result/<id>/rootfs/image.qcow2`, `base:<name>` for `base-image/<name>.qcow2`, else the path.

import { describeImage, storePathOf, type ChainLink } from './chain.js';
import { UserError } from '../util/errors.js';
import { openImageChain, readableFormat, type ChainDevice, type ChainOpenOptions } from '../image/chain-device.js';

/** How a report names the chain element at `path`. */
export function elementLabel(path: string): string {
  const sp = storePathOf(path);
  if (sp?.kind === 'layer') return sp.id;
  if (sp?.kind === 'base') return `base:${sp.name}`;
  return path;
}

/** Open a resolved chain (`Chain.links` or `Layer.links`) as one read-only device; `close` it when done. */
export function openLayerDevice(links: readonly Pick<ChainLink, 'image' | 'format'>[], opts: ChainOpenOptions = {}): ChainDevice {
  const top = links[0];
  if (!top) throw new UserError('cannot open an empty image chain');
  const elements = links.map((l) => ({ path: l.image, format: readableFormat(l.image, l.format), label: elementLabel(l.image) }));
  return openImageChain(elements, { ...opts, name: opts.name ?? describeImage(top.image) });
}
