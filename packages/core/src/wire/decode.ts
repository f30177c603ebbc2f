/**
 * Whole-frame decoding, for transports that deliver frames intact (WebSocket, in-memory). Never throws
 * on bad bytes: every outcome is a value. Decoded messages hold views into `bytes` (`log.records`,
 * `init.snapshot`, `forward.payloads`): do not reuse the input buffer while holding them.
 */
import { crc32c, crc32cRange } from '../log/crc32c.js';
import { RECORD_HEADER_BYTES } from '../log/record.js';
import { LOG_FIXED_BYTES, readBody, type UncheckedBody } from './body.js';
import { FRAME_HEADER_BYTES, type FrameHeader, hex, readFrameHeader } from './frame.js';
import { summarizeLogBatch } from './log-batch.js';
import type { DecodedMessage } from './messages.js';
import { type DecoderOptions, type ResolvedDecoderOptions, resolveDecoderOptions } from './options.js';
import { ProtocolError } from './protocol-error.js';
import { ackLooksValid, logFieldsLookValid, logFieldsSchema, messageSchemas } from './schemas.js';

export type DecodeResult =
  | { readonly ok: true; readonly message: DecodedMessage }
  | { readonly ok: false; readonly error: ProtocolError };

/**
 * Decodes exactly one frame. `bytes` must be the whole frame, nothing more. Throws only `ConfigError`,
 * for bad `options`.
 */
export function decodeFrame(bytes: Uint8Array, options?: DecoderOptions): DecodeResult {
  const limits = resolveDecoderOptions(options);
  const buffer = asBuffer(bytes);
  if (buffer.length < FRAME_HEADER_BYTES) {
    return failure(new ProtocolError('truncated-frame', `${buffer.length} bytes, shorter than the header`));
  }
  const header = readFrameHeader(buffer, 0, limits.maxFrameBytes);
  if (header instanceof ProtocolError) return failure(header);
  const frameLength = FRAME_HEADER_BYTES + header.bodyLength;
  if (buffer.length < frameLength) {
    return failure(
      new ProtocolError('truncated-frame', `${buffer.length} bytes, the header says ${frameLength}`),
    );
  }
  if (buffer.length > frameLength) {
    return failure(
      new ProtocolError('excess-frame-bytes', `${buffer.length} bytes, the header says ${frameLength}`),
    );
  }
  const result = decodeBody(header, buffer.subarray(FRAME_HEADER_BYTES), limits);
  return result instanceof ProtocolError ? failure(result) : { ok: true, message: result };
}

/** Checks the body CRC, decodes the body, validates it. Shared by `decodeFrame` and `FrameDecoder`. */
export function decodeBody(
  header: FrameHeader,
  body: Buffer,
  limits: ResolvedDecoderOptions,
): DecodedMessage | ProtocolError {
  const crc = crc32c(body);
  if (crc !== header.bodyCrc) {
    return new ProtocolError(
      'bad-checksum',
      `${header.type} body crc32c 0x${hex(crc, 8)}, the header says 0x${hex(header.bodyCrc, 8)}`,
    );
  }
  const decoded = readBody(header.type, header.flags, body, limits.maxRecordBytes - RECORD_HEADER_BYTES);
  if (decoded instanceof ProtocolError) return decoded;
  return validate(decoded, limits, body, crc);
}

function validate(
  decoded: UncheckedBody,
  limits: ResolvedDecoderOptions,
  body: Buffer,
  bodyCrc: number,
): DecodedMessage | ProtocolError {
  if (decoded.type === 'log') {
    if (!logFieldsLookValid(decoded)) {
      const checked = logFieldsSchema.safeParse(decoded);
      if (!checked.success) return ProtocolError.fromZodIssues('log', checked.error.issues);
    }
    // The body CRC matched, over every byte: the record CRCs are checked against it, not recomputed.
    const prefixCrc = crc32cRange(body, 0, LOG_FIXED_BYTES);
    const batch = summarizeLogBatch(decoded, limits.maxRecordBytes, { prefixCrc, bodyCrc });
    if (batch instanceof ProtocolError) return batch;
    return {
      type: 'log',
      generation: decoded.generation,
      flags: decoded.flags,
      prevLsn: decoded.prevLsn,
      prevGeneration: decoded.prevGeneration,
      records: decoded.records,
      batch,
    };
  }
  // The hot ack skips zod when plain checks pass (zod still words every rejection: see schemas.ts).
  if (decoded.type === 'ack' && ackLooksValid(decoded)) return decoded;
  // zod's output is a copy; the decoded object is already exactly the message, so keep it.
  const checked = messageSchemas[decoded.type].safeParse(decoded);
  return checked.success ? decoded : ProtocolError.fromZodIssues(decoded.type, checked.error.issues);
}

function failure(error: ProtocolError): DecodeResult {
  return { ok: false, error };
}

/** A Buffer view of `bytes` (no copy). */
export function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
