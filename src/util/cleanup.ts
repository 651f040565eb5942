// A process-wide registry of cleanup actions (kill a QEMU, remove a temp dir), each run exactly once:
// by its owner on the normal path (`handle.run()`), by `runAllCleanups()` on error paths, on
// SIGINT/SIGTERM/SIGHUP (then the process exits 130/143/129), and on 'exit' (synchronous
// fallbacks only: async work cannot run there). A SIGKILL of this process cannot be caught: QEMU
// then outlives it (see the report's "left out").

import { rmSync } from 'node:fs';

export interface CleanupAction {
  /** What it cleans, for diagnostics ("qemu pid 1234", "temp dir /tmp/...'). */
  name: string;
  /** The normal, asynchronous cleanup (QMP quit, graceful kill, rm). */
  run: () => Promise<void>;
  /** A synchronous fallback for process 'exit' (SIGKILL, rmSync). Must not throw. */
  runSync: () => void;
}

export interface CleanupHandle {
  /** Run the action now (once; later calls return the same promise) and unregister it. */
  run(): Promise<void>;
  /** Forget the action without running it. */
  unregister(): void;
}

interface Entry {
  action: CleanupAction;
  done: boolean;
  promise?: Promise<void>;
}

// Newest first: a QEMU registered after its temp dir is stopped before the dir is removed.
const entries: Entry[] = [];
let handlersInstalled = false;
let signalled: NodeJS.Signals | null = null;

const SIGNAL_EXIT: Record<string, number> = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 };
/** How long signal-time cleanup may take before the process exits anyway. */
const SIGNAL_CLEANUP_BUDGET_MS = 8000;

function runEntry(e: Entry): Promise<void> {
  if (!e.promise) {
    e.promise = (async () => {
      try {
        await e.action.run();
      } catch {
        // fall back to the synchronous version
        try {
          e.action.runSync();
        } catch {
          /* nothing more to do */
        }
      } finally {
        e.done = true;
        const i = entries.indexOf(e);
        if (i >= 0) entries.splice(i, 1);
      }
    })();
  }
  return e.promise;
}

function onExit(): void {
  // After a signal the exit status is 128+n whatever else happened meanwhile (a pipeline step
  // failing because its QEMU was stopped must not turn SIGTERM into exit 1 or 2).
  if (signalled) process.exitCode = SIGNAL_EXIT[signalled] ?? 1;
  for (const e of [...entries]) {
    if (e.done) continue;
    e.done = true;
    try {
      e.action.runSync();
    } catch {
      /* must not throw in 'exit' */
    }
  }
  entries.length = 0;
}

function onSignal(sig: NodeJS.Signals): void {
  const code = SIGNAL_EXIT[sig] ?? 1;
  if (signalled) {
    // second signal: stop waiting, run the synchronous fallbacks and go
    onExit();
    process.exit(code);
  }
  signalled = sig;
  const timer = setTimeout(() => {
    onExit();
    process.exit(code);
  }, SIGNAL_CLEANUP_BUDGET_MS);
  timer.unref();
  void runAllCleanups().finally(() => {
    onExit();
    process.exit(code);
  });
}

/** The signal being handled, once SIGINT/SIGTERM/SIGHUP arrived (errors after it are its consequence). */
export function shuttingDown(): NodeJS.Signals | null {
  return signalled;
}

/** An error to throw instead of `err` when a signal is stopping everything. */
export function interruptedError(err: unknown): unknown {
  if (!signalled) return err;
  return new InterruptedError(signalled);
}

export class InterruptedError extends Error {
  override name = 'InterruptedError';
  readonly exitCode: number;
  constructor(readonly signal: NodeJS.Signals) {
    super(`interrupted by ${signal}: stopping QEMU and removing temporary files`);
    this.exitCode = SIGNAL_EXIT[signal] ?? 1;
  }
}

/** Install the 'exit' and signal handlers (idempotent; done by the first `registerCleanup`). */
export function installCleanupHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on('exit', onExit);
  for (const sig of Object.keys(SIGNAL_EXIT) as NodeJS.Signals[]) process.on(sig, onSignal);
}

/** Register an action; it runs exactly once, whichever path gets there first. */
export function registerCleanup(action: CleanupAction): CleanupHandle {
  installCleanupHandlers();
  const e: Entry = { action, done: false };
  entries.unshift(e);
  return {
    run: () => runEntry(e),
    unregister: () => {
      const i = entries.indexOf(e);
      if (i >= 0) entries.splice(i, 1);
      e.done = true;
    },
  };
}

/** Run every registered action (newest first), e.g. on a fatal error. */
export async function runAllCleanups(): Promise<void> {
  for (const e of [...entries]) await runEntry(e);
}

/** Names of actions still pending (for tests and diagnostics). */
export function pendingCleanups(): string[] {
  return entries.filter((e) => !e.done).map((e) => e.action.name);
}

/** Run the 'exit' fallbacks now, as process exit would (for tests). */
export function runSyncCleanupsForTest(): void {
  onExit();
}

/** A cleanup action that removes a directory tree. */
export function removeDirAction(dir: string): CleanupAction {
  return {
    name: `temp dir ${dir}`,
    run: async () => {
      const { rm } = await import('node:fs/promises');
      await rm(dir, { recursive: true, force: true });
    },
    runSync: () => rmSync(dir, { recursive: true, force: true }),
  };
}
