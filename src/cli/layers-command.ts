// `layer-forensics layers --store S [--json]`: the layers of a store, newest first (design.md
// sections 4 and 5). Read-only: the store is listed, never written.

import type { Argv } from 'yargs';
import { LAYERS_SCHEMA } from '../report/schema.js';
import { escapeText } from '../report/escape.js';
import { humanBytes } from '../report/format.js';
import { toSafeJson } from '../report/json.js';
import { openStore, type Layer } from '../store/store.js';
import { readCachedVerdicts } from '../audit/cache.js';
import type { AuditLine } from '../audit/types.js';
import { lastString } from './options.js';

interface LayersArgs {
  store: string;
  json?: boolean;
}

/** One entry of `layer-forensics.layers/v1`. The first seven fields are the contract. */
export type LayersEntry = Pick<
  Layer,
  'id' | 'parent' | 'base' | 'created' | 'chainDepth' | 'image' | 'bytes' | 'chain' | 'rc' | 'used' | 'log' | 'inDb' | 'chainError' | 'warnings'
> & {
  /** The layer's last audit result from the audit's cache (`layer-forensics audit`); null when there is none or the image changed since. */
  audit: LayerAuditField | null;
};

/** What `layers` shows of a cached audit line. */
export interface LayerAuditField {
  verdict: AuditLine['verdict'];
  /** Damaged files found. */
  files: number;
  auditedAt: string;
}

function auditField(a: AuditLine | undefined): LayerAuditField | null {
  return a ? { verdict: a.verdict, files: a.files.length, auditedAt: a.auditedAt } : null;
}

/** The AUDIT column: the cached verdict, short. */
function auditCell(a: AuditLine | undefined): string {
  if (!a) return '-';
  if (a.verdict === 'soft-updates-data-loss' || a.verdict === 'other-corruption') return `corrupt (${a.files.length})`;
  return a.verdict;
}

export interface LayersDocument {
  schema: typeof LAYERS_SCHEMA;
  /** The store root listed. */
  store: string;
  layers: LayersEntry[];
  /** Problems met reading the store's metadata (e.g. an unreadable state/db.sqlite). */
  warnings: string[];
}

export function layersDocument(root: string, layers: readonly Layer[], warnings: readonly string[] = [], audits: ReadonlyMap<string, AuditLine> = new Map()): LayersDocument {
  return {
    schema: LAYERS_SCHEMA,
    store: root,
    layers: layers.map((l) => {
      const e: LayersEntry = {
        id: l.id,
        parent: l.parent,
        base: l.base,
        created: l.created,
        chainDepth: l.chainDepth,
        image: l.image,
        bytes: l.bytes,
        chain: l.chain,
        rc: l.rc,
        used: l.used,
        log: l.log,
        inDb: l.inDb,
        audit: auditField(audits.get(l.id)),
      };
      if (l.chainError !== undefined) e.chainError = l.chainError;
      if (l.warnings) e.warnings = l.warnings;
      return e;
    }),
    warnings: [...warnings],
  };
}

/** `2026-06-29T16:02:38.000Z` → `2026-06-29 16:02:38`. */
function shortTime(iso: string | null): string {
  if (!iso) return '-';
  const m = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})/.exec(iso);
  return m ? `${m[1]} ${m[2]}` : iso;
}

/** The human table: one row per layer, then one line per broken layer saying why. */
export function renderLayersTable(root: string, layers: readonly Layer[], audits: ReadonlyMap<string, AuditLine> = new Map()): string {
  if (layers.length === 0) return `No layers in store ${escapeText(root)}.\n`;
  const header = ['ID', 'PARENT', 'CREATED (UTC)', 'DEPTH', 'BYTES', 'AUDIT', 'IMAGE'];
  const rows = layers.map((l) => [
    l.id.slice(0, 12) + (l.chainError !== undefined ? '!' : ''),
    l.parent ? l.parent.slice(0, 12) : l.base ? `base:${escapeText(l.base)}` : '-',
    shortTime(l.created),
    String(l.chainDepth),
    humanBytes(l.bytes),
    auditCell(audits.get(l.id)),
    escapeText(l.image),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const right = new Set([3, 4]);
  const fmt = (r: string[]): string =>
    r
      .map((c, i) => {
        if (i === r.length - 1) return c;
        const w = widths[i] ?? 0;
        return right.has(i) ? c.padStart(w) : c.padEnd(w);
      })
      .join('  ');
  const lines = [fmt(header), ...rows.map(fmt)];
  const broken = layers.filter((l) => l.chainError !== undefined);
  if (broken.length > 0) {
    lines.push('');
    lines.push(`${broken.length} layer${broken.length === 1 ? '' : 's'} marked ! cannot be used:`);
    for (const l of broken) lines.push(`  ${escapeText(l.chainError ?? '')}`);
  }
  const warned = layers.filter((l) => l.warnings && l.warnings.length > 0);
  for (const l of warned) for (const w of l.warnings ?? []) lines.push(`warning: ${escapeText(w)}`);
  return lines.join('\n') + '\n';
}

export interface LayersOutput {
  stdout: { write(s: string): unknown };
  stderr: { write(s: string): unknown };
}

/** Run the command: list the store and print it. Throws `UserError` for a bad store. */
export async function runLayers(args: LayersArgs, out: LayersOutput = process): Promise<void> {
  const store = await openStore(args.store);
  const layers = await store.listLayers();
  // The audit's cached verdicts (cheap: no layer is read).
  const audits = await readCachedVerdicts(store.root);
  if (args.json) {
    out.stdout.write(toSafeJson(layersDocument(store.root, layers, store.warnings, audits), 2) + '\n');
    return;
  }
  for (const w of store.warnings) out.stderr.write(`layer-forensics: warning: ${escapeText(w)}\n`);
  out.stdout.write(renderLayersTable(store.root, layers, audits));
}

function builder(y: Argv) {
  return y
    .option('store', { type: 'string', coerce: lastString, demandOption: true, requiresArg: true, describe: 'The obuilder QEMU store: qemu:/path or /path' })
    .option('json', { type: 'boolean', describe: `Print exactly one JSON document (${LAYERS_SCHEMA}) on stdout` });
}

export function layersCommand<T>(y: Argv<T>) {
  return y.command('layers', 'List the layers of a store, newest first: id, parent, created, chain depth, bytes held, image', builder, async (args) => {
    await runLayers({ store: args.store, json: args.json });
  });
}
