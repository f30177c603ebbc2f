export { crc32c } from './crc32c.js';
export type { SyncIo } from './file-storage.js';
export { FileStorage } from './file-storage.js';
export type {
  CommitOptions,
  CommitResult,
  CommitSync,
  DurabilityLevel,
  LogStats,
  ReadOptions,
  TruncateResult,
} from './log.js';
export { openLog, Transaction, WriteAheadLog } from './log.js';
export type { CrashOptions, StorageFault, StorageOperation } from './memory-storage.js';
export { MemoryStorage } from './memory-storage.js';
export type { DurabilityMode, DurabilityModeName, LogOptions } from './options.js';
export {
  DEFAULT_BUFFER_BYTES,
  DEFAULT_MAX_PAYLOAD_BYTES,
  DEFAULT_SEGMENT_BYTES,
  parseLogOptions,
} from './options.js';
export type { LogRecord, RecordDecodeError, RecordDecodeResult, RecordTypeName } from './record.js';
export { decodeRecordAt, encodeRecord, RECORD_HEADER_BYTES, RecordType, recordTypeName } from './record.js';
export type { RecoveryReport } from './recovery.js';
export { LOG_START_LSN } from './recovery.js';
export { SEGMENT_HEADER_BYTES, segmentFileName } from './segment-header.js';
export type { LogStorage, StorageFile, StorageLock } from './storage.js';
