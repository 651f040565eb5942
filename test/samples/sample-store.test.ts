// The sample obuilder QEMU store built by samples/build-store.sh, checked by independent readers:
// qemu-img for the chain, The Sleuth Kit for the files, and a real TCG boot with SSH + tar.
// The store is never written: every read uses -U (other processes may have it open) and the boot
// uses a throwaway overlay in a temporary directory.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, readFileSync, statSync, existsSync, readdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve, isAbsolute } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import tar from 'tar-stream';
import type { Sample } from '../helpers/sample.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const out = join(root, 'samples', 'out');
const expectedDir = join(root, 'samples', 'expected');
const SOURCES = ['tls.opam', 'tls-async.opam', 'tls-lwt.opam', 'tls-mirage.opam', 'tls-eio.opam', 'tls-miou-unix.opam'];
const HEX64 = /^[0-9a-f]{64}$/;

type LayersJson = Sample;

let L: LayersJson;
const tmp = mkdtempSync(join(tmpdir(), 'lf-sample-store-test-'));
const expected = new Map<string, Buffer>(SOURCES.map((n) => [n, readFileSync(join(expectedDir, n))]));

const run = (cmd: string, args: string[]): string => execFileSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20 });
const runBuf = (cmd: string, args: string[]): Buffer => execFileSync(cmd, args, { maxBuffer: 64 << 20 });
const image = (id: string): string => join(L.store, 'result', id, 'rootfs', 'image.qcow2');

interface ChainEntry { filename: string; 'backing-filename'?: string; 'full-backing-filename'?: string }
function chain(img: string): ChainEntry[] {
  return JSON.parse(run('qemu-img', ['info', '-U', '--output=json', '--backing-chain', img])) as ChainEntry[];
}

// A layer as a raw disk in the temporary directory, and its UFS partition's sector offset (from mmls).
function toRaw(id: string, name: string): { raw: string; offset: string } {
  const raw = join(tmp, `${name}.raw`);
  if (!existsSync(raw)) run('qemu-img', ['convert', '-U', '-O', 'raw', image(id), raw]);
  const mm = run('mmls', [raw]).split('\n').find((l) => /\b000:001\b/.test(l));
  const offset = mm?.trim().split(/\s+/)[2];
  if (!offset) throw new Error(`mmls found no second partition in ${raw}`);
  return { raw, offset: String(Number(offset)) };
}

function readTree(raw: string, offset: string): Map<string, string> {
  const map = new Map<string, string>();
  for (const line of run('fls', ['-f', 'ufs1', '-o', offset, '-r', '-p', raw]).split('\n')) {
    const m = /^(\S+)\s+\*?\s*(\d+):\t(.*)$/.exec(line);
    if (m?.[2] && m[3]) map.set(m[3], m[2]);
  }
  return map;
}

function srcFiles(id: string, name: string): { files: Map<string, Buffer>; repoFile: (p: string) => Buffer } {
  const { raw, offset } = toRaw(id, name);
  const tree = readTree(raw, offset);
  const files = new Map<string, Buffer>();
  for (const [path, ino] of tree) {
    const m = /^opam\/src\/([^/]+)$/.exec(path);
    if (m?.[1]) files.set(m[1], runBuf('icat', ['-f', 'ufs1', '-o', offset, raw, ino]));
  }
  const repoFile = (p: string): Buffer => {
    const ino = tree.get(`opam/opam-repository/${p}`);
    if (!ino) throw new Error(`no ${p} in the repository tree`);
    return runBuf('icat', ['-f', 'ufs1', '-o', offset, raw, ino]);
  };
  return { files, repoFile };
}

