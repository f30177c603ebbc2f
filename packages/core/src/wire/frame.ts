/**
 * The frame header. Little-endian, 16 bytes, then the body:
 *
 *   0  u16  magic 0x4B41 ("AK" on the wire)
 *   2  u8   protocol version (2; 1 had the shorter forward and forwardResult bodies)
 *   3  u8   message type (MessageType)
 *   4  u8   flags (FrameFlags); bits a type does not allow must be 0
 *   5  u8×3 reserved, 0
 *   8  u32  body length
 *  12  u32  crc32c of the body
 *
 * Everything here is decided from the header alone — in particular an oversize length is rejected
 * before any body byte is buffered or allocated.
 */
import { FrameFlags, MessageType, type MessageTypeName } from './messages.js';
import { ProtocolError } from './protocol-error.js';

export const FRAME_HEADER_BYTES = 16;
export const FRAME_MAGIC = 0x4b41;
/** A site drops every frame of another version (`unsupported-version`): no layout is ever guessed. */
export const PROTOCOL_VERSION = 2;

const NO_FLAGS = 0;
/** The flags each message type may carry. */
const ALLOWED_FLAGS: Readonly<Record<MessageTypeName, number>> = {
  log: FrameFlags.PERMANENT | FrameFlags.NOBUFFER | FrameFlags.REREQUEST,
  ack: NO_FLAGS,
  logRequest: FrameFlags.NOBUFFER | FrameFlags.REREQUEST | FrameFlags.ANYWHERE,
  syncRequest: NO_FLAGS,
  syncVerify: NO_FLAGS,
  init: NO_FLAGS,
  newMaster: NO_FLAGS,
  masterRequest: NO_FLAGS,
  heartbeat: NO_FLAGS,
  vote1: NO_FLAGS,
  vote2: NO_FLAGS,
  forward: NO_FLAGS,
  forwardResult: NO_FLAGS,
  election: NO_FLAGS,
};

/** Type names indexed by type code; undefined for codes this version does not define. */
const TYPE_NAMES: readonly (MessageTypeName | undefined)[] = (() => {
  const names: (MessageTypeName | undefined)[] = [];
  for (const [name, code] of Object.entries(MessageType)) names[code] = name as MessageTypeName;
  return names;
})();

export function messageTypeName(code: number): MessageTypeName | undefined {
  return TYPE_NAMES[code];
}

export function allowedFlags(type: MessageTypeName): number {
  return ALLOWED_FLAGS[type];
}

export interface FrameHeader {
  readonly type: MessageTypeName;
  readonly flags: number;
  readonly bodyLength: number;
  readonly bodyCrc: number;
}

/**
 * Checks the 16 header bytes at `offset` (the caller guarantees they are there) against this protocol
 * version and `maxFrameBytes`.
 */
export function readFrameHeader(
  bytes: Buffer,
  offset: number,
  maxFrameBytes: number,
): FrameHeader | ProtocolError {
  const magic = bytes.readUInt16LE(offset);
  if (magic !== FRAME_MAGIC) {
    return new ProtocolError('bad-magic', `magic 0x${hex(magic, 4)}, expected 0x${hex(FRAME_MAGIC, 4)}`);
  }
  const version = bytes[offset + 2]!;
  if (version !== PROTOCOL_VERSION) {
    return new ProtocolError(
      'unsupported-version',
      `version ${version}, this side speaks ${PROTOCOL_VERSION}`,
    );
  }
  if (bytes[offset + 5] !== 0 || bytes[offset + 6] !== 0 || bytes[offset + 7] !== 0) {
    return new ProtocolError('bad-reserved', 'reserved header bytes 5..7 must be 0');
  }
  const code = bytes[offset + 3]!;
  const type = TYPE_NAMES[code];
  if (type === undefined) return new ProtocolError('unknown-type', `message type ${code}`);
  const flags = bytes[offset + 4]!;
  const extra = flags & ~ALLOWED_FLAGS[type];
  if (extra !== 0) {
    return new ProtocolError(
      'bad-flags',
      `flags 0x${hex(flags, 2)} on ${type}: bits 0x${hex(extra, 2)} not allowed`,
    );
  }
  const bodyLength = bytes.readUInt32LE(offset + 8);
  if (bodyLength > maxFrameBytes - FRAME_HEADER_BYTES) {
    return new ProtocolError(
      'frame-too-large',
      `${type} frame of ${FRAME_HEADER_BYTES + bodyLength} bytes exceeds maxFrameBytes ${maxFrameBytes}`,
    );
  }
  return { type, flags, bodyLength, bodyCrc: bytes.readUInt32LE(offset + 12) };
}

/** Writes a header at `offset`; the body CRC is computed by the caller over the written body. */
export function writeFrameHeader(
  target: Buffer,
  offset: number,
  type: MessageTypeName,
  flags: number,
  bodyLength: number,
  bodyCrc: number,
): void {
  target.writeUInt16LE(FRAME_MAGIC, offset);
  target[offset + 2] = PROTOCOL_VERSION;
  target[offset + 3] = MessageType[type];
  target[offset + 4] = flags;
  target[offset + 5] = 0;
  target[offset + 6] = 0;
  target[offset + 7] = 0;
  target.writeUInt32LE(bodyLength, offset + 8);
  target.writeUInt32LE(bodyCrc, offset + 12);
}

export function hex(value: number, digits: number): string {
  return value.toString(16).padStart(digits, '0');
}
