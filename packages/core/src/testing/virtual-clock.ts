/** A `Clock` on virtual time: timers fire only when the test advances it, in deadline order. */
import type { Clock, TimerHandle } from '../clock.js';

interface VirtualTimer {
  readonly id: number;
  readonly at: number;
  readonly callback: () => void;
}

/** Bound on timers fired by one `advance()`: a timer that re-arms itself at zero delay cannot spin forever. */
const MAX_TIMERS_PER_ADVANCE = 1_000_000;

export class VirtualClock implements Clock {
  #now: number;
  #nextId = 1;
  #timers: VirtualTimer[] = [];

  constructor(startMs = 0) {
    this.#now = startMs;
  }

  now(): number {
    return this.#now;
  }

  setTimeout(callback: () => void, delayMs: number): TimerHandle {
    const timer = { id: this.#nextId++, at: this.#now + Math.max(0, delayMs), callback };
    let index = this.#timers.length;
    while (index > 0 && this.#timers[index - 1]!.at > timer.at) index--;
    this.#timers.splice(index, 0, timer);
    return timer;
  }

  clearTimeout(handle: TimerHandle): void {
    const index = this.#timers.indexOf(handle as VirtualTimer);
    if (index >= 0) this.#timers.splice(index, 1);
  }

  /** When the next timer is due, if any. */
  get nextTimerAt(): number | undefined {
    return this.#timers[0]?.at;
  }

  get pendingTimers(): number {
    return this.#timers.length;
  }

  /** Moves time forward by `ms`, firing every timer due on the way, in order. */
  advance(ms: number): void {
    const target = this.#now + ms;
    for (let fired = 0; fired < MAX_TIMERS_PER_ADVANCE; fired++) {
      const next = this.#timers[0];
      if (next === undefined || next.at > target) break;
      this.#timers.shift();
      this.#now = next.at;
      next.callback();
    }
    this.#now = target;
  }
}
