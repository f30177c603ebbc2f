/** Cheap latency recording and the few statistics the report needs. */

/**
 * Latencies in milliseconds, in one preallocated Float64Array reused by every cell. Recording is a
 * store and an increment; past the capacity it wraps and keeps the most recent samples.
 */
export class LatencyRecorder {
  readonly #samples: Float64Array;
  #count = 0;

  constructor(capacity: number) {
    this.#samples = new Float64Array(capacity);
  }

  reset(): void {
    this.#count = 0;
  }

  record(ms: number): void {
    const samples = this.#samples;
    samples[this.#count % samples.length] = ms;
    this.#count++;
  }

  get count(): number {
    return this.#count;
  }

  /** Sorts the kept samples in place and returns the quantiles asked for (nearest rank). */
  quantiles(...qs: readonly number[]): number[] {
    const kept = this.#samples.subarray(0, Math.min(this.#count, this.#samples.length));
    kept.sort();
    return qs.map((q) => quantileOfSorted(kept, q));
  }
}

export function quantileOfSorted(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank]!;
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}
