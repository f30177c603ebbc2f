/**
 * Records that arrived after a gap, held (bounded) until the gap is filled. When the bound is reached
 * the batches furthest from the gap are dropped first: they are the cheapest to ask for again.
 */
export interface BufferedBatch {
  readonly firstLsn: number;
  readonly endLsn: number;
  readonly bytes: Uint8Array;
  readonly prevGeneration: number;
}

export class GapBuffer {
  readonly #maxBytes: number;
  #batches: BufferedBatch[] = [];
  #bytes = 0;

  constructor(maxBytes: number) {
    this.#maxBytes = maxBytes;
  }

  get bytes(): number {
    return this.#bytes;
  }
  get isEmpty(): boolean {
    return this.#batches.length === 0;
  }
  /** The first LSN held after the gap, if any. */
  get firstLsn(): number | undefined {
    return this.#batches[0]?.firstLsn;
  }

  /** Returns false when the batch was not kept (a duplicate or over the bound). */
  add(firstLsn: number, bytes: Uint8Array, prevGeneration: number): boolean {
    const batches = this.#batches;
    let index = batches.length;
    while (index > 0 && batches[index - 1]!.firstLsn > firstLsn) index--;
    if (index > 0 && batches[index - 1]!.firstLsn === firstLsn) return false;
    batches.splice(index, 0, { firstLsn, endLsn: firstLsn + bytes.length, bytes, prevGeneration });
    this.#bytes += bytes.length;
    let kept = true;
    while (this.#bytes > this.#maxBytes && batches.length > 0) {
      const dropped = batches.pop()!;
      this.#bytes -= dropped.bytes.length;
      if (dropped.firstLsn === firstLsn) kept = false;
    }
    return kept;
  }

  /** Removes and returns the first batch that starts at or before `nextLsn`, if any. */
  takeReady(nextLsn: number): BufferedBatch | undefined {
    const first = this.#batches[0];
    if (first === undefined || first.firstLsn > nextLsn) return undefined;
    this.#batches.shift();
    this.#bytes -= first.bytes.length;
    return first;
  }

  clear(): void {
    this.#batches = [];
    this.#bytes = 0;
  }
}
