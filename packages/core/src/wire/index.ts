/**
 * The wire format: frames (a 16-byte header with magic, version, type, flags, body length and body
 * CRC32C, then a hand-encoded binary body), the replication messages they carry, and the decoders —
 * `decodeFrame` for transports that deliver whole frames, `FrameDecoder` for byte streams. Decoding
 * never throws on bad bytes: it returns a `ProtocolError` whose `reason` is documented with the
 * receiver's action in docs/protocol.md.
 *
 * @example
 * ```ts
 * import { decodeFrame, encodeMessage, FrameDecoder } from '@ackord/core';
 * const frame = encodeMessage({ type: 'heartbeat', generation: 3, nextLsn: 4096, permLsn: 4000 });
 * const result = decodeFrame(frame);
 * if (result.ok) console.log(result.message.type); // 'heartbeat'
 *
 * const decoder = new FrameDecoder({ maxFrameBytes: 1024 * 1024 });
 * socket.on('data', (chunk) => {
 *   const { messages, error } = decoder.push(chunk);
 *   for (const message of messages) handle(message);
 *   if (error) socket.destroy();
 * });
 * ```
 */
export type { DecodeResult } from './decode.js';
export { decodeFrame } from './decode.js';
export {
  encodeFrameInto,
  encodeLogFrame,
  encodeLogFrameInPlace,
  encodeMessage,
  frameSize,
  LOG_FRAME_PREFIX_BYTES,
} from './encode.js';
export type { FrameHeader } from './frame.js';
export { FRAME_HEADER_BYTES, FRAME_MAGIC, PROTOCOL_VERSION } from './frame.js';
export type { PushResult } from './frame-decoder.js';
export { FrameDecoder } from './frame-decoder.js';
export { iterateRecords } from './log-batch.js';
export type {
  AckMessage,
  DecodedLogMessage,
  DecodedMessage,
  ForwardedAck,
  ForwardMessage,
  ForwardOutcome,
  ForwardReason,
  ForwardResultMessage,
  HeartbeatMessage,
  InitMessage,
  LogBatch,
  LogMessage,
  LogRequestMessage,
  MasterRequestMessage,
  Message,
  MessageTypeCode,
  MessageTypeName,
  NewMasterMessage,
  SyncRequestMessage,
  SyncVerifyMessage,
  Vote1Message,
  Vote2Message,
} from './messages.js';
export {
  FORWARD_REASONS,
  FrameFlags,
  MAX_FORWARD_PAYLOADS,
  MAX_MESSAGE_HISTORY_ENTRIES,
  MAX_SITE_ID_BYTES,
  MessageType,
} from './messages.js';
export type { DecoderOptions, ResolvedDecoderOptions } from './options.js';
export {
  DEFAULT_MAX_FRAME_BYTES,
  DEFAULT_MAX_RECORD_BYTES,
  MAX_FRAME_BYTES_HIGHEST,
  MAX_FRAME_BYTES_LOWEST,
  resolveDecoderOptions,
} from './options.js';
export type { ProtocolErrorAction, ProtocolErrorReason } from './protocol-error.js';
export { PROTOCOL_ERROR_REASONS, ProtocolError } from './protocol-error.js';
export { messageSchemas } from './schemas.js';
