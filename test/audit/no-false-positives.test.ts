// The hard requirement: a layer whose step wrote everything it meant to (no `lose`) is never
// `soft-updates-data-loss`, whatever the step did. fast-check draws the steps: files of text,
// binary, zeros or a mix (zero pages inside), of any size, in busy or empty cylinder groups;
// identical rewrites (truncated or unlinked first), a deleted file's bytes written again under
// another name on the blocks it freed, appends, truncation both ways, renames, hard links,
// symlinks, deletions, directories made and removed, chmod. Each draw is two layers on a base;
// both must come out `clean` or `inconclusive` (with a reason), never with a damaged file.

import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, describe, expect, test } from 'vitest';
import type { LayerFs } from '../../bench/store-generator.js';
import { auditLayer } from '../../src/audit/audit-layer.js';
import { classifyStale } from '../../src/audit/stale-content.js';
import { openStore } from '../../src/store/store.js';
import { makeStore, removeTempDirs } from './stores.js';

afterAll(removeTempDirs);

const OPS = ['write', 'write', 'write', 'rewrite-same', 'rewrite-unlinked', 'copy-of-deleted', 'append', 'truncate', 'rename', 'link', 'symlink', 'unlink', 'mkdir-rmdir', 'chmod'] as const;
type Op = { op: (typeof OPS)[number]; size: number; content: 'text' | 'binary' | 'zeros' | 'mixed'; pick: number; cg: number };

const opArb: fc.Arbitrary<Op> = fc.record({
  op: fc.constantFrom(...OPS),
  size: fc.oneof(fc.integer({ min: 0, max: 5000 }), fc.integer({ min: 5000, max: 300_000 })),
  content: fc.constantFrom('text', 'binary', 'zeros', 'mixed'),
  pick: fc.nat(),
  cg: fc.constantFrom(0, 1, 3, 150, 151),
});

function bytesOf(content: Op['content'], size: number): Buffer {
  switch (content) {
    case 'text':
      return Buffer.from('opam-version: "2.0"\nname: "pkg"\n'.repeat(Math.ceil(size / 32)).slice(0, size));
    case 'binary':
      return randomBytes(size);
    case 'zeros':
      return Buffer.alloc(size);
    case 'mixed': {
      // An object file's shape: data, a run of zero pages, data.
      const b = randomBytes(size);
      b.fill(0, Math.floor(size / 4), Math.floor((3 * size) / 4));
      return b;
    }
  }
}

/** Apply the ops to a layer; `files` is what exists (shared by the layers of one draw). */
function apply(fs: LayerFs, ops: Op[], files: string[], tag: string): void {
  const h = fs.home;
  const pick = (n: number): string | undefined => (files.length ? files[n % files.length] : undefined);
  ops.forEach((o, i) => {
    const name = `/opam/p/${tag}-${i}`;
    const f = pick(o.pick);
    switch (o.op) {
      case 'write':
        h.writeFile(name, bytesOf(o.content, o.size), { cg: o.cg });
        files.push(name);
        break;
      case 'rewrite-same':
      case 'rewrite-unlinked':
        if (f) h.writeFile(f, h.readFile(f), { replace: o.op === 'rewrite-same' ? 'truncate' : 'unlink', cg: o.cg });
        break;
      case 'copy-of-deleted':
        if (f) {
          const data = h.readFile(f);
          h.unlink(f);
          files.splice(files.indexOf(f), 1);
          h.writeFile(name, data, { cg: o.cg });
          files.push(name);
        }
        break;
      case 'append':
        if (f) h.append(f, bytesOf(o.content, o.size % 40_000));
        break;
      case 'truncate':
        if (f) h.truncate(f, o.pick % 2 ? Math.floor(h.stat(f).size / 2) : h.stat(f).size + o.size);
        break;
      case 'rename':
        if (f) {
          h.rename(f, name);
          files[files.indexOf(f)] = name;
        }
        break;
      case 'link':
        if (f) h.link(f, `${name}.link`);
        break;
      case 'symlink':
        h.symlink(name, o.pick % 2 ? 'short' : `${'../'.repeat(50)}long-target`);
        break;
      case 'unlink':
        if (f) {
          h.unlink(f);
          files.splice(files.indexOf(f), 1);
        }
        break;
      case 'mkdir-rmdir':
        h.mkdir(`${name}.d`);
        if (o.pick % 2) h.rmdir(`${name}.d`);
        break;
      case 'chmod':
        if (f) h.chmod(f, 0o600);
        break;
    }
  });
}

describe('no false positives', () => {
  test(
    'layers that wrote all they meant to are never corrupt',
    async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 20 }), fc.array(opArb, { minLength: 1, maxLength: 20 }), async (first, second) => {
          const files: string[] = [];
          const { store: g } = await makeStore({
            seed: 41,
            diskSize: 8 * 2 ** 30,
            script: [
              { parent: null, step: (fs) => (fs.home.mkdir('/opam/p'), apply(fs, first, files, 'a')) },
              { step: (fs) => apply(fs, second, files, 'b') },
            ],
          });
          const store = await openStore(g.spec);
          for (const l of await store.listLayers()) {
            const r = await auditLayer(l.links);
            expect(r.files).toEqual([]);
            expect(['clean', 'inconclusive']).toContain(r.verdict);
            if (r.verdict === 'inconclusive') expect(r.notes.length).toBeGreaterThan(0);
          }
        }),
        { numRuns: 12, seed: 20260701 },
      );
    },
    240_000,
  );

  test('an emptied directory chunk (its entries removed) is directory data, not binary', async () => {
    const b = Buffer.alloc(1024);
    b.writeUInt32LE(5, 0);
    b.writeUInt16LE(12, 4);
    b[6] = 4;
    b[7] = 1;
    b.write('.', 8);
    b.writeUInt32LE(2, 12);
    b.writeUInt16LE(500, 16);
    b[18] = 4;
    b[19] = 2;
    b.write('..', 20);
    b.write('a-removed-entry-name', 32);
    b.writeUInt32LE(0, 512);
    b.writeUInt16LE(512, 516);
    b[519] = 20;
    b.write('another-removed-name', 520);
    const c = await classifyStale(b, 1 << 20);
    expect(c.class).toBe('directory-block');
    expect(c.detail.entries).toEqual(['.', '..']);
  });
});
