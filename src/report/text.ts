// The human report for a terminal. Everything that came from a file is escaped.

import type { Report } from './schema.js';
import { escapeText } from './escape.js';
import { CLASS_COLOUR, VERDICT_COLOUR, damagedFirst, holdsInstead, humanBytes, partitionText, provenanceText } from './format.js';
import type { Paint } from './ansi.js';

function pad(s: string, n: number): string {
  return s.length >= n ? s : s + ' '.repeat(n - s.length);
}

/** How the files were taken out, for each way in. */
function extractionLines(ex: Report['extraction']): string[] {
  switch (ex.via) {
    case 'directory':
      return [`Compared ${escapeText(ex.actual ?? '?')} against ${escapeText(ex.expected ?? '?')}`];
    case 'direct':
      return [`Read the disk directly (no boot): ${partitionText(ex)}`, `Read ${ex.files} files (${humanBytes(ex.bytes)}) from ${escapeText(ex.dst ?? '?')}`];
    case 'boot':
      return [
        `Booted under ${ex.accel ?? '?'} (${ex.guestOs ?? '?'})${ex.accelNote ? `: ${escapeText(ex.accelNote)}` : ''}`,
        `Pulled ${ex.files} files (${humanBytes(ex.bytes)}) from ${escapeText(ex.dst ?? '?')}`,
        ...(ex.consoleLog ? [`Console log ${escapeText(ex.consoleLog)}`] : []),
      ];
  }
}

/** Lines of the guest tar's stderr shown in a report. */
const STDERR_SHOWN = 10;

/**
 * Why the extraction is incomplete, one line each: the guest tar's exit status and its stderr,
 * entries left out (unsafe names, links out of the tree, files over a limit), files that could
 * not be read. Empty when the extraction was complete. The lines hold guest bytes RAW: each
 * renderer escapes them where it prints them (text: escapeText, Markdown: mdCell). Shared by the
 * text and Markdown reports; the JSON carries the same in `extraction`.
 */
export function extractionProblems(r: Report): string[] {
  const ex = r.extraction as Report['extraction'] & { dropped?: string[] };
  const out: string[] = [];
  if (ex.tarExitCode !== undefined && ex.tarExitCode !== 0) {
    out.push(`the guest's tar exited with status ${ex.tarExitCode ?? 'unknown (killed)'}`);
  }
  const stderr = (ex.tarStderr ?? '').split('\n').filter((l) => l.trim() !== '');
  for (const l of stderr.slice(0, STDERR_SHOWN)) out.push(`tar: ${l.replace(/^(?:\S*\/)?(?:g|bsd)?tar(?:\.exe)?: /, '')}`);
  if (stderr.length > STDERR_SHOWN) out.push(`tar: … (${stderr.length - STDERR_SHOWN} more lines in the JSON report)`);
  // The producer's list (unsafe names, links out of the tree, files over a limit) when it gave one.
  if (ex.dropped) for (const d of ex.dropped) out.push(`left out: ${d}`);
  else for (const u of ex.unsafeEntries ?? []) out.push(`left out: "${u.rawName}" (${u.type}) ${u.reason}`);
  for (const f of r.files) {
    const why = f.class === 'unreadable' ? f.detail.reason : f.detail.unreadable;
    if (typeof why === 'string') out.push(`could not read ${f.path}: ${why}`);
  }
  return out;
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
  out.push(...extractionLines(ex));
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
  const problems = extractionProblems(r);
  if (problems.length > 0) {
    out.push(paint('bold', paint('yellow', 'Extraction incomplete')));
    for (const p of problems) out.push(`  - ${escapeText(p)}`);
    out.push('');
  } else if (v.kind === 'inconclusive' && v.evidence.length > 0) {
    out.push(paint('bold', 'Why inconclusive'));
    for (const e of v.evidence) out.push(`  - ${escapeText(e)}`);
    out.push('');
  }
  if (v.advice.length > 0) {
    out.push(paint('bold', 'What to do'));
    for (const a of v.advice) out.push(`  - ${escapeText(a)}`);
    out.push('');
  }
  const t = r.timings;
  const steps = ex.via === 'boot' ? `overlay ${t.overlayMs} ms, boot ${t.bootMs} ms, extract ${t.extractMs} ms, ` : ex.via === 'direct' ? `read ${t.extractMs} ms, ` : '';
  out.push(paint('dim', `Timings: ${steps}classify ${t.classifyMs} ms, total ${t.totalMs} ms`));
  return out.join('\n') + '\n';
}
