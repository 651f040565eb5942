// Option parsing helpers: numbers are parsed from what was typed, so an error shows it ("--qemu-cpus
// two: not a number") rather than NaN; and an option given twice takes its last value.

import { UserError } from '../util/errors.js';

function last(v: unknown): unknown {
  return Array.isArray(v) ? v.at(-1) : v;
}

/** A coerce function for a number option: finite, within bounds, an integer when asked. */
export function numberOption(name: string, o: { min?: number; max?: number; integer?: boolean; positive?: boolean } = {}) {
  return (raw: unknown): number => {
    const v = last(raw);
    const text = String(v);
    const n = typeof v === 'number' ? v : text.trim() === '' ? NaN : Number(text);
    if (!Number.isFinite(n)) throw new UserError(`--${name} ${JSON.stringify(text)}: not a number`);
    if (o.integer && !Number.isInteger(n)) throw new UserError(`--${name} ${text}: must be a whole number`);
    if (o.positive && !(n > 0)) throw new UserError(`--${name} ${text}: must be a positive number`);
    if (o.min !== undefined && n < o.min) throw new UserError(`--${name} ${text}: must be at least ${o.min}`);
    if (o.max !== undefined && n > o.max) throw new UserError(`--${name} ${text}: must be at most ${o.max}`);
    return n;
  };
}

/** --block-size: a power of two from 512 to 65536. */
export function blockSizeOption(raw: unknown): number {
  const bs = numberOption('block-size', { integer: true })(raw);
  // The error shows what was typed (`--block-size 1e3`), not the number it parsed to.
  if (bs < 512 || bs > 65536 || (bs & (bs - 1)) !== 0) throw new UserError(`--block-size ${String(last(raw))}: must be a power of two from 512 to 65536`);
  return bs;
}

/** A string option given twice takes its last value. */
export function lastString(raw: unknown): string {
  return String(last(raw));
}

/** A choice option given twice takes its last value; yargs checks it against `choices` after. */
export function lastChoice<T extends string>(_choices: readonly T[]) {
  return (raw: unknown): T => String(last(raw)) as T;
}
