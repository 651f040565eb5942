// The host directory walk builds file names by concatenation, not path.join (tens of thousands of
// names a walk): it must give path.join's result for every root a user may type.

import fc from 'fast-check';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { pathPrefix } from '../../src/extract/directory-tree.js';

describe('pathPrefix', () => {
  it("is path.join's result for any root and a walked relative path", () => {
    for (const root of ['/', '/a/b', '/a/b/', '//a//b//', 'a', './a', 'a/../b', '.', './', '..', '../x/.']) {
      expect(pathPrefix(root) + 'x/y', root).toBe(join(root, 'x/y'));
    }
    const part = fc.constantFrom('a', 'bc', '.', '..', '', 'd e');
    const name = fc.string({ minLength: 1, maxLength: 6 }).filter((n) => !n.includes('/') && n !== '.' && n !== '..' && !n.includes('\0'));
    fc.assert(
      fc.property(fc.boolean(), fc.array(part, { maxLength: 5 }), fc.array(name, { minLength: 1, maxLength: 4 }), (abs, parts, names) => {
        const root = (abs ? '/' : '') + parts.join('/');
        if (root === '') return;
        const rel = names.join('/');
        expect(pathPrefix(root) + rel).toBe(join(root, rel));
      }),
    );
  });
});
