// Every key of the terminal UI, for the `?` overlay and the footer hints.

import type { Key } from 'ink';

export type ScreenName = 'layers' | 'sources' | 'run' | 'results' | 'file';

export interface KeyHelp {
  keys: string;
  what: string;
}

export const GLOBAL_KEYS: KeyHelp[] = [
  { keys: '?', what: 'this help (any key closes it)' },
  { keys: 'q', what: 'quit (stops QEMU and removes the overlay first)' },
  { keys: 'Ctrl-C', what: 'quit, from anywhere, even while typing' },
  { keys: 'Esc / Backspace', what: 'back to the previous screen' },
];

export const SCREEN_KEYS: Record<ScreenName, KeyHelp[]> = {
  layers: [
    { keys: '↑ ↓  j k', what: 'move' },
    { keys: 'PgUp PgDn  g G', what: 'page, first, last' },
    { keys: '0-9 a-f', what: 'type a layer id to filter' },
    { keys: '/', what: 'filter by any text (id, parent, base, date); Enter keeps it, Esc clears it' },
    { keys: 'Backspace', what: 'delete the last filter character' },
    { keys: 'Enter', what: 'diagnose the selected layer' },
    { keys: 'A', what: 'audit the whole store (verdicts update as layers finish)' },
    { keys: 'Esc', what: 'clear the filter; else stop the audit' },
  ],
  sources: [
    { keys: 'Tab  ↑ ↓', what: 'next / previous field' },
    { keys: 'text', what: 'edit the field (Backspace deletes, Ctrl-U clears)' },
    { keys: 'Tab at the end', what: 'complete a host path' },
    { keys: 'Space  ← →  b d', what: 'read the layer by booting it, or by reading its disk directly' },
    { keys: 'Enter', what: 'start (a directory that does not exist is refused)' },
    { keys: 'Esc', what: 'back to the layers' },
  ],
  run: [
    { keys: 'c', what: "show or hide the guest's serial console" },
    { keys: 'Esc', what: 'stop the run (QEMU stopped, overlay removed, image closed) and go back to the sources' },
    { keys: 'r', what: 'run again after a failure' },
    { keys: 'd', what: 'after a failed boot: read the disk directly instead' },
    { keys: 'Enter', what: 'to the results, once there are some' },
  ],
  results: [
    { keys: '↑ ↓  j k', what: 'move' },
    { keys: 'PgUp PgDn  g G', what: 'page, first, last' },
    { keys: 'Enter', what: 'open the file' },
    { keys: '/', what: 'filter files by path or class; Enter keeps it, Esc clears it' },
    { keys: 'e', what: 'export the JSON and Markdown reports' },
    { keys: 'Esc', what: 'back to the run' },
  ],
  file: [
    { keys: '↑ ↓  j k', what: 'scroll' },
    { keys: '← →  h l', what: 'scroll sideways' },
    { keys: 'PgUp PgDn  Space  g G', what: 'page, top, bottom' },
    { keys: 'n p', what: 'next / previous file' },
    { keys: 'e', what: 'export the reports' },
    { keys: 'Esc', what: 'back to the files' },
  ],
};

/** Moves common to every list: returns the new index, or null when the key is not a move. */
export function listMove(input: string, key: Key, index: number, count: number, page: number): number | null {
  if (count === 0) return null;
  let next: number;
  if (key.upArrow || input === 'k') next = index - 1;
  else if (key.downArrow || input === 'j') next = index + 1;
  else if (key.pageUp) next = index - page;
  else if (key.pageDown || input === ' ') next = index + page;
  else if (key.home || input === 'g') next = 0;
  else if (key.end || input === 'G') next = count - 1;
  else return null;
  return Math.max(0, Math.min(count - 1, next));
}

export function isBack(input: string, key: Key): boolean {
  return key.escape || key.backspace || key.delete;
}

/** Printable text typed (or pasted): no control characters. */
export function typedText(input: string, key: Key): string | null {
  if (key.ctrl || key.meta || key.escape || key.return || key.tab || key.backspace || key.delete) return null;
  if (!input || /[\x00-\x1f\x7f]/.test(input)) return null;
  return input;
}

const NO_KEY: Key = {
  upArrow: false,
  downArrow: false,
  leftArrow: false,
  rightArrow: false,
  pageDown: false,
  pageUp: false,
  home: false,
  end: false,
  return: false,
  escape: false,
  ctrl: false,
  shift: false,
  tab: false,
  backspace: false,
  delete: false,
  meta: false,
  super: false,
  hyper: false,
  capsLock: false,
  numLock: false,
};

/** The key ink would report for one character typed alone. */
export function keyOf(ch: string): { input: string; key: Key } {
  const code = ch.codePointAt(0) ?? 0;
  if (ch === '\r' || ch === '\n') return { input: '', key: { ...NO_KEY, return: true } };
  if (ch === '\t') return { input: '', key: { ...NO_KEY, tab: true } };
  if (ch === '\x7f') return { input: '', key: { ...NO_KEY, delete: true } };
  if (ch === '\b') return { input: '', key: { ...NO_KEY, backspace: true } };
  if (code < 0x20) return { input: String.fromCharCode(code + 96), key: { ...NO_KEY, ctrl: true } };
  return { input: ch, key: { ...NO_KEY, shift: ch !== ch.toLowerCase() } };
}

/**
 * ink hands a run of plain characters read at once ("jj\r" from a fast typist, a held key, a
 * paste or tmux send-keys) to the handler as one input. Split it into runs of printable text
 * (kept whole, so a paste lands in a text field at once) and single control characters.
 * Returns null for anything ink already parsed as one key (escape sequences, single characters).
 */
export function splitRun(input: string): string[] | null {
  if ([...input].length < 2 || input.includes('\x1b')) return null;
  const out: string[] = [];
  let text = '';
  for (const ch of input) {
    if (/[\x00-\x1f\x7f]/.test(ch)) {
      if (text) out.push(text);
      text = '';
      out.push(ch);
    } else text += ch;
  }
  if (text) out.push(text);
  return out;
}

/**
 * A key while a `/` filter is being typed (Layers and Results share it): Enter keeps the filter,
 * Esc clears it, Backspace edits it, text extends it. Returns -1 or 1 for an arrow (the screen
 * moves its selection), else null.
 */
export function filterTypingKey(input: string, key: Key, filter: string, onFilter: (f: string) => void, endTyping: () => void): -1 | 1 | null {
  if (key.return) endTyping();
  else if (key.escape) {
    endTyping();
    onFilter('');
  } else if (key.backspace || key.delete) onFilter(filter.slice(0, -1));
  else if (key.upArrow || key.downArrow) return key.upArrow ? -1 : 1;
  else {
    const t = typedText(input, key);
    if (t !== null) onFilter(filter + t);
  }
  return null;
}
