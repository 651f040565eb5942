import { describe, expect, it } from 'vitest';
import { ProvenanceIndex } from '../../src/classify/provenance.js';

const opam = (name: string, body: string): Buffer =>
  Buffer.from(`opam-version: "2.0"\nmaintainer: "Hannes Mehnert <hannes@mehnert.org>"\nname: "${name}"\n${body}`);

function corpus(): ProvenanceIndex {
  const idx = new ProvenanceIndex();
  // Many files share a long common start, as opam files of one maintainer do.
  for (let i = 0; i < 500; i++) idx.add('corpus', '/repo', `packages/p${i}/p${i}.1.0/opam`, opam(`p${i}`, `synopsis: "package ${i}"\n`.repeat(5)));
  idx.add('corpus', '/repo', 'packages/zxcvbn/zxcvbn.3.0/opam', opam('zxcvbn', 'synopsis: "Password strength"\ndepends: ["ocaml"]\n'.repeat(10)));
  idx.add('corpus', '/repo', 'repo', Buffer.from('opam-version: "2.0"\nbrowse: "https://opam.ocaml.org/pkg/"\n'));
  idx.add('expected', '/src', 'tls.opam', opam('tls', 'synopsis: "TLS in pure OCaml"\n'.repeat(8)));
  return idx;
}

describe('ProvenanceIndex', () => {
  const idx = corpus();

  it('names the file whose start the stale bytes are (stale truncated to the file size)', () => {
    const z = opam('zxcvbn', 'synopsis: "Password strength"\ndepends: ["ocaml"]\n'.repeat(10));
    const p = idx.lookup(z.subarray(0, 300));
    expect(p).toEqual({ source: 'corpus', root: '/repo', path: 'packages/zxcvbn/zxcvbn.3.0/opam', matchedBytes: 300 });
  });

  it('names a shorter file the stale bytes start with, its NUL tail ignored', () => {
    const repo = Buffer.from('opam-version: "2.0"\nbrowse: "https://opam.ocaml.org/pkg/"\n');
    const stale = Buffer.concat([repo, Buffer.alloc(200)]);
    expect(idx.lookup(stale)).toMatchObject({ path: 'repo', matchedBytes: repo.length });
    const junk = Buffer.concat([repo, Buffer.from([0xff, 0xfe, 1, 2, 3])]);
    expect(idx.lookup(junk)).toMatchObject({ path: 'repo', matchedBytes: repo.length });
  });

  it('picks the longest match among files sharing a long prefix', () => {
    const p137 = opam('p137', `synopsis: "package 137"\n`.repeat(5));
    expect(idx.lookup(p137)?.path).toBe('packages/p137/p137.1.0/opam');
  });

  it('does not name a file for a merely common prefix, nor the file itself', () => {
    expect(idx.lookup(opam('unknown', 'synopsis: "never seen"\n'.repeat(20)))).toBeNull();
    const tls = opam('tls', 'synopsis: "TLS in pure OCaml"\n'.repeat(8));
    expect(idx.lookup(tls, { source: 'expected', path: 'tls.opam' })).toBeNull();
    expect(idx.lookup(tls)?.path).toBe('tls.opam');
    expect(idx.lookup(Buffer.alloc(100))).toBeNull();
  });
});
