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
};
