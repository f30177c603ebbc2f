/**
 * Encoding: one allocation per frame (size first, then `Buffer.allocUnsafe`, then write). Encoding is
 * given this process's own data, so a value that cannot be encoded is a programmer error and throws a
 * `RangeError`; the decoder's checks are not repeated here, except the cheap ones that keep a bug from
 * reaching the wire (u32 ranges, safe-integer LSNs, PERMANENT matching the records).
 */
import { crc32c, crc32cRange } from '../log/crc32c.js';
import { bodyLength, LOG_FIXED_BYTES, writeBody, writeLogFixedFields } from './body.js';
import { allowedFlags, FRAME_HEADER_BYTES, writeFrameHeader } from './frame.js';
import { scanRecordsForEncoding } from './log-batch.js';
import { FrameFlags, type LogMessage, type Message } from './messages.js';

/** The encoded size of `message`, header included. */
export function frameSize(message: Message): number {
  return FRAME_HEADER_BYTES + bodyLength(message);
}

/**
 * Encodes `message` as a frame into `target` at `offset` (room for `frameSize(message)` bytes) and
 * returns the frame's size: for packing several frames into one buffer.
 */
export function encodeFrameInto(message: Message, target: Buffer, offset: number): number {
  const length = bodyLength(message);
  const flags = frameFlags(message);
  const bodyOffset = offset + FRAME_HEADER_BYTES;
  writeBody(message, target, bodyOffset);
  const crc = crc32c(target.subarray(bodyOffset, bodyOffset + length));
  writeFrameHeader(target, offset, message.type, flags, length, crc);
  return FRAME_HEADER_BYTES + length;
}

/** Encodes `message` as a whole frame in a buffer of its own. */
export function encodeMessage(message: Message): Buffer {
  const frame = Buffer.allocUnsafe(frameSize(message));
  encodeFrameInto(message, frame, 0);
  return frame;
}

/**
 * Encodes a `log` frame around a prebuilt records buffer (whole records in their on-disk encoding, as
 * read from the log), copying it once, into the frame.
 */
export function encodeLogFrame(fields: Omit<LogMessage, 'type' | 'records'>, records: Uint8Array): Buffer {
  return encodeMessage({
    type: 'log',
    generation: fields.generation,
    flags: fields.flags,
    prevLsn: fields.prevLsn,
    prevGeneration: fields.prevGeneration,
    records,
  });
}

/** Bytes a `log` frame puts before its records: the frame header and the body's fixed fields. */
export const LOG_FRAME_PREFIX_BYTES = FRAME_HEADER_BYTES + LOG_FIXED_BYTES;

/**
 * Encodes a `log` frame around its records without copying them: `buffer` starts with
 * `LOG_FRAME_PREFIX_BYTES` bytes reserved for this, and `message.records` is the view of `buffer` right
 * after them (the master's bulk batch is built that way). Writes the prefix and returns the frame, a view
 * of `buffer`. PERMANENT is taken on trust from `message.flags` (the caller built the records; the
 * decoder checks it anyway): no walk over the records here.
 */
export function encodeLogFrameInPlace(message: LogMessage, buffer: Buffer): Buffer {
  const records = message.records;
  if (
    records.buffer !== buffer.buffer ||
    records.byteOffset !== buffer.byteOffset + LOG_FRAME_PREFIX_BYTES ||
    buffer.length < LOG_FRAME_PREFIX_BYTES + records.length
  ) {
    throw new RangeError('encodeLogFrameInPlace: the records must follow the reserved prefix of the buffer');
  }
  const flags = message.flags;
  if (!Number.isInteger(flags) || (flags & ~allowedFlags('log')) !== 0 || flags < 0) {
    throw new RangeError(`cannot encode log.flags = ${flags}: bits not allowed on log`);
  }
  const length = LOG_FIXED_BYTES + records.length;
  const frameLength = FRAME_HEADER_BYTES + length;
  writeLogFixedFields(message, buffer, FRAME_HEADER_BYTES);
  const crc = crc32cRange(buffer, FRAME_HEADER_BYTES, frameLength);
  writeFrameHeader(buffer, 0, 'log', flags, length, crc);
  return frameLength === buffer.length ? buffer : buffer.subarray(0, frameLength);
}

function frameFlags(message: Message): number {
  if (message.type !== 'log' && message.type !== 'logRequest') return 0;
  const flags = message.flags;
  if (!Number.isInteger(flags) || (flags & ~allowedFlags(message.type)) !== 0 || flags < 0) {
    throw new RangeError(
      `cannot encode ${message.type}.flags = ${flags}: bits not allowed on ${message.type}`,
    );
  }
  if (message.type === 'log') {
    const { hasCommit } = scanRecordsForEncoding(message.records);
    if (hasCommit !== ((flags & FrameFlags.PERMANENT) !== 0)) {
      throw new RangeError(
        `cannot encode log: PERMANENT must be set exactly when the records hold a commit (commit present: ${hasCommit})`,
      );
    }
  }
  return flags;
}
