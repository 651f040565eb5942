// The shared step: compare, trace, decide; the commit and the producer's directory lookup reach
// the report.

import { describe, expect, it } from 'vitest';
import { compareAndDecide } from '../../src/diagnose/compare-and-decide.js';
import { decideVerdict } from '../../src/diagnose/verdict.js';
import { ffsDirChunk, genOpam, memTree, rng } from '../classify/helpers.js';

describe('compareAndDecide', () => {
  it('names the commit of the job log when the only differences are edits', async () => {
    const e = genOpam(rng(1), 'tls');
    const a = Buffer.from(e.toString().replace('build:', 'x-ci: "next commit"\nbuild:'));
    const expected = memTree({ 'tls.opam': e });
    const d = await compareAndDecide({ expected, actual: memTree({ 'tls.opam': a }), candidates: [], commit: '0123abcd' });
    expect(d.files[0]!.class).toBe('modified');
    expect(d.verdict.kind).toBe('inconclusive');
    expect(d.verdict.summary).toContain('commit 0123abcd');
    // Decided again after more evidence, with the same context: the commit stays.
    expect(decideVerdict(d.files, d.context).summary).toContain('commit 0123abcd');
  });

  it("asks the producer which directory a directory block's inode is, and names it", async () => {
    const e = genOpam(rng(2), 'tls');
    const a = Buffer.concat([ffsDirChunk(777, ['zxcvbn.opam', 'tls.opam']), Buffer.alloc(e.length)]).subarray(0, e.length);
    const d = await compareAndDecide({
      expected: memTree({ 'tls.opam': e }),
      actual: memTree({ 'tls.opam': a }),
      candidates: [],
      directoryOfInode: async (ino) => (ino === 777 ? '/home/opam/opam-repository/packages/zxcvbn' : null),
    });
    expect(d.files[0]).toMatchObject({ class: 'directory-block', provenance: { source: 'guest', path: '/home/opam/opam-repository/packages/zxcvbn' } });
    expect(d.verdict.kind).toBe('soft-updates-data-loss');
    expect(d.verdict.evidence[0]).toContain('from guest /home/opam/opam-repository/packages/zxcvbn');
  });
});
