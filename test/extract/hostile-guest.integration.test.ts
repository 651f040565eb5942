// The guest's own tar emits a hostile stream (test/extract/fixtures/hostile-layer.ts: a forced
// command for the SSH key runs the tool's tar command, which meets an unreadable file and a
// hard-linked pair, then appends a crafted archive with unsafe names and hard links out of the
// tree). `diagnose` on it, with the real executable, in each output form: the verdict is
// inconclusive (exit 3), and every output says how tar ended, what it said, what was left out and
// what could not be read; the hard-linked pair is intact (match); a C1 control and a bidi override
// in a name never reach the terminal raw, in the JSON either; the store is unchanged.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { storeFingerprint } from '../helpers/sample.js';
import { C1_NAME, HOSTILE_DST, makeHostileStore, type HostileStore } from './fixtures/hostile-layer.js';

let h: HostileStore;
let before: Map<string, string>;

beforeAll(async () => {
  h = await makeHostileStore();
  before = storeFingerprint(h.store);
}, 120_000);
afterAll(async () => {
  await h?.cleanup();
});

const args = (): string[] => [
  'diagnose', '--store', h.store, '--layer', h.layer, '--expected', h.expected, '--dst', HOSTILE_DST,
  '--ssh-key', h.sshKey, '--qemu-accel', 'tcg', '--quiet',
];

const RAW_UNSAFE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

describe('a guest whose tar emits a hostile stream', () => {
  for (const form of ['text', 'markdown', 'json'] as const) {
    it(`${form}: inconclusive, exit 3, and the output lists what was dropped and how tar ended`, async () => {
      const r = await runCli([...args(), ...(form === 'text' ? [] : [`--${form}`])], { timeout: 240_000 });
      const out = String(r.stdout);
      expect(String(r.stderr)).toBe('');
      expect(r.exitCode).toBe(3);
      expect(out).not.toMatch(RAW_UNSAFE);
      for (const s of ['../../etc/passwd', '/etc/hostname', 'hard-out.opam', '../../etc/shadow', 'hard-missing.opam', 'not-in-the-archive']) {
        expect(out).toContain(s);
      }
      expect(out).toContain("can't open './secret.opam': Permission denied");
      if (form === 'json') {
        const doc = JSON.parse(out);
        expect(doc.verdict.kind).toBe('inconclusive');
        expect(doc.extraction.tarExitCode).toBe(1);
        expect(doc.extraction.tarStderr).toMatch(/secret\.opam/);
        expect(doc.extraction.unsafeEntries.map((u: { rawName: string }) => u.rawName)).toEqual([
          '../../etc/passwd',
          '/etc/hostname',
          './hard-out.opam',
          './hard-missing.opam',
        ]);
        const cls = Object.fromEntries(doc.files.map((f: { path: string; class: string }) => [f.path, f.class]));
        expect(cls).toMatchObject({ 'ok.opam': 'match', 'hard.opam': 'match', 'secret.opam': 'unreadable', [C1_NAME]: 'extra' });
        // Lossless: the name comes back exactly, though it was printed as \u escapes.
        expect(out).toContain('c1-\\u009b-\\u202e.txt');
      } else {
        expect(out).toMatch(/inconclusive/);
        expect(out).toMatch(/Extraction incomplete/);
        expect(out).toMatch(/the guest's tar exited with status 1/);
        expect(out).toMatch(/could not read secret\.opam: permission denied in the guest/);
        expect(out).toMatch(/hard\.opam[ |]+3[ |]+3[ |]+match/);
        expect(out).toContain('c1-\\x9b-\\u202e.txt'.replace(/\\/g, form === 'markdown' ? '\\\\' : '\\'));
      }
      expect(storeFingerprint(h.store)).toEqual(before);
    }, 300_000);
  }
});
