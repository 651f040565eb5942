// Every JSON document the tool prints (`--json` of diagnose and classify, `layers --json`, the
// NDJSON lines of `audit --json`, the TUI's exported report) goes through `toSafeJson`.
//
// JSON.stringify escapes C0 controls but leaves every other character raw. Strings in our
// documents carry bytes from a layer (file names, directory-block entries, tar's stderr), and a
// raw U+009B (CSI) or U+009D (OSC) is a terminal escape for many terminals, a bidi override
// (U+202A–U+202E, U+2066–U+2069) reorders what a reader sees. Those are written as `\uXXXX`
// escapes instead: the document stays valid JSON and JSON.parse gives back the very same strings.

/**
 * Characters written as `\uXXXX`: DEL, the C1 controls, the bidi marks, embeddings, overrides and
 * isolates, and the line and paragraph separators (which also end a line for some readers).
 */
const UNSAFE_IN_JSON = /[\u007f-\u009f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

function uEscape(c: string): string {
  return `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;
}

/**
 * `JSON.stringify(value, null, indent)`, with the characters above escaped. Without `indent` the
 * document is one line (NDJSON). Safe to do on the text: outside strings JSON is ASCII, and a raw
 * character inside a string is never part of an escape sequence, so each one is replaced by the
 * escape that means the same character.
 */
export function toSafeJson(value: unknown, indent?: number): string {
  const text = JSON.stringify(value, null, indent);
  if (text === undefined) throw new TypeError(`toSafeJson: ${typeof value} has no JSON form`);
  return text.replace(UNSAFE_IN_JSON, uEscape);
}

/**
 * `toSafeJson(doc, indent)` of an object, as pieces whose concatenation is exactly that text:
 * the elements of a top-level array come `slice` at a time. A report of 20,000 files is an
 * 11 MB document; printed whole it was built, escaped and encoded at once (about 70 MB at the
 * peak), printed in pieces it never exists in full. A few hundred elements a piece cost one
 * JSON.stringify and one replace, not one of each per element.
 */
export function* safeJsonPieces(doc: Record<string, unknown>, indent = 2, slice = 256): Generator<string> {
  if (indent <= 0) {
    yield toSafeJson(doc);
    return;
  }
  const pad = ' '.repeat(indent);
  // A nested value's own lines, moved right by `depth` levels (JSON strings hold no raw newline).
  const nested = (v: unknown, depth: number): string => toSafeJson(v, indent).replace(/\n/g, `\n${pad.repeat(depth)}`);
  const keys = Object.keys(doc).filter((k) => doc[k] !== undefined && typeof doc[k] !== 'function' && typeof doc[k] !== 'symbol');
  if (keys.length === 0) {
    yield '{}';
    return;
  }
  yield '{';
  for (const [i, k] of keys.entries()) {
    const v = doc[k];
    const sep = i === keys.length - 1 ? '' : ',';
    const name = `\n${pad}${toSafeJson(k)}: `;
    if (!Array.isArray(v) || v.length === 0) {
      yield `${name}${nested(v, 1)}${sep}`;
      continue;
    }
    yield `${name}[`;
    for (let j = 0; j < v.length; j += slice) {
      // The slice inside an array of its own puts its elements two levels in, as in the document:
      // "[\n" pad "[\n" elements "\n" pad "]\n]". An element with no JSON form is null there too.
      const text = toSafeJson([v.slice(j, j + slice)], indent);
      const more = j + slice < v.length ? ',' : '';
      yield `\n${text.slice(4 + indent, -(4 + indent))}${more}`;
    }
    yield `\n${pad}]${sep}`;
  }
  yield '\n}';
}
