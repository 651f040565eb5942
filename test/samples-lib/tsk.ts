// The Sleuth Kit as the independent reader of the images the FFS writer makes.

import { execa } from 'execa';

/** TSK prints times in the local zone: make it UTC. */
const env = { TZ: 'UTC' };

export interface TskOpts {
  /** Partition offset in 512-byte sectors (-o). */
  sectors?: number;
  /** File system type (-f), e.g. ufs2, ufs1. */
  fstype?: string;
}

function args(o: TskOpts): string[] {
  const a: string[] = [];
  if (o.fstype) a.push('-f', o.fstype);
  if (o.sectors) a.push('-o', String(o.sectors));
  return a;
}

export async function fsstat(img: string, o: TskOpts = {}): Promise<string> {
  return (await execa('fsstat', [...args(o), img], { env })).stdout;
}

export interface FlsEntry {
  type: string;
  ino: number;
  path: string;
  deleted: boolean;
}

/** `fls -r -p`: every name, with its type letter and inode; the $OrphanFiles entry left out. */
export async function fls(img: string, o: TskOpts = {}): Promise<FlsEntry[]> {
  const out = (await execa('fls', ['-r', '-p', ...args(o), img], { env })).stdout;
  const entries: FlsEntry[] = [];
  for (const line of out.split('\n')) {
    if (!line) continue;
    const m = /^(\S)\/(\S)\s+(\*\s+)?(\d+)(?:\(realloc\))?:\t(.*)$/.exec(line);
    if (!m) throw new Error(`fls line not understood: ${line}`);
    if (m[5] === '$OrphanFiles' || m[5]!.startsWith('$OrphanFiles/')) continue;
    entries.push({ type: m[2]!, ino: Number(m[4]), path: m[5]!, deleted: !!m[3] });
  }
  return entries;
}

export async function icat(img: string, ino: number, o: TskOpts = {}): Promise<Buffer> {
  const r = await execa('icat', [...args(o), img, String(ino)], { env, encoding: 'buffer', stripFinalNewline: false, maxBuffer: 1 << 30 });
  return Buffer.from(r.stdout);
}

export interface Istat {
  allocated: boolean;
  size: number;
  nlink: number;
  mode: string;
  uid: number;
  gid: number;
  link: string | null;
  /** "Direct Blocks:" — every fragment of the data, in order (holes as 0 where TSK prints them). */
  direct: number[];
  /** "Indirect Blocks:" — every fragment of the indirect blocks. */
  indirect: number[];
  /** "Accessed", "File Modified", "Inode Modified" as TSK prints them (UTC). */
  times: Record<string, string>;
}

export async function istat(img: string, ino: number, o: TskOpts = {}): Promise<Istat> {
  return parseIstat((await execa('istat', [...args(o), img, String(ino)], { env })).stdout);
}

/** istat of many inodes in one shell (TSK's start-up costs some 20 ms a call). */
export async function istatMany(img: string, inos: number[], o: TskOpts = {}): Promise<Map<number, Istat>> {
  const script = 'img="$1"; shift; for i in "$@"; do echo "@@@@ $i"; istat ' + args(o).join(' ') + ' "$img" "$i" || exit 1; done';
  const out = (await execa('bash', ['-c', script, 'istat-many', img, ...inos.map(String)], { env, maxBuffer: 1 << 28 })).stdout;
  const res = new Map<number, Istat>();
  for (const part of out.split(/^@@@@ /m).slice(1)) {
    const nl = part.indexOf('\n');
    res.set(Number(part.slice(0, nl)), parseIstat(part.slice(nl + 1)));
  }
  return res;
}

/** sha256 of icat's output for many inodes, in one shell. */
export async function icatHashes(img: string, inos: number[], o: TskOpts = {}): Promise<Map<number, string>> {
  const script = 'set -o pipefail; img="$1"; shift; for i in "$@"; do h=$(icat ' + args(o).join(' ') + ' "$img" "$i" | sha256sum) || exit 1; echo "$i ${h%% *}"; done';
  const out = (await execa('bash', ['-c', script, 'icat-many', img, ...inos.map(String)], { env })).stdout;
  const res = new Map<number, string>();
  for (const line of out.split('\n')) {
    const [i, h] = line.split(' ');
    if (i && h) res.set(Number(i), h);
  }
  return res;
}

function parseIstat(out: string): Istat {
  const num = (re: RegExp) => Number(re.exec(out)?.[1] ?? NaN);
  const list = (head: string) => {
    const i = out.indexOf(head);
    if (i < 0) return [];
    const rest = out.slice(i + head.length);
    const stop = rest.search(/[A-Za-z]/);
    return (stop < 0 ? rest : rest.slice(0, stop))
      .split(/\s+/)
      .filter((w) => /^\d+$/.test(w))
      .map(Number);
  };
  const ug = /^uid \/ gid: (\d+) \/ (\d+)/m.exec(out);
  const times: Record<string, string> = {};
  for (const m of out.matchAll(/^(Accessed|File Modified|Inode Modified|File Created):\t(.*)$/gm)) times[m[1]!] ??= m[2]!;
  return {
    allocated: /^Allocated$/m.test(out),
    size: num(/^size: (\d+)/m),
    nlink: num(/^num of links: (\d+)/m),
    mode: /^mode: (\S+)/m.exec(out)?.[1] ?? '',
    uid: Number(ug?.[1] ?? NaN),
    gid: Number(ug?.[2] ?? NaN),
    link: /^symbolic link to: (.*)$/m.exec(out)?.[1] ?? null,
    direct: list('Direct Blocks:'),
    indirect: list('Indirect Blocks:'),
    times,
  };
}

/** `ifind -d`: the inode that owns a fragment (null when none). */
export async function ifindData(img: string, frag: number, o: TskOpts = {}): Promise<number | null> {
  const out = (await execa('ifind', [...args(o), '-d', String(frag), img], { env })).stdout.trim();
  return /^\d+/.test(out) ? Number(/^(\d+)/.exec(out)![1]) : null;
}

/** `ffind`: the names of an inode. */
export async function ffind(img: string, ino: number, o: TskOpts = {}): Promise<string[]> {
  const out = (await execa('ffind', ['-a', ...args(o), img, String(ino)], { env })).stdout.trim();
  return out ? out.split('\n') : [];
}