// FFS struct direct records: d_ino u32, d_reclen u16, d_type u8, d_namlen u8, name; chained per 512 bytes.
function looksLikeFfsDirectoryBlock(buf: Buffer): boolean {
  let records = 0;
  for (let chunk = 0; chunk + 512 <= buf.length; chunk += 512) {
    let off = 0;
    while (off < 512) {
      const reclen = buf.readUInt16LE(chunk + off + 4);
      const namlen = buf[chunk + off + 7] ?? 0;
      if (reclen < 8 || reclen % 4 !== 0 || off + reclen > 512 || 8 + namlen > reclen) return false;
      off += reclen;
      records++;
    }
  }
  // the first record of a directory is "." (inode != 0, name ".")
  return records > 2 && buf.readUInt32LE(0) !== 0 && buf.toString('latin1', 8, 9) === '.';
}

beforeAll(() => {
  execFileSync('bash', [join(root, 'samples', 'build-store.sh')], { stdio: ['ignore', 'ignore', 'inherit'] });
  L = JSON.parse(readFileSync(join(out, 'layers.json'), 'utf8')) as LayersJson;
}, 600_000);

afterAll(() => {
  rmSync(tmp, { recursive: true, force: true });
});

describe('sample store layout', () => {
  it('has the obuilder directories, the base image, the layers and their logs', () => {
    expect(L.store).toBe(join(out, 'store'));
    for (const d of ['base-image', 'result', 'result-tmp', 'cache', 'cache-tmp', 'state']) {
      expect(statSync(join(L.store, d)).isDirectory()).toBe(true);
    }
    expect(readdirSync(join(L.store, 'result-tmp'))).toEqual([]);
    expect(existsSync(join(L.store, 'base-image', `${L.base}.qcow2`))).toBe(true);
    const ids = Object.values(L.layers);
    expect(new Set(ids).size).toBe(5);
    for (const id of ids) {
      expect(id).toMatch(HEX64);
      expect(statSync(image(id)).isFile()).toBe(true);
      expect(existsSync(join(L.store, 'result', id, 'log'))).toBe(true);
    }
    // The store also holds the OpenBSD-shaped sample's layers (samples/out/openbsd.json).
    const openbsd = Object.values((JSON.parse(readFileSync(join(out, 'openbsd.json'), 'utf8')) as { layers: Record<string, string> }).layers);
    expect(readdirSync(join(L.store, 'result')).sort()).toEqual([...ids, ...openbsd].sort());
    expect(statSync(L.sshKey).mode & 0o077).toBe(0);
  });

  it('records the layers in state/db.sqlite with their parents', () => {
    const require = createRequire(join(root, 'package.json'));
    const Database = require('better-sqlite3') as typeof import('better-sqlite3');
    const db = new Database(join(L.store, 'state', 'db.sqlite'), { readonly: true, fileMustExist: true });
    const all = db.prepare('SELECT id, created, used, rc, parent FROM builds ORDER BY created').all() as { id: string; created: string; rc: number; parent: string | null }[];
    db.close();
    // The Linux sample's rows (the OpenBSD-shaped sample has its own, in the same table).
    const linux = new Set(Object.values(L.layers));
    const rows = all.filter((r) => linux.has(r.id));
    expect(all).toHaveLength(10);
    const byId = new Map(rows.map((r) => [r.id, r]));
    expect(rows).toHaveLength(5);
    expect(byId.get(L.layers.from)?.parent).toBeNull();
    expect(byId.get(L.layers.opamRepo)?.parent).toBe(L.layers.from);
    expect(byId.get(L.layers.copyCorrupt)?.parent).toBe(L.layers.opamRepo);
    expect(byId.get(L.layers.runOnTop)?.parent).toBe(L.layers.copyCorrupt);
    expect(byId.get(L.layers.copyClean)?.parent).toBe(L.layers.opamRepo);
    expect(byId.get(L.layers.opamRepo)?.rc).toBe(2);
  });

  it('names the corrupted copy layer in the committed job log', () => {
    const log = readFileSync(join(root, 'samples', 'job.log'), 'utf8');
    expect(log).toContain(`(from ${L.base})`);
    expect(log).toContain(`---> saved as "${L.layers.copyCorrupt}"`);
    expect(log).toMatch(/\/: \(copy \(src tls\.opam[^]*?\(dst \/home\/opam\/src\/\.\/\)\)/);
    expect(log).toContain('tls.opam:1:0-1:1::');
  });
});

describe('backing chains', () => {
  const parents: [keyof LayersJson['layers'], keyof LayersJson['layers'] | 'base'][] = [
    ['from', 'base'], ['opamRepo', 'from'], ['copyCorrupt', 'opamRepo'], ['runOnTop', 'copyCorrupt'], ['copyClean', 'opamRepo'],
  ];
  it('uses absolute backing paths that resolve down to the base image', () => {
    const baseImg = join(L.store, 'base-image', `${L.base}.qcow2`);
    for (const [layer, parent] of parents) {
      const c = chain(image(L.layers[layer]));
      const top = c[0];
      const backing = top?.['backing-filename'];
      expect(backing, layer).toBeDefined();
      expect(isAbsolute(backing ?? ''), `${layer} backing ${backing}`).toBe(true);
      expect(backing).toBe(parent === 'base' ? baseImg : image(L.layers[parent]));
      for (const e of c.slice(0, -1)) expect(isAbsolute(e['backing-filename'] ?? '')).toBe(true);
      expect(c.at(-1)?.filename).toBe(baseImg);
      expect(c.at(-1)?.['backing-filename']).toBeUndefined();
    }
  });

  it('keeps only each step\'s writes in its layer', () => {
    const size = (k: keyof LayersJson['layers']): number => statSync(image(L.layers[k])).size;
    const base = statSync(join(L.store, 'base-image', `${L.base}.qcow2`)).size;
    expect(size('from')).toBeLessThan(512 * 1024);
    expect(size('copyCorrupt')).toBeLessThan(1024 * 1024);
    expect(size('copyClean')).toBeLessThan(1024 * 1024);
    expect(size('runOnTop')).toBeLessThan(1024 * 1024);
    expect(size('opamRepo')).toBeLessThan(base / 2);
    // data clusters held by the copy layer itself (not its backing files)
    const map = JSON.parse(run('qemu-img', ['map', '-U', '--output=json', image(L.layers.copyCorrupt)])) as { length: number; depth: number; data: boolean }[];
    const own = map.filter((m) => m.depth === 0 && m.data).reduce((n, m) => n + m.length, 0);
    expect(own).toBeGreaterThan(0);
    expect(own).toBeLessThanOrEqual(256 * 1024);
  });
});

describe('files in /home/opam/src read with The Sleuth Kit', () => {
  it('shows the three soft-updates corruptions in the copy layer, sizes unchanged', () => {
    const { files, repoFile } = srcFiles(L.layers.copyCorrupt, 'copy-corrupt');
    expect([...files.keys()].sort()).toEqual([...SOURCES].sort());
    for (const n of SOURCES) expect(files.get(n)?.length, n).toBe(expected.get(n)?.length);
    for (const n of ['tls-mirage.opam', 'tls-eio.opam', 'tls-miou-unix.opam']) expect(files.get(n)?.equals(expected.get(n) ?? Buffer.alloc(0)), n).toBe(true);

    const tls = files.get('tls.opam') ?? Buffer.alloc(0);
    expect(tls.equals(expected.get('tls.opam') ?? Buffer.alloc(0))).toBe(false);
    expect(looksLikeFfsDirectoryBlock(tls)).toBe(true);

    const asyncFile = files.get('tls-async.opam') ?? Buffer.alloc(0);
    const stale = repoFile(L.staleSource);
    expect(L.corrupted['tls-async.opam']).toBe('foreign-text');
    const text = asyncFile.subarray(0, Math.min(stale.length, asyncFile.length));
    expect(text.equals(stale.subarray(0, text.length))).toBe(true);
    expect(asyncFile.subarray(text.length).every((b) => b === 0)).toBe(true);

    expect((files.get('tls-lwt.opam') ?? Buffer.from('x')).every((b) => b === 0)).toBe(true);
  });

  it('inherits the same corruption in the run layer on top', () => {
    const { files } = srcFiles(L.layers.runOnTop, 'run-on-top');
    expect(files.get('tls-lwt.opam')?.every((b) => b === 0)).toBe(true);
    expect(files.get('tls-eio.opam')?.equals(expected.get('tls-eio.opam') ?? Buffer.alloc(0))).toBe(true);
  });

  it('shows all six files intact in the clean sibling copy', () => {
    const { files } = srcFiles(L.layers.copyClean, 'copy-clean');
    expect([...files.keys()].sort()).toEqual([...SOURCES].sort());
    for (const n of SOURCES) expect(files.get(n)?.equals(expected.get(n) ?? Buffer.alloc(0)), n).toBe(true);
  });
});

async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      s.close(() => res(port));
    });
  });
}

