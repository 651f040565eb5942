// The OpenBSD-shaped sample (samples/recipe/openbsd/), proven by independent readers before the
// tool is trusted on it: qemu-img for the chain and the clusters each layer holds, mmls for the
// MBR and The Sleuth Kit for the FFS2 /home (fsstat, fls, icat) on raw copies of the layers. Then
// `diagnose --via direct` must find every loss, its class and the ancestor file it came from,
// without QEMU, and leave the store as it was.

import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { loadSample, ROOT, storeFingerprint } from '../helpers/sample.js';

interface OpenbsdJson {
  store: string;
  base: string;
  duid: string;
  partitions: { a: { offset: number; size: number }; e: { offset: number; size: number } };
  layers: { from: string; opamRepo: string; prune: string; copyCorrupt: string; copyClean: string };
  dst: string;
  commit: string;
  corrupted: Record<string, string>;
  staleFrom: Record<string, { path: string; layer: string }>;
  blocks: Record<string, { fileOffset: number; length: number; disk: number; lost: boolean }[]>;
  jobLog: string;
  expected: string;
}

let O: OpenbsdJson;
let before: Map<string, string>;
const tmp = mkdtempSync(join(tmpdir(), 'lf-openbsd-sample-'));
const run = (cmd: string, args: string[]): string => execFileSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20 });
const image = (id: string): string => join(O.store, 'result', id, 'rootfs', 'image.qcow2');

beforeAll(() => {
  loadSample(); // builds both samples when missing
  O = JSON.parse(readFileSync(join(ROOT, 'samples', 'out', 'openbsd.json'), 'utf8')) as OpenbsdJson;
  before = storeFingerprint(O.store);
}, 300_000);

afterEach(() => {
  expect(storeFingerprint(O.store)).toEqual(before);
});

afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** The layer as a raw disk, and the /home partition's first sector as mmls prints it. */
function raw(id: string): { file: string; home: number } {
  const file = join(tmp, `${id.slice(0, 12)}.raw`);
  run('qemu-img', ['convert', '-U', '-O', 'raw', image(id), file]);
  // mmls lists the MBR's 0xA6 partition and prints the disklabel's entries with their (absolute)
  // starts; TSK would then read them relative to the 0xA6 partition, so fsstat gets `-o` itself.
  expect(run('mmls', ['-t', 'dos', file])).toMatch(/OpenBSD/i);
  const label = run('mmls', ['-t', 'bsd', '-o', '64', file]);
  const home = O.partitions.e.offset / 512;
  expect(label).toMatch(new RegExp(`\\b0*${home}\\b`));
  return { file, home };
}

