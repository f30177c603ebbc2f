/**
 * @packageDocumentation
 * Ackord's leader election: Berkeley DB's two-phase election (VOTE1 broadcast, VOTE2 to the best
 * candidate) with Raft's up-to-date rule, pre-vote, check-quorum, master read leases and leader
 * transfer — as a pure core. The replication manager in `@ackord/core` drives it; the simulator drives
 * the same core from a seed.
 */
export {
  ElectionCore,
  type ElectionCoreOptions,
  type ElectionPhase,
  type ElectionRole,
  type ElectionStats,
  MAX_BACKOFF_ELECTION_TIMEOUTS,
} from './election-core.js';
export { isElectable, isVoter, votesToWin } from './quorum.js';
export { compareCandidates, compareIgnoringLogs, explainWin, isEmptyLog, isUpToDate } from './ranking.js';
export type * from './types.js';
