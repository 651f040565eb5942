// The L2 table cache: a byte budget, least recently used first out, the inflated-cluster slot.

import { describe, expect, test } from 'vitest';
import { TableCache } from '../../src/image/table-cache.js';

describe('TableCache', () => {
  test('stays within its byte budget, evicting the least recently used table', () => {
    const c = new TableCache(3 * 512);
    const t = (n: number) => Buffer.alloc(512, n);
    c.set(TableCache.key(0, 512), t(1));
    c.set(TableCache.key(0, 1024), t(2));
    c.set(TableCache.key(1, 512), t(3)); // another image, same offset: another key
    expect(c.size).toBe(1536);
    expect(c.get(TableCache.key(0, 512))?.[0]).toBe(1); // now the most recent
    c.set(TableCache.key(0, 2048), t(4));
    expect(c.size).toBe(1536);
    expect(c.get(TableCache.key(0, 1024))).toBeUndefined(); // the least recent went
    expect(c.get(TableCache.key(0, 512))?.[0]).toBe(1);
    expect(c.get(TableCache.key(1, 512))?.[0]).toBe(3);
    for (let i = 0; i < 1000; i++) c.set(TableCache.key(2, 512 * (i + 1)), t(5));
    expect(c.size).toBeLessThanOrEqual(1536);
  });

  test('a table larger than the budget is still kept (alone)', () => {
    const c = new TableCache(100);
    c.set(1024, Buffer.alloc(4096));
    expect(c.get(1024)).toBeDefined();
    c.set(2048, Buffer.alloc(4096));
    expect(c.get(1024)).toBeUndefined();
    expect(c.size).toBe(4096);
  });

  test('one inflated cluster per chain, keyed by image and offset; clear drops everything', () => {
    const c = new TableCache();
    const b = Buffer.alloc(8);
    c.keepInflated(2, 777, b);
    expect(c.inflated(2, 777)).toBe(b);
    expect(c.inflated(1, 777)).toBeNull();
    expect(c.inflated(2, 778)).toBeNull();
    c.set(512, Buffer.alloc(512));
    c.clear();
    expect(c.inflated(2, 777)).toBeNull();
    expect(c.size).toBe(0);
    expect(c.get(512)).toBeUndefined();
  });
});
