// A whole generated store (bench/store-generator.ts), audited the way `audit` does it (worker
// threads, the cache), against the generator's ground truth: every injected loss found with the
// right files, classes and parent-layer owner, every other layer (the legit tricky ones included)
// clean; every line valid against docs/audit.schema.json. And the store itself is what obuilder
// makes: qcow2 layers holding only their own clusters, absolute backing paths, a db row each.

import { execa } from 'execa';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { LOSS_KINDS, TRICKY_KINDS, type GeneratedStore } from '../../bench/store-generator.js';
import { ownRanges } from '../../src/audit/own-clusters.js';
import { runAudit } from '../../src/audit/run-audit.js';
import type { AuditLine, AuditSummary } from '../../src/audit/types.js';
import { readQcow2HeaderSync } from '../../src/image/qcow2-header.js';
import { toSafeJson } from '../../src/report/json.js';
import { openStore, type Layer } from '../../src/store/store.js';
import { JsonSchema } from './json-schema.js';
import { makeStore, removeTempDirs } from './stores.js';

const schema = new JsonSchema(JSON.parse(readFileSync(new URL('../../docs/audit.schema.json', import.meta.url), 'utf8')) as Record<string, unknown>);

let gen: GeneratedStore;
let cacheDir: string;
let layers: Layer[];
const lines: AuditLine[] = [];
let summary: AuditSummary;

beforeAll(async () => {
  ({ store: gen, cacheDir } = await makeStore({ layers: 90, seed: 7 }));
  layers = await (await openStore(gen.spec)).listLayers();
  summary = await runAudit({ store: gen.spec, jobs: 2, cacheDir }, { onLine: (l) => lines.push(l) });
}, 300_000);
afterAll(removeTempDirs);

describe('the generated store', () => {
  test('has every loss kind and every tricky kind, a few percent corrupt, chains up to 20 deep, branching', () => {
    const kinds = new Set(gen.layers.map((l) => l.kind));
    for (const k of [...LOSS_KINDS, ...TRICKY_KINDS]) expect(kinds).toContain(k);
    const corrupt = gen.layers.filter((l) => l.expect === 'soft-updates-data-loss').length;
    expect(corrupt).toBeGreaterThanOrEqual(LOSS_KINDS.length);
    expect(corrupt / gen.layers.length).toBeLessThan(0.15);
    const depths = gen.layers.map((l) => l.chainDepth);
    expect(Math.max(...depths)).toBeLessThanOrEqual(20);
    expect(Math.max(...depths)).toBeGreaterThanOrEqual(8);
    const children = new Map<string, number>();
    for (const l of gen.layers) if (l.parent) children.set(l.parent, (children.get(l.parent) ?? 0) + 1);
    expect([...children.values()].some((n) => n >= 2)).toBe(true);
    for (const l of gen.layers) expect(l.filesWritten).toBeLessThanOrEqual(50 + 12);
  });

  test('is an obuilder store: absolute backing paths, a db row per layer, the chains resolve', async () => {
    expect(layers).toHaveLength(gen.layers.length);
    const byId = new Map(gen.layers.map((l) => [l.id, l]));
    for (const l of layers) {
      const t = byId.get(l.id)!;
      expect(l.inDb).toBe(true);
      expect(l.chainError).toBeUndefined();
      expect(l.parent).toBe(t.parent);
      expect(l.chainDepth).toBe(t.chainDepth);
      const backing = readQcow2HeaderSync(l.image).backingFile!;
      expect(backing.startsWith('/')).toBe(true);
      expect(backing).toBe(t.parent ? `${gen.root}/result/${t.parent}/rootfs/image.qcow2` : gen.baseImage);
    }
  });

  test('a layer image holds only the clusters its step wrote, and qemu-img checks it clean', async () => {
    const t = gen.layers.find((l) => l.kind === 'normal' && l.chainDepth > 3)!;
    const img = layers.find((l) => l.id === t.id)!.image;
    const check = JSON.parse((await execa('qemu-img', ['check', '--output=json', img])).stdout) as Record<string, unknown>;
    expect(check['check-errors']).toBe(0);
    expect(check['allocated-clusters']).toBe(t.clusters);
    const map = JSON.parse((await execa('qemu-img', ['map', '--output=json', img])).stdout) as { depth: number; length: number; data: boolean }[];
    const own = map.filter((m) => m.depth === 0 && m.data).reduce((n, m) => n + m.length, 0);
    expect(own).toBe(t.clusters * 65536);
    // What the audit reads as the layer's own clusters, from its L1/L2 tables: the same.
    expect(ownRanges(img).bytes).toBe(own);
  });
});

describe('the audit against the ground truth', () => {
  test('a line per layer, and the summary counts them', () => {
    expect(lines).toHaveLength(gen.layers.length);
    expect(new Set(lines.map((l) => l.layer))).toEqual(new Set(gen.layers.map((l) => l.id)));
    const corrupt = gen.layers.filter((l) => l.expect !== 'clean').length;
    expect(summary).toMatchObject({ layers: gen.layers.length, corrupt, clean: gen.layers.length - corrupt, inconclusive: 0, errors: 0, cached: 0, interrupted: false });
  });

  test('every verdict, damaged file, class and owner is the truth', () => {
    const byId = new Map(lines.map((l) => [l.layer, l]));
    const mismatches: string[] = [];
    for (const t of gen.layers) {
      const l = byId.get(t.id)!;
      const got = { verdict: l.verdict, files: l.files.map((f) => ({ path: f.path, class: f.class, owner: f.provenance ? { layer: f.provenance.layer, path: f.provenance.path } : null })).sort((a, b) => a.path.localeCompare(b.path)) };
      const want = { verdict: t.expect, files: t.lost.map((f) => ({ path: f.path, class: f.class, owner: f.owner })).sort((a, b) => a.path.localeCompare(b.path)) };
      if (JSON.stringify(got) !== JSON.stringify(want)) mismatches.push(`${t.id.slice(0, 12)} (${t.kind}): got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
    }
    expect(mismatches).toEqual([]);
  });

  test('every NDJSON line (layer lines and the summary) is valid against docs/audit.schema.json', () => {
    for (const l of [...lines, summary]) {
      const text = toSafeJson(l);
      expect(text).not.toContain('\n');
      expect(schema.validate(JSON.parse(text))).toEqual([]);
    }
  });

  test('the schema refuses what the contract forbids', () => {
    const good = JSON.parse(toSafeJson(lines[0])) as Record<string, unknown>;
    expect(schema.validate({ ...good, verdict: 'corrupt' })).not.toEqual([]);
    const { cached: _cached, ...noCached } = good;
    expect(schema.validate(noCached)).not.toEqual([]);
    expect(schema.validate({ ...good, layer: 'abc' })).not.toEqual([]);
    expect(schema.validate({ ...good, files: [{ path: 'relative', class: 'zeros', provenance: null, evidence: 'x' }] })).not.toEqual([]);
    expect(schema.validate({ ...summary, type: 'layer' })).not.toEqual([]);
  });
});
