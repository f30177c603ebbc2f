export type { ReplicaCoreConfig, TestMutations } from './config.js';
export { DEFAULT_CORE_CONFIG, MAX_READS_IN_FLIGHT, MAX_SNAPSHOTS_IN_FLIGHT } from './config.js';
export type { ProposeResult } from './core.js';
export { ReplicaCore } from './core.js';
export type { HistoryEntry } from './history.js';
export { GenerationHistory, MAX_HISTORY_ENTRIES } from './history.js';
export type { KvLatin1Operation, KvOperation } from './kv-state-machine.js';
export {
  decodeKvOperation,
  decodeKvOperationLatin1,
  encodeKvOperation,
  KvStateMachine,
  kvPutLatin1Bytes,
  MAX_KEY_BYTES,
  writeKvPutLatin1,
} from './kv-state-machine.js';
export type { StateMachine } from './state-machine.js';
export type {
  AckLevel,
  AppliedTransaction,
  CommitToken,
  LogPosition,
  ProcessResult,
  ReplicaEffect,
  ReplicaInput,
  Role,
  SiteId,
} from './types.js';
export { ACK_LEVEL_RANK, formatToken, parseToken, SendFlags } from './types.js';
