// `e` on the Results screen: write the JSON and Markdown reports side by side.

import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { renderMarkdown } from '../report/markdown.js';
import type { Report } from '../report/schema.js';
import { toSafeJson } from '../report/json.js';

export interface Exported {
  json: string;
  markdown: string;
}

/** `20260629T160238Z` */
export function stamp(d: Date): string {
  return d.toISOString().replace(/\.\d+Z$/, 'Z').replace(/[-:]/g, '');
}

/** Write `layer-forensics-<shortid>-<timestamp>.json` and `.md` to `dir`; returns their paths. */
export async function exportReports(report: Report, dir: string, now: Date = new Date()): Promise<Exported> {
  const abs = resolve(dir);
  await mkdir(abs, { recursive: true });
  const id = report.layer ? report.layer.id.slice(0, 12) : 'directory';
  // Exclusive create: never overwrite a report already there (a second export in the same
  // second gets a -2, -3, ... suffix).
  for (let n = 1; ; n++) {
    const base = join(abs, `layer-forensics-${id}-${stamp(now)}${n > 1 ? `-${n}` : ''}`);
    const json = `${base}.json`;
    const markdown = `${base}.md`;
    try {
      await writeFile(json, toSafeJson(report, 2) + '\n', { flag: 'wx' });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST' && n < 100) continue;
      throw err;
    }
    await writeFile(markdown, renderMarkdown(report), { flag: 'wx' });
    return { json, markdown };
  }
}
