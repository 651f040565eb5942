// Every row of docs/bad-inputs.md, run with the real executable: the one line on stderr exactly,
// no stack trace, the exit status, and nothing written to any store (sha256, size and mtime of
// every file unchanged). The document is the source: a row added there is a test here.

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { qemuProcessesWith, storeFingerprint } from '../helpers/sample.js';
import { makeBadInputFixtures, type BadInputFixtures } from './bad-inputs-fixtures.js';

const DOC = fileURLToPath(new URL('../../docs/bad-inputs.md', import.meta.url));

interface Row {
  n: number;
  what: string;
  args: string;
  line: string;
  exit: number;
}

/** The text of a Markdown code span cell: `x` or ``x``. */
function codeSpan(cell: string): string {
  const m = /^(`+)\s?([\s\S]*?)\s?\1$/.exec(cell.trim());
  if (!m) throw new Error(`not a code span: ${cell}`);
  return m[2]!;
}

/** Split a table line on the pipes that are not escaped and not inside a code span. */
function cells(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let tick = 0;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (c === '`') {
      let run = 1;
      while (line[i + run] === '`') run++;
      tick = tick === 0 ? run : tick === run ? 0 : tick;
      cur += '`'.repeat(run);
      i += run - 1;
    } else if (c === '\\' && line[i + 1] === '|') {
      cur += '|';
      i++;
    } else if (c === '|' && tick === 0) {
      out.push(cur);
      cur = '';
    } else cur += c;
  }
  out.push(cur);
  return out.slice(1, -1).map((s) => s.trim());
}

function rows(): Row[] {
  return readFileSync(DOC, 'utf8')
    .split('\n')
    .filter((l) => /^\| \d+ \|/.test(l))
    .map((l) => {
      const [n, what, cmd, line, exit] = cells(l);
      return { n: Number(n), what: what!, args: codeSpan(cmd!), line: codeSpan(line!), exit: Number(exit) };
    });
}

/** Shell-like words: runs of non-space, or '...' (possibly empty). */
function words(s: string): string[] {
  return [...s.matchAll(/'([^']*)'|(\S+)/g)].map((m) => m[1] ?? m[2]!);
}

let fx: BadInputFixtures;
const sub = (s: string): string => s.replace(/\$([A-Z_]+)/g, (m, name: string) => fx.vars[name] ?? m);

beforeAll(async () => {
  fx = await makeBadInputFixtures();
}, 120_000);
afterAll(async () => {
  await fx?.cleanup();
});

const table = rows();

describe('docs/bad-inputs.md', () => {
  test('has its rows, numbered in order', () => {
    expect(table.length).toBeGreaterThanOrEqual(40);
    expect(table.map((r) => r.n)).toEqual(table.map((_r, i) => i + 1));
  });

  for (const row of table) {
    test(`${row.n}. ${row.what}`, async () => {
      const before = fx.stores.map((s) => storeFingerprint(s));
      const args = words(row.args).map(sub);
      const r = await runCli(args, { timeout: 60_000 });
      const stderr = String(r.stderr);
      expect(stderr.split('\n'), `stderr of: ${args.join(' ')}`).toEqual([sub(row.line)]);
      expect(stderr).not.toMatch(/^\s+at /m);
      expect(r.exitCode).toBe(row.exit);
      expect(String(r.stdout)).toBe('');
      expect(fx.stores.map((s) => storeFingerprint(s))).toEqual(before);
      // Refused before anything started: no QEMU was ever given these stores.
      expect(qemuProcessesWith(fx.vars.TMP!)).toEqual([]);
    }, 60_000);
  }

  test('without --quiet, diagnose prints its progress first and the same line last', async () => {
    const r = await runCli(words(sub('diagnose --store $BAD --layer $ABS --expected $EXPECTED')).map(sub));
    const lines = String(r.stderr).split('\n');
    expect(lines.at(-1)).toBe(sub('layer-forensics: layer $ABS: backing file /etc/hostname resolves to /etc/hostname, outside store $BAD'));
    expect(String(r.stderr)).not.toMatch(/^\s+at /m);
    expect(r.exitCode).toBe(2);
  });
});
