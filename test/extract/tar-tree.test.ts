import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, linkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import tar from 'tar-stream';
import { afterAll, describe, expect, it } from 'vitest';
import { normaliseTarName, tarToTree } from '../../src/extract/tar-tree.js';
import type { PipelineEvent } from '../../src/util/events.js';
import { UserError } from '../../src/util/errors.js';

const work = mkdtempSync(join(tmpdir(), 'lf-test-tar-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** GNU tar of `dir` (as the guest would run it: tar -C dir -cf - args). */
function gnuTar(dir: string, args: string[] = ['.']): Readable {
  const p = spawn('tar', ['-C', dir, '-cf', '-', ...args], { stdio: ['ignore', 'pipe', 'ignore'] });
  return p.stdout;
}

function packed(build: (p: tar.Pack) => void): Readable {
  const p = tar.pack();
  build(p);
  p.finalize();
  return p as unknown as Readable;
}

/** Every path under `root` (to check nothing was written anywhere). */
function listAll(root: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      out.push(join(d, e.name));
      if (e.isDirectory()) walk(join(d, e.name));
    }
  };
  walk(root);
  return out.sort();
}

describe('normaliseTarName', () => {
  it('normalises ./ and slashes, and rejects absolute and .. names', () => {
    expect(normaliseTarName('./a//b/./c/')).toBe('a/b/c');
    expect(normaliseTarName('./')).toBeNull();
    expect(normaliseTarName('.')).toBeNull();
    expect(() => normaliseTarName('../../etc/passwd')).toThrow();
    expect(() => normaliseTarName('a/../../b')).toThrow();
    expect(() => normaliseTarName('/abs')).toThrow();
    expect(() => normaliseTarName('C:\\Windows')).toThrow();
    expect(normaliseTarName('a..b/..c')).toBe('a..b/..c');
  });
});

describe('tarToTree with GNU tar streams from real directories', () => {
  it('reads files, directories, symlinks (never followed), hard links and fifos', async () => {
    const src = join(work, 'src');
    mkdirSync(join(src, 'sub/deeper'), { recursive: true });
    writeFileSync(join(src, 'tls.opam'), 'opam-version: "2.0"\n');
    writeFileSync(join(src, 'empty.opam'), '');
    writeFileSync(join(src, 'sub/deeper/bin'), Buffer.from([0, 1, 2, 255]));
    symlinkSync('/etc', join(src, 'etc-link'));
    symlinkSync('../../../../etc/passwd', join(src, 'sub/up-link'));
    linkSync(join(src, 'tls.opam'), join(src, 'hard.opam'));
    expect(spawnSync('mkfifo', [join(src, 'fifo')]).status).toBe(0);
    const events: PipelineEvent[] = [];
    const res = await tarToTree(gnuTar(src), { onEvent: (e) => events.push(e) });
    const t = res.tree;
    // tls.opam and hard.opam are one inode: whichever tar met first is the file, the other came
    // as a hard link entry and is a file too, with the same bytes and hardLinkOf naming the first.
    const hard = [t.get('hard.opam')!, t.get('tls.opam')!];
    expect(hard.map((e) => e.kind)).toEqual(['file', 'file']);
    const second = hard.find((e) => e.hardLinkOf !== undefined)!;
    const first = hard.find((e) => e.hardLinkOf === undefined)!;
    expect(second.hardLinkOf).toBe(first.path);
    expect(first.size).toBe(20);
    expect(second.size).toBe(20);
    expect((await first.read()).toString()).toBe('opam-version: "2.0"\n');
    expect((await second.read()).toString()).toBe('opam-version: "2.0"\n');
    expect(t.get('empty.opam')).toMatchObject({ kind: 'file', size: 0 });
    expect([...(await t.get('sub/deeper/bin')!.read())]).toEqual([0, 1, 2, 255]);
    expect(t.get('sub')).toMatchObject({ kind: 'directory' });
    expect(t.get('sub/deeper')).toMatchObject({ kind: 'directory' });
    expect(t.get('etc-link')).toMatchObject({ kind: 'symlink', linkTarget: '/etc' });
    expect(t.get('sub/up-link')).toMatchObject({ kind: 'symlink', linkTarget: '../../../../etc/passwd' });
    expect(t.get('fifo')).toMatchObject({ kind: 'special', special: 'fifo' });
    expect(t.has('.')).toBe(false);
    expect(res.unsafe).toEqual([]);
    expect(res.files).toBe([...t.values()].filter((e) => e.kind === 'file').length);
    expect(res.bytes).toBe([...t.values()].reduce((n, e) => n + e.size, 0));
    expect(events.at(-1)).toEqual({ type: 'extract-progress', files: res.files, bytes: res.bytes });
  });

  it('reads a src list the way the guest is asked (tar -C dst -cf - a b)', async () => {
    const src = join(work, 'list');
    mkdirSync(src);
    writeFileSync(join(src, 'a.opam'), 'a');
    writeFileSync(join(src, 'b.opam'), 'bb');
    writeFileSync(join(src, 'c.opam'), 'ccc');
    const res = await tarToTree(gnuTar(src, ['a.opam', 'c.opam']));
    expect([...res.tree.keys()].sort()).toEqual(['a.opam', 'c.opam']);
    expect(res.bytes).toBe(4);
  });

  it('handles long names (GNU longname / pax) and many files', async () => {
    const src = join(work, 'long');
    const deep = join(src, 'd'.repeat(120), 'e'.repeat(120));
    mkdirSync(deep, { recursive: true });
    writeFileSync(join(deep, `${'f'.repeat(150)}.opam`), 'x');
    for (let i = 0; i < 300; i++) writeFileSync(join(src, `n${i}`), String(i));
    const res = await tarToTree(gnuTar(src));
    expect(res.tree.get(`${'d'.repeat(120)}/${'e'.repeat(120)}/${'f'.repeat(150)}.opam`)).toMatchObject({ kind: 'file', size: 1 });
    expect(res.files).toBe(301);
  });

  it('an empty stream is an empty tree; garbage is a UserError', async () => {
    const empty = await tarToTree(Readable.from([]));
    expect(empty.tree.size).toBe(0);
    await expect(tarToTree(Readable.from([Buffer.alloc(1024, 0x41)]))).rejects.toThrow(UserError);
  });
});

