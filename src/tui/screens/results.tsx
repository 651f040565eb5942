// Results: the verdict as a banner in its colour, with the summary and the advice; then the
// files, damaged first: path, expected and actual size, class in its colour, provenance.
// At 80x24 the banner is trimmed to fit and the class column always keeps its width.

import { useState } from 'react';
import { Box, Text } from 'ink';
import type { DiagnoseResult } from '../../diagnose/types.js';
import { escapeText } from '../../report/escape.js';
import { CLASS_COLOUR, VERDICT_COLOUR, damagedFirst, holdsInstead, humanBytes } from '../../report/format.js';
import type { FileReport, Report, VerdictKind } from '../../report/schema.js';
import { Frame, bodyRows, useKeys, type Status } from '../components.js';
import { filterTypingKey, listMove } from '../keys.js';
import { useTerminalSize } from '../terminal.js';
import { cell, fit, fitStart, shortId, wrapLines } from '../text.js';
import { Tint, useColour } from '../theme.js';

export const VERDICT_TITLE: Record<VerdictKind, string> = {
  clean: 'CLEAN',
  'soft-updates-data-loss': 'SOFT-UPDATES DATA LOSS',
  'other-corruption': 'OTHER CORRUPTION',
  inconclusive: 'INCONCLUSIVE',
};

export interface ResultsProps {
  result: DiagnoseResult;
  selected: string | null;
  onSelect: (path: string) => void;
  filter: string;
  onFilter: (f: string) => void;
  onOpen: (f: FileReport) => void;
  onExport: () => void;
  status: Status | null;
}

export function fileMatches(f: FileReport, filter: string): boolean {
  if (!filter) return true;
  const hay = `${f.path} ${f.class}`.toLowerCase();
  return filter
    .toLowerCase()
    .split(/\s+/)
    .filter(Boolean)
    .every((w) => hay.includes(w));
}

function sizeText(n: number | null): string {
  if (n === null) return '-';
  return n < 10_000_000 ? String(n) : humanBytes(n);
}

/** The line under the banner: how the files were obtained. */
function extractionLine(r: Report): string {
  const ex = r.extraction;
  const parts: string[] = [];
  parts.push(`${ex.files} files, ${humanBytes(ex.bytes)}${ex.dst ? ` from ${escapeText(ex.dst)}` : ''}`);
  if (r.layerUnchanged !== undefined) parts.push(r.layerUnchanged ? 'layer unchanged' : 'THE LAYER CHANGED');
  // Last, as the note may be long and is cut first.
  if (ex.via === 'boot') parts.push(`booted under ${(ex.accel ?? '?').toUpperCase()}${ex.accelNote ? ` (${escapeText(ex.accelNote)})` : ''}`);
  return parts.join(' · ');
}

