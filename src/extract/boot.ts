// The boot producer: boot a throwaway overlay of the layer under QEMU, stream the destination out
// with the guest's own tar over SSH (parsed in memory, ssh-tar.ts), and pull --corpus-guest
// directories the same way. close() stops QEMU and removes the overlay.

import type { CleanupScope } from '../util/cleanup.js';
import { bootLayer, type BootOptions, type Vm } from '../vm/boot.js';
import type { Privilege } from '../vm/guest.js';
import { emit, type OnEvent } from '../util/events.js';
import { extractOverSsh, guestPath, pullGuestCorpus, shQuote } from './ssh-tar.js';
import type { CandidateTree, Extracted, Extractor, ExtractRequest } from './extractor.js';

export interface BootExtractorOptions extends Omit<BootOptions, 'onEvent' | 'scope'> {
  /** --guest-privilege; the OS's default when absent. */
  privilege?: Privilege;
  scope: CleanupScope;
}

export const BOOT_STEPS = {
  extract: [
    { id: 'overlay', label: 'Create the overlay' },
    { id: 'qemu', label: 'Start QEMU' },
    { id: 'ssh', label: 'Wait for SSH' },
    { id: 'extract', label: 'Extract the files' },
  ],
  close: [{ id: 'cleanup', label: 'Stop QEMU, remove overlay' }],
};

/** The most decoded names tried when the directory no longer exists, and how long the guest may search. */
const MAX_NAMES = 8;
const FIND_TIMEOUT_MS = 60_000;

/** A `find -name` pattern matching `name` literally (its glob characters escaped). */
function literalPattern(name: string): string {
  return name.replace(/[\\*?[\]]/g, (c) => `\\${c}`);
}

/**
 * One shell command, run under the tar's privilege: find the directory with inode `ino` on the
 * filesystem holding `dst` (its mount point from `df -P`, walking no other filesystem: -xdev),
 * printed as `inode <path>`; failing that (the directory is gone), the directory holding the most
 * of `names`, printed as `names <count> <path>` (uniq -c). Every guest-side string is quoted.
 */
/** The names worth searching for: no `.`/`..`, no control characters, the longest first. */
function usableNames(names: readonly string[]): string[] {
  return [...new Set(names)]
    .filter((n) => n.length > 0 && n !== '.' && n !== '..' && !/[\0-\x1f\x7f/]/.test(n))
    .sort((a, b) => b.length - a.length || (a < b ? -1 : 1))
    .slice(0, MAX_NAMES);
}

export function directoryOfInodeCommand(dst: string, ino: number, names: readonly string[], privilege: Privilege): string {
  if (!Number.isSafeInteger(ino) || ino <= 0) throw new Error(`inode ${ino}: not an inode number`);
  const prefix = privilege === 'doas' ? 'doas -n ' : privilege === 'sudo' ? 'sudo -n ' : '';
  const usable = usableNames(names);
  // The mount point holding dst (or its nearest existing ancestor): df -P's last column.
  const root = `d=${shQuote(dst)}; while [ ! -e "$d" ] && [ "$d" != / ]; do d=$(dirname "$d"); done; root=$(df -P "$d" 2>/dev/null | awk 'NR==2 {print $NF}'); [ -n "$root" ] || root=/`;
  const byInode = `hit=$(${prefix}find "$root" -xdev -inum ${ino} -type d -print 2>/dev/null | head -n 1); if [ -n "$hit" ]; then printf 'inode %s\\n' "$hit"; exit 0; fi`;
  if (usable.length === 0) return `${root}; ${byInode}; exit 1`;
  const patterns = usable.map((n) => shQuote(literalPattern(n))).join(' ');
  const byNames = `for n in ${patterns}; do ${prefix}find "$root" -xdev -name "$n" -print 2>/dev/null | head -n 20; done | sed 's|/[^/]*$||' | sort | uniq -c | sort -rn | head -n 1 | sed 's/^ */names /'`;
  return `${root}; ${byInode}; ${byNames}`;
}

