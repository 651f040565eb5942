// `diagnose` end to end on the sample store: real qemu-img, real QEMU under TCG, real SSH, the
// real executable. Every chain file's sha256 must be the same after every test.

import { execa } from 'execa';
import { cp, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { BIN, runCli } from '../helpers/cli.js';
import { kvmStatus } from '../../src/vm/accel.js';
import { loadSample, qemuProcessesWith, storeFingerprint, type Sample } from '../helpers/sample.js';

let S: Sample;
/** The classes the boot run found, for the direct run to agree with. */
let bootClasses: Record<string, string> = {};
let before: Map<string, string>;
let scratch: string;
/** Each run gets its own TMPDIR so the test can see that the overlay's directory is gone. */
let runTmp: string;

const common = () => ['--expected', S.expected, '--ssh-key', S.sshKey, '--qemu-accel', 'auto'];

beforeAll(async () => {
  S = loadSample();
  before = storeFingerprint(S.store);
  scratch = await mkdtemp(join(tmpdir(), 'lf-diag-'));
}, 300_000);

afterEach(() => {
  // The layers are evidence: after every test, every file of the store is as it was.
  expect(storeFingerprint(S.store)).toEqual(before);
});

afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

async function freshTmp(): Promise<string> {
  runTmp = await mkdtemp(join(scratch, 'tmp-'));
  return runTmp;
}

async function diagnose(args: string[]) {
  const t = await freshTmp();
  const r = await runCli(['diagnose', ...args], { env: { TMPDIR: t, XDG_STATE_HOME: join(scratch, 'state') }, timeout: 240_000 });
  // Whatever happened, nothing is left behind.
  expect(await readdir(t)).toEqual([]);
  expect(qemuProcessesWith(t)).toEqual([]);
  return r;
}

describe('diagnose on the sample store', () => {
  it('the corrupted copy layer: three stale files with classes and provenance, three intact, exit 1', async () => {
    const r = await diagnose(['--store', `qemu:${S.store}`, '--layer', S.layers.copyCorrupt, ...common(), '--corpus-guest', '/home/opam/opam-repository', '--json']);
    expect(r.exitCode, String(r.stderr)).toBe(1);
    const doc = JSON.parse(String(r.stdout));
    expect(doc.schema).toBe('layer-forensics.report/v1');
    expect(doc.layer.id).toBe(S.layers.copyCorrupt);
    expect(doc.layer.chain).toHaveLength(4);
    expect(doc.extraction).toMatchObject({ via: 'boot', guestOs: 'linux', dst: '/home/opam/src', files: 6 });
    // What `auto` should choose on the host at hand: TCG, saying why, unless KVM works here.
    const kvm = await kvmStatus();
    if (!kvm.usable) {
      expect(doc.extraction.accel).toBe('tcg');
      expect(doc.extraction.accelNote).toMatch(/^KVM not usable \(.+\); using TCG$/);
      expect(String(r.stderr)).toMatch(/using TCG/);
    } else if (doc.extraction.accel === 'tcg') {
      expect(doc.extraction.accelNote).toMatch(/^KVM failed \(.+\); fell back to TCG$/);
    } else {
      expect(doc.extraction.accel).toBe('kvm');
    }
    bootClasses = Object.fromEntries(doc.files.map((f: { path: string; class: string }) => [f.path, f.class]));
    const by = Object.fromEntries(doc.files.map((f: { path: string }) => [f.path, f]));
    for (const [name, cls] of Object.entries(S.corrupted)) expect(by[name].class, name).toBe(cls);
    expect(by['tls.opam'].detail.entries).toContain('.');
    expect(by['tls.opam'].detail.format).toBe('ffs-le');
    expect(by['tls-async.opam'].provenance).toMatchObject({ source: 'guest', path: `/home/opam/opam-repository/${S.staleSource}`, root: '/home/opam/opam-repository' });
    for (const name of ['tls-mirage.opam', 'tls-eio.opam', 'tls-miou-unix.opam']) expect(by[name].class).toBe('match');
    for (const f of doc.files) expect(f.actualSize).toBe(f.expectedSize);
    expect(doc.verdict.kind).toBe('soft-updates-data-loss');
    expect(doc.verdict.advice.join(' ')).toMatch(/sync/);
    expect(doc.layerUnchanged).toBe(true);
    for (const k of ['overlayMs', 'bootMs', 'extractMs', 'classifyMs', 'totalMs']) expect(doc.timings[k]).toBeGreaterThanOrEqual(0);
  });

  it('--via direct reads the same layer without booting and finds the same classes as the boot run', async () => {
    expect(Object.keys(bootClasses)).toHaveLength(6);
    const r = await diagnose(['--store', S.store, '--layer', S.layers.copyCorrupt, '--expected', S.expected, '--via', 'direct', '--json', '--quiet']);
    expect(r.exitCode, String(r.stderr)).toBe(1);
    const doc = JSON.parse(String(r.stdout));
    expect(doc.extraction.via).toBe('direct');
    expect(Object.fromEntries(doc.files.map((f: { path: string; class: string }) => [f.path, f.class]))).toEqual(bootClasses);
  });

  it('the clean sibling copy layer: clean, exit 0', async () => {
    const r = await diagnose(['--store', S.store, '--layer', S.layers.copyClean.slice(0, 10), ...common(), '--markdown', '--verify-hash']);
    expect(r.exitCode, String(r.stderr)).toBe(0);
    expect(String(r.stdout)).toContain('`clean`');
    expect(String(r.stdout)).toContain('**Layer unchanged:** yes');
  });

  it('--job-log gives the same result as --layer', async () => {
    const r = await diagnose(['--store', S.store, '--job-log', S.jobLog, ...common(), '--json', '--quiet']);
    expect(r.exitCode, String(r.stderr)).toBe(1);
    expect(r.stderr).toBe('');
    const doc = JSON.parse(String(r.stdout));
    expect(doc.layer.id).toBe(S.layers.copyCorrupt);
    expect(Object.fromEntries(doc.files.map((f: { path: string; class: string }) => [f.path, f.class]))).toEqual({
      'tls.opam': 'directory-block',
      'tls-async.opam': 'foreign-text',
      'tls-lwt.opam': 'zeros',
      'tls-mirage.opam': 'match',
      'tls-eio.opam': 'match',
      'tls-miou-unix.opam': 'match',
    });
  });

  it('a store copied elsewhere, its old place gone, diagnoses the same', async () => {
    // Make a copy whose headers name its own absolute paths (as a store on another worker
    // would), then move it and delete the old place: only the root given can resolve it.
    const a = join(scratch, 'store-a');
    const b = join(scratch, 'store-b');
    await cp(S.store, a, { recursive: true });
    const ids = [S.layers.from, S.layers.opamRepo, S.layers.copyCorrupt];
    const parents = [join(a, 'base-image', `${S.base}.qcow2`), ...ids.slice(0, 2).map((i) => join(a, 'result', i, 'rootfs', 'image.qcow2'))];
    for (const [k, id] of ids.entries()) {
      await execa('qemu-img', ['rebase', '-u', '-f', 'qcow2', '-F', 'qcow2', '-b', parents[k]!, join(a, 'result', id, 'rootfs', 'image.qcow2')]);
    }
    await cp(a, b, { recursive: true });
    await rm(a, { recursive: true });
    const r = await diagnose(['--store', b, '--layer', S.layers.copyCorrupt, ...common(), '--json']);
    expect(r.exitCode, String(r.stderr)).toBe(1);
    const doc = JSON.parse(String(r.stdout));
    expect(doc.layer.chain[0]).toContain(b);
    expect(doc.layer.chain.every((p: string) => p.startsWith(b))).toBe(true);
    expect(doc.files.filter((f: { class: string }) => f.class !== 'match')).toHaveLength(3);
    await rm(b, { recursive: true });
  });
});

describe('interrupted runs leave nothing behind', () => {
  it.each([
    ['SIGINT', 'mid-boot', /ssh attempt|ssh\.\.\./, 130],
    ['SIGTERM', 'mid-extraction', /corpus\.\.\. \(\/home\/opam\/opam-repository\)/, 143],
  ] as const)('%s %s', async (signal, _when, waitFor, code) => {
    const t = await freshTmp();
    const child = execa(BIN, ['diagnose', '--store', S.store, '--layer', S.layers.copyCorrupt, ...common(), '--corpus-guest', '/home/opam/opam-repository'], {
      reject: false,
      env: { TMPDIR: t, XDG_STATE_HOME: join(scratch, 'state') },
      stdin: 'ignore',
    });
    let err = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`never saw ${waitFor}: ${err}`)), 120_000);
      child.stderr!.on('data', (d: Buffer) => {
        err += d.toString();
        if (waitFor.test(err)) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    expect(qemuProcessesWith(t).length).toBe(1);
    child.kill(signal);
    const r = await child;
    expect(r.exitCode).toBe(code);
    expect(qemuProcessesWith(t)).toEqual([]);
    expect(await readdir(t)).toEqual([]);
  });
});

