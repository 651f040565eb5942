// Keys, from ink to the screen on show, one at a time: each key is handled only once the screen
// has redrawn after the key before it (the next key is taken from the layout effect of the commit
// the previous one caused), so every key meets the state the previous one left, however fast
// they come (a fast typist, a held key, a paste, tmux send-keys, a busy machine).
//
// ink hands a run of characters read at once ("jj\r") to its input handler as one input: it is
// split into tokens first. Printable text is offered whole to the screen (a text field takes a
// paste at once); otherwise it is typed one key at a time. Ctrl-C is never queued: it interrupts.

import { useLayoutEffect, useRef, useState } from 'react';
import { useInput, type Key } from 'ink';
import { keyOf, splitRun } from '../keys.js';

export interface KeyReplay {
  /** One key, as ink reports it. */
  onKey(input: string, key: Key): void;
  /** A run of printable text: true when the screen took it whole. */
  takeText(text: string): boolean;
  /** Ctrl-C, wherever it was read. */
  onInterrupt(): void;
}

type Token = { text: string } | { input: string; key: Key };

export function useKeyReplay(handlers: KeyReplay): void {
  // ink re-subscribes its input handler after each render (a passive effect): going through a
  // ref assigned during render, a key never meets a stale closure.
  const h = useRef(handlers);
  h.current = handlers;
  const pending = useRef<Token[]>([]);
  const busy = useRef(false);
  const [tick, setTick] = useState(0);

  const handleOne = () => {
    const next = pending.current.shift();
    if (next === undefined) {
      busy.current = false;
      return;
    }
    busy.current = true;
    if ('text' in next) {
      if ([...next.text].length === 1 || !h.current.takeText(next.text)) {
        const [first, ...rest] = [...next.text];
        pending.current.unshift(...rest.map((ch) => ({ text: ch })));
        const k = keyOf(first!);
        h.current.onKey(k.input, k.key);
      }
    } else h.current.onKey(next.input, next.key);
    setTick((t) => t + 1);
  };
  const handleRef = useRef(handleOne);
  handleRef.current = handleOne;

  useLayoutEffect(() => {
    // Out of the commit (a long run must not nest renders), but only after it.
    if (!busy.current) return;
    const t = setTimeout(() => handleRef.current(), 0);
    return () => clearTimeout(t);
  }, [tick]);

  useInput((input, key) => {
    const run = splitRun(input);
    if ((key.ctrl && input === 'c') || run?.includes('\x03')) {
      pending.current = [];
      h.current.onInterrupt();
      return;
    }
    pending.current.push(...(run === null ? [{ input, key }] : run.map((text) => ({ text }))));
    if (!busy.current) handleOne();
  });
}
