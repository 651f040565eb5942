// Layers: the store's layers, newest first. Typing hex digits filters by id; `/` filters by any
// text; the layer from the job log is preselected and marked. Each layer shows its last audit
// verdict (from the audit's cache) in a column and in its colour; `A` audits the whole store from
// here, with progress, the rows updating as the audit's lines arrive; Esc stops it.

import { useState } from 'react';
import { Box, Text, type Key } from 'ink';
import type { Layer } from '../../store/store.js';
import { escapeText } from '../../report/escape.js';
import { humanBytes } from '../../report/format.js';
import { Frame, bodyRows, useKeys, type Status } from '../components.js';
import type { AuditRun } from '../hooks/use-audit.js';
import { filterTypingKey, listMove } from '../keys.js';
import { Spinner, useNow, useTerminalSize } from '../terminal.js';
import { cell, duration, fit, shortDate, shortId } from '../text.js';
import { Tint, type ColourName } from '../theme.js';
import type { AuditVerdictKind, LayerAudit } from '../types.js';

export interface LayersProps {
  store: string;
  layers: Layer[] | null;
  error: string | null;
  selected: string | null;
  onSelect: (id: string) => void;
  filter: string;
  onFilter: (f: string) => void;
  /** The job log's layer: marked, and preselected by the App. */
  jobLogLayer?: string;
  onChoose: (layer: Layer) => void;
  /** The last audit line of each layer (cached, or from the audit run from here). */
  audits: ReadonlyMap<string, LayerAudit>;
  audit: Pick<AuditRun, 'status' | 'progress' | 'startedAt' | 'totals' | 'error'>;
  auditCacheError?: string | null;
  onAudit: () => void;
  onStopAudit: () => void;
  status: Status | null;
}

export const AUDIT_LABEL: Record<AuditVerdictKind, string> = {
  clean: 'clean',
  'soft-updates-data-loss': 'DATA LOSS',
  'other-corruption': 'corrupt',
  inconclusive: 'inconclusive',
  error: 'error',
};

export const AUDIT_COLOUR: Record<AuditVerdictKind, ColourName> = {
  clean: 'green',
  'soft-updates-data-loss': 'red',
  'other-corruption': 'yellow',
  inconclusive: 'gray',
  error: 'magenta',
};

export function layerMatches(l: Layer, filter: string): boolean {
  if (!filter) return true;
  const f = filter.toLowerCase();
  // Hex digits name a layer by its id; `/` text (anything else) also matches parent, base, date.
  if (/^[0-9a-f]+$/.test(f)) return l.id.includes(f);
  const hay = [l.id, l.parent ?? '', l.base ?? '', shortDate(l.created), l.created ?? '', l.chainError ?? ''].join(' ').toLowerCase();
  return f.split(/\s+/).every((w) => hay.includes(w));
}

/** Column widths for a terminal `columns` wide: the full id when there is room for it. */
function layerColumns(columns: number) {
  const wide = columns >= 150;
  const narrow = columns < 100;
  const w = { id: wide ? 64 : 12, date: narrow ? 11 : 16, parent: wide ? 20 : narrow ? 12 : 17, depth: 5, bytes: 8, audit: narrow ? 9 : 12 };
  const fixed = 2 + w.id + 2 + w.date + 2 + w.parent + 2 + w.depth + 2 + w.bytes + 2 + w.audit + 2;
  return { ...w, note: Math.max(0, columns - fixed), narrow };
}
type Columns = ReturnType<typeof layerColumns>;

function headerText(c: Columns): string {
  return `  ${cell('LAYER', c.id)}  ${cell('CREATED', c.date)}  ${cell('PARENT', c.parent)}  ${cell('DEPTH', c.depth, 'right')}  ${cell('HOLDS', c.bytes, 'right')}  ${cell('AUDIT', c.audit)}  `;
}

