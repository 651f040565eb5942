import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseJobLog, readJobLog } from '../../src/store/job-log.js';

const FIXTURES = join(import.meta.dirname, '../fixtures/job-logs');

describe('the commit a job log names', () => {
  it("reads ocaml-ci's header: from <repo>#<ref> (<commit>)", async () => {
    const log = await readJobLog(join(FIXTURES, 'ocaml-ci-openbsd.log'));
    expect(log.commit).toBe('5a3cefcc9d46270c0000000000000000deadbeef');
  });

  it('is null when the log names none, and a 40-hex string later in the output is not taken', () => {
    const text = ['(from base)', '/: (run (shell "echo"))', '  from https://x.git#main (0123456789012345678901234567890123456789)'].join('\n');
    expect(parseJobLog(text).commit).toBeNull();
    expect(parseJobLog('').commit).toBeNull();
  });
});
