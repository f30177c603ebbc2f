/**
 * Handshake frames: their own small format, separate from the replication wire format, so nothing but
 * the handshake is parsed before a peer is authenticated.
 *
 * ```
 * 0  magic "AKHS" (4 bytes)
 * 4  type u8: 1 HELLO, 2 PROOF, 3 OK, 4 REFUSE
 * 5  body length u16 BE (checked against the cap before any body byte is buffered)
 * 7  body
 * ```
 * HELLO: version u16 BE, cluster id (u8 length + UTF-8), site id (u8 length + UTF-8), nonce (32 bytes).
 * PROOF: HMAC-SHA256 (32 bytes). OK: empty. REFUSE: reason index u8.
 */
import { PROTOCOL_VERSION } from '../wire/frame.js';
import { HANDSHAKE_ERROR_REASONS, HandshakeError, type HandshakeErrorReason } from './handshake-error.js';

export const HANDSHAKE_MAGIC = Uint8Array.of(0x41, 0x4b, 0x48, 0x53);
/**
 * The version a HELLO carries: the replication wire protocol the site speaks once authenticated. Sites
 * of different protocol versions refuse each other at the handshake (`unsupported-version`) instead of
 * connecting and then dropping every frame of the other's version one by one.
 */
export const HANDSHAKE_VERSION = PROTOCOL_VERSION;
export const HANDSHAKE_HEADER_BYTES = 7;
/** A whole handshake frame, header included, is never longer than this. */
export const HANDSHAKE_MAX_FRAME_BYTES = 512;
export const HANDSHAKE_NONCE_BYTES = 32;
export const HANDSHAKE_PROOF_BYTES = 32;
/** Cluster ids and site ids are at most this many UTF-8 bytes in a HELLO. */
export const HANDSHAKE_MAX_ID_BYTES = 128;

export const HandshakeType = { hello: 1, proof: 2, ok: 3, refuse: 4 } as const;

export interface Hello {
  readonly version: number;
  readonly clusterId: string;
  readonly siteId: string;
  readonly nonce: Uint8Array;
}

export interface RawHandshakeFrame {
  readonly type: number;
  readonly body: Uint8Array;
}

const utf8 = new TextEncoder();
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

export function encodeHandshakeFrame(type: number, body: Uint8Array): Uint8Array {
  const frame = new Uint8Array(HANDSHAKE_HEADER_BYTES + body.length);
  frame.set(HANDSHAKE_MAGIC, 0);
  frame[4] = type;
  new DataView(frame.buffer).setUint16(5, body.length);
  frame.set(body, HANDSHAKE_HEADER_BYTES);
  return frame;
}

export function encodeHello(hello: Hello): Uint8Array {
  const cluster = utf8.encode(hello.clusterId);
  const site = utf8.encode(hello.siteId);
  const body = new Uint8Array(2 + 1 + cluster.length + 1 + site.length + hello.nonce.length);
  new DataView(body.buffer).setUint16(0, hello.version);
  let offset = 2;
  for (const field of [cluster, site]) {
    body[offset] = field.length;
    body.set(field, offset + 1);
    offset += 1 + field.length;
  }
  body.set(hello.nonce, offset);
  return encodeHandshakeFrame(HandshakeType.hello, body);
}

export function encodeRefusal(reason: HandshakeErrorReason): Uint8Array {
  return encodeHandshakeFrame(HandshakeType.refuse, Uint8Array.of(HANDSHAKE_ERROR_REASONS.indexOf(reason)));
}

/** The UTF-8 length of an id, or an error when it cannot go in a HELLO. */
export function checkId(what: string, id: string): string | undefined {
  const length = utf8.encode(id).length;
  if (length === 0 || length > HANDSHAKE_MAX_ID_BYTES)
    return `${what} must be 1 to ${HANDSHAKE_MAX_ID_BYTES} UTF-8 bytes, got ${length}`;
  return undefined;
}

/**
 * Takes one frame off the front of `buffer`: the frame and the bytes after it, `undefined` when more
 * bytes are needed, or an error as soon as the bytes seen cannot start a valid frame.
 */
export function takeHandshakeFrame(
  buffer: Uint8Array,
): { frame: RawHandshakeFrame; rest: Uint8Array } | HandshakeError | undefined {
  const magicSeen = Math.min(buffer.length, HANDSHAKE_MAGIC.length);
  for (let index = 0; index < magicSeen; index++)
    if (buffer[index] !== HANDSHAKE_MAGIC[index])
      return new HandshakeError('bad-magic', 'not an Ackord handshake');
  if (buffer.length < HANDSHAKE_HEADER_BYTES) return undefined;
  const bodyLength = new DataView(buffer.buffer, buffer.byteOffset, buffer.byteLength).getUint16(5);
  if (HANDSHAKE_HEADER_BYTES + bodyLength > HANDSHAKE_MAX_FRAME_BYTES)
    return new HandshakeError(
      'oversize',
      `frame of ${HANDSHAKE_HEADER_BYTES + bodyLength} bytes above the cap of ${HANDSHAKE_MAX_FRAME_BYTES}`,
    );
  const end = HANDSHAKE_HEADER_BYTES + bodyLength;
  if (buffer.length < end) return undefined;
  return {
    frame: { type: buffer[4]!, body: buffer.slice(HANDSHAKE_HEADER_BYTES, end) },
    rest: buffer.subarray(end),
  };
}

export function decodeHello(body: Uint8Array): Hello | HandshakeError {
  const malformed = () => new HandshakeError('unexpected', 'malformed HELLO');
  if (body.length < 2) return malformed();
  const version = new DataView(body.buffer, body.byteOffset, body.byteLength).getUint16(0);
  if (version !== HANDSHAKE_VERSION)
    return new HandshakeError(
      'unsupported-version',
      `peer speaks version ${version}, this is ${HANDSHAKE_VERSION}`,
    );
  const ids: string[] = [];
  let offset = 2;
  for (let field = 0; field < 2; field++) {
    const length = body[offset];
    if (length === undefined || length === 0 || offset + 1 + length > body.length) return malformed();
    try {
      ids.push(strictUtf8.decode(body.subarray(offset + 1, offset + 1 + length)));
    } catch {
      return malformed();
    }
    offset += 1 + length;
  }
  if (body.length - offset !== HANDSHAKE_NONCE_BYTES) return malformed();
  return { version, clusterId: ids[0]!, siteId: ids[1]!, nonce: body.slice(offset) };
}

export function decodeRefusal(body: Uint8Array): HandshakeError {
  const reason = body.length === 1 ? HANDSHAKE_ERROR_REASONS[body[0]!] : undefined;
  if (reason === undefined) return new HandshakeError('unexpected', 'malformed REFUSE', true);
  return new HandshakeError(reason, 'the peer refused the handshake', true);
}
