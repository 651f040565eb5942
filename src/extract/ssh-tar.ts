// Getting files out of a booted guest: its own tar over SSH, parsed in memory (tar-tree.ts).
//
// Remote commands (POSIX shells get single-quoted arguments, cmd.exe double-quoted ones):
//   linux    [doas -n|sudo -n] tar -C <dst> -cf - <src...|.>   (busybox, or GNU tar + --no-unquote)
//   openbsd  [doas -n|sudo -n] gtar --no-unquote ... when gtar exists, else tar ...
//   windows  C:\Windows\System32\tar.exe -C <dst> -cf - <src...|.>   (no privilege prefix)
// On POSIX guests the command first checks that <dst> is a directory (exit 97 otherwise), so a
// wrong --dst is a clear error rather than an empty tree. A privilege prefix is probed first with
// `doas -n true` / `sudo -n true`; when that fails the extraction runs unprivileged and a note
// says so. A tar that exits non-zero because a listed src is missing still yields what it
// streamed (the absent file is classified `missing` later); its stderr is in the result.

import { execa } from 'execa';
import type { Tree } from '../classify/tree.js';
import { UserError } from '../util/errors.js';
import { interruptedError } from '../vm/cleanup.js';
import { emit, type OnEvent } from '../vm/events.js';
import type { GuestOs } from '../vm/qemu-command.js';
import { classifySshFailure, firstLine, sshArgs, sshRun, type SshTarget } from '../vm/ssh.js';
import { tarToTree, type TarLimits, type TarTreeResult } from './tar-tree.js';

export type Privilege = 'none' | 'doas' | 'sudo';

/** What extraction needs of a booted VM (a subset of src/vm/boot.ts `Vm`). */
export interface SshVm {
  sshTarget: SshTarget;
  guestOs?: GuestOs;
}

