// The diagnose pipeline's contract, shared by the `diagnose` command and the terminal UI so
// the two never drift apart.

import type { PipelineEvent, Step } from '../vm/events.js';
import type { Report } from '../report/schema.js';
import type { Tree } from '../classify/tree.js';

export type GuestOs = 'linux' | 'openbsd' | 'windows';
export type Accel = 'auto' | 'kvm' | 'tcg';
export type Privilege = 'none' | 'doas' | 'sudo';

export interface DiagnoseOptions {
  /** `qemu:/path` or `/path`. */
  store: string;
  /** Layer id or unique prefix; or taken from the job log. */
  layer?: string;
  jobLog?: string;
  /** Which copy step of the job log (1-based, default the last). */
  step?: number;
  /** Host directory of the sources the step copied in. */
  expected: string;
  /** Guest destination; default from the job log, else /home/opam/src. */
  dst?: string;
  corpus?: string[];
  corpusGuest?: string[];
  cpus: number;
  memoryGb: number;
  guestOs: GuestOs;
  guestArch: 'amd64' | 'riscv64';
  bootTimeSec: number;
  accel: Accel;
  sshUser: string;
  sshKey?: string;
  /** Default: doas for openbsd, sudo for linux, none for windows (falling back to none). */
  guestPrivilege?: Privilege;
  blockSize?: number;
  /** Also compare sha256 of every chain file before and after. */
  verifyHash?: boolean;
}

/** Steps of a diagnose run, in order: the VM's steps plus resolving the layer and classifying. */
export type DiagnoseStep = 'resolve' | Step | 'classify';

export type DiagnoseEvent =
  | PipelineEvent
  | { type: 'step-start'; step: 'resolve' | 'classify'; info?: string }
  | { type: 'step-done'; step: 'resolve' | 'classify'; ms: number; info?: string }
  | { type: 'step-fail'; step: 'resolve' | 'classify'; reason: string }
  | { type: 'classify-progress'; done: number; total: number };

export interface DiagnoseResult {
  report: Report;
  /** The expected sources and the files pulled out of the guest, for the file views. */
  expected: Tree;
  actual: Tree;
}

export interface RunControl {
  onEvent?: (e: DiagnoseEvent) => void;
  /** Aborting stops QEMU and removes the overlay, then the run rejects. */
  signal?: AbortSignal;
}

export const DEFAULTS = {
  cpus: 2,
  memoryGb: 2,
  guestOs: 'linux' as GuestOs,
  guestArch: 'amd64' as const,
  bootTimeSec: 30,
  accel: 'auto' as Accel,
  sshUser: 'opam',
  dst: '/home/opam/src',
};
