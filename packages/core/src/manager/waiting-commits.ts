/**
 * Commits waiting for acknowledgements under one threshold policy and minimum ack level, in LSN order.
 *
 * Acks are cumulative, so under a threshold policy ("at least k of these sites hold it") a commit that
 * is satisfied makes every commit below it satisfied too, and one that is not satisfied means none above
 * it is. An ack therefore only has to look at the front of the queue: it settles commits from the lowest
 * LSN up and stops at the first one still short of acks — O(settled + 1) per ack instead of a pass over
 * every waiting commit.
 *
 * Commits settled some other way (ack timeout, abort, a peer going down, lost mastership) are marked
 * `done` and dropped when they reach the front.
 */

export interface WaitingCommit {
  readonly lsn: number;
  /** Set once the commit was reported, by whichever path got there first. */
  done: boolean;
}

/** Past this many dropped entries at the front (and half the array), the array is compacted. */
const COMPACT_AFTER = 1024;

export class WaitingCommits<T extends WaitingCommit> {
  #items: T[] = [];
  /** Index of the front entry: entries before it are gone. */
  #head = 0;
  #settling = false;

  /** Entries held (done ones not yet dropped included). */
  get length(): number {
    return this.#items.length - this.#head;
  }

  /** Adds a commit at its LSN's place (commits usually arrive in LSN order: O(1) then). */
  add(item: T): void {
    const items = this.#items;
    let index = items.length;
    while (index > this.#head && items[index - 1]!.lsn > item.lsn) index--;
    if (index === items.length) items.push(item);
    else items.splice(index, 0, item);
  }

  /**
   * Settles commits from the front while `satisfied(lsn)` holds for them (and their LSN is at most
   * `upToLsn`), calling `settle` for each not already done; stops at the first that is not satisfied.
   */
  settleFront(upToLsn: number, satisfied: (lsn: number) => boolean, settle: (item: T) => void): void {
    // `settle` may call back into dropDone (and through the commit's continuation, add): the front
    // advances before each call, and compaction waits until the pass is over.
    this.#settling = true;
    try {
      while (this.#head < this.#items.length) {
        const item = this.#items[this.#head]!;
        if (!item.done && (item.lsn > upToLsn || !satisfied(item.lsn))) break;
        this.#head++;
        if (!item.done) settle(item);
      }
    } finally {
      this.#settling = false;
    }
    this.#compact();
  }

  /** Drops done entries from the front (after a timeout or another path settled them). */
  dropDone(): void {
    while (this.#head < this.#items.length && this.#items[this.#head]!.done) this.#head++;
    this.#compact();
  }

  #compact(): void {
    if (this.#settling) return;
    if (this.#head === this.#items.length) {
      this.#items = [];
      this.#head = 0;
    } else if (this.#head > COMPACT_AFTER && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
  }
}

export interface Expiring {
  /** When the wait ends, on the manager's clock. */
  readonly deadline: number;
  done: boolean;
}

/** The timer functions of the manager's `Clock`. */
interface TimerClock {
  now(): number;
  setTimeout(callback: () => void, delayMs: number, options?: { readonly keepAlive?: boolean }): object;
  clearTimeout(handle: object): void;
}

/**
 * Ack timeouts of every waiting commit behind one timer, armed for the earliest deadline, instead of a
 * timer per commit (one less allocation and two fewer timer-list operations per commit). Deadlines
 * mostly arrive in order (one ack timeout for all), so adding is O(1) then; entries settled before their
 * deadline stay until they reach the front, or until they outnumber the live ones (then they are swept).
 * The timer keeps the process alive only while a commit is waiting, as a per-commit timer would.
 */
export class AckDeadlines<T extends Expiring> {
  readonly #clock: TimerClock;
  readonly #expire: (item: T) => void;
  #items: T[] = [];
  #head = 0;
  /** Entries not done yet. */
  #live = 0;
  #timer: object | undefined;
  #firing = false;

  constructor(clock: TimerClock, expire: (item: T) => void) {
    this.#clock = clock;
    this.#expire = expire;
  }

  add(item: T): void {
    const items = this.#items;
    let index = items.length;
    while (index > this.#head && items[index - 1]!.deadline > item.deadline) index--;
    if (index === items.length) items.push(item);
    else items.splice(index, 0, item);
    this.#live++;
    if (index === this.#head && !this.#firing) this.#arm();
  }

  /** An entry was settled some other way (ack, abort, lost mastership): it no longer needs the timer. */
  settled(): void {
    this.#live--;
    if (this.#firing) return;
    if (this.#live === 0) {
      this.#disarm();
      this.#items = [];
      this.#head = 0;
    } else if (
      this.#items.length - this.#head > COMPACT_AFTER &&
      this.#live * 2 < this.#items.length - this.#head
    ) {
      this.#items = this.#items.slice(this.#head).filter((item) => !item.done);
      this.#head = 0;
    }
  }

  #fire(): void {
    this.#timer = undefined;
    this.#firing = true;
    try {
      const now = this.#clock.now();
      while (this.#head < this.#items.length) {
        const item = this.#items[this.#head]!;
        if (!item.done && item.deadline > now) break;
        this.#head++;
        if (!item.done) this.#expire(item);
      }
    } finally {
      this.#firing = false;
    }
    if (this.#live === 0 || this.#head === this.#items.length) {
      this.#items = [];
      this.#head = 0;
      return;
    }
    this.#arm();
  }

  /** (Re)arms the timer for the front entry's deadline, dropping settled entries before it. */
  #arm(): void {
    while (this.#head < this.#items.length && this.#items[this.#head]!.done) this.#head++;
    this.#disarm();
    const front = this.#items[this.#head];
    if (front === undefined) return;
    this.#timer = this.#clock.setTimeout(
      () => this.#fire(),
      Math.max(0, front.deadline - this.#clock.now()),
      {
        keepAlive: true,
      },
    );
  }

  #disarm(): void {
    if (this.#timer === undefined) return;
    this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
