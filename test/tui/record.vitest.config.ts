// Only for recording the TUI fixtures by hand: see record-fixtures.ts.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/tui/record-fixtures.ts'],
    // One run at a time: the boots share two cores.
    maxWorkers: 1,
    fileParallelism: false,
    testTimeout: 600_000,
    hookTimeout: 900_000,
  },
});
