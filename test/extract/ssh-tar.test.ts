import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, linkSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { defaultPrivilege } from '../../src/vm/guest.js';
import {
  DST_MISSING_EXIT,
  extractionGaps,
  guestPath,
  guestTarCommand,
  markUnreadable,
  parseTarStderr,
  shQuote,
  winQuote,
} from '../../src/extract/ssh-tar.js';
import { escapeText } from '../../src/report/escape.js';
import { tarToTree } from '../../src/extract/tar-tree.js';

const work = mkdtempSync(join(tmpdir(), 'lf-test-sshtar-'));
chmodSync(work, 0o755);
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

describe('what the guest tar could not read', () => {
  it('parses GNU tar, busybox tar, bsdtar and OpenBSD tar messages', () => {
    const stderr = [
      "tar: ./secret: Cannot open: Permission denied",
      'tar: ./sock: socket ignored',
      'tar: ./new\\nline: Cannot open: Permission denied',
      'tar: ./gone: File removed before we read it',
      'tar: ./busy: file changed as we read it',
      "tar: can't open './bb secret': Permission denied",
      "tar: can't open './bb",
      "line': Permission denied",
      'tar: ./noread: Permission denied',
      'tar.exe: w.txt: Couldn\'t open w.txt: Permission denied',
      'tar: Unable to open o.txt to read <Permission denied>',
      'gtar: ./io: Read error at byte 0, while reading 512 bytes: Input/output error',
      'tar: Removing leading `/\' from member names',
      'tar: Exiting with failure status due to previous errors',
      'tar: error exit delayed from previous errors',
    ].join('\n');
    expect(parseTarStderr(stderr).map((p) => [p.name, p.kind])).toEqual([
      ['./secret', 'permission'],
      ['./sock', 'socket'],
      ['./new\\nline', 'permission'],
      ['./gone', 'vanished'],
      ['./busy', 'changed'],
      ['./bb secret', 'permission'],
      ['./bb\nline', 'permission'],
      ['./noread', 'permission'],
      ['w.txt', 'permission'],
      ['o.txt', 'permission'],
      ['./io', 'io'],
    ]);
  });

  it('a missing listed member stays missing; a name that vanished from a directory walk is unreadable', () => {
    const tree = new Map();
    const marked = markUnreadable(
      tree,
      parseTarStderr('tar: absent.opam: Cannot stat: No such file or directory\ntar: ./d/gone: File removed before we read it\n'),
      ['absent.opam', 'd'],
      'guest tar of /src',
    );
    expect(marked.map((m) => m.path)).toEqual(['d/gone']);
    expect([...tree.keys()]).toEqual(['d/gone']);
  });

  // A directory the unprivileged guest user cannot fully read, as the guest's tar meets it (run
  // here as nobody with the very command line sent to the guest), with GNU tar and busybox tar.
  const hostileDir = (): { dir: string; close: () => void } => {
    const dir = mkdtempSync(join(work, 'hostile-'));
    chmodSync(dir, 0o755);
    writeFileSync(join(dir, 'ok.opam'), 'ok\n');
    linkSync(join(dir, 'ok.opam'), join(dir, 'hard.opam'));
    writeFileSync(join(dir, 'secret.opam'), 'secret\n');
    chmodSync(join(dir, 'secret.opam'), 0o000);
    writeFileSync(join(dir, 'new\nline.opam'), 'x');
    chmodSync(join(dir, 'new\nline.opam'), 0o000);
    mkdirSync(join(dir, 'noread'));
    writeFileSync(join(dir, 'noread', 'inside'), 'z');
    chmodSync(join(dir, 'noread'), 0o000);
    const server = createServer().listen(join(dir, 'sock'));
    return { dir, close: () => server.close() };
  };
  const asGuestUser = (cmd: string): string[] =>
    process.getuid?.() === 0 ? ['su', 'nobody', '-s', '/bin/sh', '-c', cmd] : ['sh', '-c', cmd];
  const busyboxBin = (): string => {
    const bin = mkdtempSync(join(work, 'bb-'));
    chmodSync(bin, 0o755);
    symlinkSync(spawnSync('sh', ['-c', 'command -v busybox']).stdout.toString().trim(), join(bin, 'tar'));
    return bin;
  };

  for (const flavour of ['GNU tar', 'busybox tar'] as const) {
    it(`${flavour}: unreadable files, the socket and the unreadable directory are marked, hard links are files, gaps list them`, async () => {
      const { dir, close } = hostileDir();
      try {
        let cmd = guestTarCommand('linux', dir, undefined, 'none');
        if (flavour === 'busybox tar') cmd = `PATH=${busyboxBin()}:$PATH; ${cmd}`;
        const [bin, ...args] = asGuestUser(cmd);
        const p = spawn(bin!, args, { cwd: work, stdio: ['ignore', 'pipe', 'pipe'] });
        let stderr = '';
        p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        const res = await tarToTree(p.stdout, { what: `guest tar of ${dir}` });
        const exitCode = await new Promise<number | null>((r) => p.on('exit', r));
        expect(exitCode).toBe(flavour === 'GNU tar' ? 2 : 1);
        const unreadable = markUnreadable(res.tree, parseTarStderr(stderr), undefined, `guest tar of ${dir}`);
        expect(unreadable.map((u) => u.path).sort()).toEqual(['new\nline.opam', 'noread', 'secret.opam', 'sock']);
        const t = res.tree;
        expect(t.get('secret.opam')).toMatchObject({ kind: 'file', unreadable: expect.stringMatching(/^permission denied in the guest/) });
        await expect(t.get('secret.opam')!.read()).rejects.toThrow(/"secret.opam" could not be read: permission denied in the guest/);
        expect(t.get('new\nline.opam')).toMatchObject({ kind: 'file', unreadable: expect.stringMatching(/^permission denied/) });
        expect(t.get('sock')).toMatchObject({ kind: 'special', special: 'socket', unreadable: "a socket: the guest's tar does not archive sockets" });
        // busybox streams the directory's header, GNU tar does not: then what it was is unknown,
        // and it is marked as a file that could not be read (never as an empty directory).
        expect(t.get('noread')).toMatchObject({ kind: flavour === 'GNU tar' ? 'file' : 'directory', unreadable: expect.stringMatching(/^permission denied/) });
        const pair = [t.get('ok.opam')!, t.get('hard.opam')!];
        expect(pair.map((e) => e.kind)).toEqual(['file', 'file']);
        expect(pair.filter((e) => e.hardLinkOf !== undefined)).toHaveLength(1);
        const gaps = extractionGaps({ ...res, exitCode: exitCode ?? undefined, stderr });
        expect(gaps.failure).toMatch(new RegExp(`^the guest's tar exited with status ${exitCode}: tar: `));
        expect(gaps.failure).not.toMatch(/\n/);
        // Files tar could not read are in the tree, marked (reported as `unreadable`), not left out.
        expect(unreadable.length).toBeGreaterThanOrEqual(4);
        expect(gaps.dropped.some((d) => d.includes('could not be read'))).toBe(false);
        // Raw, as the guest named it; escaped where printed, where it is one line.
        expect(t.get('new\nline.opam')!.unreadable).toMatch(/\S/);
        for (const d of gaps.dropped) expect(escapeText(d)).not.toMatch(/[\u0000-\u001f]/);
      } finally {
        close();
      }
    });
  }
});
