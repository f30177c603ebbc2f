/** Everything a run does, drawn from its seed. */
import type { Prng } from './prng.js';

export type Durability = 'none' | 'write' | 'fsync' | 'dsync';

export interface Scenario {
  readonly sites: readonly { readonly id: string; readonly durability: Durability }[];
  readonly bulk: boolean;
  readonly lossRate: number;
  readonly duplicateRate: number;
  readonly corruptRate: number;
  readonly minDelayMs: number;
  readonly maxDelayMs: number;
  /** Mean time between faults of each kind (crash, partition, failover), virtual ms. */
  readonly crashEveryMs: number;
  readonly partitionEveryMs: number;
  readonly failoverEveryMs: number;
  /** Mean time between log trims (snapshot + segment removal) at a random site. */
  readonly trimEveryMs: number;
  readonly commitEveryMs: number;
  /** Sites run the replication manager (policies, timeouts, receipts); otherwise the base API. */
  readonly manager: boolean;
  readonly ackTimeoutMs: number;
  readonly safetyMs: number;
  readonly livenessBudgetMs: number;
}

const SITE_COUNTS = [1, 2, 3, 3, 3, 4, 5, 5, 6, 7] as const;
const DURABILITIES: readonly Durability[] = ['fsync', 'fsync', 'dsync', 'write', 'none'];

export function drawScenario(rng: Prng): Scenario {
  const count = rng.pick(SITE_COUNTS);
  return {
    sites: Array.from({ length: count }, (_, index) => ({
      id: `s${index + 1}`,
      durability: rng.pick(DURABILITIES),
    })),
    bulk: rng.chance(0.5),
    lossRate: rng.pick([0, 0.01, 0.05, 0.1]),
    duplicateRate: rng.pick([0, 0.02, 0.1]),
    corruptRate: rng.pick([0, 0, 0.01]),
    minDelayMs: 1,
    maxDelayMs: rng.pick([2, 5, 20, 50]),
    crashEveryMs: rng.pick([300, 800, 2000]),
    partitionEveryMs: rng.pick([400, 1000, 3000]),
    failoverEveryMs: rng.pick([500, 1500, 4000]),
    trimEveryMs: rng.pick([400, 1500, 1_000_000]),
    commitEveryMs: rng.pick([2, 5, 15]),
    manager: rng.chance(0.5),
    ackTimeoutMs: rng.pick([20, 100, 400]),
    safetyMs: 3_000,
    livenessBudgetMs: 30_000,
  };
}
