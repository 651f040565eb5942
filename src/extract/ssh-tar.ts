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
//
// tar's stderr is read for the files it could not take (permission denied after the privilege
// fallback, a socket, a file that vanished or changed while read): GNU tar, busybox tar, bsdtar
// and OpenBSD's tar each print a line and exit 1 or 2. Each such file is put in the tree marked
// `unreadable` with the reason (never left out silently, never given guessed bytes), and every
// entry left out or unreadable is listed in the result's `gaps`, with tar's exit status and its
// stderr: a verdict cannot be `clean` then.

import { execa, type ResultPromise } from 'execa';
import type { Tree, TreeEntry } from '../tree/tree.js';
import { UserError } from '../util/errors.js';
import { interruptedError, type CleanupScope } from '../util/cleanup.js';
import { emit, type OnEvent } from '../util/events.js';
import { defaultPrivilege, type GuestOs, type Privilege } from '../vm/guest.js';
import { classifySshFailure, firstLine, sshArgs, sshRun, type SshTarget } from '../vm/ssh.js';
import type { ExtractionGaps } from './extractor.js';
import { describeName, ExtractLimitError, normaliseTarName, spillToRunDir, tarToTree, type TarLimits, type TarTreeResult } from './tar-tree.js';

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
  /**
   * Owns the temp dir large files are kept in (removed when it runs). Default: the process's
   * scope, so the files outlive the run (the terminal UI opens them after it) and go at exit.
   */
  scope?: CleanupScope;
}

/** A file the guest's tar reported it could not read, as put in the tree. */
export interface UnreadableEntry {
  path: string;
  reason: string;
}

export interface ExtractResult extends TarTreeResult {
  /** The remote command that ran. */
  command: string;
  /** The privilege actually used (after fallback). */
  privilege: Privilege;
  /** tar's (and ssh's) exit status and stderr. */
  exitCode: number | undefined;
  stderr: string;
  /** Files tar reported it could not read: in the tree with `unreadable` set. */
  unreadable: UnreadableEntry[];
  /** Everything left out or unreadable, and tar's failure: what the verdict must know. */
  gaps: ExtractionGaps;
  ms: number;
}

const DEFAULT_TIMEOUT_MS = 600_000;
/** Lines of tar's stderr quoted in a failure line. */
const STDERR_LINES_SHOWN = 5;

/** One file named in tar's stderr: the name as printed, the reason, and what kind of problem. */
export interface TarProblem {
  /** The name as tar printed it (GNU tar: C-quoted; see `gnu`). */
  name: string;
  /** The messages are GNU tar's, whose names are quoted (a backslash is printed `\\`). */
  gnu: boolean;
  reason: string;
  kind: 'permission' | 'socket' | 'vanished' | 'changed' | 'io' | 'other';
}

/**
 * Messages of GNU tar, busybox tar, bsdtar (Windows tar.exe) and OpenBSD tar that name a file,
 * each read from its fixed parts with indexOf/endsWith: the name between them is guest bytes
 * (a hostile guest controls its length), so nothing here backtracks.
 */
type MessageReader = (m: string) => { name: string; reason: string } | null;

/** GNU tar: "./x: Cannot open: Permission denied", "./x: Read error at byte 0, ...: Input/output error". */
const GNU_MARKERS = [': Cannot open: ', ': Cannot stat: ', ': Cannot read: ', ': Cannot savedir: ', ': Cannot readlink: ', ': Cannot lstat: ', ': Warning: Cannot stat: ', ': Warning: Cannot open: ', ': Read error at byte '];
/** GNU and busybox: a name followed by one of these. */
const SUFFIXES = [': socket ignored', ': file changed as we read it', ': File removed before we read it', ': No such file or directory', ': Permission denied', ': Operation not permitted', ': Input/output error'];

