// Pieces every screen uses: the frame (title bar, body, key hints and status line), a line of
// coloured segments, the key routing from the App to the screen on show.

import { createContext, useContext, useLayoutEffect, useRef, type ReactNode } from 'react';
import { Box, Text, type Key } from 'ink';
import { Tint } from './theme.js';
import type { Line } from './file-view.js';
import { fit } from './text.js';
import { useTerminalSize } from './terminal.js';

/** A screen's key handler: returns true when it used the key. */
export type KeyHandler = (input: string, key: Key) => boolean;

export const KeyRouter = createContext<(h: KeyHandler | null) => void>(() => {});

/**
 * Route keys to this screen while it is mounted (the App handles what it does not use). The
 * handler is registered in the commit itself (a layout effect), so a key typed the instant a
 * screen appears already reaches it, and it always sees the latest render's state.
 */
export function useKeys(handler: KeyHandler): void {
  const set = useContext(KeyRouter);
  const ref = useRef(handler);
  ref.current = handler;
  useLayoutEffect(() => {
    set((input, key) => ref.current(input, key));
    return () => set(null);
  }, [set]);
}

/** One line of segments, cut at the terminal's edge. */
export function LineView({ line, inverse }: { line: Line; inverse?: boolean }) {
  return (
    <Text wrap="truncate-end" inverse={inverse}>
      {line.length === 0 ? ' ' : null}
      {line.map((s, i) => (
        <Tint key={i} color={s.color} bold={s.bold} dim={s.dim} inverse={s.inverse}>
          {s.text}
        </Tint>
      ))}
    </Text>
  );
}

export interface Status {
  text: string;
  tone: 'info' | 'ok' | 'error';
}

/**
 * The whole screen: a title bar, the body (given the rows left for it), key hints and a status
 * line. Its height is one less than the terminal's so ink never has to clear the screen.
 */
export function Frame({
  title,
  right,
  hints,
  status,
  children,
}: {
  title: string;
  right?: string;
  hints: string;
  status?: Status | null;
  children: ReactNode;
}) {
  const { columns, rows } = useTerminalSize();
  const height = Math.max(4, rows - 1);
  const r = right ? fit(right, Math.max(0, columns - title.length - 3)) : '';
  const gap = Math.max(1, columns - title.length - r.length);
  return (
    <Box flexDirection="column" width={columns} height={height} overflow="hidden">
      <Text wrap="truncate-end">
        <Tint bold inverse>
          {fit(title, columns)}
          {r ? ' '.repeat(gap) + r : ' '.repeat(Math.max(0, columns - title.length))}
        </Tint>
      </Text>
      <Box flexDirection="column" flexGrow={1} overflow="hidden">
        {children}
      </Box>
      {status ? (
        <Text wrap="truncate-end">
          <Tint color={status.tone === 'error' ? 'red' : status.tone === 'ok' ? 'green' : undefined} bold={status.tone === 'error'}>
            {status.text}
          </Tint>
        </Text>
      ) : null}
      <Text wrap="truncate-end">
        <Tint dim>{hints}</Tint>
      </Text>
    </Box>
  );
}

/** Rows the body of a Frame has, for a terminal `rows` high. */
export function bodyRows(rows: number, withStatus: boolean): number {
  return Math.max(1, Math.max(4, rows - 1) - 2 - (withStatus ? 1 : 0));
}
