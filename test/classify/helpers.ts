// Shared by the classifier's tests: in-memory trees, a pool of real and generated opam and OCaml
// files, edits of them, and stale blocks of every kind soft-updates leaves.

import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { CandidateSource } from '../../src/classify/compare-trees.js';
import type { FileClass } from '../../src/report/schema.js';
import type { Tree, TreeEntry } from '../../src/tree/tree.js';

export const STALE: ReadonlySet<FileClass> = new Set<FileClass>(['zeros', 'directory-block', 'foreign-text', 'foreign-binary', 'partial']);

export function memEntry(path: string, data: Uint8Array, extra: Partial<TreeEntry> = {}): TreeEntry {
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return { path, kind: 'file', size: buf.length, read: async () => buf, ...extra };
}

export function memTree(files: Record<string, Uint8Array | string> | Map<string, Uint8Array>): Tree {
  const t: Tree = new Map();
  const entries = files instanceof Map ? [...files] : Object.entries(files);
  for (const [path, data] of entries) t.set(path, memEntry(path, typeof data === 'string' ? Buffer.from(data) : data));
  return t;
}

export function candidates(expected: Tree, corpus?: Tree): CandidateSource[] {
  const out: CandidateSource[] = [{ source: 'expected', root: '/expected', tree: expected, name: (r) => r }];
  if (corpus) out.push({ source: 'corpus', root: '/corpus', tree: corpus, name: (r) => r });
  return out;
}

const FIXTURES = join(import.meta.dirname, 'fixtures', 'ocaml-tls');
const SAMPLES = join(import.meta.dirname, '..', '..', 'samples', 'expected');

/** Real files: ocaml-tls sources (current and older versions) and the sample's opam files. */
export function realFiles(): { name: string; data: Buffer }[] {
  const out: { name: string; data: Buffer }[] = [];
  for (const n of readdirSync(FIXTURES).sort()) if (!n.endsWith('.md')) out.push({ name: `ocaml-tls/${n}`, data: readFileSync(join(FIXTURES, n)) });
  for (const n of readdirSync(SAMPLES).sort()) out.push({ name: `samples/${n}`, data: readFileSync(join(SAMPLES, n)) });
  return out;
}

/** Another commit's version of a real file: [expected, actual] pairs (some of the same size). */
export function versionPairs(): { name: string; expected: Buffer; actual: Buffer }[] {
  const names = readdirSync(FIXTURES).sort();
  const out: { name: string; expected: Buffer; actual: Buffer }[] = [];
  for (const n of names) {
    if (names.includes(`${n}.old`)) {
      const cur = readFileSync(join(FIXTURES, n));
      const old = readFileSync(join(FIXTURES, `${n}.old`));
      out.push({ name: n, expected: cur, actual: old }, { name: `${n} (reversed)`, expected: old, actual: cur });
    }
    if (n.endsWith('.a')) {
      const b = n.replace(/\.a$/, '.b');
      out.push({ name: n.replace(/\.a$/, ''), expected: readFileSync(join(FIXTURES, n)), actual: readFileSync(join(FIXTURES, b)) });
    }
  }
  return out;
}

/** A deterministic generator (tests pass a seed from fast-check). */
export function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 2 ** 32;
  };
}

const WORDS = 'lwt async eio mirage crypto x509 cstruct domain name fmt logs ipaddr ptime alcotest dune ocaml tls session handshake config engine reader writer state client server cert key rng digest sha256 hmac aead chacha poly gcm ccm cbc'.split(' ');

/** A generated opam file (the shape of opam-repository's). */
export function genOpam(r: () => number, name = `pkg-${Math.floor(r() * 1e6)}`): Buffer {
  const w = () => WORDS[Math.floor(r() * WORDS.length)]!;
  const v = () => `${Math.floor(r() * 5)}.${Math.floor(r() * 20)}.${Math.floor(r() * 10)}`;
  const deps = Array.from({ length: 2 + Math.floor(r() * 14) }, () => `  "${w()}-${w()}" {>= "${v()}"}`);
  const desc = Array.from({ length: 1 + Math.floor(r() * 12) }, () => Array.from({ length: 8 + Math.floor(r() * 8) }, w).join(' ')).join('\n');
  return Buffer.from(
    `opam-version: "2.0"\nname: "${name}"\nversion: "${v()}"\nmaintainer: "${w()}@example.org"\nauthors: ["${w()} ${w()}"]\nlicense: "ISC"\n` +
      `homepage: "https://github.com/${w()}/${name}"\nbug-reports: "https://github.com/${w()}/${name}/issues"\n` +
      `depends: [\n${deps.join('\n')}\n]\nbuild: [\n  ["dune" "subst"] {dev}\n  ["dune" "build" "-p" name "-j" jobs]\n]\n` +
      `synopsis: "${Array.from({ length: 5 }, w).join(' ')}"\ndescription: """\n${desc}\n"""\n`,
  );
}

