/**
 * Binary search: the first index in [0, length) for which `before(i)` is false, or `length`;
 * `before` must hold for a prefix of the indexes and not after it (C++'s partition_point).
 */
export function partitionPoint(length: number, before: (i: number) => boolean): number {
  let lo = 0;
  let hi = length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (before(mid)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
