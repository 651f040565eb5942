// `qemu-img create`, tried again when a LUKS image's key-derivation timing fails. Creating a LUKS
// image, qemu-img measures PBKDF2 on the thread's CPU clock and gives up with "Unable to get
// accurate CPU usage" when a measurement on a busy machine reads zero (seen in CI): a flake of
// the fixture, not of what the test checks.

import { execa } from 'execa';

const FLAKE = 'Unable to get accurate CPU usage';

export async function qemuImgCreateRetrying(args: readonly string[], attempts = 5): Promise<void> {
  for (let i = 1; ; i++) {
    const r = await execa('qemu-img', ['create', ...args], { reject: false });
    if (r.exitCode === 0) return;
    if (i >= attempts || !String(r.stderr).includes(FLAKE)) throw new Error(`qemu-img create ${args.join(' ')}: exit ${r.exitCode}: ${String(r.stderr)}`);
  }
}
