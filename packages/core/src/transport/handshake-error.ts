/**
 * Why a connection's authentication handshake failed. Every reason is a stable string, documented in
 * docs/errors.md; the handshake returns these errors as values and never throws them.
 */
import { AckordError } from '../errors.js';

/** Reasons in wire order: a refusal carries the index of its reason in one byte. */
export const HANDSHAKE_ERROR_REASONS = [
  'bad-magic',
  'unsupported-version',
  'wrong-cluster',
  'bad-proof',
  'oversize',
  'timeout',
  'unexpected',
  'unknown-peer',
] as const;

/**
 * - `bad-magic`: the bytes are not an Ackord handshake;
 * - `unsupported-version`: the peer speaks another handshake version;
 * - `wrong-cluster`: the peer belongs to another cluster id;
 * - `bad-proof`: the peer's HMAC does not match (wrong secret, tampering or a replayed handshake);
 * - `oversize`: a handshake frame's length field is above the cap;
 * - `timeout`: the handshake did not finish in time;
 * - `unexpected`: a message out of order or with a malformed body;
 * - `unknown-peer`: the peer's site id is not one this side accepts (itself, a stranger, the wrong dialer).
 */
export type HandshakeErrorReason = (typeof HANDSHAKE_ERROR_REASONS)[number];

export class HandshakeError extends AckordError {
  readonly reason: HandshakeErrorReason;
  /** True when the peer refused us (its REFUSE message); false when this side refused the peer. */
  readonly remote: boolean;
  readonly detail: string;

  constructor(reason: HandshakeErrorReason, detail: string, remote = false) {
    super(
      'ERR_ACKORD_HANDSHAKE',
      `handshake ${remote ? 'refused by the peer' : 'failed'} (${reason}): ${detail}`,
    );
    this.reason = reason;
    this.remote = remote;
    this.detail = detail;
  }
}
