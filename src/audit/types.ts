// The audit's output, NDJSON schema `layer-forensics.audit/v1` (design.md section 5; the JSON
// Schema is docs/audit.schema.json): one line per layer as it finishes, then a summary line.
// The contract's fields come first in each type; the others are additions (fields may be added,
// none of the contract's renamed or dropped without a new schema version).

import type { FileClass, Provenance } from '../report/schema.js';

export const AUDIT_SCHEMA = 'layer-forensics.audit/v1';

export type AuditLineVerdict = 'clean' | 'soft-updates-data-loss' | 'other-corruption' | 'inconclusive' | 'error';

export interface AuditLineFile {
  /** The absolute guest path (mount point from the root partition's /etc/fstab), escaped. */
  path: string;
  class: FileClass;
  provenance: Provenance | null;
  /** One line: what the blocks show. */
  evidence: string;
  /** Added: the file's size in bytes. */
  size: number | null;
}

export interface AuditLine {
  schema: typeof AUDIT_SCHEMA;
  type: 'layer';
  /** The full layer id. */
  layer: string;
  parent: string | null;
  verdict: AuditLineVerdict;
  files: AuditLineFile[];
  /** Why the layer could not be read (verdict `error`), else null. */
  error: string | null;
  /** Whether this line comes from the result cache. */
  cached: boolean;
  /** Milliseconds this layer took in this run (a cache read for a cached line). */
  ms: number;
  /** Added: the layer's creation time (ISO 8601) when known. */
  created: string | null;
  /** Added: images in its chain, the layer and the base included. */
  chainDepth: number;
  /** Added: why the evidence cannot decide (inconclusive), or what could not be compared. */
  notes: string[];
  /** Added: when the layer was audited (ISO 8601; older than this run for a cached line). */
  auditedAt: string;
  /** Added: milliseconds the audit of this layer took when it was audited. */
  auditMs: number;
}

export interface AuditSummary {
  schema: typeof AUDIT_SCHEMA;
  type: 'summary';
  /** Layer lines printed. */
  layers: number;
  clean: number;
  /** Layers whose verdict is `soft-updates-data-loss` or `other-corruption`. */
  corrupt: number;
  inconclusive: number;
  errors: number;
  /** Wall-clock milliseconds of the whole audit. */
  ms: number;
  /** Added: layers selected (equal to `layers` unless interrupted), lines from the cache, and whether Ctrl-C stopped the audit. */
  selected: number;
  cached: number;
  interrupted: boolean;
}

const VERDICTS: ReadonlySet<string> = new Set(['clean', 'soft-updates-data-loss', 'other-corruption', 'inconclusive', 'error']);

function isObj(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function isProvenance(x: unknown): boolean {
  if (x === null) return true;
  if (!isObj(x)) return false;
  return typeof x.source === 'string' && typeof x.path === 'string' && typeof x.root === 'string' && typeof x.matchedBytes === 'number' && typeof x.offset === 'number';
}

function isFile(x: unknown): x is AuditLineFile {
  return isObj(x) && typeof x.path === 'string' && typeof x.class === 'string' && typeof x.evidence === 'string' && isProvenance(x.provenance) && (x.size === null || typeof x.size === 'number');
}

/** A structural check of a layer line (for the cache: what is read back is never trusted unchecked). */
export function isAuditLine(x: unknown): x is AuditLine {
  if (!isObj(x)) return false;
  return (
    x.schema === AUDIT_SCHEMA &&
    x.type === 'layer' &&
    typeof x.layer === 'string' &&
    /^[0-9a-f]{64}$/.test(x.layer) &&
    (x.parent === null || typeof x.parent === 'string') &&
    typeof x.verdict === 'string' &&
    VERDICTS.has(x.verdict) &&
    Array.isArray(x.files) &&
    x.files.every(isFile) &&
    (x.error === null || typeof x.error === 'string') &&
    typeof x.cached === 'boolean' &&
    typeof x.ms === 'number' &&
    (x.created === null || typeof x.created === 'string') &&
    typeof x.chainDepth === 'number' &&
    Array.isArray(x.notes) &&
    x.notes.every((n) => typeof n === 'string') &&
    typeof x.auditedAt === 'string' &&
    typeof x.auditMs === 'number'
  );
}

/** Whether a verdict counts as corruption (exit status 1). */
export function isCorrupt(v: AuditLineVerdict): boolean {
  return v === 'soft-updates-data-loss' || v === 'other-corruption';
}
