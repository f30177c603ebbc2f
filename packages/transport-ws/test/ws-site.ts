/** One WebSocket transport site on 127.0.0.1 with every event it emits recorded, for focused tests. */
import type { ConnectionContext, ConnectionError, HandshakeError, SiteId, TlsError } from '@ackord/core';
import { EventRecorder } from '@ackord/core/testing';
import { createWsTransport, type WsTransport, type WsTransportOptions } from '../src/index.js';
import { SECRET } from './ws-fixture.js';

export const CLUSTER_ID = 'ws-tests';

export interface Site {
  readonly transport: WsTransport;
  readonly recorder: EventRecorder;
  readonly handshakeErrors: { error: HandshakeError; context: ConnectionContext }[];
  readonly tlsErrors: { error: TlsError; context: ConnectionContext }[];
  readonly connectionErrors: { error: ConnectionError; context: ConnectionContext }[];
  readonly port: number;
  /** The URL a peer dials to reach this site. */
  readonly url: string;
}

export async function startSite(
  siteId: SiteId,
  peers: WsTransportOptions['peers'],
  overrides: Partial<WsTransportOptions> = {},
): Promise<Site> {
  const transport = createWsTransport({
    siteId,
    listen: { host: '127.0.0.1', port: 0 },
    peers,
    clusterId: CLUSTER_ID,
    secret: SECRET,
    maxFrameBytes: 1024 * 1024,
    handshakeTimeoutMs: 2_000,
    reconnect: { minMs: 20, maxMs: 100 },
    ...overrides,
  });
  const recorder = new EventRecorder();
  const site = {
    transport,
    recorder,
    handshakeErrors: [] as Site['handshakeErrors'],
    tlsErrors: [] as Site['tlsErrors'],
    connectionErrors: [] as Site['connectionErrors'],
  };
  transport.on('handshakeError', (error, context) => site.handshakeErrors.push({ error, context }));
  transport.on('tlsError', (error, context) => site.tlsErrors.push({ error, context }));
  transport.on('connectionError', (error, context) => site.connectionErrors.push({ error, context }));
  await transport.start(recorder.handlers);
  const port = transport.address().port;
  const scheme = overrides.wss === undefined ? 'ws' : 'wss';
  return { ...site, port, url: `${scheme}://127.0.0.1:${port}/ackord` };
}
