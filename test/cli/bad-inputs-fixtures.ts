// The stores, files and directories the rows of docs/bad-inputs.md run against: real qcow2 images
// made by qemu-img, each broken in one way. Every name a row uses is a `$NAME` here.

import { execa } from 'execa';
import { mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { baseImage, copyTree, fakeId, layerImage, makeStdStore, qemuImgCreate, rebaseUnsafe, tempDir, writeRandom } from '../store/helpers.js';
import { qemuImgCreateRetrying } from '../helpers/qemu-img-create.js';

export interface BadInputFixtures {
  /** `$NAME` → value, substituted in the commands and the expected lines. */
  vars: Record<string, string>;
  /** Stores whose every file must be unchanged after every row. */
  stores: string[];
  cleanup(): Promise<void>;
}

/** A layer of `root` on the base, whose header is then rewritten to point somewhere bad. */
async function badLayer(root: string, seed: string, base: string): Promise<string> {
  const id = fakeId(seed);
  await qemuImgCreate(layerImage(root, id), baseImage(root, base));
  return id;
}

async function encryptedLayer(root: string, seed: string): Promise<string> {
  const id = fakeId(seed);
  await mkdir(path.dirname(layerImage(root, id)), { recursive: true });
  await qemuImgCreateRetrying([
    '-q', '--object', 'secret,id=sec0,data=evidence', '-f', 'qcow2',
    '-o', 'encrypt.format=luks,encrypt.key-secret=sec0,encrypt.iter-time=10', layerImage(root, id), '64M',
  ]);
  return id;
}

export async function makeBadInputFixtures(): Promise<BadInputFixtures> {
  const dir = await tempDir('lf-bad-inputs-');
  const vars: Record<string, string> = { TMP: dir };

  // A good store (A <- B <- C on base debian-12, with a db), two layers sharing a prefix.
  const good = await makeStdStore(path.join(dir, 'store'));
  const twinA = `c0ffee${'1'.repeat(58)}`;
  const twinB = `c0ffee${'2'.repeat(58)}`;
  for (const id of [twinA, twinB]) await qemuImgCreate(layerImage(good.root, id), baseImage(good.root, good.base));
  Object.assign(vars, { STORE: good.root, A: good.a, B: good.b, C: good.c });

  // One store whose layers are each broken in one way.
  const bad = path.join(dir, 'bad', 'store');
  await mkdir(path.join(bad, 'base-image'), { recursive: true });
  await qemuImgCreate(baseImage(bad, 'debian-12'));
  // ../../../../etc/passwd from bad/store/result/<id>/rootfs/ is bad/etc/passwd: a host file outside.
  const hostPasswd = path.join(dir, 'bad', 'etc', 'passwd');
  await mkdir(path.dirname(hostPasswd), { recursive: true });
  await writeFile(hostPasswd, 'root:x:0:0:root:/root:/bin/sh\n');
  const up = await badLayer(bad, 'up', 'debian-12');
  await rebaseUnsafe(layerImage(bad, up), '../../../../etc/passwd', 'raw');
  const abs = await badLayer(bad, 'abs', 'debian-12');
  await rebaseUnsafe(layerImage(bad, abs), '/etc/hostname', 'raw');
  const sym = await badLayer(bad, 'sym', 'debian-12');
  await symlink('/etc/passwd', path.join(bad, 'base-image', 'evil.qcow2'));
  await rebaseUnsafe(layerImage(bad, sym), path.join(bad, 'base-image', 'evil.qcow2'), 'raw');
  const raw = await badLayer(bad, 'raw', 'debian-12');
  await rebaseUnsafe(layerImage(bad, raw), layerImage(bad, up), 'raw');
  const junk = fakeId('junk');
  await writeRandom(layerImage(bad, junk), 4096);
  const enc = await encryptedLayer(bad, 'encrypted');
  const dataFile = fakeId('data-file');
  await mkdir(path.dirname(layerImage(bad, dataFile)), { recursive: true });
  await execa('qemu-img', ['create', '-q', '-f', 'qcow2', '-o', `data_file=${path.join(dir, 'host-data.raw')}`, layerImage(bad, dataFile), '64M']);
  const escaped = await badLayer(bad, 'escaped', 'debian-12');
  await rebaseUnsafe(layerImage(bad, escaped), '/nowhere/\x1b]0;pwned\x07\u009b2J\u202e', 'qcow2');
  const noImage = fakeId('no-image');
  await mkdir(path.join(bad, 'result', noImage, 'rootfs'), { recursive: true });
  const gone = await badLayer(bad, 'gone', 'debian-12');
  await rebaseUnsafe(layerImage(bad, gone), layerImage('/var/cache/obuilder', fakeId('never-built')), 'qcow2');
  Object.assign(vars, {
    BAD: bad,
    HOST_PASSWD: hostPasswd,
    UP: up,
    ABS: abs,
    SYM: sym,
    RAW: raw,
    JUNK: junk,
    ENC: enc,
    NOIMAGE: noImage,
    DATAFILE: dataFile,
    HOST_DATA: path.join(dir, 'host-data.raw'),
    ESCL: escaped,
    GONE: gone,
    NEVER: fakeId('never-built'),
  });

  // A copy of the good store without layer A, while the original (and A) still exist.
  const copy = path.join(dir, 'copy');
  await copyTree(good.root, copy);
  await rm(path.join(copy, 'result', good.a), { recursive: true });
  vars.COPY = copy;

  // Files and directories.
  vars.EXPECTED = path.join(dir, 'expected');
  await mkdir(vars.EXPECTED, { recursive: true });
  await writeFile(path.join(vars.EXPECTED, 'a.opam'), 'opam-version: "2.0"\n');
  vars.NOWHERE = path.join(dir, 'nowhere');
  vars.AFILE = path.join(dir, 'a-file');
  await writeFile(vars.AFILE, 'not a directory\n');
  vars.EMPTYDIR = path.join(dir, 'empty');
  await mkdir(vars.EMPTYDIR);
  vars.NOCOPY_LOG = path.join(dir, 'no-copy.log');
  await writeFile(vars.NOCOPY_LOG, `Building on worker-1\n(from debian-12)\n2026-06-29 16:02.38 ---> saved as "${good.a}"\n`);
  vars.ELSEWHERE_LOG = path.join(dir, 'elsewhere.log');
  await writeFile(
    vars.ELSEWHERE_LOG,
    `(from debian-12)\n/: (copy (src a.opam) (dst /home/opam/src/))\n2026-06-29 16:02.38 ---> saved as "${fakeId('another-worker')}"\n`,
  );
  vars.OTHER_ID = fakeId('another-worker');

  return { vars, stores: [good.root, bad, copy], cleanup: () => rm(dir, { recursive: true, force: true }) };
}
