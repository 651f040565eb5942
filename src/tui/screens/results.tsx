// Results: the verdict as a banner in its colour, with the summary and the advice; how the files
// were read (booted under KVM or TCG, or the disk read directly: which partition, which
// filesystem); then the files, damaged first: path, expected and actual size, class in its colour,
// provenance. At 80x24 the banner is trimmed to fit and the class column always keeps its width.

import { useState } from 'react';
import { Box, Text } from 'ink';
import type { DiagnoseResult } from '../../diagnose/types.js';
import { escapeText } from '../../report/escape.js';
import { CLASS_COLOUR, VERDICT_COLOUR, damagedFirst, holdsInstead, humanBytes, partitionText } from '../../report/format.js';
import type { FileReport, Report, Verdict, VerdictKind } from '../../report/schema.js';
import { Frame, bodyRows, useKeys, type Status } from '../components.js';
import { filterTypingKey, listMove } from '../keys.js';
import { provenanceBrief } from '../provenance-view.js';
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

/** How the files were read, in a few words, then the details. */
export function howRead(r: Report): { how: string; detail: string } {
  const ex = r.extraction;
  if (ex.via === 'boot') return { how: `booted under ${(ex.accel ?? '?').toUpperCase()}`, detail: ex.accelNote ? escapeText(ex.accelNote) : '' };
  if (ex.via === 'direct') {
    const fs = ex.filesystem;
    const sizes = fs ? `: ${escapeText(fs.kind)}, ${humanBytes(fs.blockSize)} blocks, ${humanBytes(fs.fragmentSize)} fragments` : '';
    return { how: 'the disk read directly (no boot)', detail: `${partitionText(ex)}${sizes}` };
  }
  return { how: 'read from a directory', detail: escapeText(ex.actual ?? '') };
}

/** The lines under the banner (one or two): how the files were obtained. */
function extractionLines(r: Report, columns: number): string[] {
  const ex = r.extraction;
  const { how, detail } = howRead(r);
  const parts = [how, `${ex.files} files, ${humanBytes(ex.bytes)}${ex.dst ? ` from ${escapeText(ex.dst)}` : ''}`];
  if (r.layerUnchanged !== undefined) parts.push(r.layerUnchanged ? 'layer unchanged' : 'THE LAYER CHANGED');
  // Last, as it may be long and is cut first.
  if (detail) parts.push(detail);
  return wrapLines(parts.join(' · '), columns, 2);
}

/**
 * The banner's lines for `body` rows, trimmed to leave the table room: first a few table rows,
 * then the summary and one line per advice, then the whole summary and advice as far as they fit.
 */
function bannerLines(v: Verdict, inner: number, budget: number): { summary: string[]; advice: string[] } {
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
  return { summary, advice: advice.flat() };
}

function Banner({ report, summary, advice, columns }: { report: Report; summary: string[]; advice: string[]; columns: number }) {
  const colour = useColour();
  const v = report.verdict;
  return (
    <Box flexDirection="column" borderStyle="round" borderColor={colour ? VERDICT_COLOUR[v.kind] : undefined} paddingX={1} width={columns}>
      <Text wrap="truncate-end">
        <Tint color={VERDICT_COLOUR[v.kind]} bold inverse>
          {` ${VERDICT_TITLE[v.kind]} `}
        </Tint>
        <Tint dim>{report.layer ? `  layer ${shortId(report.layer.id)}` : ''}</Tint>
      </Text>
      {summary.map((l, i) => (
        <Text key={`s${i}`} wrap="truncate-end">
          <Tint bold>{l}</Tint>
        </Text>
      ))}
      {advice.map((l, i) => (
        <Text key={`a${i}`} wrap="truncate-end">
          {l}
        </Text>
      ))}
    </Box>
  );
}

/** Column widths: the class column keeps its width; the path and provenance share the rest. */
function tableColumns(files: FileReport[], columns: number) {
  const classW = 15;
  const sizeW = 8;
  const fixed = 2 + 2 + sizeW + 1 + sizeW + 2 + classW + 2;
  const rest = Math.max(8, columns - fixed);
  const longest = Math.max(4, ...files.map((f) => escapeText(f.path).length));
  const pathW = Math.min(longest, Math.max(12, Math.floor(rest * (columns >= 120 ? 0.4 : 0.55))));
  return { classW, sizeW, pathW, provW: Math.max(0, columns - fixed - pathW) };
}
type TableColumns = ReturnType<typeof tableColumns>;

