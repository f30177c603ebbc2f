/**
 * The on-disk record format. Pure: no I/O. Little-endian, a fixed 32-byte header then the payload:
 *
 *   0  u32  crc32c of bytes [4, length)   — covers the length, so a bent length fails the check
 *   4  u32  length of the whole record (header + payload)
 *   8  u64  lsn: the record's byte position in the logical log (lo u32, hi u32)
 *  16  u32  generation
 *  20  u8   type (RecordType)
 *  21  u8   flags, must be 0
 *  22  u16  reserved, must be 0
 *  24  u64  txn id (lo u32, hi u32)
 *  32  …    payload
 *
 * The next record's LSN is `lsn + length`: LSNs are byte positions and strictly increase.
 */
import { crc32cRange, crc32cRangeView } from './crc32c.js';

export const RECORD_HEADER_BYTES = 32;
const TWO_POW_32 = 0x1_0000_0000;

export const RecordType = {
  data: 1,
  /** A transaction's commit record: PERMANENT in replication terms. */
  commit: 2,
  abort: 3,
  checkpoint: 4,
  /** Written when a site starts a new generation (becomes master). */
  newGeneration: 5,
} as const;
export type RecordType = (typeof RecordType)[keyof typeof RecordType];
export type RecordTypeName = keyof typeof RecordType;

const RECORD_TYPE_NAMES: readonly (RecordTypeName | undefined)[] = [
  undefined,
  'data',
  'commit',
  'abort',
  'checkpoint',
  'newGeneration',
];

export function recordTypeName(type: RecordType): RecordTypeName {
  return RECORD_TYPE_NAMES[type]!;
}

export function isRecordType(value: number): value is RecordType {
  return value >= RecordType.data && value <= RecordType.newGeneration;
}

export interface LogRecord {
  readonly lsn: number;
  readonly generation: number;
  readonly type: RecordType;
  readonly txnId: number;
  /** A view into the buffer the record was decoded from: copy it to keep it past that buffer's reuse. */
  readonly payload: Uint8Array;
}

export function recordSize(payloadBytes: number): number {
  return RECORD_HEADER_BYTES + payloadBytes;
}

/** Encodes a record into `target` at `offset` (no allocation) and returns its size in bytes. */
export function encodeRecordInto(
  target: Buffer,
  offset: number,
  lsn: number,
  generation: number,
  type: RecordType,
  txnId: number,
  payload: Uint8Array,
): number {
  const length = RECORD_HEADER_BYTES + payload.length;
  // Plain byte stores: the bounds-checked Buffer writers cost more than the rest of encoding.
  if (generation >>> 0 !== generation || lsn < 0 || txnId < 0 || offset + length > target.length) {
    throw new RangeError(`record field out of range (generation ${generation}, lsn ${lsn}, txn ${txnId})`);
  }
  putUint32(target, offset + 4, length);
  putUint32(target, offset + 8, lsn % TWO_POW_32);
  putUint32(target, offset + 12, Math.floor(lsn / TWO_POW_32));
  putUint32(target, offset + 16, generation);
  target[offset + 20] = type;
  target[offset + 21] = 0;
  target[offset + 22] = 0;
  target[offset + 23] = 0;
  putUint32(target, offset + 24, txnId % TWO_POW_32);
  putUint32(target, offset + 28, Math.floor(txnId / TWO_POW_32));
  target.set(payload, offset + RECORD_HEADER_BYTES);
  putUint32(target, offset, crc32cRange(target, offset + 4, offset + length));
  return length;
}

/**
 * `encodeRecordInto` for a buffer encoded into many times: `view` is a DataView over exactly the bytes
 * of `target` (same buffer, same offset), kept by the caller, through which the header is written and
 * the CRC read a word at a time. Same bytes, same checks, same result.
 */
