/**
 * The vocabulary of the pure election core: its configuration, the messages it exchanges (plain data;
 * `@ackord/core`'s wire format encodes them), the effects it asks its driver to carry out, and the
 * explanation every election yields. Plain data only, so a run can be recorded and replayed.
 */

export type SiteId = string;

/** A configured site, as the election sees it. */
export interface ElectionSite {
  readonly id: SiteId;
  /** 0: votes but never wins; above 0: electable (higher wins ties of equal logs). */
  readonly priority: number;
  /** A view replicates but never votes or wins. */
  readonly view: boolean;
}

/** What a site's log looks like, as the election compares logs: Raft's (lastTerm, lastIndex). */
export interface LogInfo {
  /** Generation of the last record in the log (0: none). */
  readonly dataGeneration: number;
  /** LSN just past the last record (0: an empty log). */
  readonly lastLsn: number;
}

/**
 * What must survive a crash: the election generation, whom this site voted for in it, the highest
 * master generation it has learned, and whether it is still an unrecorded (new or wiped) site.
 */
export interface PersistentElectionState {
  readonly electionGeneration: number;
  /** The candidate voted for in `electionGeneration` (undefined: no vote cast in it). */
  readonly votedFor: SiteId | undefined;
  /**
   * The highest master generation this site has learned (its own included), made durable before the
   * site acts on it or reports it: after a restart the site starts at least at this generation, so it
   * never goes back (TESTPLAN P4), even when no record of it reached the log. Absent (older stored
   * state): 0, the log's own generation stands.
   */
  readonly generation?: number;
  /**
   * The site started with no election record (new, or its data directory wiped) and has cast no vote
   * since: while its log is empty it votes only in a brand-new group. Stored with a learned generation
   * so that the record does not make a wiped site that crashes before re-syncing look recorded.
   * Absent: false.
   */
  readonly unrecorded?: boolean;
}

export interface ElectionConfig {
  readonly siteId: SiteId;
  /** The whole group, this site included. */
  readonly sites: readonly ElectionSite[];
  /**
   * How long a site waits without hearing from its master before it calls an election (randomised per
   * attempt between 1× and 2×), how long an election may take before it is retried, and how long a
   * master keeps mastership without hearing from a majority (check-quorum).
   */
  readonly electionTimeoutMs: number;
  /** How often a master pings its group (liveness, check-quorum and read leases). */
  readonly pingIntervalMs: number;
  /**
   * After a whole-group restart (no master known since this site started), how long phase 1 waits for
   * every site before it settles for a majority (Berkeley DB's full election timeout).
   */
  readonly fullElectionTimeoutMs: number;
  /** Once a majority of VOTE1s is in, how much longer phase 1 waits for the rest. */
  readonly vote1WaitMs: number;
  /**
   * A client that heard from its master within this long neither votes nor grants a pre-vote; a master
   * holds a read lease for this long (shrunk by `clockSkewFactor`) after a majority answered a ping.
   * Must be below `electionTimeoutMs`.
   */
  readonly leaseTimeoutMs: number;
  /** The largest relative clock-rate difference between sites that leases tolerate (e.g. 0.1). */
  readonly clockSkewFactor: number;
  /** Berkeley DB's 2SITE_STRICT: in a group of two electable sites, a lone site never elects itself. */
  readonly twoSiteStrict: boolean;
  /**
   * Votes (VOTE2s, the candidate's own included) a winner needs. Default: a strict majority of the
   * electable sites. A smaller number is refused by the driver unless explicitly allowed: it can elect a
   * master that lacks acknowledged commits.
   */
  readonly nvotes: number;
  /** A site first asks whether it could win before it bumps the election generation. */
  readonly preVote: boolean;
  /** A master that has not heard from a majority within `electionTimeoutMs` steps down. */
  readonly checkQuorum: boolean;
  /** Deliberately broken builds for the simulator's must-fail controls. */
  readonly mutations?: { readonly electWithoutUpToDateCheck?: boolean };
}

