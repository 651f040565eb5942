// The guest's tar stream (src/extract/tar-tree.ts, tarToTree): every entry type, long names, pax
// headers, hard links, large files kept in the temp dir. Seeds: archives made by GNU tar, busybox
// tar and tar-stream. The fixup recomputes header checksums now and then, so mutations get past
// the checksum into the fields behind it.

import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, linkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import tar from 'tar-stream';
import { normaliseTarName, tarToTree } from '../../src/extract/tar-tree.js';
import type { Seed } from '../mutate.js';
import { check, type FuzzTarget } from '../target.js';

async function packed(build: (p: tar.Pack) => void): Promise<Buffer> {
  const p = tar.pack();
  build(p);
  p.finalize();
  const chunks: Buffer[] = [];
  for await (const c of p as unknown as AsyncIterable<Buffer>) chunks.push(c);
  return Buffer.concat(chunks);
}

/** Header blocks: 'ustar' at 257. */
function fixChecksums(buf: Buffer): Buffer {
  for (let at = 0; at + 512 <= buf.length; at += 512) {
    if (buf.toString('latin1', at + 257, at + 262) !== 'ustar') continue;
    let sum = 0;
    for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : buf[at + i]!;
    buf.write(`${sum.toString(8).padStart(6, '0')}\0 `, at + 148, 'latin1');
  }
  return buf;
}

export const tarStream: FuzzTarget = {
  name: 'tar-stream',
  parser: 'src/extract/tar-tree.ts (tarToTree, normaliseTarName; large files kept in a temp dir)',
  inputs: 100_000,
  maxLength: 64 * 1024,
  dictionary: ['ustar\u000000', 'ustar  \u0000', '././@LongLink', '../', '/', './', '..', 'path=', 'linkpath=', 'size=', '\u0000', '0000644\u0000', '77777777777\u0000', '\u0080\u0000\u0000\u0000'],
  async seeds(ctx) {
    const seeds: Seed[] = [];
    seeds.push({
      name: 'tar-stream: every type',
      bytes: await packed((p) => {
        p.entry({ name: 'a.opam' }, 'opam-version: "2.0"\n');
        p.entry({ name: 'b.opam', type: 'link', linkname: 'a.opam' });
        p.entry({ name: 'dir/', type: 'directory' });
        p.entry({ name: 'dir/link', type: 'symlink', linkname: '../../etc/passwd' });
        p.entry({ name: 'fifo', type: 'fifo' });
        p.entry({ name: 'dev', type: 'character-device', devmajor: 1, devminor: 3 });
        p.entry({ name: `${'d'.repeat(120)}/${'f'.repeat(120)}` }, 'long name (pax)');
        p.entry({ name: '../escape' }, 'x');
        p.entry({ name: 'big' }, Buffer.alloc(20_000, 7));
      }),
    });
    const src = mkdtempSync(join(ctx.work, 'src-'));
    mkdirSync(join(src, 'sub'));
    writeFileSync(join(src, 'tls.opam'), 'opam-version: "2.0"\nname: "tls"\n');
    linkSync(join(src, 'tls.opam'), join(src, 'hard.opam'));
    symlinkSync('/etc', join(src, 'sub', 'etc'));
    writeFileSync(join(src, 'sub', `${'n'.repeat(150)}`), 'gnu longname');
    writeFileSync(join(src, 'bin'), Buffer.from([0, 1, 2, 255, 0x9b]));
    seeds.push({ name: 'GNU tar', bytes: execFileSync('tar', ['-C', src, '-cf', '-', '.']) });
    seeds.push({ name: 'GNU tar --format=pax', bytes: execFileSync('tar', ['--format=pax', '-C', src, '-cf', '-', '.']) });
    seeds.push({ name: 'busybox tar', bytes: execFileSync('busybox', ['tar', '-C', src, '-cf', '-', '.']) });
    rmSync(src, { recursive: true, force: true });
    return seeds;
  },
  fixup(input, coin) {
    return coin < 0.7 ? fixChecksums(input) : input;
  },
  async run(input, ctx) {
    let spillDir: string | null = null;
    const spill = { dir: () => (spillDir ??= mkdtempSync(join(ctx.work, 'spill-'))) };
    // Chunked as a pipe would deliver it.
    const chunks: Buffer[] = [];
    for (let at = 0, n = 512 + (input.length % 7919); at < input.length; at += n) chunks.push(input.subarray(at, at + n));
    try {
      const res = await tarToTree(Readable.from(chunks), {
        spill,
        // One input in four keeps even small files in the temp dir (the spill path); the others in memory.
        limits: { spillFromBytes: input.length % 4 === 0 ? 1024 : 1024 * 1024, maxMemoryBytes: 256 * 1024, maxTotalBytes: 1024 * 1024, maxEntries: 5000 },
      });
      for (const [path, e] of res.tree) {
        check(path === e.path, `key ${path} vs path ${e.path}`);
        check(normaliseTarName(path) === path, `not normalised: ${JSON.stringify(path)}`);
        check(e.hardLinkOf === undefined || res.tree.has(e.hardLinkOf) || [...res.tree.values()].some((x) => x.path === e.hardLinkOf), 'dangling hardLinkOf');
        if (e.kind === 'file') {
          const all = await e.read();
          check(all.length === e.size, `read ${all.length} of ${e.size}`);
          const head = await e.readHead!(100);
          check(head.equals(all.subarray(0, 100)), 'head differs');
        }
      }
      check(res.unsafe.every((u) => typeof u.reason === 'string' && u.reason.length > 0), 'unsafe reason');
    } finally {
      if (spillDir) rmSync(spillDir, { recursive: true, force: true });
    }
  },
};
