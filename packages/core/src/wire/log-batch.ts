/**
 * The record sequence inside a `log` message: validated once, in place, by the decoder (no copy), and
 * summarized so the receiver never parses it again. Records are the on-disk encoding of log/record.ts.
 */
import { crc32cRegisterAfterRecord } from '../log/crc32c.js';
import {
  type LogRecord,
  peekRecordLsn,
  RECORD_HEADER_BYTES,
  RecordType,
  recordCheckError,
  recordGenerationAt,
  recordLengthAt,
  recordLsnAt,
  recordTxnIdAt,
  recordTypeAt,
  validateRecordAt,
} from '../log/record.js';
import { LOG_START_LSN } from '../log/recovery.js';
import type { LogFields } from './body.js';
import { type DecodedLogMessage, FrameFlags, type LogBatch } from './messages.js';
import { ProtocolError } from './protocol-error.js';

/** A record's CRC field: the CRC covers the record from just after it. */
const RECORD_CRC_BYTES = 4;
const TWO_POW_32 = 0x1_0000_0000;

/**
 * What the frame decoder knows about the CRC of the body a batch came in: enough to check every record's
 * CRC against the body's instead of computing each one (see `summarizeLogBatch`).
 */
export interface BodyCrcs {
  /** CRC32C of the body bytes before the records (the log message's fixed fields). */
  readonly prefixCrc: number;
  /** CRC32C of the whole body, records included: already computed over its bytes and checked. */
  readonly bodyCrc: number;
}

/**
 * Checks that `fields.records` holds at least one record, that each is valid (`validateRecordAt`: CRC,
 * length ≤ `maxRecordBytes`, type, reserved bytes), that LSNs are contiguous and follow `prevLsn`, that
 * generations never go back and never exceed the message's, and that PERMANENT is set exactly when a
 * commit is present.
 *
 * With `crcs`, the record CRCs are checked all at once: the body CRC the records' stored CRCs imply
 * (`crc32cRegisterAfterRecord`, a few table lookups per record) must equal the one computed over the
 * body's bytes. A single wrong record CRC always shows; several wrong ones slip through with
 * probability 2^-32 — the strength of the frame CRC itself. The records are then as checked as if each
 * CRC had been recomputed, for a fraction of the cost, so the client's log only ever takes records
 * whose CRCs hold. Anything but a clean pass is decided by the record-by-record check, so every
 * rejection reads exactly as without `crcs`.
 */
export function summarizeLogBatch(
  fields: LogFields,
  maxRecordBytes: number,
  crcs?: BodyCrcs,
): LogBatch | ProtocolError {
  if (crcs !== undefined) {
    const batch = summarizeLogBatchByBodyCrc(fields, maxRecordBytes, crcs);
    if (batch !== undefined) return batch;
  }
  return walkBatch(fields, maxRecordBytes);
}

/**
 * @internal The collective pass of `summarizeLogBatch` on its own (exported for its tests): the summary
 * when every rule holds and the record CRCs add up to `crcs.bodyCrc`, else `undefined` — whatever is
 * wrong, the record-by-record pass decides and words it. It only accepts, so it may be stricter than that
 * pass, never looser. Reads every header through one DataView (a few loads per record).
 */
export function summarizeLogBatchByBodyCrc(
  fields: LogFields,
  maxRecordBytes: number,
  crcs: BodyCrcs,
): LogBatch | undefined {
  const records = fields.records;
  const end = records.length;
  if (end === 0) return undefined;
  const view = new DataView(records.buffer, records.byteOffset, end);
  let offset = 0;
  let count = 0;
  let firstLsn = 0;
  let lastLsn = 0;
  let nextLsn = 0;
  let firstGeneration = 0;
  let lastGeneration = fields.prevGeneration;
  let lastCommitLsn = 0;
  // The CRC register after the body's fixed fields: ~crc, as crc32c.ts defines the register.
  let register = ~crcs.prefixCrc;
  // Bounded: every record takes at least RECORD_HEADER_BYTES, so at most end / 32 rounds.
  while (offset < end) {
    if (end - offset < RECORD_HEADER_BYTES) return undefined;
    const size = view.getUint32(offset + 4, true);
    if (size < RECORD_HEADER_BYTES || size > maxRecordBytes || size > end - offset) return undefined;
    // The type byte, then three bytes that must be 0.
    const typeWord = view.getUint32(offset + 20, true);
    const type = typeWord & 0xff;
    if (typeWord > 0xff || type < RecordType.data || type > RecordType.newGeneration) return undefined;
    const lsn = view.getUint32(offset + 8, true) + view.getUint32(offset + 12, true) * TWO_POW_32;
    const generation = view.getUint32(offset + 16, true);
    if (count === 0) {
      firstLsn = lsn;
      firstGeneration = generation;
      if (firstLsn < LOG_START_LSN || firstLsn > Number.MAX_SAFE_INTEGER - end) return undefined;
      if (fields.prevLsn !== 0 && fields.prevLsn >= firstLsn) return undefined;
    } else if (lsn !== nextLsn) {
      return undefined;
    }
    if (generation > fields.generation || generation < lastGeneration) return undefined;
    register = crc32cRegisterAfterRecord(register, view.getUint32(offset, true), size - RECORD_CRC_BYTES);
    lastGeneration = generation;
    lastLsn = lsn;
    if (type === RecordType.commit) lastCommitLsn = lsn;
    offset += size;
    nextLsn = lsn + size;
    count++;
  }
  if (~register >>> 0 !== crcs.bodyCrc) return undefined;
  const hasCommit = lastCommitLsn !== 0;
  if (hasCommit !== ((fields.flags & FrameFlags.PERMANENT) !== 0)) return undefined;
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

/** The record-by-record pass: each record's CRC recomputed, every rejection worded. */
function walkBatch(fields: LogFields, maxRecordBytes: number): LogBatch | ProtocolError {
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
  // Bounded: every record takes at least RECORD_HEADER_BYTES, so at most end / 32 rounds. The header
  // fields are read in place once the record is valid: no object per record.
  while (offset < end) {
    const size = validateRecordAt(records, offset, end, maxRecordBytes, count === 0 ? -1 : nextLsn);
    if (size < 0) {
      const error = recordCheckError(size);
      if (error === 'unexpected-lsn') {
        return new ProtocolError(
          'non-contiguous-records',
          `record ${count} has LSN ${peekRecordLsn(records, offset)}, expected ${nextLsn}`,
        );
      }
      return new ProtocolError('bad-record', `record ${count} at byte ${offset} of the batch: ${error}`);
    }
    const lsn = recordLsnAt(records, offset);
    const generation = recordGenerationAt(records, offset);
    if (count === 0) {
      firstLsn = lsn;
      firstGeneration = generation;
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
    if (generation > fields.generation) {
      return new ProtocolError(
        'record-generation-too-new',
        `record ${count} (LSN ${lsn}) has generation ${generation}, the message ${fields.generation}`,
      );
    }
    if (generation < lastGeneration) {
      return new ProtocolError(
        'record-generation-decreasing',
        `record ${count} (LSN ${lsn}) has generation ${generation} after ${lastGeneration}`,
      );
    }
    lastGeneration = generation;
    lastLsn = lsn;
    if (recordTypeAt(records, offset) === RecordType.commit) lastCommitLsn = lsn;
    offset += size;
    nextLsn = lsn + size;
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