describe('bad input: one line naming the thing, exit 2', () => {
  const oneLine = (r: { exitCode?: number; stderr: unknown; stdout: unknown }, re: RegExp) => {
    expect(r.exitCode).toBe(2);
    expect(r.stdout).toBe('');
    // Every case runs with --quiet: the error is the only line.
    const lines = String(r.stderr).trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(re);
    expect(String(r.stderr)).not.toMatch(/\n\s+at /); // no stack trace
  };
  const quiet = ['--quiet'];

  it('a missing store', async () => {
    oneLine(await diagnose(['--store', join(scratch, 'nope'), '--layer', 'abc', ...common(), ...quiet]), /^layer-forensics: store .*nope.*does not exist/);
  });

  it('a layer id that is not there', async () => {
    oneLine(await diagnose(['--store', S.store, '--layer', 'f'.repeat(64), ...common(), ...quiet]), /layer f{64}: not in store/);
  });

  it('a broken backing chain', async () => {
    const c = join(scratch, 'broken');
    await cp(S.store, c, { recursive: true });
    await rm(join(c, 'result', S.layers.opamRepo), { recursive: true });
    // The original store still exists: point the copy's layer at a place that does not.
    await execa('qemu-img', ['rebase', '-u', '-f', 'qcow2', '-F', 'qcow2', '-b', `/nonexistent/result/${S.layers.opamRepo}/rootfs/image.qcow2`, join(c, 'result', S.layers.copyCorrupt, 'rootfs', 'image.qcow2')]);
    oneLine(await diagnose(['--store', c, '--layer', S.layers.copyCorrupt, ...common(), ...quiet]), new RegExp(`layer ${S.layers.copyCorrupt}: backing file .* does not exist`));
  });

  it('a qcow2 that is not one', async () => {
    const c = join(scratch, 'notqcow');
    await cp(S.store, c, { recursive: true });
    await writeFile(join(c, 'result', S.layers.copyCorrupt, 'rootfs', 'image.qcow2'), randomBytes(4096));
    oneLine(await diagnose(['--store', c, '--layer', S.layers.copyCorrupt, ...common(), ...quiet]), /image\.qcow2: not a qcow2 image/);
  });

  it('a job log with no copy step', async () => {
    const log = join(scratch, 'no-copy.log');
    await writeFile(log, 'Building on worker\n(from linux-sample)\n2026-06-29 15:58.10 ---> using "' + S.layers.from + '" from cache\n');
    oneLine(await diagnose(['--store', S.store, '--job-log', log, ...common(), ...quiet]), /job log .*no-copy\.log: no copy step/);
  });

  it('an expected-sources directory that does not exist', async () => {
    oneLine(await diagnose(['--store', S.store, '--layer', S.layers.copyCorrupt, '--ssh-key', S.sshKey, '--expected', join(scratch, 'nope-src'), ...quiet]), /expected-sources directory .*nope-src: does not exist/);
  });

  it('QEMU failing at start', async () => {
    oneLine(await diagnose(['--store', S.store, '--layer', S.layers.copyCorrupt, ...common(), '--qemu-accel', 'tcg', '--qemu-memory', '100000', ...quiet]), /qemu-system-x86_64 exited at start: .*memory/i);
  });

  it('SSH refusing the key', async () => {
    const key = join(scratch, 'wrong_key');
    await execa('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', key]);
    oneLine(await diagnose(['--store', S.store, '--layer', S.layers.copyCorrupt, '--expected', S.expected, '--ssh-key', key, ...quiet]), /refused the key/);
  });

  it('a boot timeout', async () => {
    oneLine(await diagnose(['--store', S.store, '--layer', S.layers.copyCorrupt, ...common(), '--qemu-accel', 'tcg', '--qemu-boot-time', '1', ...quiet]), /did not answer SSH on 127\.0\.0\.1:\d+ within 4 s/);
  });
});