export function encodeRecordIntoView(
  view: DataView,
  target: Uint8Array,
  offset: number,
  lsn: number,
  generation: number,
  type: RecordType,
  txnId: number,
  payload: Uint8Array,
): number {
  const length = RECORD_HEADER_BYTES + payload.length;
  if (generation >>> 0 !== generation || lsn < 0 || txnId < 0 || offset + length > target.length) {
    throw new RangeError(`record field out of range (generation ${generation}, lsn ${lsn}, txn ${txnId})`);
  }
  view.setUint32(offset + 4, length, true);
  view.setUint32(offset + 8, lsn % TWO_POW_32, true);
  view.setUint32(offset + 12, Math.floor(lsn / TWO_POW_32), true);
  view.setUint32(offset + 16, generation, true);
  // The type byte, then the flags and reserved bytes, all 0.
  view.setUint32(offset + 20, type, true);
  view.setUint32(offset + 24, txnId % TWO_POW_32, true);
  view.setUint32(offset + 28, Math.floor(txnId / TWO_POW_32), true);
  if (payload.length <= SMALL_PAYLOAD_BYTES) {
    // A commit record's count and the like: a loop costs less than a call to set().
    for (let index = 0; index < payload.length; index++) {
      target[offset + RECORD_HEADER_BYTES + index] = payload[index]!;
    }
  } else {
    target.set(payload, offset + RECORD_HEADER_BYTES);
  }
  view.setUint32(offset, crc32cRangeView(view, offset + 4, offset + length), true);
  return length;
}

/** Payloads up to this size are copied byte by byte by encodeRecordIntoView. */
const SMALL_PAYLOAD_BYTES = 16;

function putUint32(target: Uint8Array, offset: number, value: number): void {
  target[offset] = value;
  target[offset + 1] = value >>> 8;
  target[offset + 2] = value >>> 16;
  target[offset + 3] = value >>> 24;
}

export function encodeRecord(record: Omit<LogRecord, 'payload'> & { payload: Uint8Array }): Buffer {
  const buffer = Buffer.allocUnsafe(recordSize(record.payload.length));
  encodeRecordInto(buffer, 0, record.lsn, record.generation, record.type, record.txnId, record.payload);
  return buffer;
}

/** Why bytes did not decode as a record. Every outcome of decoding is a value, never an exception. */
export type RecordDecodeError =
  | 'short-header' // fewer than RECORD_HEADER_BYTES bytes available
  | 'bad-length' // length below the header size or above the configured maximum
  | 'short-record' // the length says more bytes than are available
  | 'bad-checksum'
  | 'bad-type'
  | 'bad-reserved'
  | 'unexpected-lsn'; // valid record, but not at the position the caller expected

export type RecordDecodeResult =
  | { readonly ok: true; readonly record: LogRecord; readonly size: number }
  | { readonly ok: false; readonly error: RecordDecodeError };

/**
 * Decodes the record at `offset` of `bytes`, looking at most `maxRecordBytes` ahead: `validateRecordAt`
 * (the one place the rules live) plus the fields. The payload is a view into `bytes`. `expectedLsn`
 * (when given) must match.
 */
export function decodeRecordAt(
  bytes: Buffer,
  offset: number,
  end: number,
  maxRecordBytes: number,
  expectedLsn?: number,
): RecordDecodeResult {
  const size = validateRecordAt(bytes, offset, end, maxRecordBytes, expectedLsn ?? -1);
  if (size < 0) return FAILURES.get(size)!;
  return {
    ok: true,
    size,
    record: {
      lsn: recordLsnAt(bytes, offset),
      generation: recordGenerationAt(bytes, offset),
      type: recordTypeAt(bytes, offset),
      txnId: recordTxnIdAt(bytes, offset),
      payload: bytes.subarray(offset + RECORD_HEADER_BYTES, offset + size),
    },
  };
}

/**
 * The failures of `validateRecordAt`, by negative code: code `-(i + 1)` is `RECORD_CHECK_ERRORS[i]`.
 * The same names, for the same reasons, as `decodeRecordAt`'s.
 */
