// Which partition an /etc/fstab line names, as each OS writes it (design.md section 9):
//   OpenBSD  <duid>.<letter> (disklabel DUID), /dev/wd0e, /dev/sd0e
//   FreeBSD  /dev/vtbd0p2, /dev/ada0p2, /dev/da0p2 (GPT index), /dev/ada0s1a (MBR slice + label
//            letter), /dev/gpt/<label>, /dev/gptid/<guid>, /dev/ufs/<volume name>
//   Linux    /dev/vda2, /dev/sda2, /dev/nvme0n1p2, PARTUUID=<guid>, PARTLABEL=<label>
// The fstab is the guest's (bytes from the layer): nothing in it decides a host path.

import type { Partition } from '../../volume/index.js';

export interface FstabEntry {
  spec: string;
  mountpoint: string;
  type: string;
  options: string[];
  /** 1-based line in the file. */
  line: number;
}

/** Largest fstab read: a real one is a few hundred bytes. */
export const MAX_FSTAB_BYTES = 64 * 1024;

/** fstab(5) escapes spaces as \040 (and tabs, newlines, backslashes likewise). */
function unescapeField(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

export function parseFstab(text: string): FstabEntry[] {
  const out: FstabEntry[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.replace(/#.*$/, '').trim();
    if (!line) return;
    const f = line.split(/\s+/).map(unescapeField);
    if (f.length < 3) return;
    out.push({ spec: f[0]!, mountpoint: f[1]!, type: f[2]!, options: (f[3] ?? '').split(',').filter(Boolean), line: i + 1 });
  });
  return out;
}

/** Whether an entry mounts a filesystem (not swap, not a network or memory filesystem). */
export function mountsDisk(e: FstabEntry): boolean {
  return e.mountpoint.startsWith('/') && !['swap', 'nfs', 'mfs', 'tmpfs', 'proc', 'procfs', 'none', 'devfs', 'fdescfs'].includes(e.type);
}

/** What to look a spec up by, once parsed. */
type SpecKey =
  | { by: 'duid'; duid: string; letter: string }
  | { by: 'letter'; letter: string }
  | { by: 'number'; number: string; letter?: string }
  | { by: 'label'; label: string }
  | { by: 'guid'; guid: string }
  | { by: 'volume'; name: string };

export function parseSpec(spec: string): SpecKey | null {
  let m = /^([0-9a-f]{16})\.([a-p])$/i.exec(spec);
  if (m) return { by: 'duid', duid: m[1]!.toLowerCase(), letter: m[2]! };
  m = /^\/dev\/r?(?:wd|sd|vnd|cd)\d+([a-p])$/.exec(spec);
  if (m) return { by: 'letter', letter: m[1]! };
  m = /^\/dev\/(?:ada|da|vtbd|nvd|nda|ad)\d+s(\d+)([a-h])?$/.exec(spec);
  if (m) return { by: 'number', number: m[1]!, ...(m[2] ? { letter: m[2] } : {}) };
  m = /^\/dev\/(?:ada|da|vtbd|nvd|nda|ad|vd[a-z]|sd[a-z]|xvd[a-z]|hd[a-z])\d*p?(\d+)$/.exec(spec);
  if (m) return { by: 'number', number: m[1]! };
  m = /^\/dev\/nvme\d+n\d+p(\d+)$/.exec(spec);
  if (m) return { by: 'number', number: m[1]! };
  m = /^(?:\/dev\/gpt\/|PARTLABEL=)(.+)$/.exec(spec);
  if (m) return { by: 'label', label: m[1]! };
  m = /^(?:\/dev\/gptid\/|PARTUUID=)([0-9a-f-]{36})$/i.exec(spec);
  if (m) return { by: 'guid', guid: m[1]!.toUpperCase() };
  m = /^\/dev\/ufs\/(.+)$/.exec(spec);
  if (m) return { by: 'volume', name: m[1]! };
  return null;
}

/**
 * The partition an fstab spec names, among the disk's partitions (containers excluded), or null.
 * `volumeName` answers /dev/ufs/<name> (it opens the filesystem, so it is asked last).
 */
export function partitionForSpec(spec: string, parts: readonly Partition[], volumeName: (p: Partition) => string | null): Partition | null {
  const key = parseSpec(spec);
  if (!key) return null;
  const label = (p: Partition): boolean => p.scheme === 'disklabel';
  switch (key.by) {
    case 'duid':
      return parts.find((p) => label(p) && p.duid?.toLowerCase() === key.duid && p.name === key.letter) ?? null;
    case 'letter':
      return parts.find((p) => label(p) && p.name === key.letter) ?? null;
    case 'number':
      if (key.letter) return parts.find((p) => label(p) && p.parent === key.number && p.name === key.letter) ?? null;
      return parts.find((p) => !label(p) && p.name === key.number) ?? null;
    case 'label':
      return parts.find((p) => p.label === key.label) ?? null;
    case 'guid':
      return parts.find((p) => p.guid?.toUpperCase() === key.guid) ?? null;
    case 'volume':
      return parts.find((p) => volumeName(p) === key.name) ?? null;
  }
}
