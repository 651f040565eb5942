// The CI job log (src/store/job-log.ts): the step parser, the s-expression reader, the copy step
// picked for `--job-log`. Seeds: the job-log fixtures of the tests and the sample's log.

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseJobLog, parseSexp, pickCopyStep } from '../../src/store/job-log.js';
import { check, type FuzzTarget } from '../target.js';
import { ROOT } from './paths.js';

export const jobLog: FuzzTarget = {
  name: 'job-log',
  parser: 'src/store/job-log.ts (parseJobLog, parseSexp, pickCopyStep)',
  inputs: 150_000,
  maxLength: 64 * 1024,
  dictionary: [
    '(copy ', '(src ', '(dst ', '(exclude ', '(from ', '(run ', '(shell ', '/: ', ' ---> saved as "', ' ---> using "', '" from cache',
    'Building on ', ')', '(', '"', '\\', '\n', '\r\n', '\u001b[01;34m', '\u001b[0m', '/home/opam/src/./', '0123456789abcdef'.repeat(4),
    '2026-06-29 16:02.38', '#', 'C:\\Users\\opam', '(network host)', 'from https://github.com/o/r.git#main (', '0'.repeat(40), ')\n',
  ],
  async seeds() {
    const dir = join(ROOT, 'test', 'fixtures', 'job-logs');
    const files = [...readdirSync(dir).map((f) => join(dir, f)), join(ROOT, 'samples', 'job.log')];
    return files.map((f) => ({ name: f.slice(ROOT.length + 1), bytes: readFileSync(f).subarray(0, 64 * 1024) }));
  },
  run(input) {
    const text = input.toString('latin1');
    const parsed = parseJobLog(text);
    for (const s of parsed.steps) {
      check(s.layerId === null || /^[0-9a-f]{64}$/.test(s.layerId), `layer id ${s.layerId}`);
      check(Number.isInteger(s.line) && s.line >= 1, `line ${s.line}`);
      if (s.op === 'copy') check(s.dst === undefined || typeof s.dst === 'string', 'dst');
    }
    const step = pickCopyStep(parsed, 'fuzz.log');
    check(/^[0-9a-f]{64}$/.test(step.layerId), 'picked step without a layer id');
    parseSexp(text.slice(0, 4096));
    parseJobLog(input.toString('utf8'));
  },
};
