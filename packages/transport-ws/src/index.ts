/**
 * @packageDocumentation
 * WebSocket transport for Ackord: `ws`, one binary message per frame, permessage-deflate off,
 * ping/pong liveness, `bufferedAmount` watermarks for backpressure, every connection authenticated with
 * the shared handshake from `@ackord/core` before any frame is parsed. The site whose id sorts lower
 * dials; reconnects use capped exponential back-off with full jitter. Optional TLS (`wss: { ca, cert,
 * key }`) with mutual authentication; the handshake still runs inside it.
 *
 * @example
 * ```ts
 * import { createWsTransport } from '@ackord/transport-ws';
 * const transport = createWsTransport({
 *   siteId: 'a',
 *   listen: { host: '0.0.0.0', port: 7401 },
 *   peers: [{ id: 'b', host: 'b.internal', port: 7401 }],
 *   clusterId: 'orders',
 *   secret: process.env.ACKORD_SECRET!,
 * });
 * transport.on('handshakeError', (error) => console.warn(error.reason));
 * ```
 */

export type { TransportTlsOptions as WsTlsOptions } from '@ackord/core';
export {
  WS_DEFAULT_PATH,
  WS_PING_INTERVAL_MS_DEFAULT,
  WS_PONG_TIMEOUT_MS_DEFAULT,
  type WsTransportOptions,
} from './options.js';
export { WS_UNAUTHENTICATED_MAX_BYTES } from './unauthenticated-bytes.js';
export { WS_CLOSE_GRACE_MS } from './ws-connection.js';
export { createWsTransport, WsTransport, type WsTransportEvents } from './ws-transport.js';
