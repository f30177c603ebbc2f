/**
 * The manager's `election` option: off (`false`, the default: the application sets roles with
 * becomeMaster/becomeClient), on with defaults (`true`), or tuned. Derived defaults are spelled out
 * here so `stats()` and the logs show the numbers actually in force.
 */
import { isElectable, votesToWin } from '@ackord/election';
import { z } from 'zod';

/** The longest election timeout accepted: ten minutes. */
export const MAX_ELECTION_TIMEOUT_MS = 600_000;

export const electionOptionsSchema = z
  .object({
    /**
     * A client that hears nothing from its master for 1–2× this long calls an election; an election
     * that has no winner after this long is retried; a master that has not heard from a majority for
     * this long steps down.
     */
    electionTimeoutMs: z.number().int().min(20).max(MAX_ELECTION_TIMEOUT_MS).default(1500),
    /** How often a master pings the group. Default: a quarter of the election timeout, at most 250 ms. */
    pingIntervalMs: z.number().int().min(1).max(60_000).optional(),
    /** After a whole-group restart, how long phase 1 waits for every site. Default: 2× the election timeout. */
    fullElectionTimeoutMs: z.number().int().min(0).max(MAX_ELECTION_TIMEOUT_MS).optional(),
    /**
     * Once a majority of VOTE1s is in, how much longer to wait for the rest (phase 1 ends sooner once every
     * connected site's VOTE1 is in). Default: ET/10, at most 100 ms.
     */
    vote1WaitMs: z.number().int().min(0).max(60_000).optional(),
    /** Clients do not vote for this long after hearing from their master; the master's read lease. Default: ET/2. */
    leaseTimeoutMs: z.number().int().min(1).max(MAX_ELECTION_TIMEOUT_MS).optional(),
    /** Relative clock-rate error leases tolerate. */
    clockSkewFactor: z.number().min(0).max(0.5).default(0.1),
    /** Votes a winner needs; default a strict majority of the electable sites. */
    nvotes: z.number().int().min(1).max(64).optional(),
    /** Accept an nvotes below a majority of the electable sites (unsafe: acknowledged commits can be lost). */
    allowUnsafeNvotes: z.boolean().default(false),
    preVote: z.boolean().default(true),
    checkQuorum: z.boolean().default(true),
    /** Randomness for timeouts and tiebreakers (the simulator passes a seeded generator). */
    random: z.custom<() => number>((value) => typeof value === 'function').optional(),
    mutations: z.object({ electWithoutUpToDateCheck: z.boolean().optional() }).strict().optional(),
  })
  .strict();

export type ElectionOptions = z.input<typeof electionOptionsSchema>;

export interface ResolvedElectionOptions {
  readonly electionTimeoutMs: number;
  readonly pingIntervalMs: number;
  readonly fullElectionTimeoutMs: number;
  readonly vote1WaitMs: number;
  readonly leaseTimeoutMs: number;
  readonly clockSkewFactor: number;
  readonly nvotes: number;
  readonly unsafeNvotes: boolean;
  readonly twoSiteStrict: boolean;
  readonly preVote: boolean;
  readonly checkQuorum: boolean;
  readonly random: () => number;
  readonly mutations: { readonly electWithoutUpToDateCheck?: boolean } | undefined;
}

interface GroupShape {
  readonly sites: readonly { readonly priority: number; readonly view: boolean }[];
  readonly twoSiteStrict: boolean;
}

/** Fills in derived defaults; returns the issues (as messages) instead of throwing. */
export function resolveElectionOptions(
  options: z.output<typeof electionOptionsSchema>,
  group: GroupShape,
): ResolvedElectionOptions | string[] {
  const issues: string[] = [];
  const timeout = options.electionTimeoutMs;
  const electable = group.sites.filter(isElectable).length;
  const voters = group.sites.filter((site) => !site.view).length;
  const majority = votesToWin(electable, group.twoSiteStrict);
  const nvotes = options.nvotes ?? majority;
  const leaseTimeoutMs = options.leaseTimeoutMs ?? Math.floor(timeout / 2);
  if (electable === 0) issues.push('election: no electable site (every site has priority 0 or is a view)');
  if (leaseTimeoutMs >= timeout) issues.push('election.leaseTimeoutMs: must be below electionTimeoutMs');
  if (nvotes > voters) issues.push(`election.nvotes: ${nvotes} is more than the ${voters} voting sites`);
  if (nvotes < majority && !options.allowUnsafeNvotes) {
    issues.push(
      `election.nvotes: ${nvotes} is below a majority of the electable sites (${majority}); a master elected so may lack acknowledged commits — set allowUnsafeNvotes to accept that`,
    );
  }
  if (issues.length > 0) return issues;
  return {
    electionTimeoutMs: timeout,
    pingIntervalMs: options.pingIntervalMs ?? Math.max(1, Math.min(250, Math.floor(timeout / 4))),
    fullElectionTimeoutMs: options.fullElectionTimeoutMs ?? 2 * timeout,
    vote1WaitMs: options.vote1WaitMs ?? Math.min(100, Math.floor(timeout / 10)),
    leaseTimeoutMs,
    clockSkewFactor: options.clockSkewFactor,
    nvotes,
    unsafeNvotes: nvotes < majority,
    twoSiteStrict: group.twoSiteStrict,
    preVote: options.preVote,
    checkQuorum: options.checkQuorum,
    random: options.random ?? Math.random,
    mutations: options.mutations,
  };
}
