/**
 * Why a transport closed a connection for something other than a failed handshake or TLS: the peer
 * broke the framing rules or went silent, or the listener turned the connection away before any
 * handshake (the unauthenticated cap, an HTTP request it could not parse). Reported as an event value,
 * never thrown; the connection is closed and the dialing side reconnects.
 */
import { AckordError } from '../errors.js';

/**
 * - `frame-too-large`: an inbound frame's length (from its header) is above `maxFrameBytes`;
 * - `not-binary`: a WebSocket text message (Ackord frames are binary only);
 * - `websocket-protocol`: the WebSocket layer rejected the stream (a bad frame, a bad close code, …);
 * - `unresponsive`: the liveness check gave up on the peer: nothing (no byte, keepalive, ping or pong)
 *   came from it within the timeout, or it read none of what we sent (our write buffer stayed full)
 *   for as long;
 * - `upgrade-refused`: the listener we dialed answered the WebSocket upgrade with another HTTP status;
 * - `unauthenticated-cap`: an inbound connection arrived while `maxUnauthenticated` others were still
 *   authenticating, and was closed at the accept;
 * - `bad-http`: a WebSocket listener could not parse what came instead of an HTTP request (answered
 *   400 when the socket was still writable, then closed).
 */
export const CONNECTION_ERROR_REASONS = [
  'frame-too-large',
  'not-binary',
  'websocket-protocol',
  'unresponsive',
  'upgrade-refused',
  'unauthenticated-cap',
  'bad-http',
] as const;

export type ConnectionErrorReason = (typeof CONNECTION_ERROR_REASONS)[number];

export class ConnectionError extends AckordError {
  readonly reason: ConnectionErrorReason;
  readonly detail: string;

  constructor(reason: ConnectionErrorReason, detail: string, options?: { cause?: unknown }) {
    super('ERR_ACKORD_CONNECTION', `connection closed (${reason}): ${detail}`, options);
    this.reason = reason;
    this.detail = detail;
  }
}
