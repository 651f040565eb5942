// The diagnose pipeline's contract, shared by the `diagnose` command and the terminal UI so
// the two never drift apart.

import type { Report } from '../report/schema.js';
import type { Tree } from '../tree/tree.js';
import type { PipelineEvent } from '../util/events.js';
import type { AccelChoice, GuestArch, GuestOs, Privilege } from '../vm/guest.js';

export const DIAGNOSE_VIAS = ['boot', 'direct'] as const;
export type DiagnoseVia = (typeof DIAGNOSE_VIAS)[number];

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
  /** How to read the layer: boot it (default) or read its disk in-process. */
  via?: DiagnoseVia;
  /** --partition: which partition holds dst (index or disklabel letter), for --via direct. */
  partition?: string;
  cpus: number;
  memoryGb: number;
  guestOs: GuestOs;
  guestArch: GuestArch;
  bootTimeSec: number;
  accel: AccelChoice;
  sshUser: string;
  sshKey?: string;
  /** Default: doas for openbsd, sudo for linux, none for windows (falling back to none). */
  guestPrivilege?: Privilege;
  blockSize?: number;
  /** Also compare sha256 of every chain file before and after. */
  verifyHash?: boolean;
  /**
   * Testing only: how the boot finds and judges KVM and which QEMU it runs (a fake one that
   * fails like KVM does), so recordings and tests can make real runs take the fallback paths.
   */
  bootTesting?: { qemuBinary?: string; kvmCheckCpuFlags?: boolean; devKvm?: string; kvmProbeWindowMs?: number };
}

export type DiagnoseEvent = PipelineEvent;

export interface DiagnoseResult {
  report: Report;
  /** The expected sources and the files taken out of the layer, for the file views. */
  expected: Tree;
  actual: Tree;
}

export interface RunControl {
  onEvent?: (e: DiagnoseEvent) => void;
  /** Aborting stops QEMU and removes the overlay (this run's only), then the run rejects. */
  signal?: AbortSignal;
}

/** Where the copy step's files land when nothing says otherwise. */
export const DEFAULT_DST = '/home/opam/src';
