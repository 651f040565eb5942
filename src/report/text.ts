// The human report for a terminal. Everything that came from a file is escaped.

import type { Report } from './schema.js';
import { escapeText } from './escape.js';
import { CLASS_COLOUR, VERDICT_COLOUR, damagedFirst, holdsInstead, humanBytes, provenanceText } from './format.js';
import type { Paint } from './ansi.js';

function pad(s: string, n: number): string {
  return s.length >= n ? s : s + ' '.repeat(n - s.length);
}

export function renderText(r: Report, paint: Paint): string {
  const out: string[] = [];
  const v = r.verdict;
  out.push(paint('bold', paint(VERDICT_COLOUR[v.kind], `Verdict: ${v.kind}`)));
  out.push(escapeText(v.summary));
  out.push('');
  if (r.layer) {
    out.push(`Layer   ${r.layer.id}`);
    out.push(`Image   ${escapeText(r.layer.image)}`);
    out.push(`Chain   ${r.layer.chain.map((c) => escapeText(c)).join(' -> ')}`);
  }
  const ex = r.extraction;
  if (ex.via === 'directory') {
    out.push(`Compared ${escapeText(ex.actual ?? '?')} against ${escapeText(ex.expected ?? '?')}`);
  } else {
    out.push(`Booted under ${ex.accel ?? '?'} (${ex.guestOs ?? '?'})${ex.accelNote ? `: ${escapeText(ex.accelNote)}` : ''}`);
    out.push(`Pulled ${ex.files} files (${humanBytes(ex.bytes)}) from ${escapeText(ex.dst ?? '?')}`);
    if (ex.consoleLog) out.push(`Console log ${escapeText(ex.consoleLog)}`);
  }
  if (r.layerUnchanged !== undefined) out.push(`Layer unchanged: ${r.layerUnchanged ? paint('green', 'yes') : paint('red', 'NO')}`);
  out.push('');

  const files = damagedFirst(r.files);
  if (files.length > 0) {
    const w = Math.min(48, Math.max(4, ...files.map((f) => escapeText(f.path).length)));
    const cw = Math.max(5, ...files.map((f) => f.class.length));
    out.push(paint('bold', `${pad('File', w)}  ${pad('Expected', 9)} ${pad('Actual', 9)} ${pad('Class', cw)}  Holds instead`));
    for (const f of files) {
      const path = escapeText(f.path);
      const name = path.length > w ? `…${path.slice(path.length - w + 1)}` : path;
      const prov = provenanceText(f);
      out.push(
        `${pad(name, w)}  ${pad(f.expectedSize === null ? '-' : String(f.expectedSize), 9)} ${pad(f.actualSize === null ? '-' : String(f.actualSize), 9)} ${paint(CLASS_COLOUR[f.class], pad(f.class, cw))}  ${holdsInstead(f)}${prov ? paint('dim', `  <- ${prov}`) : ''}`,
      );
    }
    out.push('');
  }
  if (v.advice.length > 0) {
    out.push(paint('bold', 'What to do'));
    for (const a of v.advice) out.push(`  - ${escapeText(a)}`);
    out.push('');
  }
  const t = r.timings;
  out.push(paint('dim', `Timings: ${ex.via === 'boot' ? `overlay ${t.overlayMs} ms, boot ${t.bootMs} ms, extract ${t.extractMs} ms, ` : ''}classify ${t.classifyMs} ms, total ${t.totalMs} ms`));
  return out.join('\n') + '\n';
}
