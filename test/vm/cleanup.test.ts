import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { pendingCleanups, registerCleanup, runAllCleanups, runSyncCleanupsForTest } from '../../src/util/cleanup.js';
import { removeDirAction } from '../../src/util/temp-dir.js';
import { ROOT } from './samples.js';

describe('cleanup registry', () => {
  it('runs each action exactly once, whoever asks', async () => {
    let runs = 0;
    let syncRuns = 0;
    const h = registerCleanup({ name: 'a', run: async () => void runs++, runSync: () => void syncRuns++ });
    expect(pendingCleanups()).toContain('a');
    await Promise.all([h.run(), h.run()]);
    await runAllCleanups();
    runSyncCleanupsForTest();
    expect(runs).toBe(1);
    expect(syncRuns).toBe(0);
    expect(pendingCleanups()).not.toContain('a');
  });

  it('runs newest first, falls back to the sync action when the async one throws', async () => {
    const order: string[] = [];
    registerCleanup({ name: 'dir', run: async () => void order.push('dir'), runSync: () => void order.push('dir-sync') });
    registerCleanup({
      name: 'qemu',
      run: async () => {
        order.push('qemu');
        throw new Error('QMP gone');
      },
      runSync: () => void order.push('qemu-sync'),
    });
    await runAllCleanups();
    expect(order).toEqual(['qemu', 'qemu-sync', 'dir']);
  });

  it('on exit, runs the synchronous fallbacks of what is left; unregister forgets', () => {
    const dir = mkdtempSync(join(tmpdir(), 'lf-test-rm-'));
    writeFileSync(join(dir, 'x'), 'x');
    registerCleanup(removeDirAction(dir));
    let forgotten = 0;
    registerCleanup({ name: 'f', run: async () => void forgotten++, runSync: () => void forgotten++ }).unregister();
    runSyncCleanupsForTest();
    expect(existsSync(dir)).toBe(false);
    expect(forgotten).toBe(0);
  });
});

function alive(pid: number): boolean {
  try {
    return !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'latin1'));
  } catch {
    return false;
  }
}

async function runChild(mode: string, signal?: NodeJS.Signals): Promise<{ code: number | null; dir: string; pid: number }> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'test/vm/fixtures/cleanup-child.ts'), mode], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  let out = '';
  const info = await new Promise<{ dir: string; pid: number }>((resolve) => {
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('\n')) resolve(JSON.parse(out.split('\n')[0]!) as { dir: string; pid: number });
    });
  });
  if (signal) child.kill(signal);
  const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
  await new Promise((r) => setTimeout(r, 100));
  return { code, ...info };
}

describe('cleanup in a real process', () => {
  for (const [signal, code] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const) {
    it(`on ${signal}: kills the child, removes the dir, exits ${code}`, async () => {
      const r = await runChild('wait', signal);
      expect(r.code).toBe(code);
      expect(existsSync(r.dir)).toBe(false);
      expect(alive(r.pid)).toBe(false);
    }, 30_000);
  }
  it('on process.exit without cleaning: the sync fallbacks run', async () => {
    const r = await runChild('exit');
    expect(r.code).toBe(0);
    expect(existsSync(r.dir)).toBe(false);
    expect(alive(r.pid)).toBe(false);
  }, 30_000);
  it('on an uncaught error: the sync fallbacks run', async () => {
    const r = await runChild('throw');
    expect(r.code).toBe(1);
    expect(existsSync(r.dir)).toBe(false);
    expect(alive(r.pid)).toBe(false);
    rmSync(r.dir, { recursive: true, force: true });
  }, 30_000);
});
