/**
 * A site's own clock in the simulator: the shared virtual time, running `rate` times as fast (±5 %), plus
 * forward jumps (a paused VM, an NTP step). Timers are scheduled on the shared clock, so every site still
 * replays from the seed. Only forward jumps: Ackord reads a monotonic clock (performance.now) in
 * production, which never steps back.
 */
import type { Clock, TimerHandle } from '@ackord/core';
import type { VirtualClock } from '@ackord/core/testing';

export class SkewedClock implements Clock {
  readonly #base: VirtualClock;
  readonly #rate: number;
  #offset = 0;

  constructor(base: VirtualClock, rate: number) {
    this.#base = base;
    this.#rate = rate;
  }

  now(): number {
    return Math.floor(this.#offset + this.#base.now() * this.#rate);
  }

  setTimeout(callback: () => void, delayMs: number): TimerHandle {
    return this.#base.setTimeout(callback, Math.max(0, delayMs / this.#rate));
  }

  clearTimeout(handle: TimerHandle): void {
    this.#base.clearTimeout(handle);
  }

  /** The clock steps forward by `ms` at once. */
  jump(ms: number): void {
    this.#offset += Math.max(0, ms);
  }
}
