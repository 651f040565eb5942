// Real QEMU under TCG against the sample store (samples/build-store.sh). Sequential in one file:
// the machine has two cores.

import { createHash } from 'node:crypto';
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kvmStatus } from '../../src/vm/accel.js';
import { bootLayer } from '../../src/vm/boot.js';
import { extractOverSsh } from '../../src/extract/ssh-tar.js';
import type { PipelineEvent } from '../../src/util/events.js';
import { UserError } from '../../src/util/errors.js';
import { sweepStaleRunDirs } from '../../src/util/temp-dir.js';
import type { ChainImage } from '../../src/vm/overlay.js';
import { loadSamples, ROOT, sampleChain, type Samples } from './samples.js';

const samples: Samples = loadSamples();

function fingerprint(p: string): { sha256: string; mtimeMs: number; size: number } {
  const st = statSync(p);
  return { sha256: createHash('sha256').update(readFileSync(p)).digest('hex'), mtimeMs: st.mtimeMs, size: st.size };
}

/** pids of live processes whose command line mentions `needle`. */
function processesMentioning(needle: string): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const cmd = readFileSync(`/proc/${d}/cmdline`, 'latin1');
      const stat = readFileSync(`/proc/${d}/stat`, 'latin1');
      if (/\) Z /.test(stat)) continue; // zombies are gone already
      if (cmd.includes(needle) && Number(d) !== process.pid) out.push(Number(d));
    } catch {
      /* exited meanwhile */
    }
  }
  return out;
}

