// Bytes from a layer never reach a terminal or a report raw: control characters, escape
// sequences, invalid UTF-8 and bidirectional overrides are shown as visible escapes. A literal
// backslash is shown as `\\`, so that what reads as an escape (`\e`, `\x9b`) always is one: a
// file name holding the four characters `\x1b` is not mistaken for one holding ESC. Escape a
// string once, where it is printed.

const utf8 = new TextDecoder('utf-8', { fatal: false });

function hex2(n: number): string {
  return n.toString(16).padStart(2, '0');
}

const NAMED: Record<number, string> = { 0x09: '\\t', 0x0a: '\\n', 0x0d: '\\r', 0x00: '\\0', 0x1b: '\\e' };

/** True for code points that must not be printed as they are. */
function unsafe(cp: number): boolean {
  return (
    cp < 0x20 ||
    cp === 0x7f ||
    (cp >= 0x80 && cp <= 0x9f) ||
    (cp >= 0x202a && cp <= 0x202e) ||
    (cp >= 0x2066 && cp <= 0x2069) ||
    cp === 0x200e ||
    cp === 0x200f ||
    cp === 0xfffd
  );
}

export interface EscapeOptions {
  /** Leave newlines as they are (multi-line text views split on them first). */
  keepNewlines?: boolean;
  /** Leave tabs as they are. */
  keepTabs?: boolean;
}

/** Escape a string that may hold anything. */
export function escapeText(s: string, opts: EscapeOptions = {}): string {
  let out = '';
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    if ((cp === 0x0a && opts.keepNewlines) || (cp === 0x09 && opts.keepTabs)) out += ch;
    else if (cp === 0x5c) out += '\\\\';
    else if (cp === 0xfffd) out += '\\ufffd';
    else if (!unsafe(cp)) out += ch;
    else if (cp < 0x100) out += NAMED[cp] ?? `\\x${hex2(cp)}`;
    else out += `\\u${cp.toString(16).padStart(4, '0')}`;
  }
  return out;
}

/**
 * Escape raw bytes: valid UTF-8 is kept (minus unsafe characters), every byte of an invalid
 * sequence is shown as \xNN, so the result says exactly what was there.
 */
export function escapeBytes(bytes: Uint8Array, opts: EscapeOptions = {}): string {
  let out = '';
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i]!;
    const len = b < 0x80 ? 1 : b >= 0xc2 && b <= 0xdf ? 2 : b >= 0xe0 && b <= 0xef ? 3 : b >= 0xf0 && b <= 0xf4 ? 4 : 0;
    let ok = len > 0 && i + len <= bytes.length;
    for (let k = 1; ok && k < len; k++) ok = (bytes[i + k]! & 0xc0) === 0x80;
    if (ok && len > 1) {
      const s = utf8.decode(bytes.subarray(i, i + len));
      if (s.length > 0 && !s.includes('\ufffd')) {
        out += escapeText(s, opts);
        i += len;
        continue;
      }
    }
    if (ok && len === 1) out += escapeText(String.fromCharCode(b), opts);
    else out += `\\x${hex2(b)}`;
    i++;
  }
  return out;
}
