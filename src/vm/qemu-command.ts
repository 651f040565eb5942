// The QEMU command line, as a pure function. It follows obuilder's (design.md section 2):
//
//   qemu-system-x86_64 -machine accel=kvm,type=pc -cpu host -display none
//     -device virtio-net,netdev=net0 -monitor stdio -m <G>G -smp <N>
//     -netdev user,id=net0,restrict=yes,hostfwd=tcp::<port>-:22 -drive file=<image>,if=virtio
//
// with these differences:
//   - the SSH forward listens on 127.0.0.1 only; the guest network stays restrict=yes;
//   - QMP on a unix socket in the temp dir replaces `-monitor stdio`;
//   - the serial console goes to a log file in the temp dir;
//   - -nodefaults / -no-user-config: no stray devices, no host config files;
//   - the disk chain is given explicitly with -blockdev nodes (base first), each chain image a
//     format node over a `file` node, both read-only=on, `backing` naming the next node and the
//     base's `backing: null`, so the stale absolute backing paths of a copied store are never
//     read; the throwaway overlay is the only writable node, its backing the layer's node.
//   - accel kvm adds `-cpu host` (as obuilder); tcg uses QEMU's default CPU model (qemu64), which
//     boots as fast as `-cpu max` under TCG and avoids emulating features the guest does not need.

import { UserError } from '../util/errors.js';
import type { Accel } from '../util/events.js';
import type { GuestArch, GuestOs } from './guest.js';
import type { ChainImage } from './overlay.js';

type ImageFormat = ChainImage['format'];

export interface QemuCommandOptions {
  /** Absolute image paths, the layer first and the base last. */
  chain: string[];
  /** Formats of `chain` (same order); qcow2 for every image when omitted. */
  chainFormats?: ImageFormat[];
  /** The writable throwaway overlay (qcow2) on top of chain[0]. */
  overlay: string;
  accel: Accel;
  /** --qemu-cpus, default 2. */
  cpus?: number;
  /** --qemu-memory in GB, default 2. */
  memoryGb?: number;
  guestOs?: GuestOs;
  arch?: GuestArch;
  /** Host port forwarded (on 127.0.0.1) to the guest's port 22. */
  port: number;
  /** Unix socket path for QMP. */
  qmpSocket: string;
  /** File receiving the guest's serial console. */
  consoleLog: string;
  /** The QEMU binary; default qemu-system-x86_64. */
  qemuBinary?: string;
}

export interface QemuCommand {
  file: string;
  args: string[];
}

export const OVERLAY_NODE = 'overlay';
export const chainNode = (i: number): string => `chain${i}`;

/** Reject what QEMU's -netdev/-chardev option syntax cannot carry (commas) or that is not absolute. */
function checkPath(what: string, p: string): void {
  if (!p.startsWith('/')) throw new UserError(`${what} ${p}: must be an absolute path`);
}
function checkOptionPath(what: string, p: string): void {
  checkPath(what, p);
  if (p.includes(',')) throw new UserError(`${what} ${p}: QEMU cannot take a path with a comma here`);
}

/** The -blockdev JSON values, base first, overlay last. */
export function blockdevNodes(chain: string[], overlay: string, chainFormats?: ImageFormat[]): object[] {
  if (chain.length === 0) throw new UserError('layer chain: is empty (expected the layer image and its backing images)');
  const nodes: object[] = [];
  for (let i = chain.length - 1; i >= 0; i--) {
    const file = chain[i]!;
    checkPath('chain image', file);
    const format = chainFormats?.[i] ?? 'qcow2';
    const node: Record<string, unknown> = {
      driver: format,
      'node-name': chainNode(i),
      'read-only': true,
      file: { driver: 'file', filename: file, 'read-only': true },
    };
    if (format === 'qcow2') node.backing = i === chain.length - 1 ? null : chainNode(i + 1);
    else if (i !== chain.length - 1) throw new UserError(`chain image ${file}: a ${format} image cannot have a backing file`);
    nodes.push(node);
  }
  checkPath('overlay', overlay);
  nodes.push({
    driver: 'qcow2',
    'node-name': OVERLAY_NODE,
    'read-only': false,
    file: { driver: 'file', filename: overlay },
    backing: chainNode(0),
  });
  return nodes;
}

export function qemuCommand(o: QemuCommandOptions): QemuCommand {
  const arch = o.arch ?? 'amd64';
  if (arch !== 'amd64') {
    throw new UserError(`--qemu-guest-arch ${arch}: not supported yet (only amd64 guests can be booted)`);
  }
  const cpus = o.cpus ?? 2;
  const memoryGb = o.memoryGb ?? 2;
  if (!Number.isInteger(cpus) || cpus < 1) throw new UserError(`--qemu-cpus ${cpus}: must be a positive integer`);
  if (!(memoryGb > 0)) throw new UserError(`--qemu-memory ${memoryGb}: must be a positive number of GB`);
  if (!Number.isInteger(o.port) || o.port < 1 || o.port > 65535) throw new UserError(`port ${o.port}: not a TCP port`);
  checkOptionPath('QMP socket', o.qmpSocket);
  checkOptionPath('console log', o.consoleLog);

  const args: string[] = ['-nodefaults', '-no-user-config', '-machine', `type=pc,accel=${o.accel}`];
  if (o.accel === 'kvm') args.push('-cpu', 'host');
  const mem = Number.isInteger(memoryGb) ? `${memoryGb}G` : `${Math.round(memoryGb * 1024)}M`;
  args.push(
    '-display', 'none',
    '-vga', 'none',
    '-m', mem,
    '-smp', String(cpus),
    '-netdev', `user,id=net0,restrict=yes,hostfwd=tcp:127.0.0.1:${o.port}-:22`,
    '-device', 'virtio-net-pci,netdev=net0',
    '-qmp', `unix:${o.qmpSocket},server=on,wait=off`,
    '-serial', `file:${o.consoleLog}`,
  );
  for (const node of blockdevNodes(o.chain, o.overlay, o.chainFormats)) args.push('-blockdev', JSON.stringify(node));
  args.push('-device', `virtio-blk-pci,drive=${OVERLAY_NODE}`);
  return { file: o.qemuBinary ?? 'qemu-system-x86_64', args };
}
