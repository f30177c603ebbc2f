import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { reconnectDelayMs } from '../../src/transport/index.js';

describe('reconnectDelayMs', () => {
  it('is full jitter under a capped exponential ceiling', () => {
    const bounds = { minMs: 10, maxMs: 1_000 };
    expect(reconnectDelayMs(0, bounds, () => 0.999)).toBe(9);
    expect(reconnectDelayMs(3, bounds, () => 0.5)).toBe(40);
    expect(reconnectDelayMs(50, bounds, () => 0.999)).toBe(999);
    expect(reconnectDelayMs(50, bounds, () => 0)).toBe(0);
  });

  it('stays in [0, maxMs) for any attempt, however large', () => {
    fc.assert(
      fc.property(
        fc.nat(),
        fc.integer({ min: 1, max: 600_000 }),
        fc.integer({ min: 1, max: 600_000 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (attempt, a, b, random) => {
          const bounds = { minMs: Math.min(a, b), maxMs: Math.max(a, b) };
          const delay = reconnectDelayMs(attempt, bounds, () => random);
          expect(delay).toBeGreaterThanOrEqual(0);
          expect(delay).toBeLessThan(bounds.maxMs);
        },
      ),
    );
  });
});
