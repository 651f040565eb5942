// An audit worker thread: audits the layers it is sent, one at a time, each with its own chains
// opened and closed, and posts each result back as it finishes (run-audit.ts schedules them).

import { parentPort } from 'node:worker_threads';
import { oneLine } from '../util/errors.js';
import { isWorkerOf } from '../util/worker-thread.js';
import { auditLayer } from './audit-layer.js';
import type { AuditLineFile, AuditLineVerdict } from './types.js';

/** What the main thread sends: one layer's resolved chain (the layer first). */
export interface WorkerTask {
  type: 'audit';
  id: string;
  links: { image: string; format: string }[];
  /** L2 table cache per open chain, bytes. */
  cacheBytes: number;
}

/** What comes back for each task. */
export interface WorkerResult {
  type: 'result';
  id: string;
  verdict: Exclude<AuditLineVerdict, 'other-corruption'>;
  files: AuditLineFile[];
  notes: string[];
  error: string | null;
  ms: number;
}

export async function auditTask(task: WorkerTask): Promise<WorkerResult> {
  const t0 = performance.now();
  try {
    const r = await auditLayer(task.links, undefined, { cacheBytes: task.cacheBytes });
    const files = r.files.map((f) => ({ path: f.path, class: f.class, provenance: f.provenance, evidence: f.evidence, size: f.report.actualSize }));
    return { type: 'result', id: task.id, verdict: r.verdict, files, notes: r.notes, error: null, ms: Math.round(performance.now() - t0) };
  } catch (err) {
    // A layer that cannot be read is a line with its reason (escaped where it shows it); the audit goes on.
    return { type: 'result', id: task.id, verdict: 'error', files: [], notes: [], error: oneLine(err), ms: Math.round(performance.now() - t0) };
  }
}

/** Posted once the worker's modules are loaded: a worker that dies before it cannot start at all. */
export interface WorkerReady {
  type: 'ready';
}

if (parentPort && isWorkerOf('audit/audit-worker')) {
  const port = parentPort;
  port.on('message', (task: WorkerTask) => {
    void auditTask(task).then((r) => port.postMessage(r));
  });
  port.postMessage({ type: 'ready' } satisfies WorkerReady);
}
