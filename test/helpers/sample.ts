// The sample store built by samples/build-store.sh (setup.sh builds it before the tests run).

import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));

export interface Sample {
  store: string;
  base: string;
  layers: { from: string; opamRepo: string; copyCorrupt: string; runOnTop: string; copyClean: string };
  sshKey: string;
  sshUser: string;
  dst: string;
  corrupted: Record<string, string>;
  staleSource: string;
  jobLog: string;
  expected: string;
}

export function loadSample(): Sample {
  const file = join(ROOT, 'samples', 'out', 'layers.json');
  if (!existsSync(file)) execFileSync('bash', [join(ROOT, 'samples', 'build-store.sh')], { stdio: 'inherit' });
  return JSON.parse(readFileSync(file, 'utf8')) as Sample;
}

/** sha256, size and mtime of every file of the store: evidence must not change. */
export function storeFingerprint(store: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (dir: string): void => {
    for (const d of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, d.name);
      if (d.isDirectory()) walk(p);
      else if (d.isFile()) {
        const st = statSync(p);
        out.set(p, `${createHash('sha256').update(readFileSync(p)).digest('hex')} ${st.size} ${st.mtimeMs}`);
      }
    }
  };
  walk(store);
  return out;
}

/** QEMU processes whose command line mentions `needle` (a temp dir, a store path). */
export function qemuProcessesWith(needle: string): string[] {
  const out: string[] = [];
  for (const pid of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
      if (/^(\S*\/)?qemu-system/.test(cmd) && cmd.includes(needle)) out.push(`${pid}: ${cmd.slice(0, 200)}`);
    } catch {
      // gone
    }
  }
  return out;
}