describe('booting a sample layer under QEMU (TCG)', () => {
  const s = samples;
  let chain: ChainImage[] = [];
  let before: ReturnType<typeof fingerprint>[] = [];
  const expectedSizes = new Map<string, number>();

  beforeAll(async () => {
    chain = await sampleChain(s.store, s.layers.copyCorrupt!);
    before = chain.map((c) => fingerprint(c.path));
    for (const f of readdirSync(s.expected)) expectedSizes.set(f, statSync(join(s.expected, f)).size);
  });

  afterAll(() => {
    // The chain is evidence: unchanged by every test of this file.
    expect(chain.map((c) => fingerprint(c.path))).toEqual(before);
  });

  it('boots copyCorrupt with accel auto (falling back to TCG, saying why), extracts the 6 files, leaves nothing behind', async () => {
    const events: PipelineEvent[] = [];
    const t0 = Date.now();
    const vm = await bootLayer({ chain, sshKey: s.sshKey, sshUser: s.sshUser, accel: 'auto', onEvent: (e) => events.push(e) });
    const bootWall = Date.now() - t0;
    const tmpDir = vm.tmpDir;
    try {
      // What `auto` should choose here: TCG with the reason when KVM cannot be used at all;
      // where KVM looks usable, KVM, or TCG with the runtime failure that made it fall back.
      const kvm = await kvmStatus();
      if (!kvm.usable) {
        expect(vm.accel).toBe('tcg');
        expect(vm.accelNote).toMatch(/^KVM not usable \(.+\); using TCG$/);
      } else if (vm.accel === 'tcg') {
        expect(vm.accelNote).toMatch(/^KVM failed \(.+\); fell back to TCG$/);
      } else {
        expect(vm.accel).toBe('kvm');
        expect(vm.accelNote).toBeNull();
      }
      expect(events.filter((e) => e.type === 'accel').at(-1)).toMatchObject({ type: 'accel', accel: vm.accel });
      expect(events.some((e) => e.type === 'qemu-started' && e.accel === vm.accel && e.port === vm.port && e.pid === vm.pid)).toBe(true);
      expect(vm.port).toBeGreaterThan(0);
      expect(existsSync(vm.consoleLog)).toBe(true);
      expect(processesMentioning(vm.tmpDir)).toContain(vm.pid);
      // The forward listens on 127.0.0.1 only, and the chain is opened read-only.
      const cmdline = readFileSync(`/proc/${vm.pid}/cmdline`, 'latin1').split('\0');
      expect(cmdline.join(' ')).toContain(`hostfwd=tcp:127.0.0.1:${vm.port}-:22`);
      expect(cmdline.join(' ')).toContain('restrict=yes');
      for (const img of chain) {
        const fdTargets = readdirSync(`/proc/${vm.pid}/fd`).map((fd) => {
          try {
            return { target: readlinkSafe(`/proc/${vm.pid}/fd/${fd}`), flags: readFileSync(`/proc/${vm.pid}/fdinfo/${fd}`, 'latin1') };
          } catch {
            return null;
          }
        });
        const opened = fdTargets.filter((x) => x && x.target === img.path);
        expect(opened.length).toBeGreaterThan(0);
        for (const o of opened) {
          const flags = parseInt(/flags:\s*(\d+)/.exec(o!.flags)![1]!, 8);
          expect(flags & 3).toBe(0); // O_RDONLY
        }
      }
      const sshAttempts = events.filter((e) => e.type === 'ssh-attempt');
      expect(sshAttempts.length).toBeGreaterThan(0);
      console.log(`boot-to-SSH under TCG: ${vm.bootMs} ms (bootLayer wall time ${bootWall} ms, ${sshAttempts.length} ssh attempts)`);

      const res = await extractOverSsh({ vm, dst: s.dst, privilege: 'sudo', onEvent: (e) => events.push(e) });
      const files = [...res.tree.values()].filter((e) => e.kind === 'file');
      expect(files).toHaveLength(6);
      expect(res.files).toBe(6);
      for (const f of files) {
        expect(expectedSizes.get(f.path), f.path).toBe(f.size);
        expect((await f.read()).length).toBe(f.size);
      }
      // sudo is absent in the sample guest: it fell back to none and said so
      expect(res.privilege).toBe('none');
      expect(events.some((e) => e.type === 'note' && /sudo/.test(e.message))).toBe(true);
      expect(events.some((e) => e.type === 'extract-progress')).toBe(true);
      // A listed src that is absent: tar fails, what it streamed is kept, its stderr recorded.
      const partial = await extractOverSsh({ vm, dst: s.dst, src: ['tls.opam', 'absent.opam'], privilege: 'none' });
      expect([...partial.tree.keys()]).toEqual(['tls.opam']);
      expect(partial.exitCode).not.toBe(0);
      expect(partial.stderr).toMatch(/absent\.opam/);
      await expect(extractOverSsh({ vm, dst: '/no/such/dir', privilege: 'none' })).rejects.toThrow(/guest directory \/no\/such\/dir: does not exist/);
    } finally {
      await vm.stop();
    }
    await vm.stop(); // idempotent
    expect(existsSync(tmpDir)).toBe(false);
    expect(processesMentioning(tmpDir)).toEqual([]);
    expect(events.some((e) => e.type === 'step-done' && e.step === 'cleanup')).toBe(true);
  }, 240_000);

  it('fails at once with "refused the key" when the guest does not accept the SSH key', async () => {
    const keyDir = mkdtempSync(join(tmpdir(), 'lf-test-key-'));
    try {
      const key = join(keyDir, 'wrong');
      const r = spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', key]);
      expect(r.status).toBe(0);
      let tmp = '';
      const t0 = Date.now();
      const err = await bootLayer({
        chain,
        sshKey: key,
        sshUser: s.sshUser,
        accel: 'tcg',
        onEvent: (e) => {
          if (e.type === 'step-done' && e.step === 'overlay' && e.info) tmp = dirname(e.info);
        },
      }).catch((e: unknown) => e);
      const ms = Date.now() - t0;
      expect(err).toBeInstanceOf(UserError);
      expect((err as Error).message).toMatch(/refused the key/);
      expect((err as Error).message).not.toContain('\n');
      // Right after sshd answers, not at the end of the (4 x 30 s) boot time.
      expect(ms).toBeLessThan(60_000);
      expect(tmp).not.toBe('');
      expect(existsSync(tmp)).toBe(false);
      expect(processesMentioning(tmp)).toEqual([]);
    } finally {
      rmSync(keyDir, { recursive: true, force: true });
    }
  }, 180_000);

  it('boots a copy of the store whose recorded backing paths are stale', async () => {
    const copyDir = mkdtempSync(join(tmpdir(), 'lf-test-copy-'));
    try {
      const copies = chain.map((img, i) => {
        const c = join(copyDir, `${i}-${basename(img.path)}`);
        copyFileSync(img.path, c);
        return { ...img, path: c };
      });
      // Point every copy's recorded backing file at a path that does not exist.
      for (let i = 0; i < copies.length - 1; i++) {
        const r = spawnSync('qemu-img', ['rebase', '-u', '-f', 'qcow2', '-F', 'qcow2', '-b', `/nonexistent/store/${i}.qcow2`, copies[i]!.path]);
        expect(r.status, String(r.stderr)).toBe(0);
      }
      const vm = await bootLayer({ chain: copies, sshKey: s.sshKey, sshUser: s.sshUser, accel: 'tcg' });
      try {
        const res = await extractOverSsh({ vm, dst: s.dst, privilege: 'none' });
        expect(res.files).toBe(6);
      } finally {
        await vm.stop();
      }
    } finally {
      rmSync(copyDir, { recursive: true, force: true });
    }
  }, 240_000);

  const fixture = join(ROOT, 'test/vm/fixtures/boot-until-signal.ts');
  const cases: { signal: NodeJS.Signals; mode: 'boot' | 'extract'; when: (e: Record<string, unknown>) => boolean; code: number }[] = [
    { signal: 'SIGINT', mode: 'boot', code: 130, when: (e) => e.type === 'ssh-attempt' },
    { signal: 'SIGTERM', mode: 'boot', code: 143, when: (e) => e.type === 'ssh-attempt' },
    { signal: 'SIGTERM', mode: 'extract', code: 143, when: (e) => e.type === 'step-start' && e.step === 'extract' },
  ];
  for (const c of cases) {
    it(`${c.signal} mid-${c.mode} stops QEMU and removes the temp dir (exit ${c.code})`, async () => {
      const child = spawn(process.execPath, ['--import', 'tsx', fixture, JSON.stringify({ chain, sshKey: s.sshKey, mode: c.mode })], {
        cwd: ROOT,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let tmp = '';
      let qemuPid = 0;
      let sent = false;
      let stderr = '';
      const seen: Record<string, unknown>[] = [];
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      let buf = '';
      child.stdout.on('data', (d: Buffer) => {
        buf += d.toString();
        let nl;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          const e = JSON.parse(line) as Record<string, unknown>;
          seen.push(e);
          if (e.type === 'step-done' && e.step === 'overlay') tmp = dirname(String(e.info));
          if (e.type === 'step-done' && e.step === 'qemu') qemuPid = Number(/pid (\d+)/.exec(String(e.info))?.[1]);
          if (!sent && c.when(e)) {
            sent = true;
            // give the extraction a moment to be streaming
            setTimeout(() => child.kill(c.signal), c.mode === 'extract' ? 1500 : 0);
          }
        }
      });
      const code = await new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
      expect(sent, `events: ${JSON.stringify(seen.slice(-5))} stderr: ${stderr}`).toBe(true);
      expect(code, stderr).toBe(c.code);
      expect(seen.some((e) => e.type === 'finished')).toBe(false);
      expect(tmp).not.toBe('');
      expect(qemuPid).toBeGreaterThan(0);
      expect(existsSync(tmp)).toBe(false);
      expect(processesMentioning(tmp)).toEqual([]);
      expect(existsSync(`/proc/${qemuPid}`) && !/\) Z /.test(readFileSync(`/proc/${qemuPid}/stat`, 'latin1'))).toBe(false);
    }, 180_000);
  }

  it('SIGKILL mid-boot: QEMU dies with the tool within 2 s, and the next start removes the stale temp dir', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', fixture, JSON.stringify({ chain, sshKey: s.sshKey, mode: 'boot' })], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let tmp = '';
    let qemuPid = 0;
    let buf = '';
    const killed = new Promise<void>((resolve) => {
      child.stdout.on('data', (d: Buffer) => {
        buf += d.toString();
        let nl;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const e = JSON.parse(buf.slice(0, nl)) as Record<string, unknown>;
          buf = buf.slice(nl + 1);
          if (e.type === 'step-done' && e.step === 'overlay') tmp = dirname(String(e.info));
          if (e.type === 'qemu-started') qemuPid = Number(e.pid);
          if (e.type === 'ssh-attempt' && qemuPid > 0 && tmp) {
            child.kill('SIGKILL');
            resolve();
          }
        }
      });
    });
    await killed;
    await new Promise((r) => child.on('exit', r));
    const gone = (): boolean => !existsSync(`/proc/${qemuPid}`) || /\) Z /.test(readFileSync(`/proc/${qemuPid}/stat`, 'latin1'));
    const t0 = Date.now();
    while (!gone() && Date.now() - t0 < 2000) await new Promise((r) => setTimeout(r, 50));
    expect(gone()).toBe(true);
    // The tool could not clean up: its dir is there, marked with a dead owner, until the next start.
    expect(existsSync(tmp)).toBe(true);
    expect(sweepStaleRunDirs(dirname(tmp))).toContain(tmp);
    expect(existsSync(tmp)).toBe(false);
  }, 180_000);
});

function readlinkSafe(p: string): string {
  try {
    return spawnSync('readlink', [p]).stdout.toString().trim();
  } catch {
    return '';
  }
}
