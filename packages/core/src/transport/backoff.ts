/**
 * Reconnect delay: capped exponential back-off with full jitter — uniform in [0, min(maxMs, minMs·2^n)]
 * for the n-th consecutive failure — so sites that lost a peer together do not redial in step.
 */

/** Doubling stops here: 2^30 · minMs is past any sane cap, and larger exponents only risk overflow. */
const MAX_DOUBLINGS = 30;

export interface ReconnectBounds {
  readonly minMs: number;
  readonly maxMs: number;
}

export function reconnectDelayMs(attempt: number, bounds: ReconnectBounds, random: () => number): number {
  const ceilingMs = Math.min(bounds.maxMs, bounds.minMs * 2 ** Math.min(attempt, MAX_DOUBLINGS));
  return Math.floor(random() * ceilingMs);
}