export function ResultsScreen(p: ResultsProps) {
  const { columns, rows } = useTerminalSize();
  const colour = useColour();
  const [typing, setTyping] = useState(false);
  const report = p.result.report;
  const v = report.verdict;
  const files = damagedFirst(report.files).filter((f) => fileMatches(f, p.filter));
  const index = Math.max(0, files.findIndex((f) => f.path === p.selected));
  const filterLine = typing || p.filter !== '';

  // The banner: a title, the summary and the advice, trimmed to leave the table room.
  const inner = Math.max(20, columns - 4);
  const body = bodyRows(rows, p.status !== null);
  // Room first for a few table rows, then the summary and one line per advice, then the whole
  // summary and advice as far as they fit; the table takes what is left.
  const fixedRows = 2 + 1 + 1 + 1 + (filterLine ? 1 : 0);
  let budget = body - fixedRows - Math.min(Math.max(files.length, 1), 4);
  let summary = wrapLines(escapeText(v.summary), inner, 2);
  // Advice as a list: `→ ` then a hanging indent.
  const bullet = (a: string, max: number) => wrapLines(escapeText(a), inner - 2, max).map((l, i) => `${i === 0 ? '→' : ' '} ${l}`);
  const adviceFull = v.advice.map((a) => bullet(a, 3));
  let advice = v.advice.map((a) => bullet(a, 1));
  budget -= summary.length;
  if (advice.length > budget) advice = advice.slice(0, Math.max(0, budget));
  budget -= advice.length;
  const summaryFull = wrapLines(escapeText(v.summary), inner, 4);
  if (summaryFull.length - summary.length <= budget) {
    budget -= summaryFull.length - summary.length;
    summary = summaryFull;
  }
  for (let i = 0; i < advice.length; i++) {
    const extra = adviceFull[i]!.length - 1;
    if (extra > 0 && extra <= budget) {
      advice[i] = adviceFull[i]!;
      budget -= extra;
    }
  }
  const adviceLines = advice.flat();
  const bannerRows = 2 + 1 + summary.length + adviceLines.length;
  const tableRows = Math.max(1, body - bannerRows - 1 - 1 - (filterLine ? 1 : 0));

  useKeys((input, key) => {
    if (typing) {
      const mv = filterTypingKey(input, key, p.filter, p.onFilter, () => setTyping(false));
      if (mv !== null) {
        const f = files[Math.max(0, Math.min(files.length - 1, index + mv))];
        if (f) p.onSelect(f.path);
      }
      return true;
    }
    const moved = listMove(input, key, index, files.length, tableRows);
    if (moved !== null) {
      if (files[moved]) p.onSelect(files[moved].path);
      return true;
    }
    if (key.return) {
      const f = files[index];
      if (f) p.onOpen(f);
      return true;
    }
    if (input === '/') {
      setTyping(true);
      return true;
    }
    if (input === 'e') {
      p.onExport();
      return true;
    }
    if (key.escape && p.filter) {
      p.onFilter('');
      return true;
    }
    return false;
  });

  // Columns: the class column keeps its width; the path and provenance share the rest.
  const classW = 15;
  const sizeW = 8;
  const fixed = 2 + 2 + sizeW + 1 + sizeW + 2 + classW + 2;
  const rest = Math.max(8, columns - fixed);
  const longest = Math.max(4, ...files.map((f) => escapeText(f.path).length));
  const pathW = Math.min(longest, Math.max(12, Math.floor(rest * (columns >= 120 ? 0.4 : 0.55))));
  const provW = Math.max(0, columns - fixed - pathW);
  const top = Math.max(0, Math.min(index - Math.floor(tableRows / 2), files.length - tableRows));
  const visible = files.slice(top, top + tableRows);
  const vColour = VERDICT_COLOUR[v.kind];

  return (
    <Frame
      title={`layer-forensics · Results${report.layer ? ` · layer ${shortId(report.layer.id)}` : ''}`}
      right={`${files.length === report.files.length ? '' : `${files.length} of `}${report.files.length} files`}
      status={p.status}
      hints={typing ? 'type to filter · Enter keep · Esc clear' : '↑↓/jk move · Enter open · / filter · e export · Esc back · ? help · q quit'}
    >
      <Box flexDirection="column" borderStyle="round" borderColor={colour ? vColour : undefined} paddingX={1} width={columns}>
        <Text wrap="truncate-end">
          <Tint color={vColour} bold inverse>
            {` ${VERDICT_TITLE[v.kind]} `}
          </Tint>
          <Tint dim>{report.layer ? `  layer ${shortId(report.layer.id)}` : ''}</Tint>
        </Text>
        {summary.map((l, i) => (
          <Text key={`s${i}`} wrap="truncate-end">
            <Tint bold>{l}</Tint>
          </Text>
        ))}
        {adviceLines.map((l, i) => (
          <Text key={`a${i}`} wrap="truncate-end">
            {l}
          </Text>
        ))}
      </Box>
      <Text wrap="truncate-end">
        <Tint dim>{fit(extractionLine(report), columns)}</Tint>
      </Text>
      {filterLine ? (
        <Text wrap="truncate-end">
          <Tint bold>filter: </Tint>
          {escapeText(p.filter)}
          {typing ? <Tint inverse> </Tint> : null}
        </Text>
      ) : null}
      <Text wrap="truncate-end">
        <Tint bold>{`  ${cell('FILE', pathW)}  ${cell('EXPECTED', sizeW, 'right')} ${cell('ACTUAL', sizeW, 'right')}  ${cell('CLASS', classW)}  ${fit('PROVENANCE / HOLDS', provW)}`}</Tint>
      </Text>
      {visible.length === 0 ? <Tint dim>{p.filter ? 'No file matches the filter.' : 'No files.'}</Tint> : null}
      {visible.map((f) => {
        const sel = f.path === files[index]?.path;
        const prov = f.provenance ? `${f.provenance.source}: ${fitStart(escapeText(f.provenance.path), Math.max(4, provW - f.provenance.source.length - 2))}` : '';
        const last = prov || holdsInstead(f);
        return (
          <Text key={f.path} wrap="truncate-end">
            <Tint inverse={sel} bold={sel}>{`${sel ? '▶ ' : '  '}${cell(fitStart(escapeText(f.path), pathW), pathW)}  ${cell(sizeText(f.expectedSize), sizeW, 'right')} ${cell(sizeText(f.actualSize), sizeW, 'right')}  `}</Tint>
            <Tint color={CLASS_COLOUR[f.class]} bold={f.class !== 'match'}>
              {cell(f.class, classW)}
            </Tint>
            {'  '}
            <Tint dim={!prov} color={prov ? 'yellow' : undefined}>
              {fit(last, provW)}
            </Tint>
          </Text>
        );
      })}
    </Frame>
  );
}