/** A generated OCaml source file. */
export function genOcaml(r: () => number, lines = 40 + Math.floor(r() * 400)): Buffer {
  const w = () => WORDS[Math.floor(r() * WORDS.length)]!;
  const id = () => `${w()}_${w()}`;
  const out: string[] = [`(* ${Array.from({ length: 6 }, w).join(' ')} *)`, '', `open ${w().replace(/^./, (c) => c.toUpperCase())}`, ''];
  while (out.length < lines) {
    const k = r();
    if (k < 0.3) out.push(`let ${id()} ${id()} =`, `  match ${id()} with`, `  | Some ${w()} -> ${id()} ${w()} ${Math.floor(r() * 1000)}`, '  | None -> ()', '');
    else if (k < 0.6) out.push(`let ${id()} = ${id()} (${w()} + ${Math.floor(r() * 100)}) "${Array.from({ length: 3 }, w).join(' ')}"`);
    else if (k < 0.8) out.push(`  (* ${Array.from({ length: 4 + Math.floor(r() * 8) }, w).join(' ')} *)`);
    else out.push(`let () = Printf.printf "%s %d\\n" ${id()} ${Math.floor(r() * 100)}`, '');
  }
  return Buffer.from(`${out.join('\n')}\n`);
}

/** Records laid out in order while they fit in `size` bytes; the last one spans to the end. */
function layRecords(all: [number, string, number][], size: number, need: (name: string) => number): { off: number; ino: number; name: string; type: number; reclen: number }[] {
  const recs: { off: number; ino: number; name: string; type: number; reclen: number }[] = [];
  let off = 0;
  for (const [ino, name, type] of all) {
    const n = need(name);
    if (off + n > size) break;
    recs.push({ off, ino, name, type, reclen: n });
    off += n;
  }
  recs.at(-1)!.reclen = size - recs.at(-1)!.off;
  return recs;
}

/** An FFS (UFS1/UFS2, little-endian) directory chunk: `struct direct` records chained to 512 bytes. */
export function ffsDirChunk(dotIno: number, names: string[], parentIno = 2): Buffer {
  const all: [number, string, number][] = [[dotIno, '.', 4], [parentIno, '..', 4], ...names.map((n, i): [number, string, number] => [dotIno + 1 + i, n, 8])];
  const b = Buffer.alloc(512);
  // struct direct: d_ino (4), d_reclen (2), d_type (1), d_namlen (1), name, NUL, padded to 4.
  for (const r of layRecords(all, 512, (name) => 8 + ((Buffer.byteLength(name) + 1 + 3) & ~3))) {
    b.writeUInt32LE(r.ino, r.off);
    b.writeUInt16LE(r.reclen, r.off + 4);
    b[r.off + 6] = r.type;
    b[r.off + 7] = Buffer.byteLength(r.name);
    b.write(r.name, r.off + 8);
  }
  return b;
}

/** An ext4 directory block of `size` bytes (`ext4_dir_entry_2` records; the last one spans to the end). */
export function ext4DirBlock(dotIno: number, names: string[], size = 4096): Buffer {
  const all: [number, string, number][] = [[dotIno, '.', 2], [2, '..', 2], ...names.map((n, i): [number, string, number] => [dotIno + 1 + i, n, 1])];
  const b = Buffer.alloc(size);
  // ext4_dir_entry_2: inode (4), rec_len (2), name_len (1), file_type (1), name, padded to 4.
  for (const r of layRecords(all, size, (name) => (8 + Buffer.byteLength(name) + 3) & ~3)) {
    b.writeUInt32LE(r.ino, r.off);
    b.writeUInt16LE(r.reclen, r.off + 4);
    b[r.off + 6] = Buffer.byteLength(r.name);
    b[r.off + 7] = r.type;
    b.write(r.name, r.off + 8);
  }
  return b;
}