const MESSAGE_READERS: MessageReader[] = [
  // busybox: "can't open 'x': Permission denied"
  (m) => {
    if (!m.startsWith("can't open '")) return null;
    const at = m.lastIndexOf("': ");
    return at < 12 ? null : { name: m.slice(12, at), reason: m.slice(at + 3) };
  },
  // OpenBSD tar: "Unable to open x to read <Permission denied>", "Unable to access x <No such file or directory>"
  (m) => {
    const verb = ['Unable to open ', 'Unable to access ', 'Unable to read '].find((v) => m.startsWith(v));
    const at = m.lastIndexOf(' <');
    if (!verb || !m.endsWith('>') || at < verb.length) return null;
    const name = m.slice(verb.length, at);
    return { name: name.endsWith(' to read') ? name.slice(0, -8) : name, reason: m.slice(at + 2, -1) };
  },
  // bsdtar: "x: Couldn't open x: Permission denied"
  (m) => {
    const at = [": Couldn't open ", ": Can't open ", ": Couldn't read ", ": Couldn't visit directory"].map((k) => m.indexOf(k)).filter((i) => i > 0).sort((a, b) => a - b)[0];
    if (at === undefined) return null;
    const reasonAt = m.lastIndexOf(': ');
    return reasonAt <= at ? null : { name: m.slice(0, at), reason: m.slice(reasonAt + 2) };
  },
  (m) => {
    for (const k of GNU_MARKERS) {
      const at = m.lastIndexOf(k);
      if (at > 0) return { name: m.slice(0, at), reason: m.slice(at + 2) };
    }
    return null;
  },
  (m) => {
    const lower = m.toLowerCase();
    for (const k of SUFFIXES) {
      if (lower.endsWith(k.toLowerCase()) && m.length > k.length) return { name: m.slice(0, m.length - k.length), reason: m.slice(m.length - k.length + 2) };
    }
    const shrank = /: file shrank by \d{1,20} bytes?; padding with zeros$/i.exec(m.slice(-64));
    if (shrank && m.length > shrank[0].length) return { name: m.slice(0, m.length - shrank[0].length), reason: shrank[0].slice(2) };
    return null;
  },
];

const C_ESCAPES: Record<string, number> = { n: 10, t: 9, r: 13, a: 7, b: 8, f: 12, v: 11 };

/** GNU tar quotes names in messages (C escapes, octal bytes for non-ASCII): undo it. */
function unquoteGnu(name: string): string {
  const parts: Buffer[] = [];
  for (const m of name.matchAll(/\\([0-7]{3}|[\s\S])|[^\\]+|\\$/g)) {
    const esc = m[1];
    if (esc === undefined) parts.push(Buffer.from(m[0], 'utf8'));
    else if (/^[0-7]{3}$/.test(esc)) parts.push(Buffer.of(parseInt(esc, 8) & 0xff));
    else parts.push(C_ESCAPES[esc] !== undefined ? Buffer.of(C_ESCAPES[esc]) : Buffer.from(esc, 'utf8'));
  }
  return Buffer.concat(parts).toString('utf8');
}

function problemKind(reason: string): TarProblem['kind'] {
  if (/permission denied|operation not permitted/i.test(reason)) return 'permission';
  if (/socket ignored/i.test(reason)) return 'socket';
  if (/removed before we read it|no such file or directory/i.test(reason)) return 'vanished';
  if (/changed as we read it|shrank/i.test(reason)) return 'changed';
  if (/i\/o error|input\/output error|read error/i.test(reason)) return 'io';
  return 'other';
}

/**
 * The files tar's stderr says it could not take, one per line that names one. Lines that name
 * no file (summaries, "Removing leading /") are not problems of a file: they stay in `stderr`.
 */
export function parseTarStderr(stderr: string): TarProblem[] {
  const out: TarProblem[] = [];
  const messages = tarMessages(stderr);
  const gnu = messages.some((m) => GNU_MESSAGE.test(m));
  for (const message of messages) {
    for (const read of MESSAGE_READERS) {
      const found = read(message);
      if (!found || found.name === '') continue;
      out.push({ name: found.name, gnu, reason: found.reason, kind: problemKind(found.reason) });
      break;
    }
  }
  return out;
}

/** Messages only GNU tar prints: its names are quoted, busybox prints them raw. */
const GNU_MESSAGE = /: Cannot (?:open|stat|read|savedir|readlink|lstat): |: Read error at byte |: File removed before we read it$|: file changed as we read it$|^Exiting with failure status/;

const TAR_PREFIX = /^(?:\S*\/)?(?:g|bsd)?tar(?:\.exe)?: /;

/**
 * tar's messages without the "tar: " prefix. busybox prints names raw, so a name holding a
 * newline continues on the next line: a line without the prefix continues the message before it.
 */
function tarMessages(stderr: string): string[] {
  const out: string[] = [];
  for (const raw of stderr.replace(/[\r\n]+$/, '').split('\n')) {
    const line = raw.replace(/\r$/, '');
    if (TAR_PREFIX.test(line)) out.push(line.replace(TAR_PREFIX, ''));
    else if (out.length > 0) out[out.length - 1] += `\n${line}`;
  }
  return out;
}

