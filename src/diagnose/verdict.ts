// The per-layer verdict of design.md section 3, from the per-file classes.

import { STALE_CLASSES, type FileClass, type FileReport, type Verdict } from '../report/schema.js';
import { escapeText } from '../report/escape.js';

/** Classes the soft-updates signature does not explain. */
const OTHER: ReadonlySet<FileClass> = new Set<FileClass>(['size-mismatch', 'missing', 'type-mismatch', 'link-mismatch']);

const WHAT: Record<FileClass, string> = {
  match: 'intact',
  zeros: 'zeros',
  'directory-block': 'a directory block',
  'foreign-text': "another file's text",
  'foreign-binary': 'binary data',
  partial: 'partly stale blocks',
  'size-mismatch': 'the wrong size',
  missing: 'missing',
  extra: 'extra',
  'type-mismatch': 'another kind of file',
  'link-mismatch': 'another link target',
};

export interface VerdictContext {
  /** The layer id, when there is one: the advice names it. */
  layerId?: string;
  /** Why extraction failed, when it did. */
  unreadable?: string;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** One evidence line for a file. */
export function evidenceLine(f: FileReport): string {
  const p = escapeText(f.path);
  const sizes =
    f.class === 'size-mismatch'
      ? `expected ${f.expectedSize} bytes, found ${f.actualSize}`
      : f.actualSize !== null
        ? `${f.actualSize} bytes, right size`
        : '';
  let line = `${p}: ${WHAT[f.class]}${sizes ? ` (${sizes})` : ''}`;
  const entries = f.detail.entries;
  if (f.class === 'directory-block' && Array.isArray(entries) && entries.length > 0) {
    const shown = entries.slice(0, 6).map((e) => escapeText(String(e)));
    line += `; entries ${shown.join(', ')}${entries.length > 6 ? `, … (${entries.length})` : ''}`;
  }
  if (f.provenance) line += `; from ${f.provenance.source} ${escapeText(f.provenance.path)} (${f.provenance.matchedBytes} bytes match)`;
  if (f.class === 'partial' && typeof f.detail.matchedBytes === 'number') line += `; ${f.detail.matchedBytes} of ${f.actualSize} bytes intact`;
  return line;
}

function counts(files: FileReport[]): string {
  const by = new Map<FileClass, number>();
  for (const f of files) by.set(f.class, (by.get(f.class) ?? 0) + 1);
  return [...by].map(([c, n]) => `${n} ${WHAT[c]}`).join(', ');
}

export function decideVerdict(files: FileReport[], ctx: VerdictContext = {}): Verdict {
  const layer = ctx.layerId ? `layer ${ctx.layerId.slice(0, 12)}` : 'the layer';
  if (ctx.unreadable) {
    return {
      kind: 'inconclusive',
      summary: `The files could not be read: ${ctx.unreadable}`,
      evidence: [ctx.unreadable],
      advice: ['Check the guest destination and the SSH access, then run again.'],
    };
  }
  const expected = files.filter((f) => f.class !== 'extra');
  const stale = files.filter((f) => STALE_CLASSES.has(f.class));
  const other = files.filter((f) => OTHER.has(f.class));
  const extras = files.filter((f) => f.class === 'extra');
  const extraNote = extras.length > 0 ? ` ${plural(extras.length, 'extra file')} listed.` : '';

  if (expected.length === 0) {
    // Nothing to compare against: only self-evident damage (zeros, directory blocks) can speak.
    const selfEvident = extras.filter((f) => f.detail.content === 'zeros' || f.detail.content === 'directory-block');
    if (selfEvident.length > 0) {
      return {
        kind: 'soft-updates-data-loss',
        summary: `No expected sources to compare with, but ${plural(selfEvident.length, 'file')} of ${extras.length} hold zeros or a directory block on their own: the signature of soft-updates data loss.`,
        evidence: selfEvident.map((f) => `${escapeText(f.path)}: ${f.detail.content} (${f.actualSize} bytes)`),
        advice: softUpdatesAdvice(layer),
      };
    }
    return {
      kind: 'inconclusive',
      summary: extras.length > 0 ? `Nothing to compare against: no expected sources, and the ${plural(extras.length, 'file')} found show no damage on their own.` : 'Nothing to compare: no expected sources and no files found.',
      evidence: extras.slice(0, 20).map((f) => `${escapeText(f.path)}: ${f.actualSize ?? 0} bytes, nothing to compare with`),
      advice: ['Give the sources the step copied in (--expected DIR) to compare against.'],
    };
  }

  if (stale.length === 0 && other.length === 0) {
    return {
      kind: 'clean',
      summary: `All ${plural(expected.length, 'expected file')} match their sources.${extraNote}`,
      evidence: [],
      advice: [],
    };
  }

  if (other.length === 0) {
    return {
      kind: 'soft-updates-data-loss',
      summary: `${stale.length} of ${plural(expected.length, 'file')} have the right size but wrong bytes (${counts(stale)}): the signature of soft-updates data loss after an unclean power-off.${extraNote}`,
      evidence: stale.map(evidenceLine),
      advice: softUpdatesAdvice(layer),
    };
  }

  const missing = other.filter((f) => f.class === 'missing');
  const advice = [`Delete ${layer} so it is rebuilt, after keeping the evidence (this report).`];
  if (missing.length > 0) {
    advice.push(
      "Missing files point at a copy that failed outright: look for errors in the copy step's log (e.g. `gtar: Cannot utime: Operation not permitted`, fixed by extracting as root, ocurrent/obuilder#213).",
    );
  }
  if (other.some((f) => f.class === 'size-mismatch')) {
    advice.push('Files of the wrong size are not explained by soft-updates (which keeps sizes): check the copy itself and the sources it used.');
  }
  if (stale.length > 0) advice.push(...softUpdatesAdvice(layer).slice(1));
  return {
    kind: 'other-corruption',
    summary: `${other.length} of ${plural(expected.length, 'file')} are damaged in ways soft-updates loss does not explain (${counts(other)})${stale.length > 0 ? `, and ${stale.length} more have right size but wrong bytes (${counts(stale)})` : ''}.${extraNote}`,
    evidence: [...other, ...stale].map(evidenceLine),
    advice,
  };
}

function softUpdatesAdvice(layer: string): string[] {
  return [
    `Delete ${layer} (and the layers built on it) so that obuilder rebuilds it.`,
    'Make the builder run `sync` in the guest before powering it off, so data reaches the disk before a hard quit (ocurrent/obuilder#212).',
  ];
}
