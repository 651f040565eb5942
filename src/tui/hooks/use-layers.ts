// The Layers screen's data: the store's layers (read once), the selection (the job log's layer
// first), the filter, and each layer's last audit line (from the audit's cache, then from an
// audit run from the screen as its lines arrive).

import { useCallback, useLayoutEffect, useState } from 'react';
import type { Layer } from '../../store/store.js';
import { oneLine } from '../../util/errors.js';
import type { LayerAudit, TuiDeps, TuiInit } from '../types.js';

export interface LayerList {
  layers: Layer[] | null;
  error: string | null;
  selected: string | null;
  select(id: string): void;
  filter: string;
  setFilter(f: string): void;
  /** The last audit line of each layer, by full id. */
  audits: ReadonlyMap<string, LayerAudit>;
  /** Lines of an audit run, as they arrive. */
  addAudits(lines: LayerAudit[]): void;
  /** Why the audit cache could not be read (the list is shown without it). */
  auditCacheError: string | null;
}

export function useLayerList(deps: TuiDeps, init: TuiInit): LayerList {
  const [layers, setLayers] = useState<Layer[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [selected, select] = useState<string | null>(init.layer ?? init.jobLog?.layerId ?? null);
  const [filter, setFilter] = useState('');
  const [audits, setAudits] = useState<ReadonlyMap<string, LayerAudit>>(new Map());
  const [auditCacheError, setAuditCacheError] = useState<string | null>(null);

  useLayoutEffect(() => {
    let live = true;
    deps.listLayers().then(
      (ls) => {
        if (!live) return;
        setLayers(ls);
        select((sel) => (sel && ls.some((l) => l.id === sel) ? sel : (ls[0]?.id ?? null)));
      },
      (err: unknown) => live && setError(oneLine(err)),
    );
    deps.cachedAudits().then(
      // Lines of an audit already under way win over the cache.
      (cached) => live && setAudits((now) => new Map([...cached, ...now])),
      (err: unknown) => live && setAuditCacheError(oneLine(err)),
    );
    return () => {
      live = false;
    };
  }, [deps]);

  const addAudits = useCallback((lines: LayerAudit[]) => {
    setAudits((now) => {
      const next = new Map(now);
      for (const l of lines) next.set(l.layer, l);
      return next;
    });
  }, []);

  return { layers, error, selected, select, filter, setFilter, audits, addAudits, auditCacheError };
}