const RECORD_CHECK_ERRORS: readonly RecordDecodeError[] = [
  'short-header',
  'bad-length',
  'short-record',
  'bad-checksum',
  'bad-type',
  'bad-reserved',
  'unexpected-lsn',
];
const CHECK_SHORT_HEADER = -1;
const CHECK_BAD_LENGTH = -2;
const CHECK_SHORT_RECORD = -3;
const CHECK_BAD_CHECKSUM = -4;
const CHECK_BAD_TYPE = -5;
const CHECK_BAD_RESERVED = -6;
const CHECK_UNEXPECTED_LSN = -7;

/** The `RecordDecodeError` a negative `validateRecordAt` result stands for. */
export function recordCheckError(code: number): RecordDecodeError {
  const error = RECORD_CHECK_ERRORS[-code - 1];
  if (error === undefined) throw new RangeError(`${code} is not a validateRecordAt error code`);
  return error;
}

/** One result object per failure: decoding allocates only for records that decode. */
const FAILURES: ReadonlyMap<number, RecordDecodeResult> = new Map(
  [-1, -2, -3, -4, -5, -6, -7].map((code) => [code, { ok: false, error: recordCheckError(code) } as const]),
);

/**
 * `decodeRecordAt` without the result: checks the record at `offset` by exactly the same rules, in the
 * same order, and returns its size in bytes, or a negative code (`recordCheckError` names it). Allocates
 * only the view the CRC is computed over. `expectedLsn` below 0: any LSN. For hot paths that read the
 * header fields afterwards with the `record…At` readers (the wire decoder).
 */
export function validateRecordAt(
  bytes: Buffer,
  offset: number,
  end: number,
  maxRecordBytes: number,
  expectedLsn: number,
): number {
  // Never read past the buffer, whatever `end` the caller passed.
  const available = Math.min(end, bytes.length) - offset;
  if (available < RECORD_HEADER_BYTES) return CHECK_SHORT_HEADER;
  const length = recordLengthAt(bytes, offset);
  if (length < RECORD_HEADER_BYTES || length > maxRecordBytes) return CHECK_BAD_LENGTH;
  if (length > available) return CHECK_SHORT_RECORD;
  if (crc32cRange(bytes, offset + 4, offset + length) !== readUint32(bytes, offset)) {
    return CHECK_BAD_CHECKSUM;
  }
  if (!isRecordType(bytes[offset + 20]!)) return CHECK_BAD_TYPE;
  if (bytes[offset + 21] !== 0 || bytes[offset + 22] !== 0 || bytes[offset + 23] !== 0) {
    return CHECK_BAD_RESERVED;
  }
  if (expectedLsn >= 0 && recordLsnAt(bytes, offset) !== expectedLsn) return CHECK_UNEXPECTED_LSN;
  return length;
}

/** Reads the LSN field without checking anything: used to skip candidates cheaply while scanning. */
export function peekRecordLsn(bytes: Buffer, offset: number): number {
  return bytes.readUInt32LE(offset + 8) + bytes.readUInt32LE(offset + 12) * TWO_POW_32;
}

// Field readers for bytes already validated (by the wire decoder or by recovery): no checks, no allocation.
export function recordLengthAt(bytes: Uint8Array, offset: number): number {
  return (
    (bytes[offset + 4]! | (bytes[offset + 5]! << 8) | (bytes[offset + 6]! << 16)) +
    bytes[offset + 7]! * 0x100_0000
  );
}
export function recordLsnAt(bytes: Uint8Array, offset: number): number {
  return readUint32(bytes, offset + 8) + readUint32(bytes, offset + 12) * TWO_POW_32;
}
export function recordGenerationAt(bytes: Uint8Array, offset: number): number {
  return readUint32(bytes, offset + 16);
}
export function recordTypeAt(bytes: Uint8Array, offset: number): RecordType {
  return bytes[offset + 20] as RecordType;
}
export function recordTxnIdAt(bytes: Uint8Array, offset: number): number {
  return readUint32(bytes, offset + 24) + readUint32(bytes, offset + 28) * TWO_POW_32;
}
function readUint32(bytes: Uint8Array, offset: number): number {
  return (
    (bytes[offset]! | (bytes[offset + 1]! << 8) | (bytes[offset + 2]! << 16)) +
    bytes[offset + 3]! * 0x100_0000
  );
}
