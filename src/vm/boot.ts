// Booting a read-only view of a layer: temp dir, overlay, QEMU (KVM or TCG), wait for SSH.
//
// Accelerator choice (`accel`):
//   tcg   TCG only; the boot time is multiplied by TCG_BOOT_TIME_FACTOR (4).
//   kvm   KVM only (-cpu host, as obuilder); any failure is an error, no fallback.
//   auto  KVM when kvmStatus() says it can work, else TCG (the note says why). Under KVM:
//         - QEMU exiting at start (e.g. an abort with -cpu host) -> TCG, saying so;
//         - the VM stopping (QMP status internal-error: KVM's "emulation failure", as on a VM
//           without nested virtualisation) -> kill, TCG, saying so;
//         - no SSH within kvmProbeWindowMs (min(boot time, 20 s)) and no sign of life (no serial
//           console output, disk reads not growing) -> "KVM hangs": kill, TCG;
//         - a guest showing signs of life keeps KVM for the whole boot time.
// The overlay is recreated before a TCG retry, so the retry sees the layer as it is.

import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { CleanupScope, interruptedError, type CleanupHandle } from '../util/cleanup.js';
import { UserError, oneLine } from '../util/errors.js';
import { emit, type Accel, type OnEvent } from '../util/events.js';
import { makeRunDir } from '../util/temp-dir.js';
import { kvmProbeWindowMs, kvmStatus, TCG_BOOT_TIME_FACTOR } from './accel.js';
import { BOOT_DEFAULTS, type AccelChoice, type GuestArch, type GuestOs } from './guest.js';
import { createOverlay, type ChainImage } from './overlay.js';
import { freePort } from './ports.js';
import { qemuCommand } from './qemu-command.js';
import { exitMessage, startQemu, type QemuProcess } from './qemu-process.js';
import { checkSshKey, sshRun, waitForSsh, type SshTarget } from './ssh.js';

export type { ChainImage } from './overlay.js';

export interface BootOptions {
  /** The layer first, the base last (from the store's chain resolution). */
  chain: ChainImage[];
  /** --qemu-cpus (2). */
  cpus?: number;
  /** --qemu-memory in GB (2). */
  memoryGb?: number;
  /** --qemu-accel (auto). */
  accel?: AccelChoice;
  /** --qemu-boot-time in seconds (30); multiplied by TCG_BOOT_TIME_FACTOR under TCG. */
  bootTimeSec?: number;
  /** --ssh-user (opam). */
  sshUser?: string;
  /** --ssh-key: private key file. */
  sshKey: string;
  /** --qemu-guest-os (linux). */
  guestOs?: GuestOs;
  /** --qemu-guest-arch (amd64; riscv64 is rejected for now). */
  arch?: GuestArch;
  onEvent?: OnEvent;
  /** Names the layer in messages (default: chain[0]). */
  layerName?: string;
  /**
   * Where QEMU writes the guest's serial console. Default: inside the temp dir (gone after
   * stop()); give a path outside it to keep the log for the report and for failures.
   */
  consoleLog?: string;
  /** Where the temp dir is made (default os.tmpdir()). */
  tmpParent?: string;
  /** The run's cleanup scope (default: a scope of its own). */
  scope?: CleanupScope;
  /** The QEMU binary (default qemu-system-x86_64; tests give a fake one that fails like KVM does). */
  qemuBinary?: string;
  /** Testing only: when false, `auto` tries KVM even if the CPU lacks vmx/svm (to exercise the fallbacks). */
  kvmCheckCpuFlags?: boolean;
  /** Testing only: /dev/kvm's path for the `auto` check. */
  devKvm?: string;
  /** Override kvmProbeWindowMs (testing). */
  kvmProbeWindowMs?: number;
  /** Aborting stops the boot (the run's scope stops QEMU); the boot then fails as "interrupted". */
  signal?: AbortSignal;
}

