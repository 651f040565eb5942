// What the terminal UI takes from the outside world (the real pipeline in inspect.tsx, fakes and
// recorded runs in the tests), and how it ends.

import type { AuditProgress } from '../audit/run-audit.js';
import type { AuditLine, AuditLineFile, AuditLineVerdict, AuditSummary } from '../audit/types.js';
import type { DiagnoseOptions, DiagnoseResult, DiagnoseVia, RunControl } from '../diagnose/types.js';
import type { Report, VerdictKind } from '../report/schema.js';
import type { Layer } from '../store/store.js';
import type { Exported } from './export.js';

/** An audit line's verdict (design.md section 5, `audit --json`). */
export type AuditVerdictKind = AuditLineVerdict;

/** What the Layers screen needs of an audit line (a layer-forensics.audit/v1 `layer` line). */
export type LayerAudit = Pick<AuditLine, 'layer' | 'verdict' | 'error' | 'cached' | 'ms'> & { files: Pick<AuditLineFile, 'path' | 'class'>[] };

/** What it needs of the audit's closing line. */
export type AuditTotals = Pick<AuditSummary, 'layers' | 'clean' | 'corrupt' | 'inconclusive' | 'errors' | 'ms'>;

export type { AuditProgress };

export interface AuditControl {
  onLine?(line: LayerAudit): void;
  onProgress?(p: AuditProgress): void;
  signal?: AbortSignal;
}

export interface TuiDeps {
  listLayers(): Promise<Layer[]>;
  run(opts: DiagnoseOptions, ctl: RunControl): Promise<DiagnoseResult>;
  exportReports(report: Report, dir: string): Promise<Exported>;
  /** Stop whatever is left (QEMU, overlays, temp dirs, images): the process-wide cleanups. */
  cleanup(): Promise<void>;
  /** The last audit verdict of each layer, from the audit's cache (no reading of layers). */
  cachedAudits(): Promise<ReadonlyMap<string, LayerAudit>>;
  /** Audit the whole store (design.md section 10); aborting stops it, and it resolves with the totals so far. */
  auditStore(ctl: AuditControl): Promise<AuditTotals>;
}

export interface JobLogChoice {
  file: string;
  step?: number;
  layerId: string;
  dst: string;
  src: string[];
  copyIndex?: number;
}

export interface TuiInit {
  /** The store as given, for the title. */
  store: string;
  /** Options for every run; the layer, sources, destination and way in come from the screens. */
  options: Omit<DiagnoseOptions, 'layer' | 'expected' | 'dst' | 'jobLog' | 'step'>;
  /** A layer given on the command line (full id): the Layers screen is skipped. */
  layer?: string;
  jobLog?: JobLogChoice;
  expected: string;
  dst: string;
  exportDir: string;
}

/** What the Sources screen sets for a run. */
export interface RunSources {
  expected: string;
  dst: string;
  /** Boot the layer, or read its disk directly. */
  via: DiagnoseVia;
  /** With via direct: the partition holding dst ('' = from /etc/fstab or a search). */
  partition: string;
}

export type Outcome =
  | { kind: 'verdict'; verdict: VerdictKind }
  | { kind: 'quit' }
  | { kind: 'interrupted' }
  | { kind: 'failed'; reason: string };