/** VOTE1: "an election at `electionGeneration`; here is my log". Broadcast by every participant. */
export interface Vote1Message {
  readonly type: 'vote1';
  readonly generation: number;
  readonly electionGeneration: number;
  readonly dataGeneration: number;
  readonly lastLsn: number;
  readonly priority: number;
  readonly tiebreaker: number;
  readonly nsites: number;
  readonly nvotes: number;
}

/** VOTE2: a vote for `candidate` in `electionGeneration`, sent to the candidate. */
export interface Vote2Message {
  readonly type: 'vote2';
  readonly generation: number;
  readonly electionGeneration: number;
  readonly candidate: SiteId;
}

/**
 * The election's other traffic, one message type with a `kind`:
 * - `preVote`: "could I win an election at `electionGeneration`?" (log in dataGeneration/lastLsn);
 * - `preVoteReply`: `granted`, with the replier's election generation;
 * - `ping` / `pong`: a master's liveness probe and its answer, `time` echoed (master's clock);
 * - `transfer`: the master hands over to `site` (sent to every site; the target elects at once);
 */
export type ElectionControlKind = 'preVote' | 'preVoteReply' | 'ping' | 'pong' | 'transfer';

export interface ElectionControlMessage {
  readonly type: 'election';
  readonly generation: number;
  readonly electionGeneration: number;
  readonly kind: ElectionControlKind;
  readonly granted: boolean;
  readonly dataGeneration: number;
  readonly lastLsn: number;
  /** `ping`/`pong`: the master's clock when it sent the ping. */
  readonly time: number;
  /** `transfer`: the site taking over (empty otherwise). */
  readonly site: SiteId;
}

export type ElectionMessage = Vote1Message | Vote2Message | ElectionControlMessage;

/** A candidate as phase 1 saw it. */
export interface CandidateInfo {
  readonly site: SiteId;
  readonly dataGeneration: number;
  readonly lastLsn: number;
  readonly priority: number;
  readonly tiebreaker: number;
  readonly electable: boolean;
}

/** Why an election ended the way it did: in the `elected` event, `stats()` and the logs. */
export interface ElectionExplanation {
  readonly electionGeneration: number;
  readonly winner: SiteId;
  /** Every VOTE1 this site saw, its own included, best first. */
  readonly candidates: readonly CandidateInfo[];
  /** Votes the winner received (voter → candidate); only the winner sees them all. */
  readonly votes: readonly { readonly voter: SiteId; readonly candidate: SiteId }[];
  readonly votesNeeded: number;
  /** Voting sites no VOTE1 came from. */
  readonly missing: readonly SiteId[];
  /** One sentence: what made the winner best. */
  readonly reason: string;
  /** Whether phase 1 waited for the whole group (a whole-group restart). */
  readonly full: boolean;
  /** A transfer asked for this winner. */
  readonly transfer: boolean;
  readonly startedAt: number;
  readonly endedAt: number;
}

export type ElectionEffect =
  /** Make this state durable, then call `persisted(state)`. Nothing that depends on it is sent before. */
  | { readonly type: 'persist'; readonly state: PersistentElectionState }
  | { readonly type: 'send'; readonly to: SiteId | 'broadcast'; readonly message: ElectionMessage }
  /** An election at `generation` is under way here: take nothing more from masters below it. */
  | { readonly type: 'fence'; readonly generation: number }
  /** This site won: make it master with this generation. */
  | {
      readonly type: 'becomeMaster';
      readonly generation: number;
      readonly explanation: ElectionExplanation;
    }
  /** This master must stop being one (check-quorum, transfer). */
  | { readonly type: 'stepDown'; readonly reason: string }
  | {
      readonly type: 'electionStarted';
      readonly electionGeneration: number;
      readonly reason: string;
      readonly preVote: boolean;
    }
  /** A phase ended without a result (split vote, no quorum in time); the site retries later. */
  | { readonly type: 'electionFailed'; readonly electionGeneration: number; readonly reason: string };

/** Why a site did not vote or grant: for logs and tests. */
export type Refusal =
  | 'view'
  | 'leaseLive'
  | 'isMaster'
  | 'notUpToDate'
  | 'notElectable'
  | 'emptyLog'
  /** An unrecorded (new or wiped) site whose log has not yet reached its master's log end. */
  | 'notCaughtUp'
  | 'staleGeneration'
  | 'alreadyVoted';
