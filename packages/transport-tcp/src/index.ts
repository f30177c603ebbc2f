/**
 * @packageDocumentation
 * TCP transport for Ackord: node:net, u32 length-prefixed frames, every connection authenticated with
 * the shared handshake from `@ackord/core` (cluster id, site id, HMAC challenge-response). The site
 * whose id sorts lower dials; reconnects use capped exponential back-off with full jitter. Heartbeats
 * (a reserved length prefix, 0xFFFFFFFE, as the keepalive) close a peer that goes silent or stops
 * reading. Optional TLS with mutual authentication (`tls: { ca, cert, key }`); the handshake still runs
 * inside it.
 *
 * @example
 * ```ts
 * import { createTcpTransport } from '@ackord/transport-tcp';
 * const transport = createTcpTransport({
 *   siteId: 'a',
 *   listen: { host: '0.0.0.0', port: 7400 },
 *   peers: [{ id: 'b', host: 'b.internal', port: 7400 }],
 *   clusterId: 'orders',
 *   secret: process.env.ACKORD_SECRET!,
 * });
 * transport.on('handshakeError', (error) => console.warn(error.reason));
 * ```
 */

export type { TransportTlsOptions as TcpTlsOptions } from '@ackord/core';
export { encodeTcpFrame, FRAME_LENGTH_BYTES, FrameReader, TCP_KEEPALIVE_LENGTH } from './frame-reader.js';
export {
  TCP_HEARTBEAT_INTERVAL_MS_DEFAULT,
  TCP_HEARTBEAT_TIMEOUT_MS_DEFAULT,
  TCP_MAX_FRAME_BYTES_LIMIT,
  type TcpTransportOptions,
} from './options.js';
export { createTcpTransport, TcpTransport, type TcpTransportEvents } from './tcp-transport.js';
