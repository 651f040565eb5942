/**
 * A bounded least-recently-used map: what it holds never weighs more than `capacity` (each value
 * weighs 1 unless `weigh` says otherwise, e.g. its length in bytes), except that the value just
 * set is always kept, even when it alone is heavier. A Map iterates in insertion order, so
 * re-inserting on a hit keeps the least recent first.
 */
export class Lru<K, V> {
  private readonly map = new Map<K, V>();
  private weight = 0;

  constructor(
    readonly capacity: number,
    private readonly weigh: (value: V) => number = () => 1,
  ) {}

  get(key: K): V | undefined {
    const v = this.map.get(key);
    if (v !== undefined) {
      this.map.delete(key);
      this.map.set(key, v);
    }
    return v;
  }

  set(key: K, value: V): void {
    const old = this.map.get(key);
    if (old !== undefined) {
      this.weight -= this.weigh(old);
      this.map.delete(key);
    }
    this.map.set(key, value);
    this.weight += this.weigh(value);
    for (const [k, v] of this.map) {
      if (this.weight <= this.capacity || this.map.size <= 1) break;
      this.map.delete(k);
      this.weight -= this.weigh(v);
    }
  }

  clear(): void {
    this.map.clear();
    this.weight = 0;
  }

  /** Entries held. */
  get size(): number {
    return this.map.size;
  }

  /** Their total weight. */
  get weightHeld(): number {
    return this.weight;
  }
}
