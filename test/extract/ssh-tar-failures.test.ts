// extractOverSsh names the real cause of every failure, whatever ssh's own exit says: a fake
// `ssh` first in PATH plays the guest (each mode one way of failing). In particular a file over
// the budget is the budget's error, not "ssh to the guest failed ... connection lost" (we stop
// ssh ourselves then, so its exit status says nothing).

import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { extractOverSsh } from '../../src/extract/ssh-tar.js';
import { ExtractLimitError } from '../../src/extract/tar-tree.js';
import { UserError } from '../../src/util/errors.js';

const work = mkdtempSync(join(tmpdir(), 'lf-test-fakessh-'));
const savedPath = process.env.PATH;

const FAKE_SSH = `#!/bin/bash
# The last argument is the remote command; this fake ignores it and plays $LF_FAKE_SSH_MODE.
[ "$LF_FAKE_SSH_MODE" = slow ] && exec sleep 20
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
case "$LF_FAKE_SSH_MODE" in
  big) head -c 3000000 /dev/zero > "$T/big.bin"; echo small > "$T/small"; tar -C "$T" -cf - small big.bin ;;
  dies) echo hi > "$T/a"; tar -C "$T" -cf - a | head -c 700; echo "Connection to 127.0.0.1 closed by remote host." >&2; exit 255 ;;
  tarfail) echo "tar: ./x: Cannot open: Permission denied" >&2; echo "tar: Exiting with failure status due to previous errors" >&2; exit 2 ;;
  nodst) echo "no such directory: /nope" >&2; exit 97 ;;
  garbage) head -c 4096 /dev/urandom ;;
esac
`;

beforeAll(() => {
  writeFileSync(join(work, 'ssh'), FAKE_SSH);
  chmodSync(join(work, 'ssh'), 0o755);
  process.env.PATH = `${work}:${savedPath}`;
});
afterAll(() => {
  process.env.PATH = savedPath;
  delete process.env.LF_FAKE_SSH_MODE;
  rmSync(work, { recursive: true, force: true });
});

const vm = { sshTarget: { user: 'opam', key: '/dev/null', port: 1, knownHosts: '/dev/null' }, guestOs: 'linux' as const };

async function failure(mode: string, o: Partial<Parameters<typeof extractOverSsh>[0]> = {}): Promise<Error> {
  process.env.LF_FAKE_SSH_MODE = mode;
  const err = await extractOverSsh({ vm, dst: '/home/opam/src', privilege: 'none', ...o }).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(UserError);
  return err as Error;
}

describe('extractOverSsh names the real cause', () => {
  it('over the extraction budget: the budget, not ssh', async () => {
    const err = await failure('big', { limits: { maxTotalBytes: 1024 * 1024 } });
    expect(err).toBeInstanceOf(ExtractLimitError);
    expect(err.message).toBe(
      'guest tar of /home/opam/src: file "big.bin" (2.9 MiB (3000000 bytes)) would bring the files extracted to 2.9 MiB (3000006 bytes), over the extraction budget of 1.0 MiB (1048576 bytes)',
    );
  });

  it('without a limit in the way, a large file is simply extracted (kept in the temp dir)', async () => {
    process.env.LF_FAKE_SSH_MODE = 'big';
    const r = await extractOverSsh({ vm, dst: '/home/opam/src', privilege: 'none' });
    expect(r.exitCode).toBe(0);
    expect(r.tree.get('big.bin')).toMatchObject({ kind: 'file', size: 3_000_000 });
    expect(r.spilledBytes).toBe(3_000_000);
    expect(r.gaps).toEqual({ dropped: [], failure: null });
  });

  it('ssh dying mid-stream: ssh, with its message', async () => {
    expect((await failure('dies')).message).toBe('ssh to the guest failed while extracting /home/opam/src: Connection to 127.0.0.1 closed by remote host.');
  });

  it('tar failing outright: tar, with its exit status and first line', async () => {
    expect((await failure('tarfail')).message).toBe('guest tar of /home/opam/src: tar failed (exit 2): tar: ./x: Cannot open: Permission denied');
  });

  it('a missing destination', async () => {
    expect((await failure('nodst')).message).toBe('guest directory /home/opam/src: does not exist (or is not a directory)');
  });

  it('too slow: the time limit', async () => {
    expect((await failure('slow', { timeoutMs: 1000 })).message).toBe('guest tar of /home/opam/src: took longer than 1 s');
  });

  it('not a tar stream', async () => {
    expect((await failure('garbage')).message).toMatch(/^guest tar of \/home\/opam\/src: not a valid tar stream \(/);
  });
});