function LayerRow({ l, sel, c, audit, jobLog }: { l: Layer; sel: boolean; c: Columns; audit?: LayerAudit; jobLog: boolean }) {
  const parent = l.parent ? shortId(l.parent) : l.base ? `base ${escapeText(l.base)}` : '-';
  const date = c.narrow ? shortDate(l.created).slice(5) : shortDate(l.created);
  const colour = audit ? AUDIT_COLOUR[audit.verdict] : undefined;
  const start = `${sel ? '▶ ' : '  '}`;
  const rest = `  ${cell(date, c.date)}  ${cell(parent, c.parent)}  ${cell(String(l.chainDepth), c.depth, 'right')}  ${cell(humanBytes(l.bytes), c.bytes, 'right')}  `;
  // A broken chain cannot be audited: its reason takes the audit and note columns.
  if (l.chainError) {
    return (
      <Text wrap="truncate-end">
        <Tint inverse={sel} dim={!sel}>{`${start}${cell(l.id.slice(0, c.id), c.id)}${rest}`}</Tint>
        <Tint color="red">{fit(`✗ ${escapeText(l.chainError)}`, c.audit + 2 + c.note)}</Tint>
      </Text>
    );
  }
  return (
    <Text wrap="truncate-end">
      <Tint inverse={sel}>{start}</Tint>
      <Tint inverse={sel} color={colour} bold={audit !== undefined && audit.verdict !== 'clean'}>
        {cell(l.id.slice(0, c.id), c.id)}
      </Tint>
      <Tint inverse={sel}>{rest}</Tint>
      <Tint color={colour} dim={!audit} bold={audit !== undefined && audit.verdict !== 'clean'}>
        {cell(audit ? AUDIT_LABEL[audit.verdict] : '-', c.audit)}
      </Tint>
      {'  '}
      <Tint color="cyan">{fit(jobLog ? '◀ job log' : '', c.note)}</Tint>
    </Text>
  );
}

/** The audit's progress while it runs, then its totals. */
function AuditStatusLine({ audit, cacheError }: { audit: LayersProps['audit']; cacheError?: string | null }) {
  const now = useNow(500, audit.status === 'running');
  const p = audit.progress;
  const elapsed = audit.startedAt === null ? 0 : Math.max(1, Math.max(now, Date.now()) - audit.startedAt);
  const t = audit.totals;
  let text: string;
  let tone: ColourName | undefined;
  if (audit.status === 'running' || audit.status === 'stopping') {
    const rate = p && p.done > 0 ? (p.done / elapsed) * 1000 : 0;
    const left = p && rate > 0 ? ` · about ${duration(((p.total - p.done) / rate) * 1000)} left` : '';
    const counts = p ? `${p.done} of ${p.total} layers${p.cached ? ` (${p.cached} from the cache)` : ''} · ${rate.toFixed(1)} layers/s${left}` : 'listing the layers…';
    text = audit.status === 'stopping' ? `Stopping the audit… ${counts}` : `Auditing the store: ${counts} · Esc stops`;
  } else if (audit.status === 'failed') {
    text = `The audit failed: ${escapeText(audit.error ?? 'unknown error')}`;
    tone = 'red';
  } else if (t && (audit.status === 'done' || audit.status === 'stopped')) {
    text = `${audit.status === 'stopped' ? 'Audit stopped' : 'Audit done'}: ${t.layers} layers, ${t.clean} clean, ${t.corrupt} corrupt, ${t.inconclusive} inconclusive, ${t.errors} errors (${duration(t.ms)})`;
    tone = t.corrupt > 0 ? 'red' : t.errors + t.inconclusive > 0 ? 'yellow' : 'green';
  } else if (audit.status === 'stopped') text = 'Audit stopped.';
  else if (cacheError) text = `no audit verdicts: ${escapeText(cacheError)}`;
  else return null;
  return (
    <Text wrap="truncate-end">
      {audit.status === 'running' ? (
        <>
          <Spinner />{' '}
        </>
      ) : null}
      <Tint color={tone} dim={tone === undefined && audit.status !== 'running'}>
        {text}
      </Tint>
    </Text>
  );
}

/**
 * Text of an audit line: the audit escapes guest paths already (a backslash in them is `\\`), so
 * they are shown as they are unless something unsafe is left in them (a cache file is data too).
 */
function auditText(s: string): string {
  return /[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069\ufffd]/.test(s) ? escapeText(s) : s;
}

/** What the audit found in the selected layer, in one line. */
function auditDetail(a: LayerAudit | undefined): string | null {
  if (!a || a.verdict === 'clean') return null;
  if (a.error) return `audit: ${auditText(a.error)}`;
  if (a.files.length === 0) return `audit: ${a.verdict}`;
  const files = a.files.slice(0, 4).map((f) => `${auditText(f.path)} (${auditText(f.class)})`);
  return `audit: ${a.files.length} damaged file${a.files.length === 1 ? '' : 's'}: ${files.join(', ')}${a.files.length > 4 ? ', …' : ''}`;
}

interface ListView {
  shown: Layer[];
  index: number;
}

