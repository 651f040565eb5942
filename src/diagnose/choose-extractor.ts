// Which way into the layer a diagnose takes (--via), and its producer built from the options and
// the resolved chain. Everything a producer needs is checked here, before anything starts.

import { stat } from 'node:fs/promises';
import type { Extractor } from '../extract/extractor.js';
import type { ResolvedLayer } from '../store/store.js';
import type { CleanupScope } from '../util/cleanup.js';
import { UserError } from '../util/errors.js';
import type { ChainImage } from '../vm/overlay.js';
import type { DiagnoseOptions } from './types.js';

/** The chain as the VM layer needs it: path, format, virtual size (a raw base's file size). */
export async function chainImages(layer: ResolvedLayer): Promise<ChainImage[]> {
  return Promise.all(
    layer.links.map(async (l): Promise<ChainImage> => {
      if (l.header) return { path: l.image, format: 'qcow2', virtualSize: l.header.virtualSize };
      if (l.format !== 'raw') throw new UserError(`${l.image}: unsupported image format ${l.format}`);
      return { path: l.image, format: 'raw', virtualSize: (await stat(l.image)).size };
    }),
  );
}

export async function chooseExtractor(
  opts: DiagnoseOptions,
  layer: ResolvedLayer,
  scope: CleanupScope,
  consoleLog: () => Promise<string>,
): Promise<Extractor> {
  // Each way in is loaded only when taken: reading the disk needs none of QEMU, SSH and tar.
  const via = opts.via ?? 'boot';
  if (via === 'direct') {
    const { directExtractor } = await import('../extract/direct/direct-extractor.js');
    return directExtractor({ links: layer.links, partition: opts.partition });
  }
  if (opts.partition !== undefined) throw new UserError(`--partition ${opts.partition}: only means something with --via direct`);
  const [{ bootExtractor }, { checkBootOptions }, { checkSshKey, defaultSshKey }] = await Promise.all([
    import('../extract/boot.js'),
    import('../vm/boot.js'),
    import('../vm/ssh.js'),
  ]);
  checkBootOptions({ arch: opts.guestArch, bootTimeSec: opts.bootTimeSec, cpus: opts.cpus, memoryGb: opts.memoryGb });
  const sshKey = opts.sshKey ?? defaultSshKey();
  await checkSshKey(sshKey);
  return bootExtractor({
    chain: await chainImages(layer),
    cpus: opts.cpus,
    memoryGb: opts.memoryGb,
    accel: opts.accel,
    bootTimeSec: opts.bootTimeSec,
    sshUser: opts.sshUser,
    sshKey,
    guestOs: opts.guestOs,
    arch: opts.guestArch,
    layerName: `layer ${layer.id.slice(0, 12)}`,
    consoleLog: await consoleLog(),
    privilege: opts.guestPrivilege,
    scope,
    ...opts.bootTesting,
  });
}
