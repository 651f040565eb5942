// The audit behind the Layers screen: each layer's cached verdict (read from the audit's cache,
// no layer read), and `A`: the whole store audited (design.md section 10), lines and progress
// handed on as they come, stopped by the signal with the lines so far.

import { readCachedVerdicts } from '../audit/cache.js';
import { runAudit } from '../audit/run-audit.js';
import type { TuiDeps } from './types.js';

export function auditDeps(store: string): Pick<TuiDeps, 'cachedAudits' | 'auditStore'> {
  return {
    cachedAudits: () => readCachedVerdicts(store),
    auditStore: (ctl) => runAudit({ store }, ctl),
  };
}
