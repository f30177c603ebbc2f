/** Everything a run does, drawn from its seed. */
import type { Prng } from './prng.js';

export type Durability = 'none' | 'write' | 'fsync' | 'dsync';

/** Election runs (`pnpm sim --elections`): the group elects its own masters. */
export interface ElectionScenario {
  readonly electionTimeoutMs: number;
  /** Per site: its clock's rate against virtual time (0.95–1.05). */
  readonly clockRates: readonly number[];
  /** Mean time between forward clock jumps at a random site (virtual ms). */
  readonly clockJumpEveryMs: number;
  /** Mean time between mastership transfers asked of the master. */
  readonly transferEveryMs: number;
  /** Share of commits sent to a random master (possibly a stale one) instead of the newest. */
  readonly staleCommitShare: number;
}

export interface Scenario {
  readonly sites: readonly {
    readonly id: string;
    readonly durability: Durability;
    /** 0: votes, never master. Scripted-failover runs: always 1. */
    readonly priority: number;
  }[];
  readonly elections?: ElectionScenario;
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
  /**
   * When batches ship and group commits flush: at the end of the turn, or deferred to the end of the
   * iteration (`Clock.afterIo`; the manager's default). Drawn last, so the other draws of a seed stay.
   */
  readonly batching: 'turn' | 'iteration';
  readonly ackTimeoutMs: number;
  readonly safetyMs: number;
  readonly livenessBudgetMs: number;
}

const SITE_COUNTS = [1, 2, 3, 3, 3, 4, 5, 5, 6, 7] as const;
const BATCHINGS = ['turn', 'iteration'] as const;
const DURABILITIES: readonly Durability[] = ['fsync', 'fsync', 'dsync', 'write', 'none'];

export function drawScenario(rng: Prng): Scenario {
  const count = rng.pick(SITE_COUNTS);
  return {
    sites: Array.from({ length: count }, (_, index) => ({
      id: `s${index + 1}`,
      durability: rng.pick(DURABILITIES),
      priority: 1,
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
    batching: rng.pick(BATCHINGS),
  };
}

const ELECTION_SITE_COUNTS = [1, 2, 3, 3, 5, 5, 7] as const;
const PRIORITIES = [0, 1, 1, 1, 2, 5, 10] as const;

/** An election run: groups of 1, 2, 3, 5 and 7 with random priorities, skewed and jumping clocks. */
export function drawElectionScenario(rng: Prng): Scenario {
  const count = rng.pick(ELECTION_SITE_COUNTS);
  const sites = Array.from({ length: count }, (_, index) => ({
    id: `s${index + 1}`,
    durability: rng.pick(DURABILITIES),
    priority: rng.pick(PRIORITIES),
  }));
  // At least a majority of the group electable, so a master can always be elected once faults heal.
  const needed = Math.floor(count / 2) + 1;
  for (let index = 0; index < needed; index++) if (sites[index]!.priority === 0) sites[index]!.priority = 1;
  return {
    sites,
    elections: {
      electionTimeoutMs: rng.pick([300, 500, 1000]),
      clockRates: sites.map(() => 0.95 + rng.next() * 0.1),
      clockJumpEveryMs: rng.pick([500, 2000, 1_000_000]),
      transferEveryMs: rng.pick([1500, 4000, 1_000_000]),
      staleCommitShare: rng.pick([0, 0.2]),
    },
    bulk: rng.chance(0.5),
    lossRate: rng.pick([0, 0.01, 0.05]),
    duplicateRate: rng.pick([0, 0.02, 0.1]),
    corruptRate: rng.pick([0, 0, 0.01]),
    minDelayMs: 1,
    maxDelayMs: rng.pick([2, 5, 20]),
    crashEveryMs: rng.pick([500, 1500, 4000]),
    partitionEveryMs: rng.pick([600, 1500, 4000]),
    failoverEveryMs: 1_000_000,
    trimEveryMs: rng.pick([800, 3000, 1_000_000]),
    commitEveryMs: rng.pick([2, 5, 15]),
    manager: true,
    ackTimeoutMs: rng.pick([20, 100, 400]),
    safetyMs: 5_000,
    livenessBudgetMs: 30_000,
    batching: rng.pick(BATCHINGS),
  };
}