/** The tree path a name in tar's stderr stands for (as tar printed it, GNU-unquoted first for GNU tar), or null. */
function pathOfProblem(tree: Tree, p: TarProblem): string | null {
  const candidates = p.gnu ? [unquoteGnu(p.name), p.name] : [p.name, unquoteGnu(p.name)];
  let first: string | null = null;
  for (const c of candidates) {
    let path: string | null;
    try {
      path = normaliseTarName(c);
    } catch {
      continue;
    }
    if (path === null) continue;
    if (tree.has(path)) return path;
    first ??= path;
  }
  return first;
}

function unreadableReason(p: TarProblem): string {
  switch (p.kind) {
    case 'permission':
      return `permission denied in the guest (${p.reason})`;
    case 'socket':
      return 'a socket: the guest\'s tar does not archive sockets';
    case 'vanished':
      return `vanished while the guest's tar read the directory (${p.reason})`;
    case 'changed':
      return `changed while the guest's tar read it (${p.reason}): its bytes are not a snapshot`;
    case 'io':
      return `I/O error in the guest (${p.reason})`;
    default:
      return `the guest's tar could not take it (${p.reason})`;
  }
}

/** An entry for a file tar could not read: no bytes are ever made up for it. */
function unreadableEntry(path: string, reason: string, socket: boolean, what: string): TreeEntry {
  const refuse = async (): Promise<Buffer> => {
    throw new UserError(`${what}: ${describeName(path)} could not be read: ${reason}`);
  };
  return socket
    ? { path, kind: 'special', special: 'socket', size: 0, unreadable: reason, read: refuse }
    : { path, kind: 'file', size: 0, unreadable: reason, read: refuse, readHead: refuse };
}

/**
 * Mark in `tree` every file tar said it could not read. A listed member (`src`) that does not
 * exist is not marked: it is simply absent, and classified `missing`.
 */
export function markUnreadable(tree: Tree, problems: readonly TarProblem[], src: readonly string[] | undefined, what: string): UnreadableEntry[] {
  const listed = new Set((src ?? []).map((m) => normaliseOr(m)));
  const out: UnreadableEntry[] = [];
  const marked = new Set<string>();
  for (const p of problems) {
    const path = pathOfProblem(tree, p);
    // A name tar complains about twice is marked once, with the first reason.
    if (path === null || marked.has(path)) continue;
    marked.add(path);
    if (p.kind === 'vanished' && listed.has(path) && !tree.has(path)) continue;
    const reason = unreadableReason(p);
    const had = tree.get(path);
    if (had) had.unreadable = reason;
    else tree.set(path, unreadableEntry(path, reason, p.kind === 'socket', what));
    for (const e of tree.values()) if (e.hardLinkOf === path) e.unreadable = reason;
    out.push({ path, reason });
  }
  return out;
}

function normaliseOr(name: string): string {
  try {
    return normaliseTarName(name) ?? name;
  } catch {
    return name;
  }
}

/** The first lines of tar's stderr, on one line (raw: escaped where printed). */
export function stderrExcerpt(stderr: string, lines = STDERR_LINES_SHOWN): string {
  const all = stderr.split('\n').map((l) => l.trim()).filter((l) => l.length > 0);
  return all.slice(0, lines).join(' | ') + (all.length > lines ? ` | … (${all.length - lines} more lines)` : '');
}

/**
 * What the extraction left out, and tar's failure: one line each once escaped. Files tar could
 * not read are not left out: they are in the tree, marked `unreadable` with the reason, and
 * reported as such (class `unreadable`). The names and tar's words are guest bytes, kept raw (a
 * name may even hold a newline): every output escapes them where it prints them.
 */
export function extractionGaps(r: Pick<ExtractResult, 'unsafe' | 'skipped' | 'exitCode' | 'stderr'>): ExtractionGaps {
  const dropped = [
    ...r.unsafe.map((u) => `${describeName(u.rawName)} (${u.type}) ${u.reason}`),
    ...r.skipped.map((s) => `${describeName(s.path)} left out: ${s.reason}`),
  ];
  const excerpt = stderrExcerpt(r.stderr);
  const failure = r.exitCode !== 0 ? `the guest's tar exited with status ${r.exitCode ?? 'unknown (killed)'}${excerpt ? `: ${excerpt}` : ''}` : null;
  return { dropped, failure };
}