/** Quote one argument for a POSIX shell: 'it'\''s'. */
export function shQuote(s: string): string {
  if (s.includes('\0')) throw new UserError(`guest path ${JSON.stringify(s)}: contains a NUL byte`);
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** Quote one argument for cmd.exe / the Windows argv parser. */
export function winQuote(s: string): string {
  if (/["\0\r\n%^&|<>]/.test(s)) throw new UserError(`guest path ${JSON.stringify(s)}: characters that cannot be passed to tar.exe safely`);
  return `"${s.replace(/\\+$/, (m) => m + m)}"`;
}

/** Default privilege per guest OS (design.md section 4). */
export function defaultPrivilege(guestOs: GuestOs): Privilege {
  return guestOs === 'openbsd' ? 'doas' : guestOs === 'linux' ? 'sudo' : 'none';
}

export const DST_MISSING_EXIT = 97;

/** The remote command line that streams `src` (or everything) under `dst` as a tar to stdout. */
export function guestTarCommand(guestOs: GuestOs, dst: string, src: string[] | undefined, privilege: Privilege): string {
  const members = src && src.length > 0 ? src : ['.'];
  if (guestOs === 'windows') {
    return ['C:\\Windows\\System32\\tar.exe', '-C', winQuote(dst), '-cf', '-', ...members.map(winQuote)].join(' ');
  }
  const prefix = privilege === 'doas' ? 'doas -n ' : privilege === 'sudo' ? 'sudo -n ' : '';
  // `--` would end options for GNU tar but busybox tar takes it as a member: prefix names starting
  // with '-' with './' instead.
  const args = members.map((m) => shQuote(m.startsWith('-') ? `./${m}` : m)).join(' ');
  const check = `[ -d ${shQuote(dst)} ] || { echo "no such directory: "${shQuote(dst)} >&2; exit ${DST_MISSING_EXIT}; }; `;
  const tarArgs = `-C ${shQuote(dst)} -cf - ${args}`;
  // GNU tar unquotes backslash escapes in member names by default (`\\b` would become a
  // backspace): --no-unquote keeps names as given. busybox and BSD tars do not unquote.
  if (guestOs === 'openbsd') {
    return `${check}if command -v gtar >/dev/null 2>&1; then ${prefix}gtar --no-unquote ${tarArgs}; else ${prefix}tar ${tarArgs}; fi`;
  }
  return `${check}if tar --version 2>/dev/null | grep -q 'GNU tar'; then ${prefix}tar --no-unquote ${tarArgs}; else ${prefix}tar ${tarArgs}; fi`;
}

/** Check that `doas -n` / `sudo -n` works in the guest; returns the privilege to use and a note if it falls back. */
export async function resolvePrivilege(vm: SshVm, privilege: Privilege, onEvent?: OnEvent): Promise<Privilege> {
  if (privilege === 'none' || vm.guestOs === 'windows') return 'none';
  const r = await sshRun(vm.sshTarget, `${privilege} -n true`, 20_000);
  if (r.exitCode === 0) return privilege;
  const why = r.exitCode === 127 ? `${privilege} not found` : firstLine(r.stderr) || `exit status ${r.exitCode}`;
  emit(onEvent, { type: 'note', message: `--guest-privilege ${privilege}: ${why} in the guest; extracting unprivileged` });
  return 'none';
}

export interface ExtractOptions {
  vm: SshVm;
  /** Guest directory (absolute), the copy step's dst. */
  dst: string;
  /** Members relative to dst (the copy step's src list); everything under dst when omitted. */
  src?: string[];
  privilege?: Privilege;
  guestOs?: GuestOs;
  limits?: TarLimits;
  onEvent?: OnEvent;
  /** Give up after this long (ms, default 10 min). */
  timeoutMs?: number;
}

export interface ExtractResult extends TarTreeResult {
  /** The remote command that ran. */
  command: string;
  /** The privilege actually used (after fallback). */
  privilege: Privilege;
  /** tar's (and ssh's) exit status and stderr. */
  exitCode: number | undefined;
  stderr: string;
  ms: number;
}

export async function extractOverSsh(o: ExtractOptions): Promise<ExtractResult> {
  const guestOs = o.guestOs ?? o.vm.guestOs ?? 'linux';
  const t0 = Date.now();
  emit(o.onEvent, { type: 'step-start', step: 'extract', info: o.dst });
  try {
    if (guestOs !== 'windows' && !o.dst.startsWith('/')) throw new UserError(`--dst ${o.dst}: must be an absolute guest path`);
    const privilege = await resolvePrivilege(o.vm, o.privilege ?? defaultPrivilege(guestOs), o.onEvent);
    const command = guestTarCommand(guestOs, o.dst, o.src, privilege);
    const child = execa('ssh', [...sshArgs(o.vm.sshTarget), command], {
      stdin: 'ignore',
      stdout: 'pipe',
      stderr: 'pipe',
      buffer: { stdout: false, stderr: true },
      maxBuffer: { stderr: 1024 * 1024 },
      reject: false,
      timeout: o.timeoutMs ?? 600_000,
      encoding: 'buffer',
    });
    const what = `guest tar of ${o.dst}`;
    let parsed: TarTreeResult | null = null;
    let parseErr: unknown = null;
    try {
      parsed = await tarToTree(child.stdout, { limits: o.limits, onEvent: o.onEvent, what });
    } catch (err) {
      parseErr = err;
      child.kill('SIGTERM');
    }
    const r = await child;
    const stderr = Buffer.from(r.stderr as unknown as Uint8Array).toString('utf8');
    if (r.exitCode === DST_MISSING_EXIT) throw new UserError(`guest directory ${o.dst}: does not exist (or is not a directory)`);
    if (r.exitCode === 255 && classifySshFailure(stderr).kind !== 'other') {
      throw new UserError(`ssh to the guest failed while extracting ${o.dst}: ${firstLine(stderr) || 'connection lost'}`);
    }
    if (r.timedOut) throw new UserError(`${what}: took longer than ${Math.round((o.timeoutMs ?? 600_000) / 1000)} s`);
    if (parseErr) {
      // An empty stdout from a tar that failed outright is tar's failure, not a bad archive.
      if (r.exitCode !== 0 && stderr.trim()) throw new UserError(`${what}: tar failed (exit ${r.exitCode}): ${firstLine(stderr)}`);
      throw parseErr;
    }
    const res = parsed!;
    if (r.exitCode !== 0) {
      emit(o.onEvent, { type: 'note', message: `${what}: tar exited with status ${r.exitCode}: ${firstLine(stderr)}` });
      if (res.entries === 0 && !(o.src && o.src.length > 0)) {
        throw new UserError(`${what}: tar failed (exit ${r.exitCode}): ${firstLine(stderr) || 'no output'}`);
      }
    }
    const ms = Date.now() - t0;
    emit(o.onEvent, { type: 'step-done', step: 'extract', ms, info: `${res.files} files, ${res.bytes} bytes` });
    return { ...res, command, privilege, exitCode: r.exitCode, stderr, ms };
  } catch (e) {
    const err = interruptedError(e);
    emit(o.onEvent, { type: 'step-fail', step: 'extract', reason: err instanceof Error ? err.message : String(err) });
    throw err;
  }
}

export interface GuestCorpus {
  /** The guest directory (absolute), the `root` of provenance entries. */
  root: string;
  /** Files under it, keyed by path relative to root. */
  tree: Tree;
  files: number;
  bytes: number;
  skipped: { path: string; size: number; reason: string }[];
}

/**
 * `--corpus-guest PATH`: pull a guest directory's files the same way, so stale content can be
 * traced to them (provenance source 'guest', path = guestPath(root, rel)). Files over the per-file
 * limit are skipped (listed), not fatal; a missing directory is a UserError.
 */
export async function pullGuestCorpus(o: {
  vm: SshVm;
  path: string;
  privilege?: Privilege;
  guestOs?: GuestOs;
  limits?: TarLimits;
  onEvent?: OnEvent;
}): Promise<GuestCorpus> {
  const res = await extractOverSsh({
    vm: o.vm,
    dst: o.path,
    privilege: o.privilege,
    guestOs: o.guestOs,
    limits: { oversize: 'skip', ...o.limits },
    onEvent: o.onEvent,
  });
  const tree: Tree = new Map();
  for (const [k, e] of res.tree) if (e.kind === 'file') tree.set(k, e);
  return { root: o.path, tree, files: res.files, bytes: res.bytes, skipped: res.skipped };
}

/** The absolute guest path of `rel` under `root` (for provenance), as a string. */
export function guestPath(root: string, rel: string): string {
  return `${root.replace(/\/+$/, '')}/${rel}`;
}
