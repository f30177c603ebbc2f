/**
 * A log's generation history: for each generation present in the log, the LSN of its first record.
 *
 * Why it is enough to compare logs: every record of generation g was written, at its LSN, by the one
 * master of g. So if two logs hold a record of generation g that ends at the same LSN, it is the same
 * record, and (by induction over the same rule) the two logs are identical up to it. The history lets
 * the core answer "do we agree up to LSN x?" and "where is our last common record?" without reading the
 * log. Pure; bounded by MAX_HISTORY_ENTRIES.
 */
export interface HistoryEntry {
  readonly generation: number;
  /** LSN of the generation's first record in this log. */
  readonly lsn: number;
}

/** Far above any real number of failovers within a log's retained span; past it the oldest go. */
export const MAX_HISTORY_ENTRIES = 4096;

export class GenerationHistory {
  #entries: HistoryEntry[];

  constructor(entries: readonly HistoryEntry[] = []) {
    this.#entries = [...entries];
  }

  get entries(): readonly HistoryEntry[] {
    return this.#entries;
  }

  /** Generation of the record covering `lsn`, or 0 when no record of the log covers it. */
  generationAt(lsn: number): number {
    const entries = this.#entries;
    let low = 0;
    let high = entries.length - 1;
    let found = 0;
    while (low <= high) {
      const middle = (low + high) >> 1;
      const entry = entries[middle]!;
      if (entry.lsn <= lsn) {
        found = entry.generation;
        low = middle + 1;
      } else {
        high = middle - 1;
      }
    }
    return found;
  }

  get lastGeneration(): number {
    return this.#entries.at(-1)?.generation ?? 0;
  }

  /** Notes a record of `generation` at `lsn` (records come in LSN order). */
  noteRecord(generation: number, lsn: number): void {
    const last = this.#entries.at(-1);
    if (last !== undefined && last.generation === generation) return;
    if (last !== undefined && (generation < last.generation || lsn <= last.lsn)) {
      throw new Error(
        `history out of order: generation ${generation} at ${lsn} after ${last.generation} at ${last.lsn}`,
      );
    }
    this.#entries.push({ generation, lsn });
    if (this.#entries.length > MAX_HISTORY_ENTRIES) this.#entries.shift();
  }

  /** Forgets records at or after `lsn` (a rollback). */
  truncate(lsn: number): void {
    while (this.#entries.length > 0 && this.#entries.at(-1)!.lsn >= lsn) this.#entries.pop();
  }

  /** The end (exclusive) of generation `index`'s range in a log ending at `nextLsn`. */
  #end(index: number, nextLsn: number): number {
    return this.#entries[index + 1]?.lsn ?? nextLsn;
  }

  /**
   * The end of the longest common prefix of this log (ending at `nextLsn`) and another (its history and
   * end): the LSN to truncate to. Undefined when the two share no generation and this log does not start
   * at `logStartLsn` (a trimmed log cannot prove an empty common prefix).
   *
   * `otherOpenGeneration`: the generation the other log is still being written in (a master's own). Its
   * range there only grows, so `otherNextLsn` is a lower bound, not an end: a message describing it may be
   * old (delayed, duplicated), and records we hold of that generation came from that very master.
   */
  commonEnd(
    nextLsn: number,
    other: readonly HistoryEntry[],
    otherNextLsn: number,
    logStartLsn: number,
    otherOpenGeneration?: number,
  ): number | undefined {
    let otherIndex = other.length - 1;
    for (let index = this.#entries.length - 1; index >= 0; index--) {
      const entry = this.#entries[index]!;
      while (otherIndex >= 0 && other[otherIndex]!.generation > entry.generation) otherIndex--;
      if (otherIndex < 0) break;
      const match = other[otherIndex]!;
      if (match.generation === entry.generation && match.lsn === entry.lsn) {
        const next = other[otherIndex + 1];
        const otherEnd =
          next !== undefined
            ? next.lsn
            : match.generation === otherOpenGeneration
              ? Number.POSITIVE_INFINITY
              : otherNextLsn;
        return Math.min(this.#end(index, nextLsn), otherEnd);
      }
    }
    const first = this.#entries[0];
    const otherFirst = other[0];
    // No generation in common: the common prefix is empty, which is provable only if both logs start at
    // the very beginning.
    if (
      (first === undefined || first.lsn === logStartLsn) &&
      (otherFirst === undefined || otherFirst.lsn === logStartLsn)
    ) {
      return logStartLsn;
    }
    return undefined;
  }
}
