import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { kvmProbeWindowMs, kvmStatus } from '../../src/vm/accel.js';
import { checkSshKey, classifySshFailure, sshArgs } from '../../src/vm/ssh.js';
import { freePort } from '../../src/vm/ports.js';
import { bootLayer } from '../../src/vm/boot.js';
import { UserError } from '../../src/util/errors.js';
import { createServer } from 'node:net';

const dir = mkdtempSync(join(tmpdir(), 'lf-test-accel-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('kvmStatus', () => {
  it('is unusable without /dev/kvm', async () => {
    expect(await kvmStatus({ devKvm: join(dir, 'no-kvm') })).toEqual({ usable: false, reason: `${join(dir, 'no-kvm')} does not exist` });
  });
  it('is unusable when the CPU has neither vmx nor svm, usable with one', async () => {
    const dev = join(dir, 'kvm');
    writeFileSync(dev, '');
    const noVirt = join(dir, 'cpuinfo-novirt');
    writeFileSync(noVirt, 'processor\t: 0\nflags\t\t: fpu vme sse2 hypervisor\n');
    const st = await kvmStatus({ devKvm: dev, cpuinfo: noVirt });
    expect(st.usable).toBe(false);
    expect(st.reason).toMatch(/neither vmx nor svm.*nested/);
    const virt = join(dir, 'cpuinfo-vmx');
    writeFileSync(virt, 'processor\t: 0\nflags\t\t: fpu vmx sse2\n');
    expect(await kvmStatus({ devKvm: dev, cpuinfo: virt })).toEqual({ usable: true });
    expect(await kvmStatus({ devKvm: dev, cpuinfo: noVirt, checkCpuFlags: false })).toEqual({ usable: true });
  });
  it('probes KVM for at most 20 s', () => {
    expect(kvmProbeWindowMs(30_000)).toBe(20_000);
    expect(kvmProbeWindowMs(5_000)).toBe(5_000);
  });
});

describe('ssh', () => {
  it('builds batch-mode args against 127.0.0.1 with our own known_hosts', () => {
    const a = sshArgs({ user: 'opam', key: '/k', port: 2222, knownHosts: '/t/known_hosts' });
    expect(a.slice(0, 4)).toEqual(['-i', '/k', '-p', '2222']);
    for (const o of ['BatchMode=yes', 'StrictHostKeyChecking=no', 'UserKnownHostsFile=/t/known_hosts', 'ConnectTimeout=5', 'LogLevel=ERROR']) {
      expect(a).toContain(o);
    }
    expect(a.at(-1)).toBe('opam@127.0.0.1');
  });

  it('tells a refused key from a guest that is not up yet', () => {
    expect(classifySshFailure('opam@127.0.0.1: Permission denied (publickey).').kind).toBe('refused-key');
    for (const s of [
      'ssh: connect to host 127.0.0.1 port 2222: Connection refused',
      'kex_exchange_identification: read: Connection reset by peer',
      'Connection closed by 127.0.0.1 port 2222',
      'ssh: connect to host 127.0.0.1 port 2222: Connection timed out',
      'Connection timed out during banner exchange',
      '',
    ]) {
      expect(classifySshFailure(s).kind, s).toBe('not-up');
    }
    expect(classifySshFailure('Bad configuration option: x').kind).toBe('other');
  });

  it('checks the key file before anything boots', async () => {
    await expect(checkSshKey(join(dir, 'absent'))).rejects.toThrow(/--ssh-key .*absent: does not exist/);
    await expect(checkSshKey(dir)).rejects.toThrow(/is not a regular file/);
    const notKey = join(dir, 'not-a-key');
    writeFileSync(notKey, 'hello\n', { mode: 0o600 });
    await expect(checkSshKey(notKey)).rejects.toThrow(/is not an OpenSSH\/PEM private key/);
    const key = join(dir, 'id');
    expect(spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', key]).status).toBe(0);
    await expect(checkSshKey(key)).resolves.toBeUndefined();
    chmodSync(key, 0o644);
    await expect(checkSshKey(key)).rejects.toThrow(/permissions 0644 are too open/);
  });

  it('bootLayer rejects a missing key and riscv64 before creating anything', async () => {
    const err = await bootLayer({ chain: [{ path: '/nonexistent/image.qcow2', format: 'qcow2', virtualSize: 1 << 20 }], sshKey: join(dir, 'absent'), accel: 'tcg' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UserError);
    expect((err as Error).message).toMatch(/--ssh-key/);
    const err2 = await bootLayer({ chain: [{ path: '/x.qcow2', format: 'qcow2', virtualSize: 1 << 20 }], sshKey: join(dir, 'absent'), arch: 'riscv64' }).catch((e: unknown) => e);
    expect((err2 as Error).message).toMatch(/riscv64/);
    const key = join(dir, 'id2');
    spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', key]);
    const err3 = await bootLayer({ chain: [{ path: join(dir, 'missing.qcow2'), format: 'qcow2', virtualSize: 1 << 20 }], sshKey: key, accel: 'tcg' }).catch((e: unknown) => e);
    // The chain comes resolved from the store; a file gone since is QEMU's one-line error.
    expect((err3 as Error).message).toMatch(/^qemu-system-x86_64 exited at start: .*missing\.qcow2.*No such file or directory/);
  });
});

describe('freePort', () => {
  it('returns a port that can be bound on 127.0.0.1', async () => {
    const port = await freePort();
    expect(port).toBeGreaterThan(1024);
    await new Promise<void>((resolve, reject) => {
      const srv = createServer();
      srv.once('error', reject);
      srv.listen(port, '127.0.0.1', () => srv.close(() => resolve()));
    });
  });
});
