// A Markdown report ready to paste into a GitHub issue.

import type { Report } from './schema.js';
import { escapeText } from './escape.js';
import { damagedFirst, holdsInstead, partitionText, provenanceText } from './format.js';
import { extractionProblems } from './text.js';

/** Escape for a Markdown table cell: no raw control bytes, no pipes, no HTML. */
export function mdCell(s: string): string {
  return escapeText(s).replace(/\\/g, '\\\\').replace(/([|`*_<>[\]])/g, '\\$1');
}

export function renderMarkdown(r: Report): string {
  const out: string[] = [];
  out.push(`### layer-forensics: \`${r.verdict.kind}\``);
  out.push('');
  if (r.layer) {
    out.push(`- **Layer:** \`${r.layer.id}\``);
    out.push(`- **Image:** \`${escapeText(r.layer.image)}\` (chain of ${r.layer.chain.length})`);
  }
  const ex = r.extraction;
  const via = ex.via === 'boot' ? `boot (${ex.accel ?? '?'}, ${ex.guestOs ?? '?'})` : ex.via === 'direct' ? `the disk read directly (${partitionText(ex)})` : ex.via;
  out.push(`- **Extracted:** ${ex.files} files, ${ex.bytes} bytes via ${via}${ex.dst ? ` from \`${escapeText(ex.dst)}\`` : ''}`);
  if (ex.accelNote) out.push(`- **Accelerator:** ${mdCell(ex.accelNote)}`);
  if (ex.consoleLog) out.push(`- **Console log:** \`${escapeText(ex.consoleLog)}\``);
  if (r.layerUnchanged !== undefined) out.push(`- **Layer unchanged:** ${r.layerUnchanged ? 'yes' : '**NO**'}`);
  out.push('');
  out.push(`**${mdCell(r.verdict.summary)}**`);
  out.push('');
  const rows = damagedFirst(r.files);
  if (rows.length > 0) {
    out.push('| File | Expected size | Actual size | Class | Holds instead | Where it came from |');
    out.push('| --- | ---: | ---: | --- | --- | --- |');
    for (const f of rows) {
      out.push(
        `| ${mdCell(f.path)} | ${f.expectedSize ?? '-'} | ${f.actualSize ?? '-'} | ${f.class} | ${mdCell(holdsInstead(f))} | ${mdCell(provenanceText(f)) || '-'} |`,
      );
    }
    out.push('');
  }
  const problems = extractionProblems(r);
  const why = problems.length > 0 ? problems : r.verdict.kind === 'inconclusive' ? r.verdict.evidence : [];
  if (why.length > 0) {
    out.push(problems.length > 0 ? '**Extraction incomplete**' : '**Why inconclusive**');
    out.push('');
    for (const p of why) out.push(`- ${mdCell(p)}`);
    out.push('');
  }
  if (r.verdict.advice.length > 0) {
    out.push('**What to do**');
    out.push('');
    for (const a of r.verdict.advice) out.push(`- ${escapeText(a)}`);
    out.push('');
  }
  return out.join('\n');
}