describe('tarToTree with hostile archives', () => {
  const hostile = (): Readable =>
    packed((p) => {
      p.entry({ name: '../../etc/passwd' }, 'root:x:0:0\n');
      p.entry({ name: '/abs' }, 'abs');
      p.entry({ name: 'ok/../../escape' }, 'esc');
      p.entry({ name: './good.opam' }, 'good');
      p.entry({ name: 'etc', type: 'symlink', linkname: '/etc' });
      p.entry({ name: 'etc/passwd' }, 'through the symlink?');
      p.entry({ name: 'hard', type: 'link', linkname: '../../etc/shadow' });
      p.entry({ name: 'fifo', type: 'fifo' });
      p.entry({ name: 'dev', type: 'character-device', devmajor: 1, devminor: 3 });
      p.entry({ name: 'blk', type: 'block-device', devmajor: 8, devminor: 0 });
      p.entry({ name: 'abs-dir/', type: 'directory' });
      p.entry({ name: 'esc\u001b[31mred' }, 'ansi');
    });

  it('keeps names as data: nothing is written anywhere, unsafe names are listed, not in the tree', async () => {
    const cwdBefore = listAll(work);
    const events: PipelineEvent[] = [];
    const res = await tarToTree(hostile(), { onEvent: (e) => events.push(e), what: 'test tar' });
    expect(listAll(work)).toEqual(cwdBefore);
    expect(res.unsafe.map((u) => u.rawName)).toEqual(['../../etc/passwd', '/abs', 'ok/../../escape', 'hard']);
    expect(res.unsafe.map((u) => u.reason)).toEqual([
      'has a ".." segment',
      'is an absolute path',
      'has a ".." segment',
      'is a hard link to "../../etc/shadow", which has a ".." segment',
    ]);
    for (const k of res.tree.keys()) {
      expect(k.startsWith('/')).toBe(false);
      expect(k.split('/')).not.toContain('..');
    }
    expect(res.tree.get('good.opam')).toMatchObject({ kind: 'file', size: 4 });
    expect(res.tree.get('etc')).toMatchObject({ kind: 'symlink', linkTarget: '/etc' });
    // a file "under" a symlink is just a name: the symlink is not followed
    expect((await res.tree.get('etc/passwd')!.read()).toString()).toBe('through the symlink?');
    expect(res.tree.has('hard')).toBe(false);
    expect(res.tree.get('fifo')).toMatchObject({ kind: 'special', special: 'fifo' });
    expect(res.tree.get('dev')).toMatchObject({ kind: 'special', special: 'char-device' });
    expect(res.tree.get('blk')).toMatchObject({ kind: 'special', special: 'block-device' });
    expect(res.tree.get('abs-dir')).toMatchObject({ kind: 'directory' });
    expect(res.tree.get('esc\u001b[31mred')).toMatchObject({ kind: 'file' });
    const notes = events.filter((e) => e.type === 'note').map((e) => (e as { message: string }).message);
    expect(notes).toHaveLength(4);
    for (const n of notes) expect(n).not.toMatch(/[\u0000-\u001f]/);
  });

  it('an oversize file is a UserError naming the file and the limit', async () => {
    const big = (): Readable =>
      packed((p) => {
        p.entry({ name: 'small' }, 'x');
        p.entry({ name: 'sub/huge.bin' }, Buffer.alloc(5000));
      });
    const err = await tarToTree(big(), { limits: { maxFileBytes: 4096 }, what: 'guest tar of /home/opam/src' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UserError);
    expect((err as Error).message).toBe(
      'guest tar of /home/opam/src: file "sub/huge.bin" is 4.9 KiB (5000 bytes), over the per-file limit of 4.0 KiB (4096 bytes)',
    );
    const total = await tarToTree(big(), { limits: { maxTotalBytes: 3000 } }).catch((e: unknown) => e);
    expect((total as Error).message).toBe(
      'tar stream: file "sub/huge.bin" (4.9 KiB (5000 bytes)) would bring the files extracted to 4.9 KiB (5001 bytes), over the extraction budget of 2.9 KiB (3000 bytes)',
    );
    const skipped = await tarToTree(big(), { limits: { maxFileBytes: 4096, oversize: 'skip' } });
    expect([...skipped.tree.keys()]).toEqual(['small']);
    expect(skipped.skipped).toEqual([{ path: 'sub/huge.bin', size: 5000, reason: expect.stringMatching(/per-file limit/) }]);
    const many = await tarToTree(big(), { limits: { maxEntries: 1 } }).catch((e: unknown) => e);
    expect((many as Error).message).toMatch(/more than 1 entries/);
  });

  it('a name seen twice: the later entry wins, counted', async () => {
    const res = await tarToTree(
      packed((p) => {
        p.entry({ name: 'a' }, 'first');
        p.entry({ name: './a' }, 'second!');
      }),
    );
    expect(res.duplicates).toBe(1);
    expect(res.files).toBe(1);
    expect(res.bytes).toBe(7);
    expect((await res.tree.get('a')!.read()).toString()).toBe('second!');
  });
});
