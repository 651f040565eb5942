// An incomplete extraction is said in every output: the guest tar's status and stderr, what was
// left out, what could not be read; escaped; and never under a `clean` verdict.
import { describe, expect, it } from 'vitest';
import { renderReport } from '../../src/cli/emit-report.js';
import { decideVerdict } from '../../src/diagnose/verdict.js';
import { extractionProblems } from '../../src/report/text.js';
import { sampleReport } from './sample-report.js';

function incomplete() {
  const r = sampleReport();
  Object.assign(r.extraction, {
    unsafeEntries: [
      { rawName: '../../etc/passwd', type: 'file', reason: 'has a ".." segment' },
      { rawName: 'h\u001b[31m', type: 'link', reason: 'is a hard link to "/etc/shadow", which is an absolute path' },
    ],
    tarExitCode: 2,
    tarStderr: "tar: ./secret: Cannot open: Permission denied\ntar: ./\u009b2Jx: socket ignored\ntar: Exiting with failure status due to previous errors\n",
  });
  r.files.push({ ...r.files[0]!, path: 'secret', class: 'extra', expectedSize: null, actualSize: null, expectedSha256: null, actualSha256: null, detail: { unreadable: 'permission denied in the guest (Cannot open: Permission denied)' } });
  r.verdict = decideVerdict(r.files, {
    gaps: { dropped: ['"../../etc/passwd" (file) has a \\"..\\" segment'], failure: "the guest's tar exited with status 2: tar: ./secret: Cannot open: Permission denied" },
  });
  return r;
}

describe('incomplete extraction in every output', () => {
  it('the verdict is inconclusive, not clean', () => {
    expect(incomplete().verdict.kind).toBe('inconclusive');
  });

  it('lists the status, the stderr and each entry left out (raw: each renderer escapes them)', () => {
    const lines = extractionProblems(incomplete());
    expect(lines).toEqual([
      "the guest's tar exited with status 2",
      'tar: ./secret: Cannot open: Permission denied',
      'tar: ./\u009b2Jx: socket ignored',
      'tar: Exiting with failure status due to previous errors',
      'left out: "../../etc/passwd" (file) has a ".." segment',
      'left out: "h\u001b[31m" (link) is a hard link to "/etc/shadow", which is an absolute path',
      'could not read secret: permission denied in the guest (Cannot open: Permission denied)',
    ]);
    expect(extractionProblems(sampleReport())).toEqual([]);
    // An expected file the layer's side could not read (class unreadable) is named the same way.
    const unread = sampleReport();
    unread.files[0] = { ...unread.files[0]!, class: 'unreadable', detail: { reason: 'vanished', side: 'layer' } };
    expect(extractionProblems(unread)).toEqual(['could not read a.opam: vanished']);
    // When the producer gives its list of what it left out, that list is shown, and the files it
    // could not read (in the tree, class unreadable) after it.
    const withList = incomplete();
    (withList.extraction as { dropped?: string[] }).dropped = ['"a\u009b" (file) has a ".." segment'];
    expect(extractionProblems(withList).slice(4)).toEqual([
      'left out: "a\u009b" (file) has a ".." segment',
      'could not read secret: permission denied in the guest (Cannot open: Permission denied)',
    ]);
  });

  for (const form of ['text', 'markdown', 'json'] as const) {
    it(`${form}: says what was left out and how tar ended, with no raw control character`, () => {
      const out = renderReport(incomplete(), { json: form === 'json', markdown: form === 'markdown' }, { isTTY: false });
      expect(out).toMatch(/inconclusive/);
      expect(out).toContain('etc/passwd');
      expect(out).toMatch(/status 2|"tarExitCode": 2/);
      expect(out).toContain('Cannot open: Permission denied');
      expect(out).toMatch(/secret/);
      expect(out).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/);
      if (form !== 'json') expect(out).toMatch(/Extraction incomplete/);
    });
  }

  it('a clean, complete run shows no such section', () => {
    const out = renderReport(sampleReport(), {}, { isTTY: false });
    expect(out).not.toMatch(/Extraction incomplete|Why inconclusive/);
  });
});
