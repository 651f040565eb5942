// The options `diagnose` and `inspect` share: store, layer, sources, and the boot options with
// obuilder's names and defaults (design.md section 4).

import type { Argv } from 'yargs';
import { DEFAULTS, type DiagnoseOptions } from '../diagnose/types.js';
import { UserError } from '../util/errors.js';

export interface BootArgs {
  store?: string;
  layer?: string;
  'job-log'?: string;
  step?: number;
  expected?: string;
  dst?: string;
  corpus?: string[];
  'corpus-guest'?: string[];
  'qemu-cpus': number;
  'qemu-memory': number;
  'qemu-guest-os': string;
  'qemu-guest-arch': string;
  'qemu-boot-time': number;
  'qemu-accel': string;
  'ssh-user': string;
  'ssh-key'?: string;
  'guest-privilege'?: string;
  'block-size'?: number;
  'verify-hash'?: boolean;
}

export function bootOptions<T>(y: Argv<T>) {
  return y
    .option('store', { type: 'string', describe: 'The obuilder store: qemu:/path or /path' })
    .option('job-log', { type: 'string', describe: "A CI job log: its copy step names the layer, the sources and the destination" })
    .option('step', { type: 'number', describe: 'Which copy step of the job log (1-based; default the last)' })
    .option('expected', { type: 'string', describe: 'Directory of the sources the step copied in' })
    .option('dst', { type: 'string', describe: `Guest directory the sources were copied to (default: the job log's, else ${DEFAULTS.dst})` })
    .option('corpus', { type: 'string', array: true, describe: 'Host directory whose files may be named as the origin of stale bytes (repeatable)' })
    .option('corpus-guest', { type: 'string', array: true, describe: 'Guest directory whose files may be named as the origin of stale bytes (repeatable)' })
    .option('qemu-cpus', { type: 'number', default: DEFAULTS.cpus, describe: 'Guest CPUs' })
    .option('qemu-memory', { type: 'number', default: DEFAULTS.memoryGb, describe: 'Guest memory in GB' })
    .option('qemu-guest-os', { type: 'string', choices: ['linux', 'openbsd', 'windows'], default: DEFAULTS.guestOs })
    .option('qemu-guest-arch', { type: 'string', choices: ['amd64', 'riscv64'], default: DEFAULTS.guestArch })
    .option('qemu-boot-time', { type: 'number', default: DEFAULTS.bootTimeSec, describe: 'Seconds to wait for SSH (scaled up under TCG)' })
    .option('qemu-accel', { type: 'string', choices: ['auto', 'kvm', 'tcg'], default: DEFAULTS.accel, describe: 'auto: KVM when it works, else TCG' })
    .option('ssh-user', { type: 'string', default: DEFAULTS.sshUser })
    .option('ssh-key', { type: 'string', describe: 'Private key the guest accepts (default ~/.ssh/id_ed25519, id_ecdsa or id_rsa)' })
    .option('guest-privilege', { type: 'string', choices: ['none', 'doas', 'sudo'], describe: 'How tar runs in the guest (default doas on openbsd, sudo on linux, none on windows; falls back to none)' })
    .option('block-size', { type: 'number', describe: 'Filesystem block or fragment size for regions (default 512)' })
    .option('verify-hash', { type: 'boolean', describe: 'Also compare the sha256 of every chain image before and after' });
}

function positive(name: string, v: number): number {
  if (!Number.isFinite(v) || v <= 0) throw new UserError(`--${name} ${v}: must be a positive number`);
  return v;
}

export function checkBlockSize(bs: number | undefined): number | undefined {
  if (bs !== undefined && (!Number.isInteger(bs) || bs < 512 || bs > 65536 || (bs & (bs - 1)) !== 0)) {
    throw new UserError(`--block-size ${bs}: must be a power of two from 512 to 65536`);
  }
  return bs;
}

/** Turn parsed arguments into pipeline options; `store` and `expected` must be given by then. */
export function toDiagnoseOptions(a: BootArgs & { store: string; expected: string }): DiagnoseOptions {
  return {
    store: a.store,
    layer: a.layer,
    jobLog: a['job-log'],
    step: a.step,
    expected: a.expected,
    dst: a.dst,
    corpus: a.corpus,
    corpusGuest: a['corpus-guest'],
    cpus: positive('qemu-cpus', a['qemu-cpus']),
    memoryGb: positive('qemu-memory', a['qemu-memory']),
    guestOs: a['qemu-guest-os'] as DiagnoseOptions['guestOs'],
    guestArch: a['qemu-guest-arch'] as DiagnoseOptions['guestArch'],
    bootTimeSec: positive('qemu-boot-time', a['qemu-boot-time']),
    accel: a['qemu-accel'] as DiagnoseOptions['accel'],
    sshUser: a['ssh-user'],
    sshKey: a['ssh-key'],
    guestPrivilege: a['guest-privilege'] as DiagnoseOptions['guestPrivilege'],
    blockSize: checkBlockSize(a['block-size']),
    verifyHash: a['verify-hash'],
  };
}
