// The bytes of the OpenBSD-shaped sample: the expected sources of the copy step (the six tls
// .opam files the Linux sample uses too, a CHANGES.md and a test-vector file large enough for an
// indirect block), the opam-repository tree (samples/recipe/gen-repo.mjs), and the files the
// prune step frees. Deterministic: a seeded PRNG, fixed lists.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

export type Rng = () => number;

/** mulberry32: small, seedable, good enough for sample bytes. */
export function makeRng(seed: number): Rng {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) | 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function randomBytes(rng: Rng, n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i += 4) b.writeUInt32LE(Math.floor(rng() * 2 ** 32), Math.min(i, n - 4));
  return b;
}

/** A changelog's words (the tls sources) and a repository README's (what the prune deletes). */
export const CHANGELOG_WORDS = 'the tls library handshake certificate cipher session ticket alert record x509 mirage lwt async eio miou fix add remove bump release version support test vector client server'.split(' ');
export const README_WORDS = 'this repository holds package descriptions for opam contributors should open pull requests against master maintainers review each submission and continuous integration checks every compiler'.split(' ');

/** Markdown-like text of exactly `n` bytes, from `words`. */
export function textBlob(rng: Rng, title: string, n: number, words: readonly string[] = CHANGELOG_WORDS): Buffer {
  const lines = [`# ${title}`, ''];
  let size = lines.join('\n').length + 1;
  while (size < n) {
    const line = `- ${Array.from({ length: 6 + Math.floor(rng() * 10) }, () => words[Math.floor(rng() * words.length)]).join(' ')}`;
    lines.push(line);
    size += line.length + 1;
  }
  return Buffer.from(`${lines.join('\n')}\n`).subarray(0, n);
}

/** Test vectors as JSON lines, exactly `n` bytes. */
function vectors(rng: Rng, n: number): Buffer {
  const out: string[] = ['['];
  let size = 2;
  for (let i = 0; size < n; i++) {
    const hex = randomBytes(rng, 32).toString('hex');
    const line = `  { "id": ${i}, "key": "${hex}", "nonce": "${hex.slice(0, 24)}", "tag": "${hex.slice(24, 56)}" },`;
    out.push(line);
    size += line.length + 1;
  }
  return Buffer.from(`${out.join('\n')}\n]\n`).subarray(0, n);
}

/** opam's `repos-config` naming the default repository. */
export function repoConfig(url: string): Buffer {
  return Buffer.from(`opam-version: "2.0"\nrepositories: [\n  "default" {"${url}"}\n]\n`);
}

/** The copy step's sources, keyed by their path relative to the expected directory. */
export function expectedSources(opamDir: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  for (const n of readdirSync(opamDir).sort()) if (n.endsWith('.opam')) out.set(n, readFileSync(join(opamDir, n)));
  out.set('CHANGES.md', textBlob(makeRng(3), 'v1.0.5 (2026-06-29)', 40_000));
  out.set('tests/vectors.json', vectors(makeRng(5), 300_000));
  return out;
}

/** The opam-repository tree of gen-repo.mjs, as paths under /opam/opam-repository. */
export function opamRepository(): [string, Buffer][] {
  const tmp = mkdtempSync(join(tmpdir(), 'lf-openbsd-repo-'));
  try {
    execFileSync(process.execPath, [fileURLToPath(new URL('../gen-repo.mjs', import.meta.url)), tmp], { stdio: ['ignore', 'ignore', 'ignore'] });
    const files: [string, Buffer][] = [];
    const walk = (dir: string): void => {
      for (const n of readdirSync(dir).sort()) {
        const p = join(dir, n);
        if (statSync(p).isDirectory()) walk(p);
        else files.push([`/opam/opam-repository/${relative(tmp, p)}`, readFileSync(p)]);
      }
    };
    walk(tmp);
    return files;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
