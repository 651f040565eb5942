// Generates a small, deterministic opam-repository-like tree:
//   <out>/repo, <out>/version, <out>/packages/<name>/<name>.<version>/opam
// Usage: node gen-repo.mjs <out-dir>
// Same output on every run (seeded PRNG, fixed lists), so the sample store is reproducible.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const out = process.argv[2];
if (!out) {
  console.error('usage: gen-repo.mjs <out-dir>');
  process.exit(2);
}

let seed = 0x5a3cefcc;
function rnd() {
  // mulberry32
  seed = (seed + 0x6d2b79f5) | 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const pick = (a) => a[Math.floor(rnd() * a.length)];

const real = `alcotest angstrom asn1-combinators astring base base64 bigarray-compat bigstringaf bos
ca-certs cmdliner conduit conf-gmp conf-pkg-config cppo crowbar csexp cstruct cstruct-lwt
decompress digestif domain-name dune dune-configurator duration eio eio_main emile eqaf fmt
fpath gmap hex hmap ipaddr irmin jsonm kdf logs lwt lwt_ppx macaddr magic-mime menhir metrics
mirage-clock mirage-crypto mirage-crypto-ec mirage-crypto-pk mirage-crypto-rng mirage-flow
mirage-kv mirage-ptime mirage-runtime mtime ocaml ocaml-compiler-libs ocaml-syntax-shims
ocamlbuild ocamlfind ocplib-endian ohex ounit2 ppx_cstruct ppx_deriving ppx_derivers
ppx_sexp_conv ppxlib ptime randomconv re result rresult seq sexplib sexplib0 stdlib-shims
stringext tcpip topkg uchar uri uutf x509 yojson zarith zed lambda-term utop odoc odoc-parser
tyxml markup cohttp cohttp-lwt cohttp-lwt-unix dns dns-client happy-eyeballs paf h2 httpaf
faraday gluten mimic awa awa-mirage git carton checkseum optint arp ethernet charrua
miou hxd progress terminal uucp uunf uuseg camomile ocamlformat dune-build-info menhirLib
menhirSdk qcheck qcheck-core qcheck-alcotest bisect_ppx mdx ctypes ctypes-foreign integers
num camlp-streams stdcompat ocaml-version opam-file-format opam-format opam-core jane-street-headers
core core_kernel core_unix async async_kernel async_unix ppx_jane`.split(/\s+/).filter(Boolean);
const synthA = ['ocaml', 'caml', 'ml', 'lib', 'ppx', 'conf'];
const synthB = ['json', 'xml', 'yaml', 'toml', 'sqlite', 'pg', 'redis', 'zmq', 'lz4', 'zstd', 'ssl', 'curl', 'gtk', 'sdl', 'ncurses'];
const names = new Set(real);
for (const a of synthA) for (const b of synthB) if (names.size < 175) names.add(`${a}-${b}`);
names.add('zxcvbn');
const all = [...names].sort();

const licenses = ['ISC', 'MIT', 'BSD-2-Clause', 'BSD-3-Clause', 'LGPL-2.1-only WITH OCaml-LGPL-linking-exception', 'Apache-2.0'];
const people = ['Anil Madhavapeddy <anil@recoil.org>', 'Thomas Gazagnaire <thomas@gazagnaire.org>',
  'Hannes Mehnert <hannes@mehnert.org>', 'Daniel Bünzli <daniel.buenzl i@erratique.ch>'.replace(' i@', 'i@'),
  'Romain Calascibetta <romain.calascibetta@gmail.com>', 'Jane Street developers', 'Etienne Millon <me@emillon.org>',
  'Kate <kit-ty-kate@outlook.com>', 'Raphaël Proust <code@bnwr.net>', 'Marcello Seri <marcello.seri@gmail.com>'];
const synopses = ['Bindings and utilities', 'A pure OCaml implementation', 'Fast, portable parsing combinators',
  'Typed interface for the library', 'Lightweight cooperative threads helpers', 'Minimal dependency-free toolkit',
  'Streaming codec for the format', 'Command line interface helpers', 'Abstract types and signatures'];

function version(i) {
  const major = Math.floor(rnd() * 4);
  const minor = Math.floor(rnd() * 12);
  const patch = Math.floor(rnd() * 5);
  return rnd() < 0.15 ? `v0.${14 + i}.0` : `${major}.${minor + i}.${patch}`;
}

function opamFile(name, ver) {
  const who = pick(people);
  const deps = new Set();
  const n = 2 + Math.floor(rnd() * 6);
  for (let i = 0; i < n; i++) {
    const d = pick(all);
    if (d !== name && d !== 'ocaml' && d !== 'dune') deps.add(d);
  }
  const ocamlMin = pick(['4.08.0', '4.10.0', '4.13.0', '4.14.0', '5.0.0']);
  const lines = [
    'opam-version: "2.0"',
    `synopsis: "${pick(synopses)}"`,
    `maintainer: ["${who}"]`,
    `authors: ["${who}"]`,
    `license: "${pick(licenses)}"`,
    `homepage: "https://github.com/ocaml-community/${name}"`,
    `bug-reports: "https://github.com/ocaml-community/${name}/issues"`,
    'depends: [',
    `  "ocaml" {>= "${ocamlMin}"}`,
    '  "dune" {>= "3.0"}',
    ...[...deps].sort().map((d) => (rnd() < 0.3 ? `  "${d}" {with-test}` : `  "${d}"`)),
    ']',
    'build: [',
    '  ["dune" "subst"] {dev}',
    '  ["dune" "build" "-p" name "-j" jobs "@install" "@runtest" {with-test}]',
    ']',
    `dev-repo: "git+https://github.com/ocaml-community/${name}.git"`,
    'url {',
    `  src: "https://github.com/ocaml-community/${name}/releases/download/${ver}/${name}-${ver}.tbz"`,
    `  checksum: "sha256=${[...Array(64)].map(() => '0123456789abcdef'[Math.floor(rnd() * 16)]).join('')}"`,
    '}',
  ];
  return lines.join('\n') + '\n';
}

// The zxcvbn opam file is fixed text: it is the "foreign text" that tls-async.opam ends up holding.
const ZXCVBN_VERSION = '2.4+1';
const zxcvbn = `opam-version: "2.0"
maintainer: "Cryptosense <opensource@cryptosense.com>"
authors: "Cryptosense <opensource@cryptosense.com>"
homepage: "https://github.com/cryptosense/ocaml-zxcvbn"
bug-reports: "https://github.com/cryptosense/ocaml-zxcvbn/issues"
license: "BSD-2-Clause"
dev-repo: "git+https://github.com/cryptosense/ocaml-zxcvbn.git"
doc: "https://cryptosense.github.io/ocaml-zxcvbn/doc"
build: [
  ["dune" "build" "-p" name "-j" jobs]
  ["dune" "runtest" "-p" name "-j" jobs] {with-test}
]
depends: [
  "ocaml" {>= "4.02.0"}
  "dune" {>= "1.0"}
  "ounit" {with-test}
]
synopsis: "Bindings for the zxcvbn password strength estimation library"
url {
  src: "https://github.com/cryptosense/ocaml-zxcvbn/releases/download/v2.4%2B1/zxcvbn-v2.4.1.tbz"
  checksum: "md5=6c6f3c44e8ac0ce45b6c2e9e0e5da8b1"
}
`;

mkdirSync(join(out, 'packages'), { recursive: true });
writeFileSync(join(out, 'repo'), 'opam-version: "2.0"\nbrowse: "https://opam.ocaml.org/pkg/"\nupgrade-url: "https://opam.ocaml.org/opam-repository-2.0"\n');
writeFileSync(join(out, 'version'), '2.0\n');
writeFileSync(join(out, 'README.md'), '# opam-repository (sample)\n\nA deterministic, generated subset used by the layer-forensics sample store.\n');
let count = 0;
for (const name of all) {
  if (name === 'zxcvbn') {
    const d = join(out, 'packages', name, `${name}.${ZXCVBN_VERSION}`);
    mkdirSync(d, { recursive: true });
    writeFileSync(join(d, 'opam'), zxcvbn);
    count++;
    continue;
  }
  const nv = 1 + Math.floor(rnd() * 4);
  const seen = new Set();
  for (let i = 0; i < nv; i++) {
    const v = version(i);
    if (seen.has(v)) continue;
    seen.add(v);
    const d = join(out, 'packages', name, `${name}.${v}`);
    mkdirSync(d, { recursive: true });
    writeFileSync(join(d, 'opam'), opamFile(name, v));
    count++;
  }
}
console.error(`gen-repo: ${all.length} packages, ${count} opam files`);