function FileRow({ f, sel, c }: { f: FileReport; sel: boolean; c: TableColumns }) {
  const prov = f.provenance ? provenanceBrief(f.provenance, c.provW) : '';
  return (
    <Text wrap="truncate-end">
      <Tint inverse={sel} bold={sel}>{`${sel ? '▶ ' : '  '}${cell(fitStart(escapeText(f.path), c.pathW), c.pathW)}  ${cell(sizeText(f.expectedSize), c.sizeW, 'right')} ${cell(sizeText(f.actualSize), c.sizeW, 'right')}  `}</Tint>
      <Tint color={CLASS_COLOUR[f.class]} bold={f.class !== 'match'}>
        {cell(f.class, c.classW)}
      </Tint>
      {'  '}
      <Tint dim={!prov} color={prov ? 'yellow' : undefined}>
        {fit(prov || holdsInstead(f), c.provW)}
      </Tint>
    </Text>
  );
}

function useResultsKeys(p: ResultsProps, files: FileReport[], index: number, pageRows: number, typing: boolean, setTyping: (t: boolean) => void) {
  useKeys((input, key) => {
    if (typing) {
      const mv = filterTypingKey(input, key, p.filter, p.onFilter, () => setTyping(false));
      const f = mv === null ? undefined : files[Math.max(0, Math.min(files.length - 1, index + mv))];
      if (f) p.onSelect(f.path);
      return true;
    }
    const moved = listMove(input, key, index, files.length, pageRows);
    if (moved !== null) {
      if (files[moved]) p.onSelect(files[moved].path);
    } else if (key.return) {
      if (files[index]) p.onOpen(files[index]);
    } else if (input === '/') setTyping(true);
    else if (input === 'e') p.onExport();
    else if (key.escape && p.filter) p.onFilter('');
    else return false;
    return true;
  });
}

function FilterLine({ filter, typing }: { filter: string; typing: boolean }) {
  return (
    <Text wrap="truncate-end">
      <Tint bold>filter: </Tint>
      {escapeText(filter)}
      {typing ? <Tint inverse> </Tint> : null}
    </Text>
  );
}

export function ResultsScreen(p: ResultsProps) {
  const { columns, rows } = useTerminalSize();
  const [typing, setTyping] = useState(false);
  const report = p.result.report;
  const files = damagedFirst(report.files).filter((f) => fileMatches(f, p.filter));
  const index = Math.max(0, files.findIndex((f) => f.path === p.selected));
  const filterLine = typing || p.filter !== '';
  const how = extractionLines(report, columns);
  const body = bodyRows(rows, p.status !== null);
  const fixedRows = 2 + how.length + 1 + 1 + (filterLine ? 1 : 0);
  const { summary, advice } = bannerLines(report.verdict, Math.max(20, columns - 4), body - fixedRows - Math.min(Math.max(files.length, 1), 4));
  const tableRows = Math.max(1, body - (2 + 1 + summary.length + advice.length) - how.length - 1 - (filterLine ? 1 : 0));
  useResultsKeys(p, files, index, tableRows, typing, setTyping);

  const c = tableColumns(files, columns);
  const top = Math.max(0, Math.min(index - Math.floor(tableRows / 2), files.length - tableRows));
  return (
    <Frame
      title={`layer-forensics · Results${report.layer ? ` · layer ${shortId(report.layer.id)}` : ''}`}
      right={`${files.length === report.files.length ? '' : `${files.length} of `}${report.files.length} files`}
      status={p.status}
      hints={typing ? 'type to filter · Enter keep · Esc clear' : '↑↓/jk move · Enter open · / filter · e export · Esc back · ? help · q quit'}
    >
      <Banner report={report} summary={summary} advice={advice} columns={columns} />
      {how.map((l, i) => (
        <Text key={`x${i}`} wrap="truncate-end">
          <Tint dim>{l}</Tint>
        </Text>
      ))}
      {filterLine ? <FilterLine filter={p.filter} typing={typing} /> : null}
      <Text wrap="truncate-end">
        <Tint bold>{`  ${cell('FILE', c.pathW)}  ${cell('EXPECTED', c.sizeW, 'right')} ${cell('ACTUAL', c.sizeW, 'right')}  ${cell('CLASS', c.classW)}  ${fit('PROVENANCE / HOLDS', c.provW)}`}</Tint>
      </Text>
      {files.length === 0 ? <Tint dim>{p.filter ? 'No file matches the filter.' : 'No files.'}</Tint> : null}
      {files.slice(top, top + tableRows).map((f) => (
        <FileRow key={f.path} f={f} sel={f.path === files[index]?.path} c={c} />
      ))}
    </Frame>
  );
}
