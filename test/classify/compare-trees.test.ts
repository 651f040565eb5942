import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { compareTrees } from '../../src/classify/compare-trees.js';
import { readDirectoryTree } from '../../src/extract/directory-tree.js';
import { withTempDir } from '../helpers/fs-images.js';
import { OPAM, writeTree } from '../helpers/trees.js';

describe('compareTrees on real directories', () => {
  it('missing, extra, truncated, over-long, empty, nested', async () => {
    await withTempDir(async (dir) => {
      const e = join(dir, 'e');
      const a = join(dir, 'a');
      await writeTree(e, { ...OPAM, 'empty.opam': '', 'sub/deep.opam': 'opam-version: "2.0"\n' });
      await writeTree(a, {
        'tls.opam': OPAM['tls.opam'].slice(0, 50),
        'tls-async.opam': OPAM['tls-async.opam'] + 'more\n',
        'empty.opam': '',
        'sub/deep.opam': 'opam-version: "2.0"\n',
        'unexpected.txt': 'hello\n',
      });
      const r = await compareTrees(await readDirectoryTree(e), await readDirectoryTree(a));
      const by = Object.fromEntries(r.map((f) => [f.path, f]));
      expect(by['tls.opam']).toMatchObject({ class: 'size-mismatch', detail: { truncated: true } });
      expect(by['tls-async.opam']).toMatchObject({ class: 'size-mismatch', detail: { overlong: true } });
      expect(by['tls-lwt.opam']).toMatchObject({ class: 'missing', expectedSize: OPAM['tls-lwt.opam'].length, actualSize: null });
      expect(by['empty.opam']).toMatchObject({ class: 'match', expectedSize: 0, actualSize: 0 });
      expect(by['sub/deep.opam']!.class).toBe('match');
      expect(by['unexpected.txt']).toMatchObject({ class: 'extra', detail: { content: 'data' } });
      expect(by['sub']).toBeUndefined();
    });
  });

  it('symlinks are compared by target and never followed; special files are reported, not read', async () => {
    await withTempDir(async (dir) => {
      const e = join(dir, 'e');
      const a = join(dir, 'a');
      await mkdir(e, { recursive: true });
      await mkdir(a, { recursive: true });
      await symlink('tls.opam', join(e, 'same-link'));
      await symlink('tls.opam', join(a, 'same-link'));
      await symlink('tls.opam', join(e, 'moved-link'));
      await symlink('/etc/shadow', join(a, 'moved-link'));
      await writeFile(join(e, 'was-file'), 'x');
      await symlink('/dev/zero', join(a, 'was-file'));
      await execa('mkfifo', [join(a, 'pipe')]);
      const r = await compareTrees(await readDirectoryTree(e), await readDirectoryTree(a));
      const by = Object.fromEntries(r.map((f) => [f.path, f]));
      expect(by['same-link']!.class).toBe('match');
      expect(by['moved-link']).toMatchObject({ class: 'link-mismatch', detail: { expectedTarget: 'tls.opam', actualTarget: '/etc/shadow' } });
      expect(by['was-file']).toMatchObject({ class: 'type-mismatch', detail: { expectedKind: 'file', actualKind: 'symlink' } });
      expect(by['pipe']).toMatchObject({ class: 'extra', kind: 'special', detail: { special: 'fifo' } });
    });
  });

  it('sha256 of both sides, and a progress callback', async () => {
    await withTempDir(async (dir) => {
      await writeTree(join(dir, 'e'), OPAM);
      await writeTree(join(dir, 'a'), OPAM);
      const seen: number[] = [];
      const r = await compareTrees(await readDirectoryTree(join(dir, 'e')), await readDirectoryTree(join(dir, 'a')), { onProgress: (d) => seen.push(d) });
      expect(seen).toEqual([1, 2, 3]);
      expect(r[0]!.expectedSha256).toMatch(/^[0-9a-f]{64}$/);
      expect(r[0]!.expectedSha256).toBe(r[0]!.actualSha256);
    });
  });
});
