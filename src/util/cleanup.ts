// Cleanup actions (kill a QEMU, remove a temp dir), each run exactly once, grouped in scopes.
//
// A run (one diagnose, one layer of an audit) owns a `CleanupScope`: its owner runs it on the
// normal path, and aborting that run cleans only what that run started, not the other runs of
// the process. Every live scope is also on the process-level net: SIGINT/SIGTERM/SIGHUP run all of
// them (then the process exits 130/143/129), and process 'exit' runs the synchronous fallbacks of
// whatever is left. A SIGKILL cannot be caught: QEMU dies with us through its parent-death signal
// (qemu-process.ts) and temp dirs are swept by the next start (temp-dir.ts).
//
// A cleanup that fails is not hidden: its failure is kept and returned by runAll().

export interface CleanupAction {
  /** What it cleans, for diagnostics ("qemu pid 1234", "temp dir /tmp/..."). */
  name: string;
  /** The normal, asynchronous cleanup (QMP quit, graceful kill, rm). */
  run: () => Promise<void>;
  /** A synchronous fallback for process 'exit' and for a failed `run`. Must not throw. */
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

const SIGNAL_EXIT: Record<string, number> = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 };
/** How long signal-time cleanup may take before the process exits anyway. */
const SIGNAL_CLEANUP_BUDGET_MS = 8000;

/** Every scope with pending actions: the process-level net. */
const liveScopes = new Set<CleanupScope>();
let handlersInstalled = false;
let signalled: NodeJS.Signals | null = null;

export class CleanupScope {
  // Newest first: a QEMU registered after its temp dir is stopped before the dir is removed.
  private readonly entries: Entry[] = [];
  private readonly failureList: string[] = [];

  constructor(readonly name: string) {}

  /** Register an action; it runs exactly once, whichever path gets there first. */
  register(action: CleanupAction): CleanupHandle {
    installCleanupHandlers();
    const e: Entry = { action, done: false };
    this.entries.unshift(e);
    liveScopes.add(this);
    return {
      run: () => this.runEntry(e),
      unregister: () => {
        e.done = true;
        this.forget(e);
      },
    };
  }

  /** Run every pending action, newest first. Returns the failures met so far (one line each). */
  async runAll(): Promise<string[]> {
    for (const e of [...this.entries]) await this.runEntry(e);
    return [...this.failureList];
  }

  /** Names of actions still pending. */
  pending(): string[] {
    return this.entries.filter((e) => !e.done).map((e) => e.action.name);
  }

  /** Cleanups that failed (both the normal and the fallback way), one line each. */
  get failures(): readonly string[] {
    return this.failureList;
  }

  /** Process exit: the synchronous fallbacks of what is left. */
  runSyncAll(): void {
    for (const e of [...this.entries]) {
      if (e.done) continue;
      e.done = true;
      try {
        e.action.runSync();
      } catch {
        /* must not throw in 'exit' */
      }
    }
    this.entries.length = 0;
    liveScopes.delete(this);
  }

  private forget(e: Entry): void {
    const i = this.entries.indexOf(e);
    if (i >= 0) this.entries.splice(i, 1);
    if (this.entries.length === 0) liveScopes.delete(this);
  }

  private runEntry(e: Entry): Promise<void> {
    if (!e.promise) {
      e.promise = (async () => {
        try {
          await e.action.run();
        } catch (err) {
          try {
            e.action.runSync();
          } catch (err2) {
            this.failureList.push(`${e.action.name}: ${lineOf(err)}; fallback: ${lineOf(err2)}`);
          }
        } finally {
          e.done = true;
          this.forget(e);
        }
      })();
    }
    return e.promise;
  }
}

function lineOf(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).replace(/\s*\n\s*/g, ' ');
}

/** For code that runs outside any run (one-off helpers, tests): the process's own scope. */
export const processScope = new CleanupScope('process');

/** Run every live scope's actions (signals, fatal errors, the TUI quitting). */
export async function runAllCleanups(): Promise<string[]> {
  const failures: string[] = [];
  for (const s of [...liveScopes]) failures.push(...(await s.runAll()));
  return failures;
}

function onExit(): void {
  // After a signal the exit status is 128+n whatever else happened meanwhile (a pipeline step
  // failing because its QEMU was stopped must not turn SIGTERM into exit 1 or 2).
  if (signalled) process.exitCode = SIGNAL_EXIT[signalled] ?? 1;
  for (const s of [...liveScopes]) s.runSyncAll();
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

/** Install the 'exit' and signal handlers (idempotent; done by the first registration). */
export function installCleanupHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on('exit', onExit);
  for (const sig of Object.keys(SIGNAL_EXIT) as NodeJS.Signals[]) process.on(sig, onSignal);
}

/** Register on the process scope (code outside any run). */
export function registerCleanup(action: CleanupAction): CleanupHandle {
  return processScope.register(action);
}

/** Names of actions still pending in every scope (tests and diagnostics). */
export function pendingCleanups(): string[] {
  return [...liveScopes].flatMap((s) => s.pending());
}

/** Run the 'exit' fallbacks now, as process exit would (tests). */
export function runSyncCleanupsForTest(): void {
  onExit();
}
