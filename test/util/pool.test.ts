// The two ways the tool runs a bounded number of async tasks: over a list (mapPool) and as tasks
// come (limiter, the first pass's comparisons of what the scan pool left).

import { describe, expect, it } from 'vitest';
import { limiter, mapPool } from '../../src/util/pool.js';

const tick = (ms: number) => new Promise((res) => setTimeout(res, ms));

describe('mapPool', () => {
  it('keeps input order and never runs more than asked', async () => {
    let active = 0;
    let most = 0;
    const got = await mapPool([5, 1, 4, 2, 3], { concurrency: 2 }, async (x) => {
      most = Math.max(most, ++active);
      await tick(x);
      active--;
      return x * 10;
    });
    expect(got).toEqual([50, 10, 40, 20, 30]);
    expect(most).toBe(2);
  });
});

describe('limiter', () => {
  it('runs at most `concurrency` at once, in the order asked, and every task to its end', async () => {
    const run = limiter(3);
    let active = 0;
    let most = 0;
    const started: number[] = [];
    const tasks = Array.from({ length: 12 }, (_, i) =>
      run(async () => {
        started.push(i);
        most = Math.max(most, ++active);
        await tick(1 + (i % 4));
        active--;
        return i;
      }),
    );
    expect(await Promise.all(tasks)).toEqual(Array.from({ length: 12 }, (_, i) => i));
    expect(most).toBe(3);
    expect(started).toEqual(Array.from({ length: 12 }, (_, i) => i));
    expect(active).toBe(0);
  });

  it('a task that fails frees its slot: the others still run, and the failure reaches its caller', async () => {
    const run = limiter(1);
    const failed = run(async () => {
      throw new Error('boom');
    });
    const after = run(async () => 'ran');
    await expect(failed).rejects.toThrow('boom');
    expect(await after).toBe('ran');
  });

  it('tasks asked later, once others are done, start at once', async () => {
    const run = limiter(2);
    await Promise.all([run(async () => tick(1)), run(async () => tick(1))]);
    let started = false;
    const t = run(async () => {
      started = true;
    });
    expect(started).toBe(true);
    await t;
  });
});
