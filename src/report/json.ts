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
