// The terminal's size, following resizes; a Spinner and a ticking clock for the Run screen.
//
// Subscriptions here (and the App's and the File screen's loading) use layout effects: they run
// within the commit itself. Passive effects were seen to stay pending under ink until the next
// render, so a screen that had just appeared missed a resize or never started its timer.

import { createContext, useContext, useLayoutEffect, useState } from 'react';
import { Text, useStdout } from 'ink';

export interface Size {
  columns: number;
  rows: number;
}

/** A fixed size for tests (ink-testing-library's stdout has no rows). */
export const SizeOverride = createContext<Size | null>(null);

function read(stdout: NodeJS.WriteStream): Size {
  return { columns: stdout.columns || 80, rows: stdout.rows || 24 };
}

export function useTerminalSize(): Size {
  const override = useContext(SizeOverride);
  const { stdout } = useStdout();
  const [size, setSize] = useState<Size>(() => read(stdout));
  useLayoutEffect(() => {
    const onResize = () => setSize(read(stdout));
    stdout.on('resize', onResize);
    return () => {
      stdout.off('resize', onResize);
    };
  }, [stdout]);
  return override ?? size;
}

/** The current time, refreshed every `ms` while mounted and `active`. */
export function useNow(ms: number, active = true): number {
  const [now, setNow] = useState(() => Date.now());
  useLayoutEffect(() => {
    if (!active) return;
    const t = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(t);
  }, [ms, active]);
  return now;
}

const FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

export function Spinner() {
  const now = useNow(100);
  return <Text>{FRAMES[Math.floor(now / 100) % FRAMES.length]}</Text>;
}
