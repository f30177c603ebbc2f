export type {
  BaseCommitResult,
  BaseReplicaEvents,
  BaseReplicaOptions,
  RollbackEvent,
  RolledBackTransaction,
  SendFunction,
  WaitAppliedOutcome,
} from './base-replica.js';
export { BaseReplica } from './base-replica.js';
