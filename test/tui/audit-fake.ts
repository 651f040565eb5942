// A stand-in for the store audit (runAudit and its cache) in the Layers screen's tests: lines
// shaped as design.md section 5's `audit --json` lines, for the layers of fixtures.ts, handed over
// one at a time with progress, held where a test wants, stopped by the signal with the totals so far.

import { setTimeout as sleep } from 'node:timers/promises';
import type { AuditControl, AuditTotals, LayerAudit } from '../../src/tui/types.js';
import { BASE_ID, CLEAN_ID, LAYER_ID, PARENT_ID, layers } from './fixtures.js';

const line = (layer: string, verdict: LayerAudit['verdict'], over: Partial<LayerAudit> = {}): LayerAudit => ({ layer, verdict, files: [], error: null, cached: false, ms: 40, ...over });

/** One audit line per layer of fixtures.ts, in the store's order. */
export function auditLines(): LayerAudit[] {
  const [top, , , , , broken] = layers();
  return [
    line(top!.id, 'inconclusive', { files: [{ path: '/home/opam/build-output.txt', class: 'zeros' }] }),
    line(LAYER_ID, 'soft-updates-data-loss', {
      files: [
        { path: '/home/opam/src/tls.opam', class: 'directory-block' },
        { path: '/home/opam/src/tls-async.opam', class: 'foreign-text' },
        { path: '/home/opam/src/tls-lwt.opam', class: 'zeros' },
      ],
    }),
    line(CLEAN_ID, 'clean'),
    line(PARENT_ID, 'clean'),
    line(BASE_ID, 'clean'),
    line(broken!.id, 'error', { error: 'backing file /gone/base.qcow2: does not exist' }),
  ];
}

export class FakeAudit {
  started = 0;
  aborted = 0;
  private releaseFn: (() => void) | null = null;
  constructor(
    private opts: { cached?: LayerAudit[]; holdAfter?: number; fail?: string } = {},
  ) {}

  release(): void {
    this.releaseFn?.();
  }

  cachedAudits = async (): Promise<Map<string, LayerAudit>> => new Map((this.opts.cached ?? []).map((l) => [l.layer, { ...l, cached: true }]));

  auditStore = async (ctl: AuditControl): Promise<AuditTotals> => {
    this.started++;
    // Stopping ends a hold at once, as the real audit stops between layers.
    ctl.signal?.addEventListener('abort', () => this.releaseFn?.());
    const all = auditLines();
    const totals: AuditTotals = { layers: 0, clean: 0, corrupt: 0, inconclusive: 0, errors: 0, ms: 0 };
    ctl.onProgress?.({ done: 0, total: all.length, cached: 0 });
    for (const [i, l] of all.entries()) {
      if (i === this.opts.holdAfter) await new Promise<void>((r) => (this.releaseFn = r));
      if (ctl.signal?.aborted) {
        this.aborted++;
        return totals;
      }
      await sleep(5);
      if (this.opts.fail && i === 2) throw new Error(this.opts.fail);
      ctl.onLine?.(l);
      totals.layers++;
      if (l.verdict === 'clean') totals.clean++;
      else if (l.verdict === 'error') totals.errors++;
      else if (l.verdict === 'inconclusive') totals.inconclusive++;
      else totals.corrupt++;
      totals.ms += l.ms;
      ctl.onProgress?.({ done: i + 1, total: all.length, cached: 0 });
    }
    return totals;
  };
}
