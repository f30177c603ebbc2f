/**
 * Time reaches Ackord only through a `Clock`, so the simulator can run a whole cluster on virtual time
 * and a seed replays exactly.
 */
export type TimerHandle = { readonly __timer: unique symbol } | object;

export interface Clock {
  /** Milliseconds; only differences matter. */
  now(): number;
  /**
   * `keepAlive`: the timer keeps the process running (someone awaits it, e.g. a commit's ack timeout).
   * Without it a timer is background work (heartbeats, delayed flushes) that never holds a process up.
   */
  setTimeout(callback: () => void, delayMs: number, options?: { readonly keepAlive?: boolean }): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
  /**
   * Optional: run `callback` once the I/O callbacks of the current event-loop iteration have run
   * (Node's `setImmediate`). Work deferred here gathers what several I/O callbacks produced — requests
   * parsed from different connections in one poll — instead of acting at the end of each callback's
   * microtasks. A virtual clock leaves it out and callers fall back to a microtask, which keeps a
   * simulated run deterministic.
   */
  afterIo?(callback: () => void): void;
}

/** The real clock. Background timers are unref'd: they never keep a process alive by themselves. */
export const systemClock: Clock = {
  now: () => performance.now(),
  setTimeout(callback, delayMs, options) {
    const timer = setTimeout(callback, delayMs);
    if (!options?.keepAlive) timer.unref();
    return timer;
  },
  clearTimeout(handle) {
    clearTimeout(handle as NodeJS.Timeout);
  },
  afterIo(callback) {
    setImmediate(callback);
  },
};

/** When deferred work runs: `'turn'`, the end of the current microtasks; `'iteration'`, `Clock.afterIo`. */
export type DeferTo = 'turn' | 'iteration';

/** A scheduler for `when`; `'iteration'` falls back to a microtask on a clock without `afterIo`. */
export function deferrer(when: DeferTo, clock: Clock): (callback: () => void) => void {
  const afterIo = clock.afterIo;
  if (when === 'turn' || afterIo === undefined) return queueMicrotask;
  return (callback) => afterIo.call(clock, callback);
}