export interface SshResult {
  exitCode: number | undefined;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

export interface Vm {
  accel: Accel;
  /** Why this accelerator (fallbacks and their reasons), or null when it was simply asked for. */
  accelNote: string | null;
  /** Host port on 127.0.0.1 forwarded to the guest's port 22. */
  port: number;
  /** The guest's serial console. */
  consoleLog: string;
  tmpDir: string;
  /** QEMU's pid. */
  pid: number;
  guestOs: GuestOs;
  /** From QEMU start to the first successful SSH probe (of the attempt that succeeded). */
  bootMs: number;
  /** What `ssh` needs to reach the guest (for streaming commands, see sshArgs()). */
  sshTarget: SshTarget;
  /** Run a command in the guest, buffered (small outputs). */
  ssh(command: string, opts?: { timeoutMs?: number }): Promise<SshResult>;
  /** Stop QEMU (QMP quit, then SIGTERM, then SIGKILL) and remove the temp dir. Idempotent. */
  stop(): Promise<void>;
}

/** QMP statuses of a VM that will not come up by itself. */
const DEAD_STATUSES = new Set(['internal-error', 'guest-panicked', 'shutdown', 'io-error']);
const PORT_TRIES = 3;

/** One attempt of the plan: an accelerator, and whether a failure may fall back to the next. */
interface Attempt {
  accel: Accel;
  probe: boolean;
}

/** Everything one boot shares between its attempts. */
interface BootContext {
  o: BootOptions;
  layer: string;
  guestOs: GuestOs;
  bootTimeMs: number;
  scope: CleanupScope;
  runDir: string;
  consoleLog: string;
  qmpSocket: string;
  knownHosts: string;
}

/** The boot options checked before anything starts (the CLI calls this too). */
export function checkBootOptions(o: Pick<BootOptions, 'arch' | 'bootTimeSec' | 'cpus' | 'memoryGb'>): void {
  if ((o.arch ?? BOOT_DEFAULTS.guestArch) !== 'amd64') {
    throw new UserError(`--qemu-guest-arch ${o.arch}: not supported yet (only amd64 guests can be booted)`);
  }
  const bootTime = o.bootTimeSec ?? BOOT_DEFAULTS.bootTimeSec;
  if (!(bootTime > 0)) throw new UserError(`--qemu-boot-time ${o.bootTimeSec}: must be a positive number of seconds`);
  const cpus = o.cpus ?? BOOT_DEFAULTS.cpus;
  if (!Number.isInteger(cpus) || cpus < 1) throw new UserError(`--qemu-cpus ${o.cpus}: must be a positive integer`);
  const mem = o.memoryGb ?? BOOT_DEFAULTS.memoryGb;
  if (!(mem > 0)) throw new UserError(`--qemu-memory ${o.memoryGb}: must be a positive number of GB`);
}

/** Which accelerators to try, in order, and the note when KVM is ruled out before trying. */
async function planAttempts(o: BootOptions): Promise<{ attempts: Attempt[]; note: string | null }> {
  const choice = o.accel ?? BOOT_DEFAULTS.accel;
  if (choice === 'tcg') return { attempts: [{ accel: 'tcg', probe: false }], note: null };
  if (choice === 'kvm') return { attempts: [{ accel: 'kvm', probe: false }], note: null };
  const st = await kvmStatus({ checkCpuFlags: o.kvmCheckCpuFlags ?? true, devKvm: o.devKvm });
  if (st.usable) return { attempts: [{ accel: 'kvm', probe: true }, { accel: 'tcg', probe: false }], note: null };
  return { attempts: [{ accel: 'tcg', probe: false }], note: `KVM not usable (${st.reason}); using TCG` };
}

/** A fresh overlay on the layer for this attempt. */
async function makeOverlay(ctx: BootContext): Promise<string> {
  emit(ctx.o.onEvent, { type: 'step-start', step: 'overlay' });
  const t0 = Date.now();
  await rm(join(ctx.runDir, 'overlay.qcow2'), { force: true });
  try {
    const ov = await createOverlay(ctx.o.chain[0]!, ctx.runDir);
    emit(ctx.o.onEvent, { type: 'step-done', step: 'overlay', ms: Date.now() - t0, info: ov.path });
    return ov.path;
  } catch (err) {
    emit(ctx.o.onEvent, { type: 'step-fail', step: 'overlay', reason: oneLine(err) });
    throw err;
  }
}

/** Start QEMU; a port taken between choosing it and QEMU binding it gets another port. */
async function launch(ctx: BootContext, accel: Accel, overlay: string): Promise<QemuProcess> {
  const { o } = ctx;
  for (let portTry = 1; ; portTry++) {
    const port = await freePort();
    const command = qemuCommand({
      chain: o.chain.map((c) => c.path),
      chainFormats: o.chain.map((c) => c.format),
      overlay,
      accel,
      cpus: o.cpus,
      memoryGb: o.memoryGb,
      guestOs: ctx.guestOs,
      arch: o.arch,
      port,
      qmpSocket: ctx.qmpSocket,
      consoleLog: ctx.consoleLog,
      qemuBinary: o.qemuBinary,
    });
    emit(o.onEvent, { type: 'step-start', step: 'qemu', info: `${accel}, port ${port}` });
    let q: QemuProcess;
    try {
      q = await startQemu({ command, accel, port, qmpSocket: ctx.qmpSocket, consoleLog: ctx.consoleLog, runDir: ctx.runDir, scope: ctx.scope, onEvent: o.onEvent });
    } catch (err) {
      emit(o.onEvent, { type: 'step-fail', step: 'qemu', reason: oneLine(err) });
      throw err;
    }
    // A QEMU that cannot bind the forward dies at once.
    await new Promise((r) => setTimeout(r, 300));
    if (q.exited && portTry < PORT_TRIES && q.stderrLines.some((l) => /host forwarding rule|Could not set up host forwarding/i.test(l))) {
      await q.handle.run();
      emit(o.onEvent, { type: 'note', message: `port ${port} was taken before QEMU bound it; trying another` });
      continue;
    }
    // A QEMU that exited at start is the caller's step-fail, not a start.
    if (!q.exited) {
      emit(o.onEvent, { type: 'step-done', step: 'qemu', ms: Date.now() - q.startedAt, info: `${accel}, port ${port}, pid ${q.pid}` });
      emit(o.onEvent, { type: 'qemu-started', accel, port, pid: q.pid });
    }
    return q;
  }
}

/**
 * Watch the VM through QMP once a second while waiting: a VM that stopped (status internal-error,
 * as KVM's "emulation failure" leaves it, or guest-panicked, shutdown, io-error) ends the wait at
 * once. Signs of life (for the KVM probe): serial console output, or disk reads still growing
 * after the first 3 s (SeaBIOS's first reads happen even where KVM then fails).
 */
function watchVm(q: QemuProcess): { dead: () => string | null; alive: () => boolean; stop: () => void } {
  let dead: string | null = null;
  let lastReads = -1;
  let readsGrewLate = false;
  const sampler = setInterval(() => {
    void q.vmState().then((st) => {
      if (!st || q.exited) return;
      if (DEAD_STATUSES.has(st.status)) {
        const kvmErr = q.stderrLines.find((l) => /KVM internal error|emulation failure/i.test(l));
        dead = `qemu-system-x86_64 (${q.accel}): the VM stopped with status ${st.status}${kvmErr ? ` (${kvmErr.trim()})` : ''}`;
      }
      if (lastReads >= 0 && st.reads > lastReads && Date.now() - q.startedAt > 3000) readsGrewLate = true;
      lastReads = st.reads;
    });
  }, 1000);
  sampler.unref();
  return {
    dead: () => dead,
    alive: () => dead === null && (q.console.bytes() > 0 || readsGrewLate),
    stop: () => clearInterval(sampler),
  };
}

type WaitOutcome = { kind: 'up'; ms: number; target: SshTarget } | { kind: 'fall-back'; why: string } | { kind: 'failed'; message: string };

/** Wait for SSH on a started QEMU, and decide what a failure means for this attempt. */
async function waitForGuest(ctx: BootContext, q: QemuProcess, attempt: Attempt, canFallBack: boolean): Promise<WaitOutcome> {
  const { o } = ctx;
  const allowedMs = attempt.accel === 'tcg' ? ctx.bootTimeMs * TCG_BOOT_TIME_FACTOR : ctx.bootTimeMs;
  const probeMs = Math.min(o.kvmProbeWindowMs ?? kvmProbeWindowMs(ctx.bootTimeMs), allowedMs);
  const target: SshTarget = { user: o.sshUser ?? BOOT_DEFAULTS.sshUser, key: o.sshKey, port: q.port, knownHosts: ctx.knownHosts };
  emit(o.onEvent, { type: 'step-start', step: 'ssh', info: `127.0.0.1:${q.port}` });
  const watch = watchVm(q);
  let extendedNoted = false;
  try {
    const result = await waitForSsh({
      target,
      bootTimeMs: canFallBack ? probeMs : allowedMs,
      startedAt: q.startedAt,
      layer: ctx.layer,
      consoleLog: ctx.consoleLog,
      onEvent: o.onEvent,
      abortReason: () => (o.signal?.aborted ? 'interrupted' : q.exited ? exitMessage(q) : watch.dead()),
      extendDeadline: canFallBack
        ? () => {
            if (!watch.alive()) return null;
            if (!extendedNoted) {
              extendedNoted = true;
              emit(o.onEvent, { type: 'note', message: 'the KVM guest is alive but slow to answer SSH: waiting the whole boot time' });
            }
            return q.startedAt + allowedMs;
          }
        : undefined,
    });
    if (result.ok) {
      emit(o.onEvent, { type: 'step-done', step: 'ssh', ms: result.ms, info: `${result.attempts} attempts` });
      return { kind: 'up', ms: result.ms, target };
    }
    const hung = result.reason === 'timeout' && !watch.alive();
    if (canFallBack && (result.reason === 'aborted' || hung)) {
      const why = result.reason === 'aborted' ? result.message : `no SSH within ${Math.round(probeMs / 1000)} s and no sign of life from the guest (KVM hangs)`;
      emit(o.onEvent, { type: 'step-fail', step: 'ssh', reason: why });
      return { kind: 'fall-back', why };
    }
    emit(o.onEvent, { type: 'step-fail', step: 'ssh', reason: result.message });
    return { kind: 'failed', message: result.message };
  } catch (err) {
    emit(o.onEvent, { type: 'step-fail', step: 'ssh', reason: oneLine(err) });
    throw err;
  } finally {
    watch.stop();
  }
}

/** One attempt: overlay, QEMU, SSH. Returns the running VM, or why to fall back. */
async function tryAttempt(ctx: BootContext, attempt: Attempt, canFallBack: boolean, note: string | null): Promise<{ q: QemuProcess; ms: number; target: SshTarget } | { why: string }> {
  emit(ctx.o.onEvent, { type: 'accel', accel: attempt.accel, note });
  const overlay = await makeOverlay(ctx);
  const q = await launch(ctx, attempt.accel, overlay);
  if (q.exited) {
    const msg = exitMessage(q);
    await q.handle.run();
    emit(ctx.o.onEvent, { type: 'step-fail', step: 'qemu', reason: msg });
    if (canFallBack) return { why: msg };
    throw new UserError(msg);
  }
  const outcome = await waitForGuest(ctx, q, attempt, canFallBack);
  if (outcome.kind === 'up') return { q, ms: outcome.ms, target: outcome.target };
  await q.handle.run();
  if (outcome.kind === 'fall-back') return { why: outcome.why };
  throw new UserError(outcome.message);
}

export async function bootLayer(o: BootOptions): Promise<Vm> {
  checkBootOptions(o);
  if (o.chain.length === 0) throw new UserError('layer chain: is empty');
  await checkSshKey(o.sshKey);
  const scope = o.scope ?? new CleanupScope(`boot of ${o.layerName ?? o.chain[0]!.path}`);
  const { dir: runDir, handle: dirHandle } = makeRunDir(scope, o.tmpParent);
  const ctx: BootContext = {
    o,
    layer: o.layerName ?? o.chain[0]!.path,
    guestOs: o.guestOs ?? BOOT_DEFAULTS.guestOs,
    bootTimeMs: (o.bootTimeSec ?? BOOT_DEFAULTS.bootTimeSec) * 1000,
    scope,
    runDir,
    consoleLog: o.consoleLog ?? join(runDir, 'console.log'),
    qmpSocket: join(runDir, 'qmp.sock'),
    knownHosts: join(runDir, 'known_hosts'),
  };
  try {
    const { attempts, note: planNote } = await planAttempts(o);
    let note = planNote;
    if (note) emit(o.onEvent, { type: 'note', message: note });
    for (let i = 0; i < attempts.length; i++) {
      const attempt = attempts[i]!;
      const r = await tryAttempt(ctx, attempt, attempt.probe && i + 1 < attempts.length, note);
      if ('q' in r) return makeVm(ctx, r.q, r.target, note, r.ms, dirHandle);
      note = `KVM failed (${r.why}); fell back to TCG`;
      emit(o.onEvent, { type: 'note', message: note });
    }
    throw new UserError(`${ctx.layer}: could not boot`);
  } catch (err) {
    await cleanUpFailedBoot(ctx);
    if (o.signal?.aborted) throw interruptedError(new UserError('interrupted'));
    throw interruptedError(err);
  }
}

/** Stop what a failed or aborted boot left running, as the cleanup step the run's plan shows. */
async function cleanUpFailedBoot(ctx: BootContext): Promise<void> {
  emit(ctx.o.onEvent, { type: 'step-start', step: 'cleanup' });
  const t0 = Date.now();
  const failures = await ctx.scope.runAll();
  if (failures.length > 0) emit(ctx.o.onEvent, { type: 'step-fail', step: 'cleanup', reason: failures.join('; ') });
  else emit(ctx.o.onEvent, { type: 'step-done', step: 'cleanup', ms: Date.now() - t0 });
}

function makeVm(ctx: BootContext, q: QemuProcess, target: SshTarget, accelNote: string | null, bootMs: number, dirHandle: CleanupHandle): Vm {
  let stopping: Promise<void> | null = null;
  return {
    accel: q.accel,
    accelNote,
    port: q.port,
    consoleLog: ctx.consoleLog,
    tmpDir: ctx.runDir,
    pid: q.pid,
    guestOs: ctx.guestOs,
    bootMs,
    sshTarget: target,
    ssh: (command, opts) => sshRun(target, command, opts?.timeoutMs),
    stop: () => {
      stopping ??= (async () => {
        emit(ctx.o.onEvent, { type: 'step-start', step: 'cleanup' });
        const t0 = Date.now();
        await q.handle.run();
        await dirHandle.run();
        const failures = ctx.scope.failures;
        if (failures.length > 0) {
          const reason = failures.join('; ');
          emit(ctx.o.onEvent, { type: 'step-fail', step: 'cleanup', reason });
          emit(ctx.o.onEvent, { type: 'note', message: `cleanup failed: ${reason}` });
        } else {
          emit(ctx.o.onEvent, { type: 'step-done', step: 'cleanup', ms: Date.now() - t0 });
        }
      })();
      return stopping;
    },
  };
}
