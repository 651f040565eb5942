// The boot producer's "which directory has inode N" (a directory block's `.` entry): the one shell
// command it sends to the guest, run here with the host's own sh, df and find on a tmpfs (its own
// filesystem, so `-xdev` keeps the search small), and parsed.

import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { directoryOfInodeCommand, parseDirectoryOfInode } from '../../src/extract/boot.js';

const SHM = '/dev/shm';
let root: string;

beforeAll(() => {
  root = mkdtempSync(join(existsSync(SHM) ? SHM : '/tmp', "lf-dir of 'inode' "));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

async function ask(dst: string, ino: number, names: string[]): Promise<string | null> {
  const r = await execa('sh', ['-c', directoryOfInodeCommand(dst, ino, names, 'none')], { reject: false, timeout: 60_000 });
  return parseDirectoryOfInode(r.stdout, names);
}

describe('directoryOfInode in the guest', () => {
  it('finds the directory that has the inode, on the filesystem holding dst', async () => {
    const d = join(root, 'packages', 'zxcvbn');
    mkdirSync(d, { recursive: true });
    expect(await ask(join(root, 'src'), statSync(d).ino, [])).toBe(d);
  });

  it('falls back to the directory holding most of the names the block decodes to, when the inode is gone', async () => {
    const d = join(root, 'moved here');
    mkdirSync(d, { recursive: true });
    for (const n of ['tls.opam', 'tls-lwt.opam', 'weird[1]*.opam']) writeFileSync(join(d, n), '');
    writeFileSync(join(root, 'tls.opam'), ''); // one name elsewhere does not win
    expect(await ask(root, 999_999_999, ['.', '..', 'tls.opam', 'tls-lwt.opam', 'weird[1]*.opam', 'gone.opam'])).toBe(d);
    // Too few of the names: no answer rather than a guess.
    expect(await ask(root, 999_999_998, ['tls.opam', 'a', 'b', 'c', 'd', 'e'])).toBeNull();
  });

  it('names from a layer cannot run commands in the guest, and control characters are not searched', async () => {
    const marker = join(root, 'pwned');
    const evil = [`$(touch ${marker})`, `'; touch ${marker}; '`, '`touch x`', 'a\nb', 'x\x1b[2J'];
    const cmd = directoryOfInodeCommand(root, 999_999_997, evil, 'none');
    expect(cmd).not.toContain('\x1b');
    expect(cmd).not.toContain('a\nb');
    await execa('sh', ['-c', cmd], { reject: false, timeout: 60_000 });
    expect(existsSync(marker)).toBe(false);
  });

  it('runs find under the privilege the tar used; refuses what is not an inode number', () => {
    expect(directoryOfInodeCommand('/home/opam/src', 42, ['x', 'y'], 'doas')).toMatch(/doas -n find "\$root" -xdev -inum 42 -type d/);
    expect(directoryOfInodeCommand('/home/opam/src', 42, [], 'sudo')).toMatch(/sudo -n find/);
    expect(() => directoryOfInodeCommand('/x', -1, [], 'none')).toThrow(/not an inode number/);
    expect(() => directoryOfInodeCommand('/x', 1.5, [], 'none')).toThrow(/not an inode number/);
  });

  it('parses what the guest printed', () => {
    expect(parseDirectoryOfInode('inode /home/opam/opam-repository/packages\n', [])).toBe('/home/opam/opam-repository/packages');
    expect(parseDirectoryOfInode('names 3 /home/opam/src\n', ['a', 'b', 'c', 'd'])).toBe('/home/opam/src');
    expect(parseDirectoryOfInode('names 1 /home/opam/src\n', ['a', 'b', 'c', 'd'])).toBeNull();
    expect(parseDirectoryOfInode('', ['a'])).toBeNull();
    expect(parseDirectoryOfInode('garbage', ['a'])).toBeNull();
  });
});
