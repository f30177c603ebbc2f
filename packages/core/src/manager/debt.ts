/**
 * Durability debt: commits whose ack policy was not met (timed out, or impossible at the time). They
 * stay tracked as under-replicated; once later (cumulative) acks cover one under its policy, it — and
 * every older entry covered with it — is paid. Bounded: past MAX_DEBT_ENTRIES the two oldest entries
 * merge into the newer one (cumulative acks that cover the newer LSN cover the older one too).
 */
import type { AckPolicy } from './policy.js';

export const MAX_DEBT_ENTRIES = 4096;

export interface DebtEntry {
  readonly lsn: number;
  readonly generation: number;
  readonly policy: AckPolicy;
  readonly minRank: number;
  /** How many failed commits this entry stands for (merged entries count all of theirs). */
  readonly commits: number;
}

export class DurabilityDebt {
  #entries: DebtEntry[] = [];
  #commits = 0;

  /** Commits still under-replicated. */
  get size(): number {
    return this.#commits;
  }

  get oldestLsn(): number | undefined {
    return this.#entries[0]?.lsn;
  }

  clear(): void {
    this.#entries = [];
    this.#commits = 0;
  }

  add(lsn: number, generation: number, policy: AckPolicy, minRank: number): void {
    // Failed commits mostly come in LSN order: insert from the end (O(1) then), not a sort per add, which
    // made a burst of ack timeouts cost O(n log n) each once the debt had grown.
    const entries = this.#entries;
    let index = entries.length;
    while (index > 0 && entries[index - 1]!.lsn > lsn) index--;
    const entry = { lsn, generation, policy, minRank, commits: 1 };
    if (index === entries.length) entries.push(entry);
    else entries.splice(index, 0, entry);
    this.#commits++;
    if (this.#entries.length > MAX_DEBT_ENTRIES) {
      const [oldest, next] = this.#entries.splice(0, 2) as [DebtEntry, DebtEntry];
      this.#entries.unshift({ ...next, commits: oldest.commits + next.commits });
    }
  }

  /**
   * Pays entries from the oldest on while `isCovered` accepts them (acks are cumulative: the oldest is
   * the first to be covered, so each ack costs one check when nothing is paid). Returns the newest paid
   * LSN and how many commits were paid, or undefined when none was.
   */
  restore(isCovered: (entry: DebtEntry) => boolean): { lsn: number; count: number } | undefined {
    let paid = 0;
    let count = 0;
    while (paid < this.#entries.length && isCovered(this.#entries[paid]!)) {
      count += this.#entries[paid]!.commits;
      paid++;
    }
    if (paid === 0) return undefined;
    const lsn = this.#entries[paid - 1]!.lsn;
    this.#entries.splice(0, paid);
    this.#commits -= count;
    return { lsn, count };
  }
}
