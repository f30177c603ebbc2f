/**
 * The record sequence inside a `log` message: validated once, in place, by the decoder (no copy), and
 * summarized so the receiver never parses it again. Records are the on-disk encoding of log/record.ts.
 */
import {
  decodeRecordAt,
  type LogRecord,
  peekRecordLsn,
  RECORD_HEADER_BYTES,
  RecordType,
  recordGenerationAt,
  recordLengthAt,
  recordLsnAt,
  recordTxnIdAt,
  recordTypeAt,
} from '../log/record.js';
import { LOG_START_LSN } from '../log/recovery.js';
import type { LogFields } from './body.js';
import { type DecodedLogMessage, FrameFlags, type LogBatch } from './messages.js';
import { ProtocolError } from './protocol-error.js';

/**
 * Checks that `fields.records` holds at least one record, that each decodes (CRC, length ≤
 * `maxRecordBytes`, type), that LSNs are contiguous and follow `prevLsn`, that generations never go
 * back and never exceed the message's, and that PERMANENT is set exactly when a commit is present.
 */
export function summarizeLogBatch(fields: LogFields, maxRecordBytes: number): LogBatch | ProtocolError {
  const records = fields.records;
  const end = records.length;
  if (end === 0) return new ProtocolError('empty-log-batch', 'a log message must carry at least one record');
  let offset = 0;
  let count = 0;
  let firstLsn = 0;
  let lastLsn = 0;
  let nextLsn = 0;
  let firstGeneration = 0;
  let lastGeneration = fields.prevGeneration;
  let lastCommitLsn = 0;
  // Bounded: every record takes at least RECORD_HEADER_BYTES, so at most end / 32 rounds.
  while (offset < end) {
    const result = decodeRecordAt(records, offset, end, maxRecordBytes, count === 0 ? undefined : nextLsn);
    if (!result.ok) {
      if (result.error === 'unexpected-lsn') {
        return new ProtocolError(
          'non-contiguous-records',
          `record ${count} has LSN ${peekRecordLsn(records, offset)}, expected ${nextLsn}`,
        );
      }
      return new ProtocolError(
        'bad-record',
        `record ${count} at byte ${offset} of the batch: ${result.error}`,
      );
    }
    const record = result.record;
    if (count === 0) {
      firstLsn = record.lsn;
      firstGeneration = record.generation;
      if (firstLsn < LOG_START_LSN || firstLsn > Number.MAX_SAFE_INTEGER - end) {
        return new ProtocolError('bad-record', `record LSN ${firstLsn} outside [${LOG_START_LSN}, 2^53)`);
      }
      if (fields.prevLsn !== 0 && fields.prevLsn >= firstLsn) {
        return new ProtocolError(
          'non-contiguous-records',
          `prevLsn ${fields.prevLsn} is not before the first record's LSN ${firstLsn}`,
        );
      }
    }
    if (record.generation > fields.generation) {
      return new ProtocolError(
        'record-generation-too-new',
        `record ${count} (LSN ${record.lsn}) has generation ${record.generation}, the message ${fields.generation}`,
      );
    }
    if (record.generation < lastGeneration) {
      return new ProtocolError(
        'record-generation-decreasing',
        `record ${count} (LSN ${record.lsn}) has generation ${record.generation} after ${lastGeneration}`,
      );
    }
    lastGeneration = record.generation;
    lastLsn = record.lsn;
    if (record.type === RecordType.commit) lastCommitLsn = record.lsn;
    offset += result.size;
    nextLsn = record.lsn + result.size;
    count++;
  }
  const hasCommit = lastCommitLsn !== 0;
  if (hasCommit !== ((fields.flags & FrameFlags.PERMANENT) !== 0)) {
    return new ProtocolError(
      'permanent-flag-mismatch',
      hasCommit
        ? 'the batch holds a commit record but PERMANENT is not set'
        : 'PERMANENT is set without a commit record',
    );
  }
  return {
    recordCount: count,
    firstLsn,
    lastLsn,
    endLsn: nextLsn,
    firstGeneration,
    lastGeneration,
    hasCommit,
    lastCommitLsn,
  };
}

/**
 * What an encoder needs to know about a prebuilt records buffer: walks the record headers only (no
 * CRC), so it costs a few reads per record. Throws on a buffer that is not a sequence of whole records.
 */
export function scanRecordsForEncoding(records: Uint8Array): { readonly hasCommit: boolean } {
  if (records.length < RECORD_HEADER_BYTES) {
    throw new RangeError(`cannot encode log.records: ${records.length} bytes is not a whole record`);
  }
  let hasCommit = false;
  let offset = 0;
  while (offset < records.length) {
    const remaining = records.length - offset;
    const length = remaining < RECORD_HEADER_BYTES ? 0 : recordLengthAt(records, offset);
    if (length < RECORD_HEADER_BYTES || length > remaining) {
      throw new RangeError(`cannot encode log.records: no whole record at byte ${offset}`);
    }
    if (recordTypeAt(records, offset) === RecordType.commit) hasCommit = true;
    offset += length;
  }
  return { hasCommit };
}

/**
 * The records of a decoded `log` message, in order. The decoder has validated them, so this only reads
 * header fields (no CRC); each `payload` is a view into the received bytes.
 */
export function* iterateRecords(message: DecodedLogMessage): Generator<LogRecord, void, undefined> {
  const bytes = message.records;
  const count = message.batch.recordCount;
  let offset = 0;
  for (let index = 0; index < count; index++) {
    const length = recordLengthAt(bytes, offset);
    yield {
      lsn: recordLsnAt(bytes, offset),
      generation: recordGenerationAt(bytes, offset),
      type: recordTypeAt(bytes, offset),
      txnId: recordTxnIdAt(bytes, offset),
      payload: bytes.subarray(offset + RECORD_HEADER_BYTES, offset + length),
    };
    offset += length;
  }
}