async function untar(buf: Buffer): Promise<Map<string, number>> {
  const sizes = new Map<string, number>();
  const ex = tar.extract();
  ex.on('entry', (h, stream, next) => {
    if (h.type === 'file') sizes.set(h.name.replace(/^\.\//, ''), h.size ?? -1);
    stream.on('end', next);
    stream.resume();
  });
  const done = new Promise<void>((res, rej) => { ex.on('finish', res); ex.on('error', rej); });
  ex.end(buf);
  await done;
  return sizes;
}

describe('booting the corrupted copy layer under TCG', () => {
  let qemu: ChildProcess | undefined;
  afterAll(() => {
    if (qemu && qemu.exitCode === null) qemu.kill('SIGKILL');
  });

  it('answers SSH as opam and streams /home/opam/src with busybox tar', async () => {
    const dir = mkdtempSync(join(tmp, 'boot-'));
    const overlay = join(dir, 'overlay.qcow2');
    run('qemu-img', ['create', '-q', '-f', 'qcow2', '-b', image(L.layers.copyCorrupt), '-F', 'qcow2', overlay]);
    const port = await freePort();
    qemu = spawn('qemu-system-x86_64', [
      '-machine', 'accel=tcg,type=pc', '-display', 'none', '-m', '2G', '-smp', '2',
      '-device', 'virtio-net,netdev=net0',
      '-netdev', `user,id=net0,restrict=yes,hostfwd=tcp:127.0.0.1:${port}-:22`,
      '-drive', `file=${overlay},if=virtio`, '-serial', `file:${join(dir, 'console.log')}`,
    ], { stdio: 'ignore' });
    const ssh = (cmd: string, timeout: number) => spawnSync('ssh', [
      '-i', L.sshKey, '-p', String(port), '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=no',
      '-o', 'UserKnownHostsFile=/dev/null', '-o', 'LogLevel=ERROR', '-o', 'ConnectTimeout=3',
      `${L.sshUser}@127.0.0.1`, cmd,
    ], { timeout, maxBuffer: 16 << 20 });

    const t0 = Date.now();
    let up = false;
    while (Date.now() - t0 < 60_000 && qemu.exitCode === null) {
      if (ssh('true', 10_000).status === 0) { up = true; break; }
      await new Promise((r) => setTimeout(r, 300));
    }
    const console_ = existsSync(join(dir, 'console.log')) ? readFileSync(join(dir, 'console.log'), 'utf8') : '';
    expect(up, `no SSH within 60 s; console:\n${console_}`).toBe(true);
    console.error(`sample guest: SSH answered after ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    expect(readFileSync(join(dir, 'console.log'), 'utf8')).toContain('layer-forensics-guest: ready');

    const r = ssh(`tar -C ${L.dst} -cf - .`, 30_000);
    expect(r.status, String(r.stderr)).toBe(0);
    const sizes = await untar(r.stdout);
    expect([...sizes.keys()].sort()).toEqual([...SOURCES].sort());
    for (const n of SOURCES) expect(sizes.get(n), n).toBe(expected.get(n)?.length);

    qemu.kill('SIGKILL');
  }, 120_000);
});