function useLayersKeys(p: LayersProps, view: ListView, pageRows: number, typing: boolean, setTyping: (t: boolean) => void, setLocal: (s: Status | null) => void) {
  const { shown, index } = view;
  const moveBy = (d: number) => {
    const l = shown[Math.max(0, Math.min(shown.length - 1, index + d))];
    if (l) p.onSelect(l.id);
  };
  const auditing = p.audit.status === 'running' || p.audit.status === 'stopping';
  const filterKey = (input: string, key: Key): boolean => {
    if (/^[0-9a-f]+$/.test(input) && !key.ctrl && !key.meta) p.onFilter(p.filter + input);
    else if ((key.backspace || key.delete) && p.filter) p.onFilter(p.filter.slice(0, -1));
    else if (key.escape && p.filter) p.onFilter('');
    else if (input === '/') setTyping(true);
    else return false;
    return true;
  };
  useKeys((input, key) => {
    setLocal(null);
    if (typing) {
      const mv = filterTypingKey(input, key, p.filter, p.onFilter, () => setTyping(false));
      if (mv !== null) moveBy(mv);
      return true;
    }
    const moved = listMove(input, key, index, shown.length, pageRows);
    if (moved !== null) {
      if (shown[moved]) p.onSelect(shown[moved].id);
      return true;
    }
    if (filterKey(input, key)) return true;
    if (input === 'A') {
      if (auditing) setLocal({ tone: 'info', text: 'The audit is already running (Esc stops it).' });
      else p.onAudit();
      return true;
    }
    if (key.escape && auditing) {
      p.onStopAudit();
      return true;
    }
    if (!key.return) return false;
    const l = shown[index];
    if (l?.chainError) setLocal({ tone: 'error', text: `layer ${shortId(l.id)}: ${escapeText(l.chainError)}` });
    else if (l) p.onChoose(l);
    return true;
  });
}

function LayerList({ p, view, rows, columns }: { p: LayersProps; view: ListView; rows: number; columns: number }) {
  const c = layerColumns(columns);
  const { shown, index } = view;
  const top = Math.max(0, Math.min(index - Math.floor(rows / 2), shown.length - rows));
  const visible = shown.slice(top, top + rows);
  return (
    <>
      <Text wrap="truncate-end">
        <Tint bold>{fit(headerText(c), columns)}</Tint>
      </Text>
      {visible.length === 0 ? <Tint dim>{p.filter ? `No layer matches “${escapeText(p.filter)}”.` : 'The store holds no layers.'}</Tint> : null}
      {visible.map((l) => (
        <LayerRow key={l.id} l={l} sel={l.id === shown[index]?.id} c={c} audit={p.audits.get(l.id)} jobLog={l.id === p.jobLogLayer} />
      ))}
    </>
  );
}

export function LayersScreen(p: LayersProps) {
  const { columns, rows } = useTerminalSize();
  const [typing, setTyping] = useState(false);
  const [localStatus, setLocalStatus] = useState<Status | null>(null);
  const shown = (p.layers ?? []).filter((l) => layerMatches(l, p.filter));
  const view = { shown, index: Math.max(0, shown.findIndex((l) => l.id === p.selected)) };
  const filterLine = typing || p.filter !== '';
  const auditLine = p.audit.status !== 'idle' || !!p.auditCacheError;
  const detail = auditDetail(p.audits.get(shown[view.index]?.id ?? ''));
  const status = localStatus ?? p.status;
  const listRows = Math.max(1, bodyRows(rows, status !== null) - 1 - [filterLine, auditLine, detail !== null].filter(Boolean).length);
  useLayersKeys(p, view, listRows, typing, setTyping, setLocalStatus);

  const count = p.layers ? `${shown.length === p.layers.length ? '' : `${shown.length} of `}${p.layers.length} layers` : '';
  let body;
  if (p.error) body = <Tint color="red">{escapeText(p.error)}</Tint>;
  else if (!p.layers)
    body = (
      <Text>
        <Spinner /> Reading the store…
      </Text>
    );
  else body = <LayerList p={p} view={view} rows={listRows} columns={columns} />;

  return (
    <Frame
      title={`layer-forensics · Layers · ${escapeText(p.store)}`}
      right={count}
      status={status}
      hints={typing ? 'type to filter · Enter keep · Esc clear · ↑↓ move' : '↑↓/jk move · Enter diagnose · 0-9a-f or / filter · A audit all · ? help · q quit'}
    >
      {auditLine ? <AuditStatusLine audit={p.audit} cacheError={p.auditCacheError} /> : null}
      {filterLine ? (
        <Box>
          <Text wrap="truncate-end">
            <Tint bold>filter: </Tint>
            {escapeText(p.filter)}
            {typing ? <Tint inverse> </Tint> : null}
          </Text>
        </Box>
      ) : null}
      {body}
      {detail && p.layers ? (
        <Text wrap="truncate-end">
          <Tint color={AUDIT_COLOUR[p.audits.get(shown[view.index]!.id)!.verdict]}>{detail}</Tint>
        </Text>
      ) : null}
    </Frame>
  );
}
