// Helpers for driving ink components in tests: keys, waiting for a frame, and rendering at a
// given terminal size (ink-testing-library's stdout is always 100 columns and has no rows).

import { EventEmitter } from 'node:events';
import { render as inkRender } from 'ink';
import type { ReactNode } from 'react';

export const KEY = {
  up: '\x1b[A',
  down: '\x1b[B',
  right: '\x1b[C',
  left: '\x1b[D',
  enter: '\r',
  esc: '\x1b',
  backspace: '\x7f',
  tab: '\t',
  ctrlC: '\x03',
  ctrlU: '\x15',
  pageDown: '\x1b[6~',
};

/** Poll until `check` passes (it throws or returns false until then). */
export async function waitFor(check: () => boolean | void, what = 'condition', timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      if (check() !== false) return;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last instanceof Error ? `: ${last.message}` : ''}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Let ink process input and effects. */
export const tick = (ms = 20) => new Promise((r) => setTimeout(r, ms));

/** Send keys one at a time, letting ink render between them. */
export async function press(stdin: { write(s: string): void }, ...keys: string[]): Promise<void> {
  for (const k of keys) {
    stdin.write(k);
    await tick(15);
  }
}

export const ANSI_SGR_COLOUR = /\x1b\[(?:[0-9;]*;)?(?:3[0-7]|9[0-7]|4[0-7]|10[0-7]|38;[25];[0-9;]+|48;[25];[0-9;]+)m/;
export const stripAnsi = (s: string) => s.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '');

class Stdout extends EventEmitter {
  frames: string[] = [];
  isTTY = true;
  constructor(
    public columns: number,
    public rows: number,
  ) {
    super();
  }
  write = (frame: string) => {
    this.frames.push(frame);
    return true;
  };
  lastFrame = () => this.frames[this.frames.length - 1];
  resize(columns: number, rows: number) {
    this.columns = columns;
    this.rows = rows;
    this.emit('resize');
  }
}

class Stdin extends EventEmitter {
  isTTY = true;
  data: string | null = null;
  write = (data: string) => {
    this.data = data;
    this.emit('readable');
    this.emit('data', data);
  };
  setEncoding() {}
  setRawMode() {}
  resume() {}
  pause() {}
  ref() {}
  unref() {}
  read = () => {
    const d = this.data;
    this.data = null;
    return d;
  };
}

/** Render at `columns` x `rows`, as ink-testing-library does (debug mode: one full frame per write). */
export function renderAt(node: ReactNode, columns: number, rows: number) {
  const stdout = new Stdout(columns, rows);
  const stdin = new Stdin();
  const stderr = new Stdout(columns, rows);
  const instance = inkRender(node, {
    stdout: stdout as unknown as NodeJS.WriteStream,
    stdin: stdin as unknown as NodeJS.ReadStream,
    stderr: stderr as unknown as NodeJS.WriteStream,
    debug: true,
    exitOnCtrlC: false,
    patchConsole: false,
  });
  return { stdout, stdin, lastFrame: () => stdout.lastFrame() ?? '', unmount: () => instance.unmount(), instance };
}
