export type { DebtEntry } from './debt.js';
export { DurabilityDebt, MAX_DEBT_ENTRIES } from './debt.js';
export type { ElectionOptions } from './election-options.js';
export { MAX_ELECTION_TIMEOUT_MS } from './election-options.js';
export type { ElectionCandidate, ElectionExplanation, ElectionStats } from './election-types.js';
export type {
  AckReceived,
  CommitOutcome,
  CommitReceipt,
  ManagerCommitOptions,
  ManagerEvents,
  ManagerStats,
  PermFailedEvent,
} from './manager.js';
export { createReplicationManager, NotMasterError, ReplicationManager } from './manager.js';
export type { ManagerOptions, ResolvedManagerOptions } from './options.js';
export { MAX_ACK_TIMEOUT_MS, MAX_GROUP_SITES, parseManagerOptions } from './options.js';
export * from './policy.js';