/** The ssh child streaming the guest's tar. */
function startGuestTar(vm: SshVm, command: string, timeoutMs: number) {
  return execa('ssh', [...sshArgs(vm.sshTarget), command], {
    stdin: 'ignore',
    stdout: 'pipe',
    stderr: 'pipe',
    buffer: { stdout: false, stderr: true },
    maxBuffer: { stderr: 1024 * 1024 },
    reject: false,
    timeout: timeoutMs,
    encoding: 'buffer',
  });
}

/** Parse the stream while it runs; a parse error stops ssh (the parse error is kept, not thrown). */
async function parseStream(
  child: ResultPromise,
  o: ExtractOptions,
  what: string,
): Promise<{ parsed: TarTreeResult | null; parseErr: unknown }> {
  try {
    const spill = spillToRunDir(o.scope);
    return { parsed: await tarToTree(child.stdout!, { limits: o.limits, onEvent: o.onEvent, what, spill }), parseErr: null };
  } catch (err) {
    child.kill('SIGTERM');
    return { parsed: null, parseErr: err };
  }
}

interface Finished {
  exitCode: number | undefined;
  stderr: string;
  timedOut: boolean;
}

/**
 * The one cause to report when something went wrong, most specific first: our own limit (we
 * stopped ssh, so its exit says nothing), a missing dst, the timeout, ssh itself, tar failing
 * outright, a malformed stream.
 */
function failureOf(o: ExtractOptions, what: string, r: Finished, parseErr: unknown): unknown {
  if (parseErr instanceof ExtractLimitError) return parseErr;
  if (r.exitCode === DST_MISSING_EXIT) return new UserError(`guest directory ${o.dst}: does not exist (or is not a directory)`);
  if (r.timedOut) return new UserError(`${what}: took longer than ${Math.round((o.timeoutMs ?? DEFAULT_TIMEOUT_MS) / 1000)} s`);
  if (r.exitCode === 255 && classifySshFailure(r.stderr).kind !== 'other') {
    return new UserError(`ssh to the guest failed while extracting ${o.dst}: ${firstLine(r.stderr) || 'connection lost'}`);
  }
  if (parseErr) {
    // An empty stdout from a tar that failed outright is tar's failure, not a bad archive.
    if (r.exitCode !== 0 && r.stderr.trim()) return new UserError(`${what}: tar failed (exit ${r.exitCode}): ${firstLine(r.stderr)}`);
    return parseErr;
  }
  return null;
}

/** Run the guest's tar over ssh and parse what it streams; the cause of any failure, named. */
async function runGuestTar(o: ExtractOptions, command: string, what: string): Promise<TarTreeResult & Finished> {
  const child = startGuestTar(o.vm, command, o.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  const { parsed, parseErr } = await parseStream(child, o, what);
  const r = await child;
  const done: Finished = { exitCode: r.exitCode, stderr: Buffer.from(r.stderr as unknown as Uint8Array).toString('utf8'), timedOut: r.timedOut };
  const failure = failureOf(o, what, done, parseErr);
  if (failure) throw failure;
  return { ...parsed!, ...done };
}

export async function extractOverSsh(o: ExtractOptions): Promise<ExtractResult> {
  const guestOs = o.guestOs ?? o.vm.guestOs ?? 'linux';
  const t0 = Date.now();
  const what = `guest tar of ${o.dst}`;
  emit(o.onEvent, { type: 'step-start', step: 'extract', info: o.dst });
  try {
    if (guestOs !== 'windows' && !o.dst.startsWith('/')) throw new UserError(`--dst ${o.dst}: must be an absolute guest path`);
    const privilege = await resolvePrivilege(o.vm, o.privilege ?? defaultPrivilege(guestOs), o.onEvent);
    const command = guestTarCommand(guestOs, o.dst, o.src, privilege);
    const run = await runGuestTar(o, command, what);
    const { exitCode, stderr, timedOut: _t, ...res } = run;
    if (exitCode !== 0) {
      emit(o.onEvent, { type: 'note', message: `${what}: tar exited with status ${exitCode}: ${firstLine(stderr)}` });
      if (res.entries === 0 && !(o.src && o.src.length > 0)) {
        throw new UserError(`${what}: tar failed (exit ${exitCode}): ${firstLine(stderr) || 'no output'}`);
      }
    }
    const unreadable = markUnreadable(res.tree, parseTarStderr(stderr), o.src, what);
    const ms = Date.now() - t0;
    emit(o.onEvent, { type: 'step-done', step: 'extract', ms, info: `${res.files} files, ${res.bytes} bytes` });
    const gaps = extractionGaps({ ...res, exitCode, stderr });
    return { ...res, command, privilege, exitCode, stderr, unreadable, gaps, ms };
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
