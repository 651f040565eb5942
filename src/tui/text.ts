// Small text helpers for fixed-width columns. Everything passed here is already escaped.

/** Columns a code point takes: 0 for combining marks, 2 for wide (CJK, fullwidth, emoji), else 1. */
function cpWidth(cp: number): number {
  if ((cp >= 0x300 && cp <= 0x36f) || (cp >= 0x200b && cp <= 0x200d) || (cp >= 0xfe00 && cp <= 0xfe0f)) return 0;
  if (
    (cp >= 0x1100 && cp <= 0x115f) ||
    (cp >= 0x2e80 && cp <= 0xa4cf) ||
    (cp >= 0xac00 && cp <= 0xd7a3) ||
    (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0xfe30 && cp <= 0xfe4f) ||
    (cp >= 0xff00 && cp <= 0xff60) ||
    (cp >= 0xffe0 && cp <= 0xffe6) ||
    (cp >= 0x1f300 && cp <= 0x1faff) ||
    (cp >= 0x20000 && cp <= 0x3fffd)
  ) {
    return 2;
  }
  return 1;
}

/** Terminal columns of an (escaped, control-free) string. */
export function width(s: string): number {
  let w = 0;
  for (const ch of s) w += cpWidth(ch.codePointAt(0)!);
  return w;
}

/** Cut `s` to `n` columns, ending in `…` when cut. */
export function fit(s: string, n: number): string {
  if (n <= 0) return '';
  if (width(s) <= n) return s;
  let out = '';
  let w = 0;
  for (const ch of s) {
    const cw = width(ch);
    if (w + cw > n - 1) break;
    out += ch;
    w += cw;
  }
  return `${out}…`;
}

/** Cut from the left (keeps the end of a path visible). */
export function fitStart(s: string, n: number): string {
  if (n <= 0) return '';
  if (width(s) <= n) return s;
  const chars = [...s];
  let out = '';
  let w = 0;
  for (let i = chars.length - 1; i >= 0; i--) {
    const cw = width(chars[i]!);
    if (w + cw > n - 1) break;
    out = chars[i]! + out;
    w += cw;
  }
  return `…${out}`;
}

/** Pad (or cut) to exactly `n` columns. */
export function cell(s: string, n: number, align: 'left' | 'right' = 'left'): string {
  const t = fit(s, n);
  const gap = ' '.repeat(Math.max(0, n - width(t)));
  return align === 'left' ? t + gap : gap + t;
}

export function shortId(id: string): string {
  return id.slice(0, 12);
}

/** `2026-06-29 16:02` from an ISO date; '-' when unknown. */
export function shortDate(iso: string | null | undefined): string {
  if (!iso) return '-';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso.slice(0, 16);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}`;
}

/** `850 ms`, `4.2 s`, `1 min 3 s`. */
export function duration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const m = Math.floor(ms / 60_000);
  return `${m} min ${Math.round((ms - m * 60_000) / 1000)} s`;
}

/** Word-wrap to `n` columns, at most `maxLines` lines (the last one ends in `…` when cut). */
export function wrapLines(s: string, n: number, maxLines = Infinity): string[] {
  const out: string[] = [];
  let line = '';
  const words = s.split(/\s+/).filter(Boolean);
  for (let i = 0; i < words.length; i++) {
    let w = words[i]!;
    while (width(w) > n) {
      // A word longer than the line: cut it.
      if (line) {
        out.push(line);
        line = '';
      }
      const chars = [...w];
      out.push(chars.slice(0, n).join(''));
      w = chars.slice(n).join('');
    }
    if (!line) line = w;
    else if (width(line) + 1 + width(w) <= n) line += ` ${w}`;
    else {
      out.push(line);
      line = w;
    }
  }
  if (line) out.push(line);
  if (out.length > maxLines) {
    const kept = out.slice(0, maxLines);
    kept[maxLines - 1] = fit(`${kept[maxLines - 1]} ${out[maxLines]}`, n);
    if (!kept[maxLines - 1]!.endsWith('…')) kept[maxLines - 1] = fit(`${kept[maxLines - 1]}…`, n);
    return kept;
  }
  return out;
}