/**
 * What the command printed: the directory by inode, or by names when at least half of them (and
 * at least two) are in it; otherwise null.
 */
export function parseDirectoryOfInode(stdout: string, names: readonly string[]): string | null {
  const line = stdout.split('\n').find((l) => l.trim() !== '') ?? '';
  const byInode = /^inode (\/.*)$/.exec(line);
  if (byInode) return byInode[1]!;
  const byNames = /^names (\d+) (\/.*)$/.exec(line);
  if (!byNames) return null;
  const count = Number(byNames[1]);
  const want = Math.max(2, Math.ceil(usableNames(names).length / 2));
  return count >= want ? byNames[2]! : null;
}

/** Ask the guest which directory has inode `ino` (null when none, or on any failure). */
async function guestDirectoryOfInode(vm: Vm, dst: string, privilege: Privilege, ino: number, names: readonly string[]): Promise<string | null> {
  if (vm.guestOs === 'windows') return null;
  const r = await vm.ssh(directoryOfInodeCommand(dst, ino, names, privilege), { timeoutMs: FIND_TIMEOUT_MS });
  if (r.timedOut) return null;
  return parseDirectoryOfInode(r.stdout, names);
}

/** The corpus pulls report as their own step ('corpus'), not as the copy destination's extract. */
function asCorpusStep(onEvent: OnEvent | undefined): OnEvent {
  return (e) => {
    // Its progress would count as the copied files'; the step's end says how much it pulled.
    if (e.type === 'extract-progress') return;
    emit(onEvent, 'step' in e && e.step === 'extract' ? { ...e, step: 'corpus' } : e);
  };
}

async function pullCorpora(vm: Vm, paths: readonly string[], privilege: Privilege, req: ExtractRequest): Promise<CandidateTree[]> {
  const out: CandidateTree[] = [];
  const onEvent = asCorpusStep(req.onEvent);
  for (const path of paths) {
    if (req.signal?.aborted) break;
    // The privilege that worked (or the fallback) is reused: the fallback is said once.
    const g = await pullGuestCorpus({ vm, path, privilege, guestOs: vm.guestOs, onEvent });
    out.push({ source: 'guest', root: g.root, tree: g.tree, name: (rel) => guestPath(g.root, rel) });
  }
  return out;
}

export function bootExtractor(o: BootExtractorOptions): Extractor {
  return {
    via: 'boot',
    steps: BOOT_STEPS,
    async extract(req: ExtractRequest): Promise<Extracted> {
      const vm = await bootLayer({ ...o, onEvent: req.onEvent, scope: o.scope, signal: req.signal });
      try {
        const r = await extractOverSsh({ vm, dst: req.dst, src: req.src, privilege: o.privilege, guestOs: vm.guestOs, onEvent: req.onEvent });
        const candidates = await pullCorpora(vm, req.corpusGuest ?? [], r.privilege, req);
        return {
          via: 'boot',
          tree: r.tree,
          extraction: {
            via: 'boot',
            accel: vm.accel,
            ...(vm.accelNote ? { accelNote: vm.accelNote } : {}),
            guestOs: vm.guestOs,
            dst: req.dst,
            files: r.files,
            bytes: r.bytes,
            privilege: r.privilege,
            consoleLog: vm.consoleLog,
            ...(r.unsafe.length > 0 ? { unsafeEntries: r.unsafe } : {}),
            ...(r.exitCode !== 0 ? { tarExitCode: r.exitCode ?? null, tarStderr: r.stderr.slice(0, 2000) } : {}),
            ...(r.gaps.dropped.length > 0 ? { dropped: r.gaps.dropped } : {}),
          },
          candidates,
          gaps: r.gaps,
          directoryOfInode: (ino, names = []) => guestDirectoryOfInode(vm, req.dst, r.privilege, ino, names),
          close: () => vm.stop(),
        };
      } catch (err) {
        await vm.stop();
        throw err;
      }
    },
  };
}
