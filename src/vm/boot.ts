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

import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { UserError, oneLine } from '../util/errors.js';
import { kvmProbeWindowMs, kvmStatus, TCG_BOOT_TIME_FACTOR, type AccelChoice } from './accel.js';
import { interruptedError, registerCleanup, removeDirAction, type CleanupHandle } from './cleanup.js';
import { emit, type OnEvent } from './events.js';
import { createOverlay, probeImage, type ImageFormat } from './overlay.js';
import { freePort } from './ports.js';
import { QmpClient } from './qmp.js';
import { qemuCommand, type Accel, type GuestArch, type GuestOs } from './qemu-command.js';
import { checkSshKey, sshRun, waitForSsh, type SshTarget } from './ssh.js';

export interface BootOptions {
  /** Absolute image paths, layer first, base last (from src/store chain resolution). */
  chain: string[];
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
  /** Testing only: when false, `auto` tries KVM even if the CPU lacks vmx/svm (to exercise the hang fallback). */
  kvmCheckCpuFlags?: boolean;
  /** Override kvmProbeWindowMs (testing). */
  kvmProbeWindowMs?: number;
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
  /** The guest's serial console, in tmpDir (gone after stop()). */
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

interface RunningQemu {
  accel: Accel;
  port: number;
  pid: number;
  startedAt: number;
  child: ResultPromise;
  exited: { code: number | undefined; signal: string | undefined } | null;
  stderrLines: string[];
  handle: CleanupHandle;
  consoleBytes: () => number;
  stopTail: () => void;
  vmState: () => Promise<{ status: string; reads: number } | null>;
}

const KILL_GRACE_MS = 3000;
/** QMP statuses of a VM that will not come up by itself. */
const DEAD_STATUSES = new Set(['internal-error', 'guest-panicked', 'shutdown', 'io-error']);

async function waitExit(q: RunningQemu, ms: number): Promise<boolean> {
  if (q.exited) return true;
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<false>((r) => {
    timer = setTimeout(() => r(false), ms);
  });
  const done = await Promise.race([q.child.then(() => true as const), t]);
  clearTimeout(timer);
  return done;
}

/** Stop one QEMU: QMP quit, then SIGTERM, then SIGKILL. */
async function stopQemuProcess(q: RunningQemu, qmpSocket: string): Promise<void> {
  q.stopTail();
  if (q.exited) return;
  try {
    const qmp = await QmpClient.connect(qmpSocket, 1500);
    try {
      await qmp.quit();
    } finally {
      qmp.close();
    }
    if (await waitExit(q, KILL_GRACE_MS)) return;
  } catch {
    // QMP not there or not answering
  }
  q.child.kill('SIGTERM');
  if (await waitExit(q, KILL_GRACE_MS)) return;
  q.child.kill('SIGKILL');
  await waitExit(q, KILL_GRACE_MS);
}

/** The line of QEMU's stderr worth showing: the first that is not a warning, without the program prefix. */
export function meaningfulStderrLine(lines: string[]): string {
  const clean = lines.map((l) => l.trim()).filter((l) => l.length > 0);
  const pick = clean.find((l) => !/\bwarning:/i.test(l)) ?? clean[0] ?? '';
  return pick.replace(/^qemu-system-[\w-]+:\s*/, '');
}

export async function bootLayer(o: BootOptions): Promise<Vm> {
  const layer = o.layerName ?? o.chain[0] ?? 'layer';
  const guestOs = o.guestOs ?? 'linux';
  const bootTimeMs = (o.bootTimeSec ?? 30) * 1000;
  const accelChoice = o.accel ?? 'auto';
  if ((o.arch ?? 'amd64') !== 'amd64') {
    throw new UserError(`--qemu-guest-arch ${o.arch}: not supported yet (only amd64 guests can be booted)`);
  }
  if (!(bootTimeMs > 0)) throw new UserError(`--qemu-boot-time ${o.bootTimeSec}: must be a positive number of seconds`);
  if (o.chain.length === 0) throw new UserError('layer chain: is empty');
  await checkSshKey(o.sshKey);
  const formats: ImageFormat[] = [];
  for (const img of o.chain) formats.push((await probeImage(img)).format);

  const tmpDir = await mkdtemp(join(o.tmpParent ?? tmpdir(), 'layer-forensics-'));
  const dirHandle = registerCleanup(removeDirAction(tmpDir));
  const consoleLog = o.consoleLog ?? join(tmpDir, 'console.log');
  const qmpSocket = join(tmpDir, 'qmp.sock');
  const knownHosts = join(tmpDir, 'known_hosts');
  let current: RunningQemu | null = null;

  const makeOverlay = async (): Promise<string> => {
    emit(o.onEvent, { type: 'step-start', step: 'overlay' });
    const t0 = Date.now();
    await rm(join(tmpDir, 'overlay.qcow2'), { force: true });
    try {
      const ov = await createOverlay(o.chain[0]!, tmpDir);
      emit(o.onEvent, { type: 'step-done', step: 'overlay', ms: Date.now() - t0, info: ov.path });
      return ov.path;
    } catch (err) {
      emit(o.onEvent, { type: 'step-fail', step: 'overlay', reason: oneLine(err) });
      throw err;
    }
  };

  const launch = async (accel: Accel, overlay: string): Promise<RunningQemu> => {
    for (let portTry = 1; ; portTry++) {
      const port = await freePort();
      await rm(consoleLog, { force: true });
      await rm(qmpSocket, { force: true });
      const cmd = qemuCommand({
        chain: o.chain,
        chainFormats: formats,
        overlay,
        accel,
        cpus: o.cpus,
        memoryGb: o.memoryGb,
        guestOs,
        arch: o.arch,
        port,
        qmpSocket,
        consoleLog,
      });
      emit(o.onEvent, { type: 'step-start', step: 'qemu', info: `${accel}, port ${port}` });
      const startedAt = Date.now();
      const child = execa(cmd.file, cmd.args, {
        stdin: 'ignore',
        stdout: 'ignore',
        stderr: 'pipe',
        buffer: false,
        reject: false,
        cleanup: true,
      });
      const stderrLines: string[] = [];
      let partial = '';
      child.stderr?.setEncoding('utf8');
      child.stderr?.on('data', (chunk: string) => {
        const parts = (partial + chunk).split('\n');
        partial = parts.pop() ?? '';
        for (const l of parts) if (stderrLines.length < 200) stderrLines.push(l);
      });
      const q: RunningQemu = {
        accel,
        port,
        pid: child.pid ?? -1,
        startedAt,
        child,
        exited: null,
        stderrLines,
        handle: undefined as unknown as CleanupHandle,
        consoleBytes: () => 0,
        stopTail: () => {},
        vmState: async () => null,
      };
      const exitedP = child.then((r) => {
        if (partial) stderrLines.push(partial);
        q.exited = { code: r.exitCode, signal: r.signal };
        return r;
      });
      q.handle = registerCleanup({
        name: `qemu pid ${q.pid}`,
        run: () => stopQemuProcess(q, qmpSocket),
        runSync: () => {
          if (!q.exited && q.pid > 0) {
            try {
              process.kill(q.pid, 'SIGKILL');
            } catch {
              /* already gone */
            }
          }
        },
      });
      if (child.pid === undefined) {
        const r = await exitedP;
        q.handle.unregister();
        const why = r.code === 'ENOENT' ? `${cmd.file} not found (install qemu-system-x86)` : oneLine(r.message);
        emit(o.onEvent, { type: 'step-fail', step: 'qemu', reason: why });
        throw new UserError(why);
      }
      // Tail the serial console.
      let consoleOffset = 0;
      let consolePartial = '';
      let tailing = false;
      const tail = async (): Promise<void> => {
        if (tailing) return;
        tailing = true;
        try {
          const fh = await open(consoleLog, 'r');
          try {
            const buf = Buffer.alloc(64 * 1024);
            const { bytesRead } = await fh.read(buf, 0, buf.length, consoleOffset);
            if (bytesRead > 0) {
              consoleOffset += bytesRead;
              const parts = (consolePartial + buf.subarray(0, bytesRead).toString('latin1')).split(/\r?\n/);
              consolePartial = parts.pop() ?? '';
              if (consolePartial.length > 4096) {
                parts.push(consolePartial);
                consolePartial = '';
              }
              for (const line of parts) emit(o.onEvent, { type: 'console-line', line });
            }
          } finally {
            await fh.close();
          }
        } catch {
          // not created yet, or removed
        } finally {
          tailing = false;
        }
      };
      const timer = setInterval(() => void tail(), 250);
      timer.unref();
      q.consoleBytes = () => consoleOffset;
      q.stopTail = () => clearInterval(timer);
      q.vmState = async () => {
        try {
          const qmp = await QmpClient.connect(qmpSocket, 1000);
          try {
            const st = await qmp.queryStatus();
            const stats = (await qmp.execute('query-blockstats')) as { stats?: { rd_operations?: number } }[];
            return { status: st.status, reads: stats.reduce((n, x) => n + (x.stats?.rd_operations ?? 0), 0) };
          } finally {
            qmp.close();
          }
        } catch {
          return null;
        }
      };
      // A QEMU that cannot bind the forward dies at once: retry another port.
      await new Promise((r) => setTimeout(r, 300));
      if (q.exited && portTry < 3 && q.stderrLines.some((l) => /host forwarding rule|Could not set up host forwarding/i.test(l))) {
        q.stopTail();
        q.handle.unregister();
        emit(o.onEvent, { type: 'note', message: `port ${port} was taken before QEMU bound it; trying another` });
        continue;
      }
      return q;
    }
  };

  const exitMessage = (q: RunningQemu): string => {
    const line = meaningfulStderrLine(q.stderrLines);
    const how = q.exited?.signal ? `killed by ${q.exited.signal}` : `status ${q.exited?.code}`;
    return `qemu-system-x86_64 exited at start: ${line || `${how}, no message`}`;
  };

  const fail = async (step: 'qemu' | 'ssh', message: string): Promise<never> => {
    emit(o.onEvent, { type: 'step-fail', step, reason: message });
    throw new UserError(message);
  };

  try {
    let plan: { accel: Accel; probe: boolean }[];
    let accelNote: string | null = null;
    if (accelChoice === 'tcg') plan = [{ accel: 'tcg', probe: false }];
    else if (accelChoice === 'kvm') plan = [{ accel: 'kvm', probe: false }];
    else {
      const st = await kvmStatus({ checkCpuFlags: o.kvmCheckCpuFlags ?? true });
      if (st.usable) plan = [{ accel: 'kvm', probe: true }, { accel: 'tcg', probe: false }];
      else {
        accelNote = `KVM not usable (${st.reason}); using TCG`;
        emit(o.onEvent, { type: 'note', message: accelNote });
        plan = [{ accel: 'tcg', probe: false }];
      }
    }

    for (let i = 0; i < plan.length; i++) {
      const step = plan[i]!;
      const canFallBack = step.probe && i + 1 < plan.length;
      const overlay = await makeOverlay();
      const q = await launch(step.accel, overlay);
      current = q;
      const allowedMs = step.accel === 'tcg' ? bootTimeMs * TCG_BOOT_TIME_FACTOR : bootTimeMs;
      emit(o.onEvent, { type: 'step-done', step: 'qemu', ms: Date.now() - q.startedAt, info: `${step.accel}, port ${q.port}, pid ${q.pid}` });
      if (q.exited) {
        const msg = exitMessage(q);
        await q.handle.run();
        current = null;
        if (canFallBack) {
          accelNote = `KVM failed (${msg}); fell back to TCG`;
          emit(o.onEvent, { type: 'note', message: accelNote });
          continue;
        }
        await fail('qemu', msg);
      }

      emit(o.onEvent, { type: 'step-start', step: 'ssh', info: `127.0.0.1:${q.port}` });
      const target: SshTarget = { user: o.sshUser ?? 'opam', key: o.sshKey, port: q.port, knownHosts };
      const probeMs = Math.min(o.kvmProbeWindowMs ?? kvmProbeWindowMs(bootTimeMs), allowedMs);
      // Watch the VM through QMP once a second: a VM that stopped (status internal-error, as
      // KVM's "emulation failure" leaves it, or guest-panicked, shutdown, io-error) ends the wait
      // at once. Signs of life (for the KVM probe): serial console output, or disk reads still
      // growing after the first 3 s (SeaBIOS's first reads happen even where KVM then fails).
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
      const alive = (): boolean => dead === null && (q.consoleBytes() > 0 || readsGrewLate);
      let extendedNoted = false;
      let result;
      try {
        result = await waitForSsh({
          target,
          bootTimeMs: canFallBack ? probeMs : allowedMs,
          startedAt: q.startedAt,
          layer,
          consoleLog,
          onEvent: o.onEvent,
          abortReason: () => (q.exited ? exitMessage(q) : dead),
          extendDeadline: canFallBack
            ? () => {
                if (!alive()) return null;
                if (!extendedNoted) {
                  extendedNoted = true;
                  emit(o.onEvent, { type: 'note', message: 'the KVM guest is alive but slow to answer SSH: waiting the whole boot time' });
                }
                return q.startedAt + allowedMs;
              }
            : undefined,
        });
      } catch (err) {
        emit(o.onEvent, { type: 'step-fail', step: 'ssh', reason: oneLine(err) });
        throw err;
      } finally {
        clearInterval(sampler);
      }
      if (result.ok) {
        emit(o.onEvent, { type: 'step-done', step: 'ssh', ms: result.ms, info: `${result.attempts} attempts` });
        return makeVm(q, target, accelNote, result.ms);
      }
      const hung = result.reason === 'timeout' && !alive();
      if (canFallBack && (result.reason === 'aborted' || hung)) {
        await q.handle.run();
        current = null;
        const why =
          result.reason === 'aborted'
            ? result.message
            : `no SSH within ${Math.round(probeMs / 1000)} s and no sign of life from the guest (KVM hangs)`;
        accelNote = `KVM failed (${why}); fell back to TCG`;
        emit(o.onEvent, { type: 'step-fail', step: 'ssh', reason: why });
        emit(o.onEvent, { type: 'note', message: accelNote });
        continue;
      }
      await q.handle.run();
      current = null;
      await fail('ssh', result.message);
    }
    throw new UserError(`${layer}: could not boot`);
  } catch (err) {
    if (current) await current.handle.run();
    await dirHandle.run();
    throw interruptedError(err);
  }

  function makeVm(q: RunningQemu, target: SshTarget, accelNote: string | null, bootMs: number): Vm {
    let stopping: Promise<void> | null = null;
    return {
      accel: q.accel,
      accelNote,
      port: q.port,
      consoleLog,
      tmpDir,
      pid: q.pid,
      guestOs,
      bootMs,
      sshTarget: target,
      ssh: (command, opts) => sshRun(target, command, opts?.timeoutMs),
      stop: () => {
        if (!stopping) {
          stopping = (async () => {
            emit(o.onEvent, { type: 'step-start', step: 'cleanup' });
            const t0 = Date.now();
            await q.handle.run();
            await dirHandle.run();
            emit(o.onEvent, { type: 'step-done', step: 'cleanup', ms: Date.now() - t0 });
          })();
        }
        return stopping;
      },
    };
  }
}

