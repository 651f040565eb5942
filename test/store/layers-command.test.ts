import path from 'node:path';
import yargs from 'yargs';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { layersCommand, runLayers } from '../../src/cli/layers-command.js';
import { LAYERS_SCHEMA } from '../../src/report/schema.js';
import { UserError } from '../../src/util/errors.js';
import { layerImage, makeStdStore, removeAll, tempDir, userError, writeRandom, type StdStore } from './helpers.js';

let tmp: string;
let s: StdStore;

function capture(): { out: { stdout: { write(x: string): boolean }; stderr: { write(x: string): boolean } }; stdout: () => string; stderr: () => string } {
  let o = '';
  let e = '';
  return {
    out: {
      stdout: { write: (x: string) => ((o += x), true) },
      stderr: { write: (x: string) => ((e += x), true) },
    },
    stdout: () => o,
    stderr: () => e,
  };
}

beforeAll(async () => {
  tmp = await tempDir('lf-layers-cmd-');
  s = await makeStdStore(path.join(tmp, 'store'));
  await writeRandom(layerImage(s.root, 'e'.repeat(64)), 1024);
});
afterAll(async () => {
  await removeAll(tmp);
});

describe('layers --json', () => {
  test('exactly one JSON document with the contract fields', async () => {
    const c = capture();
    await runLayers({ store: `qemu:${s.root}`, json: true }, c.out);
    expect(c.stderr()).toBe('');
    const doc = JSON.parse(c.stdout()) as { schema: string; layers: Record<string, unknown>[] };
    expect(doc.schema).toBe(LAYERS_SCHEMA);
    const ids = doc.layers.map((l) => l.id).filter((id) => id !== 'e'.repeat(64));
    expect(ids).toEqual([s.c, s.b, s.a]);
    for (const l of doc.layers) {
      for (const k of ['id', 'parent', 'base', 'created', 'chainDepth', 'image', 'bytes']) expect(l).toHaveProperty(k);
    }
    const byId = new Map(doc.layers.map((l) => [l.id, l]));
    expect(byId.get(s.c)).toMatchObject({
      id: s.c,
      parent: s.b,
      base: 'debian-12',
      created: '2026-06-29T16:03:10.000Z',
      chainDepth: 4,
      image: layerImage(s.root, s.c),
    });
    expect(byId.get(s.a)).toMatchObject({ id: s.a, parent: null, base: 'debian-12' });
    const junk = doc.layers.find((l) => l.id === 'e'.repeat(64))!;
    expect(junk.chainError).toMatch(/not a qcow2 image \(bad magic\)/);
  });
});

describe('layers (table)', () => {
  test('short ids, parent, created, depth, human bytes, image; broken layers explained', async () => {
    const c = capture();
    await runLayers({ store: s.root }, c.out);
    const lines = c.stdout().split('\n');
    expect(lines[0]).toMatch(/^ID\s+PARENT\s+CREATED \(UTC\)\s+DEPTH\s+BYTES\s+AUDIT\s+IMAGE$/);
    const row = lines.find((l) => l.startsWith(s.c.slice(0, 12)))!;
    expect(row).toContain(s.b.slice(0, 12));
    expect(row).toContain('2026-06-29 16:03:10');
    expect(row).toMatch(/\s4\s/);
    expect(row).toMatch(/\d+(\.\d)? (B|KiB|MiB)/);
    expect(row).toContain(layerImage(s.root, s.c));
    expect(lines.find((l) => l.startsWith(s.a.slice(0, 12)))).toContain('base:debian-12');
    expect(c.stdout()).toContain(`${'e'.repeat(12)}!`);
    expect(c.stdout()).toMatch(/1 layer marked ! cannot be used:\n {2}layer e{64}: .*bad magic/);
  });

  test('a bad store is a UserError', async () => {
    const err = await userError(runLayers({ store: path.join(tmp, 'missing') }, capture().out));
    expect(err).toBeInstanceOf(UserError);
    expect(err.message).toBe(`store ${path.join(tmp, 'missing')}: does not exist`);
  });
});

describe('the yargs command module', () => {
  test('parses --store and --json, and has --help', async () => {
    const help = await new Promise<string>((resolve) => {
      void layersCommand(yargs())
        .exitProcess(false)
        .help()
        .parse('layers --help', (_e: unknown, _a: unknown, out: string) => resolve(out));
    });
    expect(help).toContain('--store');
    expect(help).toContain('--json');
    let failed = '';
    try {
      await layersCommand(yargs(['layers']))
        .exitProcess(false)
        .fail((msg: string) => {
          failed = msg;
          throw new UserError(msg);
        })
        .parseAsync();
    } catch {
      // the fail handler's UserError, as in main.ts
    }
    expect(failed).toMatch(/store/);
  });
});
