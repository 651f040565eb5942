// The per-layer verdict of design.md section 3, from the per-file classes.
//
//   soft-updates-data-loss  some file has the right size and stale bytes (zeros, a directory block,
//                           another file's text, binary, partly stale), nothing else is wrong;
//                           `modified`, `unreadable` and `extra` files are listed, not counted.
//   other-corruption        sizes differ, files are missing or of another kind (stale ones may be
//                           there too).
//   inconclusive            the only differences read as edits (`modified`: the expected sources
//                           are another version of what the step copied), or some files could not
//                           be read, or the extraction left things out, or there was nothing to
//                           compare against.
//   clean                   every expected file matches.
//
// An extra file is never evidence that an expected file lost its data: whatever it holds, it is
// listed, not a verdict (self-evidence belongs to `audit`, which reads the disk itself).
//
// The summary, evidence and advice are plain data (paths and reasons as they are); every renderer
// escapes them when it prints them, exactly once. Directory entries are kept as the report holds
// them (already escaped by the decoder).

import { STALE_CLASSES, type FileClass, type FileReport, type Verdict } from '../report/schema.js';
import type { ExtractionGaps } from '../extract/extractor.js';

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
  modified: 'an edited version of the source',
  unreadable: 'unreadable',
  'type-mismatch': 'another kind of file',
  'link-mismatch': 'another link target',
};

