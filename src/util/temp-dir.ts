// The tool's own temporary directories (overlays, QMP sockets, large files spilled from a guest's
// tar stream), marked with their owner so that a run killed with SIGKILL, which cannot clean up,
// is cleaned by the next start: a directory whose owner process is gone is removed, and a QEMU
// it recorded is killed if it still runs (its command line names that directory).

import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CleanupAction, CleanupHandle, CleanupScope } from './cleanup.js';

export const TEMP_PREFIX = 'layer-forensics-';
const OWNER_FILE = 'owner';
/** A pid a run writes here (e.g. QEMU's) is killed by the sweep if it still runs inside this dir. */
export const CHILD_PID_FILE = 'child.pid';

/** The start time of a process (clock ticks since boot, /proc/<pid>/stat field 22): tells pid reuse apart. */
function startTime(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: count fields after the last ')'.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return rest[19] ?? null;
  } catch {
    return null;
  }
}

function ownerAlive(owner: string): boolean {
  const [pidText, started] = owner.trim().split(/\s+/);
  const pid = Number(pidText);
  if (!Number.isInteger(pid) || pid <= 0) return false;
  const now = startTime(pid);
  if (now === null) {
    // No /proc (or not ours to read): fall back to "does the pid exist".
    try {
      process.kill(pid, 0);
      return true;
    } catch (err) {
      return (err as NodeJS.ErrnoException).code === 'EPERM';
    }
  }
  return started === undefined || started === now;
}

/** A removal action for a directory tree. A failed rm is reported by the scope, not hidden. */
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

/** Make a temp dir owned by this process, removed when `scope` runs. */
export function makeRunDir(scope: CleanupScope, parent = tmpdir()): { dir: string; handle: CleanupHandle } {
  const dir = mkdtempSync(join(parent, TEMP_PREFIX));
  writeFileSync(join(dir, OWNER_FILE), `${process.pid} ${startTime(process.pid) ?? ''}\n`);
  return { dir, handle: scope.register(removeDirAction(dir)) };
}

/** Kill the child a dead run left, if it still runs and its command line names the run's dir. */
function killOrphan(dir: string): void {
  let pid: number;
  try {
    pid = Number(readFileSync(join(dir, CHILD_PID_FILE), 'utf8').trim());
  } catch {
    return;
  }
  if (!Number.isInteger(pid) || pid <= 1) return;
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    if (cmdline.includes(dir)) process.kill(pid, 'SIGKILL');
  } catch {
    /* gone already */
  }
}

/**
 * Remove the temp dirs of runs whose process is gone (killed with SIGKILL, a crash). Returns the
 * dirs removed. Dirs of live processes, and anything not made by makeRunDir, are left alone.
 */
export function sweepStaleRunDirs(parent = tmpdir()): string[] {
  const removed: string[] = [];
  let names: string[];
  try {
    names = readdirSync(parent).filter((n) => n.startsWith(TEMP_PREFIX));
  } catch {
    return removed;
  }
  for (const n of names) {
    const dir = join(parent, n);
    let owner: string;
    try {
      owner = readFileSync(join(dir, OWNER_FILE), 'utf8');
    } catch {
      continue; // not ours, or being created right now
    }
    if (ownerAlive(owner)) continue;
    killOrphan(dir);
    try {
      rmSync(dir, { recursive: true, force: true });
      removed.push(dir);
    } catch {
      /* someone else's to deal with */
    }
  }
  return removed;
}
