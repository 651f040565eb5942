import { describe, expect, it } from 'vitest';
import { decideVerdict, evidenceLine } from '../../src/diagnose/verdict.js';
import type { FileClass, FileReport } from '../../src/report/schema.js';

const f = (path: string, cls: FileClass, extra: Partial<FileReport> = {}): FileReport => ({
  path,
  class: cls,
  kind: 'file',
  expectedSize: cls === 'extra' ? null : 100,
  actualSize: cls === 'missing' ? null : 100,
  expectedSha256: null,
  actualSha256: null,
  provenance: null,
  regions: [],
  detail: {},
  ...extra,
});

const STALE: FileClass[] = ['zeros', 'directory-block', 'foreign-text', 'foreign-binary', 'partial'];
const OTHER: FileClass[] = ['size-mismatch', 'missing', 'type-mismatch', 'link-mismatch'];

describe('decideVerdict', () => {
  it('clean when every expected file matches; extras are listed, not a verdict', () => {
    const v = decideVerdict([f('a', 'match'), f('b', 'match'), f('x', 'extra')]);
    expect(v.kind).toBe('clean');
    expect(v.summary).toContain('1 extra file');
  });

  it.each(STALE)('%s alone is soft-updates data loss', (cls) => {
    const v = decideVerdict([f('a', 'match'), f('b', cls)]);
    expect(v.kind).toBe('soft-updates-data-loss');
    expect(v.evidence).toHaveLength(1);
    expect(v.advice.join(' ')).toMatch(/sync/);
    expect(v.advice.join(' ')).toMatch(/[Dd]elete/);
  });

  it.each(OTHER)('%s is other corruption, even mixed with stale files', (cls) => {
    expect(decideVerdict([f('a', cls)]).kind).toBe('other-corruption');
    const v = decideVerdict([f('a', 'zeros'), f('b', cls)]);
    expect(v.kind).toBe('other-corruption');
    expect(v.evidence).toHaveLength(2);
  });

  it('missing files point at a copy that failed outright', () => {
    expect(decideVerdict([f('a', 'missing')]).advice.join(' ')).toMatch(/Cannot utime/);
  });

  it('names the layer in the advice', () => {
    expect(decideVerdict([f('a', 'zeros')], { layerId: 'abcdef0123456789' }).advice[0]).toContain('abcdef012345');
  });
});

describe('nothing to compare against (issue 11)', () => {
  it('is inconclusive, whatever the extra files hold: an extra file is never evidence of lost data', () => {
    expect(decideVerdict([]).kind).toBe('inconclusive');
    for (const content of ['data', 'zeros', 'directory-block', 'empty']) {
      const v = decideVerdict([f('x', 'extra', { detail: { content } })]);
      expect(v.kind, content).toBe('inconclusive');
      expect(v.advice.join(' ')).toMatch(/--expected/);
    }
    const v = decideVerdict([f('x', 'extra', { detail: { content: 'zeros' } }), f('y', 'extra', { detail: { content: 'directory-block' } })]);
    expect(v.kind).toBe('inconclusive');
    expect(v.summary).toMatch(/not proof on its own/);
  });

  it('an all-zero extra file next to matching files does not make the layer corrupt', () => {
    expect(decideVerdict([f('a', 'match'), f('x', 'extra', { detail: { content: 'zeros' } })]).kind).toBe('clean');
  });

  it('a failed extraction is inconclusive', () => {
    expect(decideVerdict([f('a', 'match')], { unreadable: 'tar failed' }).kind).toBe('inconclusive');
  });
});

describe('modified files (edits, another version of the sources)', () => {
  it('only modified (and extra, and matching) files: inconclusive, the sources look like another version', () => {
    const v = decideVerdict([f('a', 'match'), f('b', 'modified', { detail: { linesAdded: 2, linesRemoved: 1 } }), f('x', 'extra')]);
    expect(v.kind).toBe('inconclusive');
    expect(v.summary).toMatch(/another version of what the step copied/);
    expect(v.evidence).toEqual(['b: an edited version of the source (100 bytes, right size); 2 lines added, 1 removed']);
    expect(v.advice.join(' ')).toMatch(/exact sources the step copied/);
  });

  it('names the commit the job log gives', () => {
    const v = decideVerdict([f('b', 'modified')], { commit: '8b7fd5a0c1d2e3f4' });
    expect(v.summary).toContain('commit 8b7fd5a0c1d2e3f4');
    expect(v.advice[0]).toContain('git checkout 8b7fd5a0c1d2e3f4');
  });

  it.each(STALE)('modified next to a %s file keeps soft-updates-data-loss (modified listed)', (cls) => {
    const v = decideVerdict([f('a', cls), f('b', 'modified'), f('c', 'match')]);
    expect(v.kind).toBe('soft-updates-data-loss');
    expect(v.summary).toMatch(/1 edited file/);
    expect(v.evidence).toHaveLength(2);
  });

  it('modified next to a missing file is other corruption', () => {
    expect(decideVerdict([f('a', 'missing'), f('b', 'modified')]).kind).toBe('other-corruption');
  });

  it('a line-ending change says so', () => {
    expect(evidenceLine(f('b', 'modified', { detail: { lineEndings: 'crlf' } }))).toContain('only the line endings differ (CRLF in the layer)');
  });
});

describe('unreadable files', () => {
  const unreadable = (path: string, reason = 'Permission denied') => f(path, 'unreadable', { actualSize: null, detail: { reason, side: 'layer' } });

  it('make the layer inconclusive, never missing, never other corruption', () => {
    const v = decideVerdict([f('a', 'match'), unreadable('b')]);
    expect(v.kind).toBe('inconclusive');
    expect(v.summary).toMatch(/could not be read/);
    expect(v.evidence).toEqual(['b: could not be read (the layer: Permission denied)']);
    expect(v.advice.join(' ')).toMatch(/--guest-privilege/);
  });

  it('with real stale-block evidence elsewhere: soft-updates-data-loss, the unreadable file listed', () => {
    const v = decideVerdict([f('a', 'zeros'), unreadable('b')]);
    expect(v.kind).toBe('soft-updates-data-loss');
    expect(v.summary).toMatch(/1 unreadable file/);
  });

  it('keep the reason as data: the renderers escape it', () => {
    expect(evidenceLine(unreadable('b', 'gtar: b: Cannot open\x1b[2J'))).toBe('b: could not be read (the layer: gtar: b: Cannot open\x1b[2J)');
  });

  it('with modified files too: inconclusive, both said', () => {
    const v = decideVerdict([f('a', 'modified'), unreadable('b')]);
    expect(v.kind).toBe('inconclusive');
    expect(v.summary).toMatch(/another version/);
    expect(v.summary).toMatch(/could not be read/);
  });
});

describe('gaps in the extraction', () => {
  it('a tree with gaps is never clean', () => {
    const v = decideVerdict([f('a', 'match')], { gaps: { dropped: ['"../x" (file) has a ".." segment'], failure: null } });
    expect(v.kind).toBe('inconclusive');
    expect(v.evidence[0]).toMatch(/left out/);
  });

  it('stale evidence still decides with gaps', () => {
    expect(decideVerdict([f('a', 'zeros')], { gaps: { dropped: ['x'], failure: null } }).kind).toBe('soft-updates-data-loss');
  });
});
