// One QEMU process: started so that it dies with this tool whatever kills the tool (a parent-death
// signal through util-linux `setpriv --pdeathsig KILL`; QEMU 7.2 has no exit-with-parent option),
// its pid recorded in the run's temp dir for the next start's sweep, its stderr kept, its console
// followed, its state asked over QMP, and stopped QMP quit → SIGTERM → SIGKILL.

import { existsSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import type { CleanupHandle, CleanupScope } from '../util/cleanup.js';
import { UserError, oneLine } from '../util/errors.js';
import { emit, type Accel, type OnEvent } from '../util/events.js';
import { CHILD_PID_FILE } from '../util/temp-dir.js';
import { tailConsole, type ConsoleTail } from './console-tail.js';
import { QmpClient } from './qmp.js';
import type { QemuCommand } from './qemu-command.js';

const KILL_GRACE_MS = 3000;
const MAX_STDERR_LINES = 200;
const SETPRIV = '/usr/bin/setpriv';

export interface QemuProcess {
  accel: Accel;
  port: number;
  pid: number;
  startedAt: number;
  /** Set once QEMU has exited. */
  exited: { code: number | undefined; signal: string | undefined } | null;
  stderrLines: string[];
  console: ConsoleTail;
  /** Stop it (idempotent): QMP quit, SIGTERM, SIGKILL. */
  handle: CleanupHandle;
  /** The VM's run status and disk reads so far, over QMP; null when QMP does not answer. */
  vmState(): Promise<{ status: string; reads: number } | null>;
  /** Resolves when QEMU exits; false after `ms` if it has not. */
  waitExit(ms: number): Promise<boolean>;
}

export interface StartQemuOptions {
  command: QemuCommand;
  accel: Accel;
  port: number;
  qmpSocket: string;
  consoleLog: string;
  /** The run's temp dir: QEMU's pid is written there for the sweep. */
  runDir: string;
  scope: CleanupScope;
  onEvent?: OnEvent;
}

/** Where `file` is on the PATH (or itself, when it is a path), or null. */
function onPath(file: string): string | null {
  if (file.includes('/')) return existsSync(file) ? file : null;
  for (const dir of (process.env.PATH ?? '').split(':')) {
    if (dir && existsSync(join(dir, file))) return join(dir, file);
  }
  return null;
}

/** The command line that makes QEMU die with us, when setpriv is there. */
function withParentDeath(cmd: QemuCommand): QemuCommand {
  // Through setpriv a missing QEMU would only show as setpriv's failure: say it plainly first.
  const qemu = onPath(cmd.file);
  if (!qemu) throw new UserError(`${cmd.file} not found (install qemu-system-x86)`);
  if (!existsSync(SETPRIV)) return cmd;
  return { file: SETPRIV, args: ['--pdeathsig', 'KILL', '--', qemu, ...cmd.args] };
}

async function qmpState(qmpSocket: string): Promise<{ status: string; reads: number } | null> {
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
}

function collectLines(child: ResultPromise, into: string[]): () => void {
  let partial = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    const parts = (partial + chunk).split('\n');
    partial = parts.pop() ?? '';
    for (const l of parts) if (into.length < MAX_STDERR_LINES) into.push(l);
  });
  return () => {
    if (partial) into.push(partial);
  };
}

/** Start QEMU; throws UserError when it cannot even be started (binary missing). */
export async function startQemu(o: StartQemuOptions): Promise<QemuProcess> {
  await rm(o.consoleLog, { force: true });
  await rm(o.qmpSocket, { force: true });
  const cmd = withParentDeath(o.command);
  const child = execa(cmd.file, cmd.args, { stdin: 'ignore', stdout: 'ignore', stderr: 'pipe', buffer: false, reject: false, cleanup: true });
  const stderrLines: string[] = [];
  const flushStderr = collectLines(child, stderrLines);
  const console = tailConsole(o.consoleLog, (line) => emit(o.onEvent, { type: 'console-line', line }));
  const q: QemuProcess = {
    accel: o.accel,
    port: o.port,
    pid: child.pid ?? -1,
    startedAt: Date.now(),
    exited: null,
    stderrLines,
    console,
    handle: undefined as unknown as CleanupHandle,
    vmState: () => qmpState(o.qmpSocket),
    waitExit: async (ms) => {
      if (q.exited) return true;
      let timer: NodeJS.Timeout | undefined;
      const t = new Promise<false>((r) => (timer = setTimeout(() => r(false), ms)));
      const done = await Promise.race([exited.then(() => true as const), t]);
      clearTimeout(timer);
      return done;
    },
  };
  const exited = child.then((r) => {
    flushStderr();
    q.exited = { code: r.exitCode, signal: r.signal };
    return r;
  });
  q.handle = o.scope.register({
    name: `qemu pid ${q.pid}`,
    run: () => stopQemu(q, child, o.qmpSocket),
    runSync: () => {
      console.stop();
      if (!q.exited && q.pid > 0) process.kill(q.pid, 'SIGKILL');
    },
  });
  if (child.pid === undefined) {
    const r = await exited;
    q.handle.unregister();
    console.stop();
    const why = r.code === 'ENOENT' ? `${o.command.file} not found (install qemu-system-x86)` : oneLine(r.message);
    throw new UserError(why);
  }
  // The sweep of a later start kills this pid if we die without cleaning up (and setpriv was missing).
  writeFileSync(join(o.runDir, CHILD_PID_FILE), `${child.pid}\n`);
  return q;
}

async function stopQemu(q: QemuProcess, child: ResultPromise, qmpSocket: string): Promise<void> {
  q.console.stop();
  if (q.exited) return;
  try {
    const qmp = await QmpClient.connect(qmpSocket, 1500);
    try {
      await qmp.quit();
    } finally {
      qmp.close();
    }
    if (await q.waitExit(KILL_GRACE_MS)) return;
  } catch {
    // QMP not there or not answering: signals next
  }
  child.kill('SIGTERM');
  if (await q.waitExit(KILL_GRACE_MS)) return;
  child.kill('SIGKILL');
  if (!(await q.waitExit(KILL_GRACE_MS))) throw new Error(`qemu pid ${q.pid} did not exit after SIGKILL`);
}

/** The line of QEMU's stderr worth showing: the first that is not a warning, without the program prefix. */
export function meaningfulStderrLine(lines: string[]): string {
  const clean = lines.map((l) => l.trim()).filter((l) => l.length > 0);
  const pick = clean.find((l) => !/\bwarning:/i.test(l)) ?? clean[0] ?? '';
  return pick.replace(/^qemu-system-[\w-]+:\s*/, '');
}

/** Why QEMU exited at start, in one line. */
export function exitMessage(q: QemuProcess): string {
  const line = meaningfulStderrLine(q.stderrLines);
  const how = q.exited?.signal ? `killed by ${q.exited.signal}` : `status ${q.exited?.code}`;
  return `qemu-system-x86_64 exited at start: ${line || `${how}, no message`}`;
}
