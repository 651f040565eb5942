// File: one file of the report, its bytes read from the trees the run produced (the expected
// sources and the files pulled out of the guest). See file-view.ts for what each class shows.

import { useLayoutEffect, useMemo, useState } from 'react';
import { Text } from 'ink';
import type { Tree } from '../../tree/tree.js';
import { oneLine } from '../../util/errors.js';
import { escapeText } from '../../report/escape.js';
import type { FileReport } from '../../report/schema.js';
import { Frame, LineView, bodyRows, useKeys, type Status } from '../components.js';
import { MAX_VIEW_BYTES, concat, fileBody, fileHeader, fromLines, sliceLine, type FileBytes } from '../file-view.js';
import { listMove } from '../keys.js';
import { chainStrip } from '../storage-view.js';
import { Spinner, useTerminalSize } from '../terminal.js';
import { shortId } from '../text.js';
import { Tint } from '../theme.js';

export interface FileProps {
  file: FileReport;
  /** Position among the files shown on the Results screen, e.g. "2 of 6". */
  position: string;
  expected: Tree;
  actual: Tree;
  blockSize: number;
  layerId?: string;
  /** The layer's chain (image paths, the layer first): names the elements of the storage strip. */
  chain?: readonly string[];
  onNext: (d: 1 | -1) => void;
  onExport: () => void;
  status: Status | null;
}

async function readSide(tree: Tree, path: string): Promise<{ buf: Uint8Array | null; cut: boolean }> {
  const e = tree.get(path);
  if (!e || e.kind !== 'file') return { buf: null, cut: false };
  if (e.size > MAX_VIEW_BYTES) {
    const buf = e.readHead ? await e.readHead(MAX_VIEW_BYTES) : (await e.read()).subarray(0, MAX_VIEW_BYTES);
    return { buf, cut: true };
  }
  return { buf: await e.read(), cut: false };
}

export async function loadFileBytes(file: FileReport, expected: Tree, actual: Tree): Promise<FileBytes> {
  const [e, a] = await Promise.all([readSide(expected, file.path), readSide(actual, file.path)]);
  return { expected: e.buf, actual: a.buf, expectedCut: e.cut, actualCut: a.cut };
}

export function FileScreen(p: FileProps) {
  const { columns, rows } = useTerminalSize();
  const [bytes, setBytes] = useState<FileBytes | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [top, setTop] = useState(0);
  const [left, setLeft] = useState(0);

  useLayoutEffect(() => {
    let live = true;
    setBytes(null);
    setError(null);
    setTop(0);
    setLeft(0);
    loadFileBytes(p.file, p.expected, p.actual).then(
      (b) => live && setBytes(b),
      (err: unknown) => live && setError(oneLine(err)),
    );
    return () => {
      live = false;
    };
  }, [p.file, p.expected, p.actual]);

  const header = useMemo(() => fileHeader(p.file), [p.file]);
  // A direct reading's storage map (from the report alone) comes first.
  const storage = useMemo(() => chainStrip(p.file, { blockSize: p.blockSize, columns, chain: p.chain ?? [], layerId: p.layerId }), [p.file, p.blockSize, columns, p.chain, p.layerId]);
  const body = useMemo(() => (bytes ? concat(fromLines(storage), fileBody(p.file, bytes, { columns, blockSize: p.blockSize })) : null), [bytes, p.file, columns, p.blockSize, storage]);
  const viewRows = Math.max(1, bodyRows(rows, p.status !== null) - header.length - 1);
  const maxTop = Math.max(0, (body?.count ?? 0) - viewRows);

  useKeys((input, key) => {
    const moved = listMove(input, key, top, maxTop + 1, Math.max(1, viewRows - 1));
    if (moved !== null) {
      setTop(moved);
      return true;
    }
    if (key.leftArrow || input === 'h') {
      setLeft((l) => Math.max(0, l - 8));
      return true;
    }
    if (key.rightArrow || input === 'l') {
      setLeft((l) => l + 8);
      return true;
    }
    if (input === 'n' || input === 'p') {
      p.onNext(input === 'n' ? 1 : -1);
      return true;
    }
    if (input === 'e') {
      p.onExport();
      return true;
    }
    return false;
  });

  const t = Math.min(top, maxTop);
  const shown = body ? Array.from({ length: Math.min(viewRows, body.count - t) }, (_, i) => body.line(t + i)) : [];
  const where = body && body.count > viewRows ? `lines ${t + 1}–${t + shown.length} of ${body.count}` : '';
  return (
    <Frame
      title={`layer-forensics · File ${p.position}${p.layerId && columns >= 120 ? ` · layer ${shortId(p.layerId)}` : ''}`}
      right={[where, left > 0 ? `col ${left + 1}` : ''].filter(Boolean).join(' · ')}
      status={p.status}
      hints="↑↓/jk scroll · PgUp/PgDn · ←→ sideways · n/p next/prev file · e export · Esc back · ? help · q quit"
    >
      {header.map((l, i) => (
        <LineView key={`h${i}`} line={l} />
      ))}
      <Text wrap="truncate-end">
        <Tint dim>{'─'.repeat(columns)}</Tint>
      </Text>
      {error ? <Tint color="red">{`cannot read the file: ${escapeText(error)}`}</Tint> : null}
      {!bytes && !error ? (
        <Text>
          <Spinner /> reading…
        </Text>
      ) : null}
      {shown.map((l, i) => (
        <LineView key={t + i} line={sliceLine(l, left)} />
      ))}
    </Frame>
  );
}
