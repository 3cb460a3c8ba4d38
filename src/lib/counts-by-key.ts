/**
 * How many of something each key holds at a time (requests in flight per caller, fetches per
 * host): a count goes up when taken and down, once, when its release is called.
 */
export class CountsByKey {
  private readonly counts = new Map<string, number>();

  of(key: string): number {
    return this.counts.get(key) ?? 0;
  }

  get total(): number {
    let sum = 0;
    for (const count of this.counts.values()) sum += count;
    return sum;
  }

  /** Counts one more for `key`; the result gives it back (a second call does nothing), then calls `onRelease`. */
  take(key: string, onRelease?: () => void): () => void {
    this.counts.set(key, this.of(key) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = this.of(key) - 1;
      if (left <= 0) this.counts.delete(key);
      else this.counts.set(key, left);
      onRelease?.();
    };
  }
}
