// Exit statuses of design.md section 4, and the one for each verdict: the CLI, the TUI and the
// audit all answer the same way.

import type { VerdictKind } from './schema.js';

export const EXIT = { clean: 0, corrupt: 1, failed: 2, inconclusive: 3 } as const;

export function exitCodeFor(kind: VerdictKind): number {
  switch (kind) {
    case 'clean':
      return EXIT.clean;
    case 'soft-updates-data-loss':
    case 'other-corruption':
      return EXIT.corrupt;
    case 'inconclusive':
      return EXIT.inconclusive;
  }
}
