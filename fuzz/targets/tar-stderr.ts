// What the guest's tar says on stderr (src/extract/ssh-tar.ts): parsed into the files it could not
// read, marked in the tree, and listed as gaps. Guest output: any bytes. Nothing here may throw,
// and no line of the gaps may carry a raw control character.

import { extractionGaps, markUnreadable, parseTarStderr } from '../../src/extract/ssh-tar.js';
import { escapeText } from '../../src/report/escape.js';
import type { Tree } from '../../src/tree/tree.js';
import { check, type FuzzTarget } from '../target.js';

const SAMPLES = [
  "tar: ./secret: Cannot open: Permission denied\ntar: ./sock: socket ignored\ntar: ./new\\nline: Cannot open: Permission denied\ntar: Exiting with failure status due to previous errors\n",
  "tar: can't open './secret': Permission denied\ntar: ./sock: socket ignored\ntar: ./noread: Permission denied\ntar: can't open './new\nline': Permission denied\ntar: error exit delayed from previous errors\n",
  'gtar: ./gone: File removed before we read it\ngtar: ./busy: file changed as we read it\ngtar: ./io: Read error at byte 0, while reading 512 bytes: Input/output error\n',
  "tar.exe: w.txt: Couldn't open w.txt: Permission denied\ntar: Unable to open o.txt to read <Permission denied>\ntar: Unable to access x <No such file or directory>\n",
  'tar: absent.opam: Cannot stat: No such file or directory\ntar: \\303\\251t\\342\\200\\256: Cannot open: Permission denied\n',
];

export const tarStderr: FuzzTarget = {
  name: 'tar-stderr',
  parser: 'src/extract/ssh-tar.ts (parseTarStderr, markUnreadable, extractionGaps)',
  inputs: 120_000,
  maxLength: 8 * 1024,
  dictionary: ['tar: ', 'gtar: ', "can't open '", "': ", ': Cannot open: ', 'Permission denied', 'socket ignored', 'File removed before we read it', '\\', '\\303', '\n', './', '../', '/', '<', '>'],
  async seeds() {
    return SAMPLES.map((s, i) => ({ name: `stderr ${i}`, bytes: Buffer.from(s, 'utf8') }));
  },
  run(input) {
    const stderr = input.toString('utf8');
    const tree: Tree = new Map();
    const file = { path: 'secret', kind: 'file' as const, size: 1, read: async () => Buffer.from('x') };
    tree.set('secret', file);
    tree.set('hard', { ...file, path: 'hard', hardLinkOf: 'secret' });
    const problems = parseTarStderr(stderr);
    const unreadable = markUnreadable(tree, problems, ['absent.opam', 'x'], 'guest tar of /d');
    for (const u of unreadable) check(tree.get(u.path)?.unreadable === u.reason, `not marked: ${u.path}`);
    const gaps = extractionGaps({ unsafe: [], skipped: [], exitCode: 2, stderr });
    // Raw guest bytes, escaped where printed: then one line with no control character.
    for (const l of [...gaps.dropped, gaps.failure ?? '']) check(!/[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/.test(escapeText(l)), `unescapable ${JSON.stringify(l)}`);
    check(gaps.failure === null || !gaps.failure.includes('\n'), 'the failure line holds a newline');
  },
};
