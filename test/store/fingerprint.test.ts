import { appendFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { fingerprintChanges, fingerprintFiles } from '../../src/store/fingerprint.js';
import { openStore } from '../../src/store/store.js';
import { makeStdStore, removeAll, sha256File, tempDir, userError, type StdStore } from './helpers.js';

let tmp: string;
let s: StdStore;
beforeAll(async () => {
  tmp = await tempDir('lf-fp-');
  s = await makeStdStore(path.join(tmp, 'store'));
});
afterAll(async () => {
  await removeAll(tmp);
});

test('a chain fingerprinted twice is unchanged; a write to the base is seen', async () => {
  const layer = await (await openStore(s.root)).getLayer(s.c);
  const before = await fingerprintFiles(layer.chain, { hash: true });
  expect(before.map((f) => f.path)).toEqual(layer.chain);
  expect(before[0]!.sha256).toBe(await sha256File(layer.chain[0]!));
  expect(fingerprintChanges(before, await fingerprintFiles(layer.chain, { hash: true }))).toEqual([]);
  const base = layer.chain[layer.chain.length - 1]!;
  await appendFile(base, Buffer.alloc(512));
  const changes = fingerprintChanges(before, await fingerprintFiles(layer.chain, { hash: true }));
  expect(changes).toContain(`${base}: size ${before[3]!.size} -> ${before[3]!.size + 512}`);
  expect(changes).toContain(`${base}: sha256 changed`);
  expect((await userError(fingerprintFiles([path.join(tmp, 'gone')]))).message).toMatch(/gone: does not exist/);
});
