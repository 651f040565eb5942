import { describe, expect, it } from 'vitest';
import { decideVerdict } from '../../src/diagnose/verdict.js';
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

describe('decideVerdict', () => {
  it('clean when every expected file matches; extras are listed, not a verdict', () => {
    const v = decideVerdict([f('a', 'match'), f('b', 'match'), f('x', 'extra')]);
    expect(v.kind).toBe('clean');
    expect(v.summary).toContain('1 extra file');
  });

  it.each(['zeros', 'directory-block', 'foreign-text', 'foreign-binary', 'partial'] as FileClass[])('%s alone is soft-updates data loss', (cls) => {
    const v = decideVerdict([f('a', 'match'), f('b', cls)]);
    expect(v.kind).toBe('soft-updates-data-loss');
    expect(v.evidence).toHaveLength(1);
    expect(v.advice.join(' ')).toMatch(/sync/);
    expect(v.advice.join(' ')).toMatch(/[Dd]elete/);
  });

  it.each(['size-mismatch', 'missing', 'type-mismatch', 'link-mismatch'] as FileClass[])('%s is other corruption, even mixed with stale files', (cls) => {
    expect(decideVerdict([f('a', cls)]).kind).toBe('other-corruption');
    const v = decideVerdict([f('a', 'zeros'), f('b', cls)]);
    expect(v.kind).toBe('other-corruption');
    expect(v.evidence).toHaveLength(2);
  });

  it('missing files point at a copy that failed outright', () => {
    expect(decideVerdict([f('a', 'missing')]).advice.join(' ')).toMatch(/Cannot utime/);
  });

  it('inconclusive with nothing to compare and no self-evidence; self-evidence counts', () => {
    expect(decideVerdict([]).kind).toBe('inconclusive');
    expect(decideVerdict([f('x', 'extra', { detail: { content: 'data' } })]).kind).toBe('inconclusive');
    expect(decideVerdict([f('x', 'extra', { detail: { content: 'zeros' } })]).kind).toBe('soft-updates-data-loss');
    expect(decideVerdict([f('a', 'match')], { unreadable: 'tar failed' }).kind).toBe('inconclusive');
  });

  it('names the layer in the advice', () => {
    expect(decideVerdict([f('a', 'zeros')], { layerId: 'abcdef0123456789' }).advice[0]).toContain('abcdef012345');
  });
});
