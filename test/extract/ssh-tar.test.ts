import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { defaultPrivilege, DST_MISSING_EXIT, guestPath, guestTarCommand, shQuote, winQuote } from '../../src/extract/ssh-tar.js';
import { tarToTree } from '../../src/extract/tar-tree.js';

const work = mkdtempSync(join(tmpdir(), 'lf-test-sshtar-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const nasty = ["it's", 'a b', '$(touch pwned)', '`id`', '-rf', 'semi;colon', 'new\nline', '"dq"', '\\back'];

describe('shQuote', () => {
  it('round-trips any string through a POSIX shell', () => {
    for (const s of nasty) {
      const r = spawnSync('sh', ['-c', `printf %s ${shQuote(s)}`], { cwd: work });
      expect(r.stdout.toString()).toBe(s);
    }
    expect(spawnSync('ls', [work]).stdout.toString()).not.toContain('pwned');
  });
  it('rejects NUL', () => {
    expect(() => shQuote('a\0b')).toThrow(/NUL/);
  });
});

describe('guestTarCommand', () => {
  it('builds the per-OS command lines', () => {
    expect(guestTarCommand('linux', '/home/opam/src', undefined, 'none')).toMatch(/else tar -C '\/home\/opam\/src' -cf - '\.'; fi$/);
    expect(guestTarCommand('linux', '/d', ['a.opam'], 'sudo')).toContain("then sudo -n tar --no-unquote -C '/d' -cf - 'a.opam'; else sudo -n tar -C '/d' -cf - 'a.opam'; fi");
    const bsd = guestTarCommand('openbsd', '/d', ['a'], 'doas');
    expect(bsd).toContain("then doas -n gtar --no-unquote -C '/d' -cf - 'a'; else doas -n tar -C '/d' -cf - 'a'; fi");
    expect(guestTarCommand('windows', 'C:\\Users\\opam\\src', ['a.opam'], 'doas')).toBe(
      'C:\\Windows\\System32\\tar.exe -C "C:\\Users\\opam\\src" -cf - "a.opam"',
    );
    expect(() => winQuote('a"b')).toThrow();
    expect(() => winQuote('%PATH%')).toThrow();
    expect(defaultPrivilege('openbsd')).toBe('doas');
    expect(defaultPrivilege('linux')).toBe('sudo');
    expect(defaultPrivilege('windows')).toBe('none');
    expect(guestPath('/home/opam/', 'x/y')).toBe('/home/opam/x/y');
  });

  // The command runs here under sh with GNU tar, exactly as the guest's shell would run it.
  function runLocally(cmd: string): { stdout: NodeJS.ReadableStream; done: Promise<{ code: number | null; stderr: string }> } {
    const p = spawn('sh', ['-c', cmd], { cwd: work, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    return { stdout: p.stdout, done: new Promise((r) => p.on('exit', (code) => r({ code, stderr }))) };
  }

  it('streams nasty file names safely, and a missing src still yields the rest', async () => {
    const dst = join(work, "dst with 'quote'");
    mkdirSync(dst);
    for (const n of nasty.filter((n) => !n.includes('/'))) writeFileSync(join(dst, n), n);
    const src = [...nasty, 'missing.opam'];
    const run = runLocally(guestTarCommand('linux', dst, src, 'none'));
    const res = await tarToTree(run.stdout as never);
    const { code, stderr } = await run.done;
    expect(code).not.toBe(0);
    expect(stderr).toMatch(/missing\.opam/);
    // '-rf' was passed as './-rf' so tar did not take it as options
    expect([...res.tree.keys()].sort()).toEqual([...nasty].sort());
    for (const n of nasty) expect((await res.tree.get(n)!.read()).toString()).toBe(n);
    expect(spawnSync('ls', [work]).stdout.toString()).not.toContain('pwned');
  });

  it('a missing dst exits with the dedicated status', async () => {
    const run = runLocally(guestTarCommand('linux', join(work, 'nope'), undefined, 'none'));
    run.stdout.resume();
    const { code, stderr } = await run.done;
    expect(code).toBe(DST_MISSING_EXIT);
    expect(stderr).toMatch(/no such directory/);
  });
});
