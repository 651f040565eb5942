// Layers: the store's layers, newest first. Typing hex digits filters by id; `/` filters by any
// text; the layer from the job log is preselected and marked.

import { useState } from 'react';
import { Box, Text } from 'ink';
import type { Layer } from '../../store/store.js';
import { escapeText } from '../../report/escape.js';
import { humanBytes } from '../../report/format.js';
import { Frame, bodyRows, useKeys, type Status } from '../components.js';
import { filterTypingKey, listMove } from '../keys.js';
import { Spinner, useTerminalSize } from '../terminal.js';
import { cell, fit, shortDate, shortId } from '../text.js';
import { Tint } from '../theme.js';

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
  status: Status | null;
}

export function layerMatches(l: Layer, filter: string): boolean {
  if (!filter) return true;
  const f = filter.toLowerCase();
  // Hex digits name a layer by its id; `/` text (anything else) also matches parent, base, date.
  if (/^[0-9a-f]+$/.test(f)) return l.id.includes(f);
  const hay = [l.id, l.parent ?? '', l.base ?? '', shortDate(l.created), l.created ?? '', l.chainError ?? ''].join(' ').toLowerCase();
  return f.split(/\s+/).every((w) => hay.includes(w));
}

export function LayersScreen(p: LayersProps) {
  const { columns, rows } = useTerminalSize();
  const [typing, setTyping] = useState(false);
  const [localStatus, setLocalStatus] = useState<Status | null>(null);
  const shown = (p.layers ?? []).filter((l) => layerMatches(l, p.filter));
  const index = Math.max(0, shown.findIndex((l) => l.id === p.selected));
  const filterLine = typing || p.filter !== '';
  const status = localStatus ?? p.status;
  const listRows = bodyRows(rows, status !== null) - 1 - (filterLine ? 1 : 0);

  useKeys((input, key) => {
    setLocalStatus(null);
    if (typing) {
      const mv = filterTypingKey(input, key, p.filter, p.onFilter, () => setTyping(false));
      if (mv !== null) return moveBy(mv);
      return true;
    }
    const moved = listMove(input, key, index, shown.length, listRows);
    if (moved !== null) {
      if (shown[moved]) p.onSelect(shown[moved].id);
      return true;
    }
    if (input === '/') {
      setTyping(true);
      return true;
    }
    if (/^[0-9a-f]+$/.test(input) && !key.ctrl && !key.meta) {
      p.onFilter(p.filter + input);
      return true;
    }
    if ((key.backspace || key.delete) && p.filter) {
      p.onFilter(p.filter.slice(0, -1));
      return true;
    }
    if (key.escape && p.filter) {
      p.onFilter('');
      return true;
    }
    if (key.return) {
      const l = shown[index];
      if (!l) return true;
      if (l.chainError) setLocalStatus({ tone: 'error', text: `layer ${shortId(l.id)}: ${escapeText(l.chainError)}` });
      else p.onChoose(l);
      return true;
    }
    return false;
  });

  function moveBy(d: number): boolean {
    const l = shown[Math.max(0, Math.min(shown.length - 1, index + d))];
    if (l) p.onSelect(l.id);
    return true;
  }

  // Column widths: the full id when there is room for it.
  const idW = columns >= 150 ? 64 : 12;
  const dateW = 16;
  const parentW = columns >= 150 ? 20 : 17;
  const depthW = 5;
  const bytesW = 9;
  const fixed = 2 + idW + 2 + dateW + 2 + parentW + 2 + depthW + 2 + bytesW + 2;
  const noteW = Math.max(0, columns - fixed);

  const header = `  ${cell('LAYER', idW)}  ${cell('CREATED', dateW)}  ${cell('PARENT', parentW)}  ${cell('DEPTH', depthW, 'right')}  ${cell('HOLDS', bytesW, 'right')}  `;
  const top = Math.max(0, Math.min(index - Math.floor(listRows / 2), shown.length - listRows));
  const visible = shown.slice(top, top + listRows);
  const count = p.layers ? `${shown.length === p.layers.length ? '' : `${shown.length} of `}${p.layers.length} layers` : '';

  let body;
  if (p.error) body = <Tint color="red">{escapeText(p.error)}</Tint>;
  else if (!p.layers)
    body = (
      <Text>
        <Spinner /> Reading the store…
      </Text>
    );
  else
    body = (
      <>
        <Text wrap="truncate-end">
          <Tint bold>{fit(header, columns)}</Tint>
        </Text>
        {visible.length === 0 ? <Tint dim>{p.filter ? `No layer matches “${escapeText(p.filter)}”.` : 'The store holds no layers.'}</Tint> : null}
        {visible.map((l) => {
          const sel = l.id === shown[index]?.id;
          const parent = l.parent ? shortId(l.parent) : l.base ? `base ${escapeText(l.base)}` : '-';
          const note = l.chainError ? `✗ ${escapeText(l.chainError)}` : l.id === p.jobLogLayer ? '◀ job log' : '';
          const row = `${sel ? '▶ ' : '  '}${cell(l.id.slice(0, idW), idW)}  ${cell(shortDate(l.created), dateW)}  ${cell(parent, parentW)}  ${cell(String(l.chainDepth), depthW, 'right')}  ${cell(humanBytes(l.bytes), bytesW, 'right')}  `;
          return (
            <Text key={l.id} wrap="truncate-end">
              <Tint inverse={sel} dim={!!l.chainError && !sel}>
                {row}
              </Tint>
              <Tint color={l.chainError ? 'red' : 'cyan'}>{fit(note, noteW)}</Tint>
            </Text>
          );
        })}
      </>
    );

  return (
    <Frame
      title={`layer-forensics · Layers · ${escapeText(p.store)}`}
      right={count}
      status={status}
      hints={typing ? 'type to filter · Enter keep · Esc clear · ↑↓ move' : '↑↓/jk move · Enter diagnose · 0-9a-f or / filter · ? help · q quit'}
    >
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
    </Frame>
  );
}
