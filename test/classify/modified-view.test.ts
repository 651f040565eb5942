// What the reports and the File screen show of the classes issue 9 adds: `modified` as a diff,
// `unreadable` with its reason escaped; their colours and order.

import { describe, expect, it } from 'vitest';
import { compareTrees } from '../../src/classify/compare-trees.js';
import { CLASS_COLOUR, damagedFirst, holdsInstead, provenanceText } from '../../src/report/format.js';
import type { FileReport } from '../../src/report/schema.js';
import { STRIP_CHAR, blockStrip, fileBody, lineText } from '../../src/tui/file-view.js';
import { genOpam, memEntry, memTree, rng } from './helpers.js';

const text = (lines: { count: number; line: (i: number) => { text: string }[] }) => Array.from({ length: lines.count }, (_, i) => lineText(lines.line(i)));

describe('modified in the views', () => {
  it('the File screen shows an edit as a unified diff', async () => {
    const e = genOpam(rng(1), 'tls');
    const a = Buffer.from(e.toString().replace('opam-version: "2.0"\nname: "tls"\n', 'opam-version: "2.0"\nname: "tls"\nx-added: "by the next commit"\n'));
    const [f] = await compareTrees(memTree({ 'tls.opam': e }), memTree({ 'tls.opam': a }));
    expect(f!.class).toBe('modified');
    const lines = text(fileBody(f!, { expected: e, actual: a }, { columns: 100, blockSize: 512 }));
    expect(lines[0]).toMatch(/Differs the way an edit does/);
    expect(lines).toContain('--- expected/tls.opam');
    expect(lines).toContain('+x-added: "by the next commit"');
    expect(holdsInstead(f!)).toBe('an edited version: +1 -0 lines');
  });

  it('a same-size edit: the strip marks the edited blocks', async () => {
    const e = Buffer.from('let x = 1\n'.repeat(300));
    const a = Buffer.from(e);
    a.write('2', 1505);
    const [f] = await compareTrees(memTree({ 'x.ml': e }), memTree({ 'x.ml': a }));
    expect(f!.class).toBe('modified');
    expect(f!.regions.map((r) => r.class)).toEqual(['match', 'modified', 'match']);
    const strip = blockStrip(f!, 512, 80).map(lineText).join('\n');
    // Byte 1505 is in block 2 of 6.
    expect(strip).toContain(`==${STRIP_CHAR.modified}===`);
  });

  it('unreadable: the reason, escaped', () => {
    const f: FileReport = {
      path: 'a.opam',
      class: 'unreadable',
      kind: 'file',
      expectedSize: 10,
      actualSize: null,
      expectedSha256: null,
      actualSha256: null,
      provenance: null,
      regions: [],
      detail: { reason: 'Cannot open: Permission denied\x1b[2J', side: 'layer' },
    };
    const lines = text(fileBody(f, { expected: Buffer.from('x'), actual: null }, { columns: 100, blockSize: 512 }));
    expect(lines[0]).toBe('Could not be read: Cannot open: Permission denied\\e[2J');
    expect(holdsInstead(f)).toBe('unreadable: Cannot open: Permission denied\\e[2J');
  });

  it('colours and order: edits and unreadable files are not damage; damage comes first', () => {
    expect(CLASS_COLOUR.modified).toBe('gray');
    expect(CLASS_COLOUR.unreadable).toBe('gray');
    const mk = (path: string, cls: FileReport['class']): FileReport => ({ ...memEntry(path, Buffer.alloc(0)), class: cls, expectedSize: 1, actualSize: 1, expectedSha256: null, actualSha256: null, provenance: null, regions: [], detail: {}, kind: 'file' }) as unknown as FileReport;
    const order = damagedFirst([mk('m', 'match'), mk('e', 'extra'), mk('d', 'modified'), mk('u', 'unreadable'), mk('z', 'zeros')]).map((f) => f.path);
    expect(order).toEqual(['z', 'u', 'd', 'e', 'm']);
  });

  it('provenance names the offset in its source when it is not the start', () => {
    const f = { provenance: { source: 'corpus', path: 'p/opam', root: '/r', matchedBytes: 512, offset: 4096 } } as FileReport;
    expect(provenanceText(f)).toBe('corpus: /r/p/opam @4096 (512 B)');
  });
});