describe('the OpenBSD-shaped sample, read by independent tools', () => {
  it('is an obuilder chain: base, from, opamRepo, prune, then the two copies, each backed by absolute paths', () => {
    const info = JSON.parse(run('qemu-img', ['info', '-U', '--output=json', '--backing-chain', image(O.layers.copyCorrupt)])) as { filename: string; 'backing-filename'?: string }[];
    expect(info.map((i) => i.filename)).toEqual([
      image(O.layers.copyCorrupt),
      image(O.layers.prune),
      image(O.layers.opamRepo),
      image(O.layers.from),
      join(O.store, 'base-image', `${O.base}.qcow2`),
    ]);
    for (const i of info.slice(0, -1)) expect(i['backing-filename']).toMatch(/^\//);
    // The copy layer holds only what it wrote: its data clusters are few.
    const map = JSON.parse(run('qemu-img', ['map', '-U', '--output=json', image(O.layers.copyCorrupt)])) as { depth: number; data: boolean; length: number }[];
    const own = map.filter((m) => m.depth === 0 && m.data).reduce((n, m) => n + m.length, 0);
    expect(own).toBeGreaterThan(0);
    expect(own).toBeLessThan(4 << 20);
  });

  it('The Sleuth Kit reads /home as UFS2 with the superblock at 65536 and sees the damaged files', () => {
    const { file, home } = raw(O.layers.copyCorrupt);
    const fsstat = run('fsstat', ['-f', 'ufs2', '-o', String(home), file]);
    expect(fsstat).toMatch(/File System Type: UFS 2/);
    const fls = run('fls', ['-f', 'ufs2', '-o', String(home), '-r', '-p', file]);
    const ino = (p: string): string => {
      const m = new RegExp(`(\\d+):\\t${p.replace(/[.+]/g, '\\$&')}$`, 'm').exec(fls);
      if (!m?.[1]) throw new Error(`fls does not list ${p}`);
      return m[1];
    };
    const icat = (p: string): Buffer => execFileSync('icat', ['-f', 'ufs2', '-o', String(home), file, ino(p)], { maxBuffer: 64 << 20 });
    const expected = (p: string): Buffer => readFileSync(join(O.expected, p));
    for (const p of ['tls.opam', 'tls-async.opam', 'tls-lwt.opam', 'tls-eio.opam', 'CHANGES.md', 'tests/vectors.json', 'tls-mirage.opam', 'tls-miou-unix.opam']) {
      const bytes = icat(`opam/src/${p}`);
      expect(bytes.length, p).toBe(expected(p).length);
      expect(bytes.equals(expected(p)), p).toBe(!(p in O.corrupted));
    }
    expect(icat('opam/src/tls-eio.opam').every((b) => b === 0)).toBe(true);
    expect(icat('opam/src/tls-async.opam').toString('latin1')).toMatch(/^opam-version: "2.0"[\s\S]*zxcvbn/);
    expect(icat('opam/src/tls-lwt.opam').toString('latin1')).toMatch(/^opam-version: "2.0"\nrepositories: \[\n {2}"default" \{"git\+https/);
    // The prune step deleted what the copy reused: fls shows those names as deleted (`*`) only.
    const live = fls.split('\n').filter((l) => !/^\S+ \* /.test(l)).join('\n');
    expect(fls).toMatch(/opam-repository\/packages\/zxcvbn/);
    expect(live).not.toMatch(/opam-repository\/packages\/zxcvbn/);
    expect(live).not.toMatch(/\.cache\/download\//);
  });

  it("the root partition's fstab names /home by the disklabel's DUID, mounted softdep", () => {
    const { file } = raw(O.layers.from);
    const rootSector = O.partitions.a.offset / 512;
    const fls = run('fls', ['-f', 'ufs2', '-o', String(rootSector), '-r', '-p', file]);
    const m = /(\d+):\tetc\/fstab$/m.exec(fls);
    expect(m?.[1]).toBeDefined();
    const fstab = run('icat', ['-f', 'ufs2', '-o', String(rootSector), file, m![1]!]);
    expect(fstab).toContain(`${O.duid}.e /home ffs rw,softdep,noatime`);
  });
});

describe('diagnose --via direct on the OpenBSD-shaped sample', () => {
  let bareBin: string;
  beforeAll(() => {
    // No qemu-system on the PATH: reading the disk must not need one.
    bareBin = join(tmp, 'bin');
    mkdirSync(bareBin);
    symlinkSync(process.execPath, join(bareBin, 'node'));
  });

  const direct = (args: string[]) => runCli(['diagnose', '--via', 'direct', '--store', O.store, '--expected', O.expected, ...args], { env: { PATH: bareBin } });

  it('finds every loss with its class and the ancestor file its bytes came from (exit 1)', async () => {
    const r = await direct(['--job-log', O.jobLog, '--json', '--quiet']);
    expect(r.exitCode, String(r.stderr)).toBe(1);
    expect(r.stderr).toBe('');
    const doc = JSON.parse(String(r.stdout));
    expect(doc.layer.id).toBe(O.layers.copyCorrupt);
    expect(doc.extraction).toMatchObject({ via: 'direct', accel: null, dst: O.dst, partition: { scheme: 'disklabel', name: 'e', fs: 'ufs2', mountpoint: '/home' } });
    expect(doc.verdict.kind).toBe('soft-updates-data-loss');
    const by = Object.fromEntries(doc.files.map((f: { path: string }) => [f.path, f]));
    expect(Object.keys(by).sort()).toEqual(['CHANGES.md', 'tests/vectors.json', 'tls-async.opam', 'tls-eio.opam', 'tls-lwt.opam', 'tls-miou-unix.opam', 'tls-mirage.opam', 'tls.opam']);
    for (const [p, cls] of Object.entries(O.corrupted)) expect(by[p].class, p).toBe(cls);
    for (const [p, from] of Object.entries(O.staleFrom)) {
      expect(by[p].provenance, p).toMatchObject({ source: 'parent-layer', path: from.path, layer: from.layer, root: '/home' });
    }
    expect(by['tls.opam'].detail.format).toBe('ffs-le');
    expect(by['tls-eio.opam'].provenance).toBeNull();
    // Which element of the chain supplied each block: never-used blocks are held by none.
    expect(by['tls-eio.opam'].storage.blocks.every((b: { layer: string | null }) => b.layer === null)).toBe(true);
    expect(by['tls-async.opam'].storage.blocks.map((b: { layer: string | null }) => b.layer)).toEqual([O.layers.opamRepo]);
    expect(by['tls-mirage.opam'].storage.blocks.every((b: { layer: string | null }) => b.layer === O.layers.copyCorrupt)).toBe(true);
    // CHANGES.md lost its last blocks: other text from a block boundary to the end, which the
    // bytes alone cannot tell from an edit; the disk shows them the parent's README's blocks.
    expect(by['CHANGES.md'].regions.map((g: { offset: number; length: number; class: string }) => [g.offset, g.length, g.class])).toEqual([
      [0, 16384, 'match'],
      [16384, 40000 - 16384, 'foreign-text'],
    ]);
    expect(by['CHANGES.md'].provenance).toMatchObject({ matchedBytes: 40000 - 16384, offset: 16384 });
    expect(by['CHANGES.md'].detail.why).toBe("another file's blocks, exactly (provenance)");
    const vectors = by['tests/vectors.json'];
    expect(vectors.regions.filter((g: { class: string }) => g.class === 'match')[0]).toMatchObject({ offset: 0 });
    expect(vectors.regions.some((g: { offset: number; class: string }) => g.offset >= 12 * 16384 && g.class === 'foreign-binary')).toBe(true);
  });

  it('without the disk, the same bytes of CHANGES.md read as an edit: classify of the files read out says modified', async () => {
    const out = join(tmp, 'read-out');
    mkdirSync(out, { recursive: true });
    // The layer's CHANGES.md as the direct reader sees it (icat of its inode), next to the expected one.
    const { file, home } = raw(O.layers.copyCorrupt);
    const fls = run('fls', ['-f', 'ufs2', '-o', String(home), '-r', '-p', file]);
    const ino = /(\d+):\topam\/src\/CHANGES\.md$/m.exec(fls)![1]!;
    writeFileSync(join(out, 'CHANGES.md'), execFileSync('icat', ['-f', 'ufs2', '-o', String(home), file, ino], { maxBuffer: 64 << 20 }));
    const expected = join(tmp, 'expected-changes');
    mkdirSync(expected, { recursive: true });
    execFileSync('cp', [join(O.expected, 'CHANGES.md'), expected]);
    const r = await runCli(['classify', '--expected', expected, '--actual', out, '--json']);
    expect(r.exitCode, String(r.stderr)).toBe(3);
    const doc = JSON.parse(String(r.stdout));
    expect(doc.files[0]).toMatchObject({ path: 'CHANGES.md', class: 'modified' });
    expect(doc.files[0].detail.runs[0].why).toMatch(/to the end .*no file they come from/);
  });

  it('an end of a file that the layer wrote itself is not blamed on an ancestor: an expected version with other text there reads modified', async () => {
    // tls-mirage.opam reached the disk intact; an expected copy whose last 565 bytes are other
    // words leaves a run to the end that only an origin could show stale, and the disk has none:
    // the copy layer wrote those blocks.
    const dir = join(tmp, 'expected-other-tail');
    execFileSync('cp', ['-r', O.expected, dir]);
    const own = readFileSync(join(dir, 'tls-mirage.opam'));
    const words = 'zebra quantum lattice harbor violet meridian cobalt saffron'.split(' ');
    const tail = Array.from({ length: 200 }, (_, i) => words[(i * 5 + (i >> 2)) % words.length]).join(' ');
    writeFileSync(join(dir, 'tls-mirage.opam'), Buffer.concat([own.subarray(0, 512), Buffer.from(tail).subarray(0, own.length - 512)]));
    const r = await runCli(['diagnose', '--via', 'direct', '--store', O.store, '--expected', dir, '--job-log', O.jobLog, '--json', '--quiet'], { env: { PATH: bareBin } });
    const doc = JSON.parse(String(r.stdout));
    const f = doc.files.find((x: { path: string }) => x.path === 'tls-mirage.opam');
    expect(f).toMatchObject({ class: 'modified', provenance: null });
    expect(f.detail.runs[0]).toMatchObject({ offset: 512, length: own.length - 512, kind: 'edit' });
    expect(f.detail.runs[0].why).toMatch(/no file they come from/);
    // The real losses are still found: the verdict stands.
    expect(doc.verdict.kind).toBe('soft-updates-data-loss');
  });

  it('a file the layer inherited, unchanged, against another version of it: modified, never its own blocks taken for stale', async () => {
    // The opam repository's files came from the clone layer and the copy layer did not touch them:
    // their blocks hold the same bytes in the parent, owned by the same inode at the same offset.
    // An expected version with other words at the end must read as another version (found when
    // the disk origin first counted such an owner as "another file").
    const repo = join(tmp, 'gen-repo');
    mkdirSync(repo, { recursive: true });
    execFileSync(process.execPath, [join(ROOT, 'samples', 'recipe', 'gen-repo.mjs'), repo], { stdio: 'ignore' });
    const dir = join(tmp, 'expected-cstruct');
    execFileSync('cp', ['-r', join(repo, 'packages', 'cstruct'), dir]);
    const file = join(dir, 'cstruct.0.8.2', 'opam');
    const own = readFileSync(file);
    const words = 'zebra quantum lattice harbor violet meridian cobalt saffron'.split(' ');
    const tail = Array.from({ length: 200 }, (_, i) => words[(i * 5 + (i >> 2)) % words.length]).join(' ');
    writeFileSync(file, Buffer.concat([own.subarray(0, 512), Buffer.from(tail).subarray(0, own.length - 512)]));
    const args = ['diagnose', '--via', 'direct', '--store', O.store, '--layer', O.layers.copyClean, '--dst', '/home/opam/opam-repository/packages/cstruct', '--expected', dir, '--json', '--quiet'];
    const r = await runCli(args, { env: { PATH: bareBin } });
    expect(r.exitCode, String(r.stderr)).toBe(3);
    const doc = JSON.parse(String(r.stdout));
    expect(doc.files.map((f: { path: string; class: string }) => [f.path, f.class])).toEqual([
      ['cstruct.0.8.2/opam', 'modified'],
      ['cstruct.0.9.0/opam', 'match'],
      ['cstruct.1.8.2/opam', 'match'],
      ['cstruct.v0.17.0/opam', 'match'],
    ]);
    expect(doc.files[0].provenance).toBeNull();
    expect(doc.verdict.kind).toBe('inconclusive');
  });

  it('the clean sibling is clean (exit 0)', async () => {
    const r = await direct(['--layer', O.layers.copyClean, '--quiet']);
    expect(r.exitCode, String(r.stdout)).toBe(0);
    expect(String(r.stdout)).toMatch(/^Verdict: clean/);
    expect(String(r.stdout)).toMatch(/Read the disk directly \(no boot\): disklabel partition e \(ufs2\) mounted on \/home/);
  });

  it('--partition a (the root) does not hold dst; --partition e does', async () => {
    const a = await direct(['--layer', O.layers.copyClean, '--partition', 'a', '--quiet']);
    expect(a.exitCode).toBe(2);
    expect(String(a.stderr).trim()).toBe(`layer-forensics: --dst ${O.dst}: not found on disklabel partition a, with or without any of its leading directories`);
    const e = await direct(['--layer', O.layers.copyClean, '--partition', 'e', '--quiet']);
    expect(e.exitCode).toBe(0);
  });
});

describe('audit on the OpenBSD-shaped sample', () => {
  it('flags the corrupt copy from what the layers prove (no expected sources), keeps its sibling clean, and diagnose mentions it', async () => {
    const cache = mkdtempSync(join(tmp, 'cache-'));
    const env = { XDG_CACHE_HOME: cache };
    const a = await runCli(['audit', '--store', O.store, '--layer', O.layers.copyCorrupt.slice(0, 12), '--layer', O.layers.copyClean.slice(0, 12), '--json', '--quiet'], { env });
    expect(a.exitCode, String(a.stderr)).toBe(1);
    const lines = String(a.stdout).trim().split('\n').map((l) => JSON.parse(l));
    const byLayer = Object.fromEntries(lines.filter((l) => l.type === 'layer').map((l) => [l.layer, l]));
    expect(byLayer[O.layers.copyClean].verdict).toBe('clean');
    const bad = byLayer[O.layers.copyCorrupt];
    expect(bad.verdict).toBe('soft-updates-data-loss');
    const files = Object.fromEntries(bad.files.map((f: { path: string }) => [f.path, f]));
    for (const p of ['tls.opam', 'tls-async.opam', 'tls-lwt.opam', 'tls-eio.opam', 'tests/vectors.json']) {
      expect(files[`${O.dst}/${p}`], p).toBeDefined();
    }
    expect(files[`${O.dst}/tls.opam`].class).toBe('directory-block');
    expect(files[`${O.dst}/tls-eio.opam`].class).toBe('zeros');
    for (const p of ['tls.opam', 'tls-async.opam', 'tls-lwt.opam']) {
      expect(files[`${O.dst}/${p}`].provenance, p).toMatchObject({ source: 'parent-layer', path: O.staleFrom[p]!.path, layer: O.staleFrom[p]!.layer });
    }
    expect(lines.at(-1)).toMatchObject({ type: 'summary', layers: 2, clean: 1, corrupt: 1 });
    const d = await runCli(['diagnose', '--via', 'direct', '--store', O.store, '--layer', O.layers.copyCorrupt, '--expected', O.expected, '--json', '--quiet'], { env });
    const doc = JSON.parse(String(d.stdout));
    expect(doc.audit).toMatchObject({ verdict: 'soft-updates-data-loss' });
    expect(doc.verdict.evidence.join('\n')).toMatch(/The store audit of .* already flagged this layer: soft-updates-data-loss/);
  });
});
