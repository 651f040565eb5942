// Choosing the accelerator. `auto` uses KVM only when it can work, and bootLayer falls back to TCG
// when it does not after all (QEMU aborting at start, or a guest that never answers).

import { constants as fsc } from 'node:fs';
import { access, readFile } from 'node:fs/promises';

export interface KvmStatus {
  usable: boolean;
  /** Why not, when not (one line). */
  reason?: string;
}

/**
 * Whether KVM can be tried: /dev/kvm exists and is readable and writable by us, and the CPU
 * advertises vmx or svm in /proc/cpuinfo (without them, as in a VM with nested virtualisation
 * off, /dev/kvm may exist while every guest hangs).
 */
export async function kvmStatus(opts: { devKvm?: string; cpuinfo?: string; checkCpuFlags?: boolean } = {}): Promise<KvmStatus> {
  const dev = opts.devKvm ?? '/dev/kvm';
  try {
    await access(dev, fsc.F_OK);
  } catch {
    return { usable: false, reason: `${dev} does not exist` };
  }
  try {
    await access(dev, fsc.R_OK | fsc.W_OK);
  } catch {
    return { usable: false, reason: `${dev} is not readable and writable by this user (add it to the kvm group)` };
  }
  if (opts.checkCpuFlags ?? true) {
    let info: string;
    try {
      info = await readFile(opts.cpuinfo ?? '/proc/cpuinfo', 'utf8');
    } catch {
      return { usable: true };
    }
    const flags = /^flags\s*:(.*)$/m.exec(info)?.[1]?.split(/\s+/) ?? null;
    if (flags && !flags.includes('vmx') && !flags.includes('svm')) {
      const virt = flags.includes('hypervisor') ? ' (this is a VM without nested virtualisation)' : '';
      return { usable: false, reason: `the CPU advertises neither vmx nor svm${virt}` };
    }
  }
  return { usable: true };
}

/** TCG is slower than KVM: the boot time allowed is multiplied by this under TCG. */
export const TCG_BOOT_TIME_FACTOR = 4;

/**
 * How long `auto` waits for SSH under KVM before deciding KVM hangs, in ms: min(boot time, 20 s).
 * A guest that shows signs of life in that window (serial console output) keeps KVM for the whole
 * boot time, so slow-booting guests on working KVM are not penalised.
 */
export function kvmProbeWindowMs(bootTimeMs: number): number {
  return Math.min(bootTimeMs, 20_000);
}
