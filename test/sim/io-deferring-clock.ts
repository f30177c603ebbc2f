/**
 * A site's clock in the simulator with `afterIo`, so that `batching: 'iteration'` (ships and group
 * commits deferred to the end of the event-loop iteration) runs its own code path: the deferred work is
 * a real `setImmediate`, as in production. The simulator does no real I/O and waits for nothing but
 * immediates and microtasks (its run loop settles with `setImmediate` after every step), so the order in
 * which they run is a function of the program alone and a seed still replays exactly (checked by
 * `pnpm sim --determinism`). A virtual zero-delay timer would not do: a site starting up awaits its
 * first flush before the run loop advances virtual time.
 */
import type { Clock, TimerHandle } from '@ackord/core';

export class IoDeferringClock implements Clock {
  readonly #base: Clock;

  constructor(base: Clock) {
    this.#base = base;
  }

  now(): number {
    return this.#base.now();
  }

  setTimeout(callback: () => void, delayMs: number, options?: { readonly keepAlive?: boolean }): TimerHandle {
    return this.#base.setTimeout(callback, delayMs, options);
  }

  clearTimeout(handle: TimerHandle): void {
    this.#base.clearTimeout(handle);
  }

  afterIo(callback: () => void): void {
    setImmediate(callback);
  }
}
