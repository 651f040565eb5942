// The OpenSSH client: its arguments, the key check before boot, and waiting for the guest.

import { constants as fsc, existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { access, readFile, stat } from 'node:fs/promises';
import { execa } from 'execa';
import { UserError } from '../util/errors.js';
import { fsUserError } from '../util/fs-errors.js';
import { emit, type OnEvent } from '../util/events.js';

export interface SshTarget {
  user: string;
  key: string;
  port: number;
  /** Our own known_hosts (in the temp dir): the user's is never read or written. */
  knownHosts: string;
}

/** `ssh` arguments up to and including the destination; append the remote command. */
export function sshArgs(t: SshTarget, connectTimeoutSec = 5): string[] {
  return [
    '-i', t.key,
    '-p', String(t.port),
    '-o', 'BatchMode=yes',
    '-o', 'StrictHostKeyChecking=no',
    '-o', `UserKnownHostsFile=${t.knownHosts}`,
    '-o', 'GlobalKnownHostsFile=/dev/null',
    '-o', 'IdentitiesOnly=yes',
    '-o', 'IdentityAgent=none',
    '-o', `ConnectTimeout=${connectTimeoutSec}`,
    '-o', 'ServerAliveInterval=15',
    '-o', 'LogLevel=ERROR',
    '-F', '/dev/null',
    '-T',
    `${t.user}@127.0.0.1`,
  ];
}

/** The keys this tool tries when --ssh-key is not given, in order. */
export function defaultSshKey(): string {
  for (const k of ['id_ed25519', 'id_ecdsa', 'id_rsa']) {
    const p = join(homedir(), '.ssh', k);
    if (existsSync(p)) return p;
  }
  throw new UserError('--ssh-key: not given, and no ~/.ssh/id_ed25519, id_ecdsa or id_rsa to use instead');
}

/**
 * Check the private key file before anything boots: it exists, is a readable regular file, looks
 * like a private key, and is not group/world accessible (ssh would ignore it and the guest would
 * then "refuse the key").
 */
export async function checkSshKey(key: string): Promise<void> {
  let st;
  try {
    st = await stat(key);
  } catch (err) {
    throw fsUserError(`--ssh-key ${key}`, err);
  }
  if (!st.isFile()) throw new UserError(`--ssh-key ${key}: is not a regular file`);
  try {
    await access(key, fsc.R_OK);
  } catch (err) {
    throw fsUserError(`--ssh-key ${key}`, err);
  }
  const head = (await readFile(key)).subarray(0, 200).toString('latin1');
  if (!/PRIVATE KEY/.test(head)) throw new UserError(`--ssh-key ${key}: is not an OpenSSH/PEM private key`);
  if (typeof process.getuid === 'function' && st.uid === process.getuid() && (st.mode & 0o077) !== 0) {
    const mode = (st.mode & 0o777).toString(8).padStart(4, '0');
    throw new UserError(`--ssh-key ${key}: permissions ${mode} are too open, ssh would ignore it (chmod 600 ${key})`);
  }
}

export type SshProbe = { kind: 'ok' } | { kind: 'not-up'; detail: string } | { kind: 'refused-key'; detail: string } | { kind: 'other'; detail: string };

/** Classify the stderr of a failed `ssh ... exit`. */
export function classifySshFailure(stderr: string): SshProbe {
  const s = stderr.trim();
  if (/Permission denied \((publickey|password|keyboard-interactive)/i.test(s) || /Too many authentication failures/i.test(s)) {
    return { kind: 'refused-key', detail: firstLine(s) };
  }
  if (
    /Connection (refused|reset|closed|timed out)|Connection to .* closed|kex_exchange_identification|banner exchange|ssh_exchange_identification|timed out|Broken pipe|No route to host|Network is unreachable|Operation timed out/i.test(
      s,
    ) ||
    s === ''
  ) {
    return { kind: 'not-up', detail: firstLine(s) || 'no answer' };
  }
  return { kind: 'other', detail: firstLine(s) };
}

export function firstLine(s: string): string {
  return (
    s
      .split('\n')
      .map((l) => l.trim())
      .find((l) => l.length > 0) ?? ''
  );
}

/** One `ssh ... exit` probe. */
export async function probeSsh(t: SshTarget, timeoutMs = 12_000, connectTimeoutSec = 5): Promise<SshProbe> {
  const r = await execa('ssh', [...sshArgs(t, connectTimeoutSec), 'exit'], { reject: false, stdin: 'ignore', timeout: timeoutMs, encoding: 'utf8' });
  if (r.exitCode === 0) return { kind: 'ok' };
  if (r.timedOut) return { kind: 'not-up', detail: `ssh gave no answer within ${timeoutMs} ms` };
  if ((r as { code?: string }).code === 'ENOENT') throw new UserError('ssh: not found (install openssh-client)');
  return classifySshFailure(r.stderr);
}

export interface WaitForSshOptions {
  target: SshTarget;
  /** Give up after this long (ms), counted from `startedAt`. */
  bootTimeMs: number;
  /** When QEMU started (Date.now()); elapsed times are reported from here. */
  startedAt: number;
  /** Names the layer in the timeout message. */
  layer: string;
  consoleLog: string;
  /** Pause between attempts (ms), default 500. */
  intervalMs?: number;
  onEvent?: OnEvent;
  /** Checked before each attempt: a reason to stop waiting (QEMU died), or null. */
  abortReason?: () => string | null;
  /**
   * Called when the deadline passes: return a later deadline (epoch ms) to keep waiting (the
   * guest shows signs of life), or null to give up with the timeout message.
   */
  extendDeadline?: () => number | null;
}

export type WaitResult = { ok: true; attempts: number; ms: number } | { ok: false; reason: 'timeout' | 'aborted'; message: string; attempts: number };

/**
 * Poll `ssh ... exit` until it succeeds. "Permission denied (publickey)" fails at once (UserError);
 * connection refused/reset/timeouts mean "not up yet". Returns a timeout result rather than
 * throwing so the caller can fall back (KVM hang -> TCG); `waitForSshOrThrow` throws.
 */
export async function waitForSsh(o: WaitForSshOptions): Promise<WaitResult> {
  const interval = o.intervalMs ?? 500;
  let deadline = o.startedAt + o.bootTimeMs;
  let attempt = 0;
  let lastDetail = '';
  for (;;) {
    const aborted = o.abortReason?.();
    if (aborted) return { ok: false, reason: 'aborted', message: aborted, attempts: attempt };
    if (Date.now() >= deadline) {
      const ext = o.extendDeadline?.();
      if (ext && ext > deadline) deadline = ext;
      else {
        return {
          ok: false,
          reason: 'timeout',
          message: `${o.layer}: guest did not answer SSH on 127.0.0.1:${o.target.port} within ${Math.round((deadline - o.startedAt) / 1000)} s (console log: ${o.consoleLog})`,
          attempts: attempt,
        };
      }
    }
    attempt++;
    const remaining = Math.max(1000, deadline - Date.now());
    // Before the guest's network is up, slirp accepts the connection and the banner never comes:
    // short connect timeouts keep the polling fine-grained; every 5th probe waits the full 5 s
    // for a loaded guest whose sshd is slow to answer.
    const connectTimeout = attempt % 5 === 0 ? 5 : 2;
    const probe = await probeSsh(o.target, Math.min(12_000, remaining + 1000), connectTimeout);
    const elapsedMs = Date.now() - o.startedAt;
    emit(o.onEvent, { type: 'ssh-attempt', attempt, elapsedMs, bootTimeMs: deadline - o.startedAt, result: probe.kind === 'ok' ? 'ok' : 'not-up' });
    if (probe.kind === 'ok') return { ok: true, attempts: attempt, ms: elapsedMs };
    if (probe.kind === 'refused-key') {
      throw new UserError(
        `${o.layer}: the guest's SSH refused the key ${o.target.key} for user ${o.target.user} (${probe.detail}); check --ssh-key and --ssh-user`,
      );
    }
    if (probe.kind === 'other' && probe.detail !== lastDetail) {
      emit(o.onEvent, { type: 'note', message: `ssh: ${probe.detail}` });
    }
    lastDetail = probe.detail;
    const aborted2 = o.abortReason?.();
    if (aborted2) return { ok: false, reason: 'aborted', message: aborted2, attempts: attempt };
    await new Promise((r) => setTimeout(r, interval));
  }
}

/** Run one command in the guest and collect its output (for small commands: probes, `doas -n true`). */
export async function sshRun(
  t: SshTarget,
  command: string,
  timeoutMs = 30_000,
): Promise<{ exitCode: number | undefined; stdout: string; stderr: string; timedOut: boolean }> {
  const r = await execa('ssh', [...sshArgs(t), command], { reject: false, stdin: 'ignore', timeout: timeoutMs, encoding: 'utf8' });
  return { exitCode: r.exitCode, stdout: r.stdout, stderr: r.stderr, timedOut: r.timedOut };
}
