// tarToTree against hostile and large archives, crafted with tar-stream: hard links (issue 11),
// links out of the tree, large files kept in the run's temp dir, the budget, and the causes of
// failures named as they are.

import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import tar from 'tar-stream';
import { afterAll, describe, expect, it } from 'vitest';
import { compareAndDecide } from '../../src/diagnose/compare-and-decide.js';
import { readDirectoryTree } from '../../src/extract/directory-tree.js';
import { ExtractLimitError, spillToRunDir, tarToTree, type SpillTarget } from '../../src/extract/tar-tree.js';
import { CleanupScope } from '../../src/util/cleanup.js';
import { UserError } from '../../src/util/errors.js';
import { TEMP_PREFIX } from '../../src/util/temp-dir.js';

const work = mkdtempSync(join(tmpdir(), 'lf-test-tarh-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function packed(build: (p: tar.Pack) => void): Readable {
  const p = tar.pack();
  build(p);
  p.finalize();
  return p as unknown as Readable;
}

/** Bytes that differ at every offset (so a misplaced chunk is caught). */
function pattern(n: number, seed = 1): Buffer {
  const b = Buffer.alloc(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
}

/** A spill target in a dir of this test, counting how often it is asked. */
function testSpill(): SpillTarget & { dirs: string[] } {
  const dirs: string[] = [];
  return {
    dirs,
    dir() {
      if (dirs.length === 0) {
        const d = mkdtempSync(join(work, 'spill-'));
        dirs.push(d);
      }
      return dirs[0]!;
    },
  };
}

async function readAll(e: { openReader?: () => Promise<{ read(b: Buffer, p: number): Promise<number>; close(): Promise<void> }> }, size: number): Promise<Buffer> {
  const r = await e.openReader!();
  try {
    const out = Buffer.alloc(size);
    const chunk = Buffer.alloc(7000);
    let pos = 0;
    for (;;) {
      const n = await r.read(chunk, pos);
      if (n === 0) break;
      chunk.copy(out, pos, 0, n);
      pos += n;
    }
    expect(pos).toBe(size);
    return out;
  } finally {
    await r.close();
  }
}

describe('hard links are files with the bytes of the name they link to', () => {
  it('an intact pair made by GNU tar compares clean against two plain files (not type-mismatch)', async () => {
    const stream = packed((p) => {
      p.entry({ name: './a.opam' }, 'opam-version: "2.0"\n');
      p.entry({ name: './b.opam', type: 'link', linkname: './a.opam' });
    });
    const res = await tarToTree(stream, { spill: testSpill() });
    expect(res.tree.get('b.opam')).toMatchObject({ kind: 'file', size: 20, hardLinkOf: 'a.opam' });
    expect(res.files).toBe(2);
    expect(res.unsafe).toEqual([]);
    const exp = join(work, 'pair');
    mkdirSync(exp);
    writeFileSync(join(exp, 'a.opam'), 'opam-version: "2.0"\n');
    writeFileSync(join(exp, 'b.opam'), 'opam-version: "2.0"\n');
    const expected = await readDirectoryTree(exp);
    const d = await compareAndDecide({ expected, actual: res.tree, candidates: [] });
    expect(d.files.map((f) => [f.path, f.class])).toEqual([
      ['a.opam', 'match'],
      ['b.opam', 'match'],
    ]);
    expect(d.verdict.kind).toBe('clean');
  });

  it('a link to a link names the first file; a link to a large (spilled) file reads its bytes', async () => {
    const big = pattern(3 * 1024 * 1024 + 17);
    const spill = testSpill();
    const res = await tarToTree(
      packed((p) => {
        p.entry({ name: 'big.bin' }, big);
        p.entry({ name: 'big2.bin', type: 'link', linkname: 'big.bin' });
        p.entry({ name: 'big3.bin', type: 'link', linkname: './big2.bin' });
      }),
      { spill },
    );
    expect(res.tree.get('big3.bin')).toMatchObject({ kind: 'file', size: big.length, hardLinkOf: 'big.bin' });
    expect((await readAll(res.tree.get('big3.bin')!, big.length)).equals(big)).toBe(true);
    // One copy on disk for the three names.
    expect(readdirSync(spill.dirs[0]!)).toEqual(['file-0']);
    expect(res.spilledFiles).toBe(1);
  });

  it('links out of the tree are left out and listed: to an unsafe name, to a name not in the archive, to itself', async () => {
    const res = await tarToTree(
      packed((p) => {
        p.entry({ name: 'x', type: 'link', linkname: '../../etc/shadow' });
        p.entry({ name: 'y', type: 'link', linkname: '/etc/shadow' });
        p.entry({ name: 'z', type: 'link', linkname: 'not-here' });
        p.entry({ name: 'w', type: 'link', linkname: './w' });
      }),
      { spill: testSpill() },
    );
    expect(res.tree.size).toBe(0);
    expect(res.unsafe).toEqual([
      { rawName: 'x', type: 'link', reason: 'is a hard link to "../../etc/shadow", which has a ".." segment' },
      { rawName: 'y', type: 'link', reason: 'is a hard link to "/etc/shadow", which is an absolute path' },
      { rawName: 'z', type: 'link', reason: 'is a hard link to "not-here", which is not in the archive' },
      { rawName: 'w', type: 'link', reason: 'is a hard link to "./w", which is not in the archive' },
    ]);
  });
});

describe('large files go to the run\'s own temp dir', () => {
  it('a file past the threshold is streamed to a numbered file and read back with positioned reads', async () => {
    const data = pattern(2 * 1024 * 1024 + 3);
    const spill = testSpill();
    const res = await tarToTree(
      packed((p) => {
        p.entry({ name: 'small' }, 'tiny');
        p.entry({ name: '../escape-attempt-name/big' }, data);
        p.entry({ name: 'sub/big.bin' }, data);
      }),
      { spill, limits: { spillFromBytes: 1024 * 1024 } },
    );
    const e = res.tree.get('sub/big.bin')!;
    expect(e.size).toBe(data.length);
    expect((await e.readHead!(10)).equals(data.subarray(0, 10))).toBe(true);
    expect((await readAll(e, data.length)).equals(data)).toBe(true);
    expect((await e.read()).equals(data)).toBe(true);
    // The guest's names never name a host file: the unsafe entry was not written at all.
    expect(readdirSync(spill.dirs[0]!)).toEqual(['file-0']);
    expect(readFileSync(join(spill.dirs[0]!, 'file-0')).equals(data)).toBe(true);
    expect(res.spilledBytes).toBe(data.length);
    // Small files stay in memory, and still offer a reader.
    expect((await readAll(res.tree.get('small')!, 4)).toString()).toBe('tiny');
  });

  it('once the memory budget is held, small files go to the temp dir too', async () => {
    const spill = testSpill();
    const res = await tarToTree(
      packed((p) => {
        for (let i = 0; i < 10; i++) p.entry({ name: `f${i}` }, pattern(1000, i + 1));
      }),
      { spill, limits: { maxMemoryBytes: 4000 } },
    );
    expect(res.spilledFiles).toBe(6);
    for (let i = 0; i < 10; i++) expect((await res.tree.get(`f${i}`)!.read()).equals(pattern(1000, i + 1))).toBe(true);
  });

  it('the default target is an owner-marked run dir of the scope: removed when the scope runs, then reads say so', async () => {
    const scope = new CleanupScope('test');
    const res = await tarToTree(
      packed((p) => p.entry({ name: 'big' }, pattern(1024 * 1024 + 1))),
      { spill: spillToRunDir(scope), what: 'guest tar of /home/opam/src' },
    );
    const pending = scope.pending();
    expect(pending).toHaveLength(1);
    const dir = pending[0]!.replace(/^temp dir /, '');
    expect(dir.startsWith(join(tmpdir(), TEMP_PREFIX))).toBe(true);
    expect(readFileSync(join(dir, 'owner'), 'utf8')).toMatch(new RegExp(`^${process.pid} `));
    expect(await scope.runAll()).toEqual([]);
    expect(existsSync(dir)).toBe(false);
    const err = await res.tree.get('big')!.read().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UserError);
    expect((err as Error).message).toBe(
      `guest tar of /home/opam/src: file "big" was kept in ${join(dir, 'file-0')}, which is gone (its run has ended)`,
    );
  });

  it('no temp dir is made when nothing is large', async () => {
    const spill = testSpill();
    await tarToTree(packed((p) => p.entry({ name: 'a' }, 'a')), { spill });
    expect(spill.dirs).toEqual([]);
  });

  it('over the budget: one line naming the file and the budget; skipped with oversize skip', async () => {
    const big = (): Readable =>
      packed((p) => {
        p.entry({ name: 'a.bin' }, pattern(3000));
        p.entry({ name: 'b.bin' }, pattern(3000));
      });
    const err = await tarToTree(big(), { spill: testSpill(), what: 'guest tar of /d', limits: { maxTotalBytes: 5000 } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ExtractLimitError);
    expect((err as Error).message).toBe(
      'guest tar of /d: file "b.bin" (2.9 KiB (3000 bytes)) would bring the files extracted to 5.9 KiB (6000 bytes), over the extraction budget of 4.9 KiB (5000 bytes)',
    );
    const skipped = await tarToTree(big(), { spill: testSpill(), limits: { maxTotalBytes: 5000, oversize: 'skip' } });
    expect([...skipped.tree.keys()]).toEqual(['a.bin']);
    expect(skipped.skipped).toEqual([{ path: 'b.bin', size: 3000, reason: expect.stringMatching(/extraction budget of 4\.9 KiB/) }]);
  });

  it('a temp dir that cannot be written: the cause is named, not a broken stream', async () => {
    const gone = join(work, 'no-such-dir');
    const err = await tarToTree(packed((p) => p.entry({ name: 'big' }, pattern(2 * 1024 * 1024))), {
      spill: { dir: () => gone },
      what: 'guest tar of /d',
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ExtractLimitError);
    expect((err as Error).message).toMatch(new RegExp(`^guest tar of /d: cannot keep file "big" \\(2\\.0 MiB \\(2097152 bytes\\)\\) in ${gone}: ENOENT`));
    const err2 = await tarToTree(packed((p) => p.entry({ name: 'big' }, pattern(2 * 1024 * 1024))), {
      spill: {
        dir: () => {
          throw Object.assign(new Error('ENOSPC: no space left on device, mkdtemp'), { code: 'ENOSPC' });
        },
      },
      what: 'guest tar of /d',
    }).catch((e: unknown) => e);
    expect((err2 as Error).message).toBe('guest tar of /d: cannot keep file "big" (2.0 MiB (2097152 bytes)) in the temp dir: no space left on device');
  });

  it('a stream cut short is a malformed archive (named), not a success', async () => {
    const whole = await new Promise<Buffer>((resolve) => {
      const chunks: Buffer[] = [];
      const p = tar.pack();
      p.entry({ name: 'a' }, pattern(10_000));
      p.finalize();
      p.on('data', (c) => chunks.push(c as Buffer));
      p.on('end', () => resolve(Buffer.concat(chunks)));
    });
    const err = await tarToTree(Readable.from([whole.subarray(0, 4000)]), { spill: testSpill() }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UserError);
    expect((err as Error).message).toMatch(/^tar stream: not a valid tar stream \(/);
  });
});
