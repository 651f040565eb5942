// `--qemu-accel auto` when KVM looks usable but fails, the three ways it fails on real machines
// (QEMU exits at start; the VM stops with status internal-error; the guest hangs without a sign
// of life), and the retry when the SSH forward's port was taken: a fake qemu-system at that
// boundary (test/vm/fixtures/fake-qemu.sh) fails under KVM and is the real QEMU under TCG, so
// every fallback ends in a real TCG boot of the sample layer with SSH up.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PipelineEvent } from '../../src/util/events.js';
import { bootLayer } from '../../src/vm/boot.js';
import { QmpClient, QmpError } from '../../src/vm/qmp.js';
import type { ChainImage } from '../../src/vm/overlay.js';
import { loadSamples, ROOT, sampleChain, type Samples } from './samples.js';
import { spawn } from 'node:child_process';

const FAKE = join(ROOT, 'test/vm/fixtures/fake-qemu.sh');
const FAKE_QMP = join(ROOT, 'test/vm/fixtures/fake-qmp.mjs');

let s: Samples;
let chain: ChainImage[];
let dir: string;
/** A readable and writable stand-in for /dev/kvm: `auto` then tries KVM. */
let devKvm: string;

beforeAll(async () => {
  s = loadSamples();
  chain = await sampleChain(s.store, s.layers.copyCorrupt);
  dir = mkdtempSync(join(tmpdir(), 'lf-kvm-fallback-'));
  devKvm = join(dir, 'kvm');
  writeFileSync(devKvm, '');
}, 300_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function bootWith(mode: string, extra: Record<string, string> = {}): Promise<{ events: PipelineEvent[]; accel: string; note: string | null }> {
  const saved = { ...process.env };
  Object.assign(process.env, { FAKE_QEMU_MODE: mode, ...extra });
  const events: PipelineEvent[] = [];
  try {
    const vm = await bootLayer({
      chain,
      sshKey: s.sshKey,
      sshUser: s.sshUser,
      accel: 'auto',
      qemuBinary: FAKE,
      kvmCheckCpuFlags: false,
      devKvm,
      kvmProbeWindowMs: 4000,
      tmpParent: dir,
      onEvent: (e) => events.push(e),
    });
    const r = { events, accel: vm.accel, note: vm.accelNote };
    await vm.stop();
    return r;
  } finally {
    process.env = saved;
  }
}

describe('auto falls back from a failing KVM to TCG, saying why', () => {
  it('QEMU exits at start under KVM', async () => {
    const r = await bootWith('abort');
    expect(r.accel).toBe('tcg');
    expect(r.note).toMatch(/^KVM failed \(qemu-system-x86_64 exited at start: -accel kvm: failed to initialize kvm: Operation not permitted\); fell back to TCG$/);
    const accels = r.events.filter((e) => e.type === 'accel');
    expect(accels.map((e) => e.type === 'accel' && e.accel)).toEqual(['kvm', 'tcg']);
    expect(r.events.some((e) => e.type === 'step-fail' && e.step === 'qemu')).toBe(true);
    expect(r.events.filter((e) => e.type === 'qemu-started').map((e) => e.type === 'qemu-started' && e.accel)).toEqual(['tcg']);
  }, 240_000);

  it('the VM stops with status internal-error (KVM emulation failure)', async () => {
    const r = await bootWith('internal-error');
    expect(r.accel).toBe('tcg');
    expect(r.note).toMatch(/^KVM failed \(qemu-system-x86_64 \(kvm\): the VM stopped with status internal-error \(KVM internal error\. Suberror: 1\)\); fell back to TCG$/);
  }, 240_000);

  it('the guest hangs: no SSH and no sign of life within the probe window', async () => {
    const r = await bootWith('hang');
    expect(r.accel).toBe('tcg');
    expect(r.note).toMatch(/^KVM failed \(no SSH within 4 s and no sign of life from the guest \(KVM hangs\)\); fell back to TCG$/);
  }, 240_000);
});

describe('the SSH forward', () => {
  it('a port taken before QEMU binds it is retried with another port', async () => {
    const saved = { ...process.env };
    Object.assign(process.env, { FAKE_QEMU_MODE: 'port-once', FAKE_QEMU_MARKER: join(dir, 'port-marker') });
    const events: PipelineEvent[] = [];
    try {
      const vm = await bootLayer({ chain, sshKey: s.sshKey, sshUser: s.sshUser, accel: 'tcg', qemuBinary: FAKE, tmpParent: dir, onEvent: (e) => events.push(e) });
      await vm.stop();
    } finally {
      process.env = saved;
    }
    expect(events.some((e) => e.type === 'note' && /port \d+ was taken before QEMU bound it; trying another/.test(e.message))).toBe(true);
    expect(events.filter((e) => e.type === 'qemu-started')).toHaveLength(1);
  }, 240_000);
});

describe('the QMP client', () => {
  async function server(args: string[]): Promise<{ path: string; stop: () => void }> {
    const path = join(dir, `qmp-${Math.random().toString(16).slice(2)}.sock`);
    const child = spawn(process.execPath, [FAKE_QMP, '-qmp', `unix:${path},server=on,wait=off`, ...args], { stdio: 'ignore' });
    for (let i = 0; i < 100; i++) {
      try {
        (await QmpClient.connect(path, 500)).close();
        break;
      } catch {
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    return { path, stop: () => child.kill() };
  }

  it('greets, negotiates, answers query-status past asynchronous events, turns errors into QmpError, and quits', async () => {
    const srv = await server(['--status', 'running', '--event']);
    try {
      const qmp = await QmpClient.connect(srv.path);
      expect(await qmp.queryStatus()).toEqual({ status: 'running', running: true });
      await expect(qmp.execute('no-such-command')).rejects.toThrow(QmpError);
      await expect(qmp.execute('no-such-command')).rejects.toThrow(/CommandNotFound/);
      await qmp.quit();
      qmp.close();
    } finally {
      srv.stop();
    }
  });

  it('a socket nobody listens on is an error, not a hang', async () => {
    await expect(QmpClient.connect(join(dir, 'nobody.sock'), 500)).rejects.toThrow();
  });
});
