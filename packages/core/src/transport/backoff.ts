/**
 * Reconnect delay: capped exponential back-off with full jitter — uniform in [0, min(maxMs, minMs·2^n)]
 * for the n-th consecutive failure — so sites that lost a peer together do not redial in step.
 */
export function reconnectDelayMs(
  attempt: number,
  bounds: { readonly minMs: number; readonly maxMs: number },
  random: () => number,
): number {
  const ceilingMs = Math.min(bounds.maxMs, bounds.minMs * 2 ** Math.min(attempt, 30));
  return Math.floor(random() * ceilingMs);
}
