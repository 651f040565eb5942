// The options `diagnose` and `inspect` share: store, layer, sources, how to read the layer, and
// the boot options with obuilder's names and defaults (design.md section 4). Choices and defaults
// come from where they are declared (vm/guest.ts, diagnose/types.ts).

import type { Argv } from 'yargs';
import { DEFAULT_DST, DIAGNOSE_VIAS, type DiagnoseOptions } from '../diagnose/types.js';
import { ACCEL_CHOICES, BOOT_DEFAULTS, GUEST_ARCHES, GUEST_OSES, PRIVILEGES } from '../vm/guest.js';
import { blockSizeOption, lastChoice, lastString, numberOption } from './options.js';

export function sourceOptions<T>(y: Argv<T>) {
  return y
    .option('store', { type: 'string', coerce: lastString, describe: 'The obuilder store: qemu:/path or /path' })
    .option('job-log', { type: 'string', coerce: lastString, describe: 'A CI job log: its copy step names the layer, the sources and the destination' })
    .option('step', { type: 'string', coerce: numberOption('step', { integer: true, min: 1 }), describe: 'Which copy step of the job log (1-based; default the last)' })
    .option('expected', { type: 'string', coerce: lastString, describe: 'Directory of the sources the step copied in' })
    .option('dst', { type: 'string', coerce: lastString, describe: `Guest directory the sources were copied to (default: the job log's, else ${DEFAULT_DST})` })
    .option('corpus', { type: 'string', array: true, describe: 'Host directory whose files may be named as the origin of stale bytes (repeatable)' })
    .option('corpus-guest', { type: 'string', array: true, describe: 'Guest directory whose files may be named as the origin of stale bytes (repeatable)' })
    .option('via', { choices: DIAGNOSE_VIAS, coerce: lastChoice(DIAGNOSE_VIAS), default: 'boot' as const, describe: 'boot the layer under QEMU, or read its disk directly (no boot)' })
    .option('partition', { type: 'string', coerce: lastString, describe: 'With --via direct: the partition holding --dst (index or disklabel letter); default from /etc/fstab' })
    .option('block-size', { type: 'string', coerce: blockSizeOption, describe: 'Filesystem block or fragment size for regions (default 512)' })
    .option('verify-hash', { type: 'boolean', describe: 'Also compare the sha256 of every chain image before and after' });
}

export function bootOptions<T>(y: Argv<T>) {
  return y
    .option('qemu-cpus', { type: 'string', default: String(BOOT_DEFAULTS.cpus), coerce: numberOption('qemu-cpus', { integer: true, min: 1 }), describe: 'Guest CPUs' })
    .option('qemu-memory', { type: 'string', default: String(BOOT_DEFAULTS.memoryGb), coerce: numberOption('qemu-memory', { positive: true }), describe: 'Guest memory in GB' })
    .option('qemu-guest-os', { choices: GUEST_OSES, coerce: lastChoice(GUEST_OSES), default: BOOT_DEFAULTS.guestOs })
    .option('qemu-guest-arch', { choices: GUEST_ARCHES, coerce: lastChoice(GUEST_ARCHES), default: BOOT_DEFAULTS.guestArch })
    .option('qemu-boot-time', { type: 'string', default: String(BOOT_DEFAULTS.bootTimeSec), coerce: numberOption('qemu-boot-time', { positive: true }), describe: 'Seconds to wait for SSH (scaled up under TCG)' })
    .option('qemu-accel', { choices: ACCEL_CHOICES, coerce: lastChoice(ACCEL_CHOICES), default: BOOT_DEFAULTS.accel, describe: 'auto: KVM when it works, else TCG' })
    .option('ssh-user', { type: 'string', coerce: lastString, default: BOOT_DEFAULTS.sshUser })
    .option('ssh-key', { type: 'string', coerce: lastString, describe: 'Private key the guest accepts (default ~/.ssh/id_ed25519, id_ecdsa or id_rsa)' })
    .option('guest-privilege', { choices: PRIVILEGES, coerce: lastChoice(PRIVILEGES), describe: 'How tar runs in the guest (default doas on openbsd, sudo on linux, none on windows; falls back to none)' });
}

/** What both builders give, as the pipeline options need it. */
export interface DiagnoseArgs {
  store?: string;
  layer?: string;
  'job-log'?: string;
  step?: number;
  expected?: string;
  dst?: string;
  corpus?: string[];
  'corpus-guest'?: string[];
  via: DiagnoseOptions['via'];
  partition?: string;
  'block-size'?: number;
  'verify-hash'?: boolean;
  'qemu-cpus': number;
  'qemu-memory': number;
  'qemu-guest-os': DiagnoseOptions['guestOs'];
  'qemu-guest-arch': DiagnoseOptions['guestArch'];
  'qemu-boot-time': number;
  'qemu-accel': DiagnoseOptions['accel'];
  'ssh-user': string;
  'ssh-key'?: string;
  'guest-privilege'?: DiagnoseOptions['guestPrivilege'];
}

/** Turn parsed arguments into pipeline options; `store` and `expected` must be given by then. */
export function toDiagnoseOptions(a: DiagnoseArgs & { store: string; expected: string }): DiagnoseOptions {
  return {
    store: a.store,
    layer: a.layer,
    jobLog: a['job-log'],
    step: a.step,
    expected: a.expected,
    dst: a.dst,
    corpus: a.corpus,
    corpusGuest: a['corpus-guest'],
    via: a.via,
    partition: a.partition,
    cpus: a['qemu-cpus'],
    memoryGb: a['qemu-memory'],
    guestOs: a['qemu-guest-os'],
    guestArch: a['qemu-guest-arch'],
    bootTimeSec: a['qemu-boot-time'],
    accel: a['qemu-accel'],
    sshUser: a['ssh-user'],
    sshKey: a['ssh-key'],
    guestPrivilege: a['guest-privilege'],
    blockSize: a['block-size'],
    verifyHash: a['verify-hash'],
  };
}