export interface VerdictContext {
  /** The layer id, when there is one: the advice names it. */
  layerId?: string;
  /** Why extraction failed, when it did. */
  unreadable?: string;
  /** What the extraction left out or how it failed: a tree with gaps is never called clean. */
  gaps?: ExtractionGaps;
  /** The commit of the sources the job built, when the job log names one (the advice names it). */
  commit?: string;
  /** The store as given (`qemu:/path`): the advice gives the exact `obuilder delete` command. */
  storeSpec?: string;
  /** The layers built on this one (obuilder deletes them with it), when known. */
  builtOn?: string[];
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** One evidence line for a file. */
export function evidenceLine(f: FileReport): string {
  const p = f.path;
  if (f.class === 'unreadable') {
    const side = f.detail.side === 'expected' ? 'the expected source' : f.detail.side === 'host' ? 'reading it' : 'the layer';
    return `${p}: could not be read (${side}: ${String(f.detail.reason ?? 'no reason given')})`;
  }
  const sizes =
    f.class === 'size-mismatch' || (f.class === 'modified' && f.expectedSize !== f.actualSize)
      ? `expected ${f.expectedSize} bytes, found ${f.actualSize}`
      : f.actualSize !== null
        ? `${f.actualSize} bytes, right size`
        : '';
  let line = `${p}: ${WHAT[f.class]}${sizes ? ` (${sizes})` : ''}`;
  const entries = f.detail.entries;
  if (f.class === 'directory-block' && Array.isArray(entries) && entries.length > 0) {
    const shown = entries.slice(0, 6).map((e) => String(e));
    line += `; entries ${shown.join(', ')}${entries.length > 6 ? `, … (${entries.length})` : ''}`;
  }
  if (f.class === 'modified') {
    const d = f.detail;
    if (typeof d.lineEndings === 'string') line += `; only the line endings differ (${d.lineEndings === 'crlf' ? 'CRLF' : 'LF'} in the layer)`;
    else if (typeof d.linesAdded === 'number' && typeof d.linesRemoved === 'number') line += `; ${d.linesAdded} lines added, ${d.linesRemoved} removed`;
    else if (typeof d.editedBytes === 'number') line += `; ${d.editedBytes} bytes edited`;
  }
  if (f.provenance) {
    const at = f.provenance.offset > 0 ? ` from offset ${f.provenance.offset}` : '';
    line += `; from ${f.provenance.source} ${f.provenance.path}${at} (${f.provenance.matchedBytes} bytes match)`;
  }
  if (f.class === 'partial' && typeof f.detail.matchedBytes === 'number') line += `; ${f.detail.matchedBytes} of ${f.actualSize} bytes intact`;
  return line;
}

function counts(files: FileReport[]): string {
  const by = new Map<FileClass, number>();
  for (const f of files) by.set(f.class, (by.get(f.class) ?? 0) + 1);
  return [...by].map(([c, n]) => `${n} ${WHAT[c]}`).join(', ');
}

/** A short note on the files that are listed but do not decide the verdict. */
function listedNote(modified: FileReport[], unreadable: FileReport[], extras: FileReport[]): string {
  const parts: string[] = [];
  if (modified.length > 0) parts.push(`${plural(modified.length, 'edited file')} (another version of the source)`);
  if (unreadable.length > 0) parts.push(`${plural(unreadable.length, 'unreadable file')}`);
  if (extras.length > 0) parts.push(plural(extras.length, 'extra file'));
  return parts.length > 0 ? ` Also listed: ${parts.join(', ')}.` : '';
}

/** The files of a report, by what they weigh in the verdict. */
interface Groups {
  expected: FileReport[];
  stale: FileReport[];
  other: FileReport[];
  modified: FileReport[];
  unreadable: FileReport[];
  extras: FileReport[];
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
  const g: Groups = {
    expected: files.filter((f) => f.class !== 'extra'),
    stale: files.filter((f) => STALE_CLASSES.has(f.class)),
    other: files.filter((f) => OTHER.has(f.class)),
    modified: files.filter((f) => f.class === 'modified'),
    unreadable: files.filter((f) => f.class === 'unreadable'),
    extras: files.filter((f) => f.class === 'extra'),
  };
  if (g.expected.length === 0) return nothingToCompare(g.extras);
  if (g.stale.length > 0 && g.other.length === 0) {
    return {
      kind: 'soft-updates-data-loss',
      summary: `${g.stale.length} of ${plural(g.expected.length, 'file')} have the right size but wrong bytes (${counts(g.stale)}): the signature of soft-updates data loss after an unclean power-off.${listedNote(g.modified, g.unreadable, g.extras)}`,
      evidence: [...g.stale, ...g.modified, ...g.unreadable].map(evidenceLine),
      advice: softUpdatesAdvice(layer, ctx),
    };
  }
  if (g.other.length > 0) return otherCorruption(g, layer, ctx);
  const gapLines = [...(ctx.gaps?.failure ? [ctx.gaps.failure] : []), ...(ctx.gaps?.dropped ?? []).map((d) => `left out: ${d}`)];
  if (g.modified.length > 0 || g.unreadable.length > 0 || gapLines.length > 0) return notEnough(g, gapLines, ctx.commit ?? null);
  return {
    kind: 'clean',
    summary: `All ${plural(g.expected.length, 'expected file')} match their sources.${g.extras.length > 0 ? ` ${plural(g.extras.length, 'extra file')} listed.` : ''}`,
    evidence: [],
    advice: [],
  };
}

/**
 * Nothing to compare against. Whatever the files found hold (zeros, directory records), an extra
 * file proves nothing about the loss of an expected one.
 */
function nothingToCompare(extras: FileReport[]): Verdict {
  const odd = extras.filter((f) => f.detail.content === 'zeros' || f.detail.content === 'directory-block');
  return {
    kind: 'inconclusive',
    summary:
      extras.length > 0
        ? `Nothing to compare against: no expected sources, so the ${plural(extras.length, 'file')} found cannot be judged${odd.length > 0 ? ` (${odd.length} of them hold zeros or directory records, which is not proof on its own)` : ''}.`
        : 'Nothing to compare: no expected sources and no files found.',
    evidence: extras.slice(0, 20).map((f) => `${f.path}: ${f.actualSize ?? 0} bytes${typeof f.detail.content === 'string' ? `, ${f.detail.content}` : ''}, nothing to compare with`),
    advice: ['Give the sources the step copied in (--expected DIR) to compare against.'],
  };
}

/** Sizes differ, files are missing or of another kind (stale ones may be there too). */
function otherCorruption(g: Groups, layer: string, ctx: VerdictContext): Verdict {
  const advice = [deleteAdvice(layer, ctx, 'so it is rebuilt, after keeping the evidence (this report)')];
  if (g.other.some((f) => f.class === 'missing')) {
    advice.push(
      "Missing files point at a copy that failed outright: look for errors in the copy step's log (e.g. `gtar: Cannot utime: Operation not permitted`, fixed by extracting as root, ocurrent/obuilder#213).",
    );
  }
  if (g.other.some((f) => f.class === 'size-mismatch')) {
    advice.push('Files of the wrong size are not explained by soft-updates (which keeps sizes): check the copy itself and the sources it used.');
  }
  if (g.stale.length > 0) advice.push(...softUpdatesAdvice(layer, ctx).slice(1));
  return {
    kind: 'other-corruption',
    summary: `${g.other.length} of ${plural(g.expected.length, 'file')} are damaged in ways soft-updates loss does not explain (${counts(g.other)})${g.stale.length > 0 ? `, and ${g.stale.length} more have right size but wrong bytes (${counts(g.stale)})` : ''}.${listedNote(g.modified, g.unreadable, g.extras)}`,
    evidence: [...g.other, ...g.stale, ...g.modified, ...g.unreadable].map(evidenceLine),
    advice,
  };
}

/** No stale file and nothing the signature cannot explain, but not enough to call it clean. */
function notEnough(g: Groups, gapLines: string[], commit: string | null): Verdict {
  const parts: string[] = [];
  const advice: string[] = [];
  if (g.modified.length > 0) {
    parts.push(
      `${g.modified.length} of ${plural(g.expected.length, 'file')} differ from the expected sources the way an edit does (changed lines, another version), with no block of stale data: the expected sources look like another version of what the step copied${commit ? ` (the job log names commit ${commit})` : ''}, not like a damaged layer.`,
    );
    advice.push(
      commit
        ? `Check out commit ${commit} of the sources (git checkout ${commit}) and give that as --expected, then run again.`
        : 'Give --expected the exact sources the step copied (the commit the CI job built), then run again.',
    );
  }
  if (g.unreadable.length > 0) {
    parts.push(`${plural(g.unreadable.length, 'file')} could not be read, so the layer cannot be judged whole.`);
    advice.push('Look at why the files could not be read (permissions in the guest: try --guest-privilege doas or sudo; files that vanished), then run again.');
  }
  if (gapLines.length > 0) {
    parts.push(`The extraction was incomplete (${plural(gapLines.length, 'problem')}): the layer cannot be called clean.`);
    advice.push('Look at what was left out and why (permissions in the guest, unsafe names), then run again.');
  }
  const extraNote = g.extras.length > 0 ? ` ${plural(g.extras.length, 'extra file')} listed.` : '';
  return {
    kind: 'inconclusive',
    summary: `${parts.join(' ')}${extraNote}`,
    evidence: [...g.modified.map(evidenceLine), ...g.unreadable.map(evidenceLine), ...gapLines],
    advice,
  };
}

/** "Delete layer X ...": with the exact command and the layers it takes with it, when known. */
function deleteAdvice(layer: string, ctx: VerdictContext, why: string): string {
  const on = ctx.builtOn;
  const with_ = on === undefined ? ' (and the layers built on it)' : on.length === 0 ? '' : ` and the ${plural(on.length, 'layer')} built on it (${on.slice(0, 6).map((id) => id.slice(0, 12)).join(', ')}${on.length > 6 ? ', …' : ''})`;
  const cmd = ctx.layerId && ctx.storeSpec ? `: \`obuilder delete --store=${ctx.storeSpec} ${ctx.layerId}\` (it removes them recursively)` : '';
  return `Delete ${layer}${with_} ${why}${cmd}.`;
}

function softUpdatesAdvice(layer: string, ctx: VerdictContext = {}): string[] {
  return [
    deleteAdvice(layer, ctx, 'so that obuilder rebuilds it'),
    'Make the builder run `sync` in the guest before powering it off, so data reaches the disk before a hard quit (ocurrent/obuilder#212).',
  ];
}
