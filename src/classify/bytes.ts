// Byte-level predicates used by every classifier: all-zero, trailing NUL padding, text.

const ZERO = Buffer.alloc(64 * 1024);

/**
 * True when every byte is NUL (memcmp against a zero page, so it runs at memory speed). Compared
 * by offsets, not views: it runs for every differing block, and two views a call were the
 * largest allocation of a classification (42 MB for a 1 GB tree).
 */
export function isAllZero(buf: Uint8Array): boolean {
  for (let off = 0; off < buf.length; off += ZERO.length) {
    const n = Math.min(ZERO.length, buf.length - off);
    if (ZERO.compare(buf, off, off + n, 0, n) !== 0) return false;
  }
  return true;
}

/** Length without the trailing NUL bytes (stale text is often followed by a block's zero tail). */
export function lengthWithoutTrailingNul(buf: Uint8Array): number {
  let end = buf.length;
  while (end > 0 && buf[end - 1] === 0) end--;
  return end;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Text: valid UTF-8 (a multi-byte sequence cut by the end of the slice is tolerated) with no NUL
 * and almost no control characters. Tabs, newlines, CR, FF, VT, backspace and ESC are allowed:
 * text files do carry colour escapes, and the renderers escape them anyway.
 * NUL padding after the text is the caller's business (see lengthWithoutTrailingNul).
 */
export function isText(buf: Uint8Array): boolean {
  if (buf.length === 0) return false;
  let controls = 0;
  for (let i = 0; i < buf.length; i++) {
    const b = buf[i]!;
    if (b >= 0x20 && b !== 0x7f) continue;
    if (b === 0) return false;
    if (b === 0x09 || b === 0x0a || b === 0x0d || b === 0x0c || b === 0x0b || b === 0x08 || b === 0x1b) continue;
    controls++;
  }
  if (controls * 100 > buf.length) return false;
  return isUtf8Prefix(buf);
}

function isUtf8Prefix(buf: Uint8Array): boolean {
  try {
    utf8.decode(buf);
    return true;
  } catch {
    // A slice may end inside a multi-byte character: drop up to 3 trailing continuation bytes.
    for (let cut = 1; cut <= 3 && cut < buf.length; cut++) {
      const lead = buf[buf.length - cut]!;
      if ((lead & 0xc0) === 0xc0) {
        try {
          utf8.decode(buf.subarray(0, buf.length - cut));
          return true;
        } catch {
          return false;
        }
      }
      if ((lead & 0xc0) !== 0x80) return false;
    }
    return false;
  }
}

/** Text with optional NUL padding after it; the padding alone is not text. */
export function isPaddedText(buf: Uint8Array): boolean {
  const end = lengthWithoutTrailingNul(buf);
  return end > 0 && isText(buf.subarray(0, end));
}

/** Length of the common prefix of two buffers (memcmp over 4 KiB steps, then byte by byte). */
export function commonPrefix(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i + 4096 <= n && Buffer.compare(a.subarray(i, i + 4096), b.subarray(i, i + 4096)) === 0) i += 4096;
  while (i < n && a[i] === b[i]) i++;
  return i;
}

const CONTROL = new Uint8Array(256);
for (let b = 0; b < 0x20; b++) CONTROL[b] = 1;
for (const b of [0x09, 0x0a, 0x0d, 0x0c, 0x0b, 0x08, 0x1b]) CONTROL[b] = 0;
CONTROL[0x7f] = 1;

/** How many bytes are NUL or control characters no text file holds (tabs, newlines, ESC aside). */
export function controlBytes(buf: Uint8Array): number {
  let n = 0;
  for (let i = 0; i < buf.length; i++) n += CONTROL[buf[i]!]!;
  return n;
}

/**
 * Whether more than `limit` bytes of buf are control bytes (controlBytes(buf) > limit), counted
 * 4 KiB at a time and no further than that answer needs: binary tells after a few KiB, where
 * the count went through every byte of a 256 KiB window.
 */
export function controlBytesExceed(buf: Uint8Array, limit: number): boolean {
  let n = 0;
  for (let from = 0; from < buf.length; from += 4096) {
    const to = Math.min(buf.length, from + 4096);
    for (let i = from; i < to; i++) n += CONTROL[buf[i]!]!;
    if (n > limit) return true;
  }
  return false;
}

/**
 * Junk: bytes no edit of a text file writes, NULs and control characters making up at least 3 %
 * of them (random or compressed data: ~13 %; a directory block or zeros: more). Text in a legacy
 * 8-bit encoding is not junk: its high bytes are not control characters.
 */
export function isJunk(buf: Uint8Array): boolean {
  // controlBytes * 100 >= length * 3, as a count above a whole number.
  return buf.length > 0 && controlBytesExceed(buf, Math.ceil((buf.length * 3) / 100) - 1);
}
