/**
 * Why a transport closed an authenticated (or authenticating) connection that did not fail its
 * handshake or TLS: the peer broke the framing rules or went silent. Reported as an event value, never
 * thrown; the connection is closed and the dialing side reconnects.
 */
import { AckordError } from '../errors.js';

/**
 * - `frame-too-large`: an inbound frame's length (from its header) is above `maxFrameBytes`;
 * - `not-binary`: a WebSocket text message (Ackord frames are binary only);
 * - `websocket-protocol`: the WebSocket layer rejected the stream (a bad frame, a bad close code, …);
 * - `unresponsive`: nothing, not even a pong, came from the peer within the liveness timeout;
 * - `upgrade-refused`: the listener we dialed answered the WebSocket upgrade with another HTTP status.
 */
export const CONNECTION_ERROR_REASONS = [
  'frame-too-large',
  'not-binary',
  'websocket-protocol',
  'unresponsive',
  'upgrade-refused',
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
