// Build expected/actual directory pairs on disk for tests.

import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';

export async function writeTree(root: string, files: Record<string, string | Buffer>): Promise<void> {
  for (const [rel, data] of Object.entries(files)) {
    const p = join(root, rel);
    await mkdir(dirname(p), { recursive: true });
    await writeFile(p, data);
  }
}

export const OPAM = {
  'tls.opam': 'opam-version: "2.0"\nname: "tls"\nsynopsis: "Transport Layer Security purely in OCaml"\ndepends: [\n  "ocaml" {>= "4.14.0"}\n  "dune" {>= "3.0"}\n  "mirage-crypto" {>= "1.0.0"}\n  "x509" {>= "1.0.0"}\n]\nbuild: [["dune" "build" "-p" name "-j" jobs]]\n',
  'tls-async.opam': 'opam-version: "2.0"\nname: "tls-async"\nsynopsis: "Transport Layer Security purely in OCaml, Async layer"\ndepends: [\n  "ocaml" {>= "4.14.0"}\n  "tls" {= version}\n  "async" {>= "v0.16"}\n]\nbuild: [["dune" "build" "-p" name "-j" jobs]]\n',
  'tls-lwt.opam': 'opam-version: "2.0"\nname: "tls-lwt"\nsynopsis: "Transport Layer Security purely in OCaml, Lwt layer"\ndepends: [\n  "ocaml" {>= "4.14.0"}\n  "tls" {= version}\n  "lwt" {>= "5.0.0"}\n]\nbuild: [["dune" "build" "-p" name "-j" jobs]]\n',
};
