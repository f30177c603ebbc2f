/**
 * WebSocket both ways: the Ackord transport (`@ackord/transport-ws`, when its source exports
 * `createWsTransport`) and the ceiling, a bare `ws` echo of binary messages with permessage-deflate off.
 *
 * `@ackord/transport-ws` was written alongside this benchmark, so it is loaded with a dynamic import:
 * when its source does not export `createWsTransport`, the WebSocket rows are skipped with the reason
 * printed. Its options have the TCP transport's shape (listen + peers with host and port).
 */
import { WebSocket, WebSocketServer } from 'ws';
import type { SiteId, Transport } from '../../packages/core/src/index.js';
import {
  CLIENT_SITE,
  CLUSTER_ID,
  type EchoLink,
  type EchoServer,
  HOST,
  SECRET,
  SERVER_SITE,
  until,
} from './link.js';

export async function startBareWsServer(): Promise<EchoServer> {
  const server = new WebSocketServer({ host: HOST, port: 0, perMessageDeflate: false });
  server.on('connection', (socket) => {
    socket.on('error', () => undefined);
    socket.on('message', (data: Buffer) => socket.send(data, { binary: true }));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  const address = server.address();
  return {
    port: typeof address === 'object' && address !== null ? address.port : 0,
    close: () =>
      new Promise<void>((resolve) => {
        for (const client of server.clients) client.terminate();
        server.close(() => resolve());
      }),
  };
}

export async function connectBareWs(port: number): Promise<EchoLink> {
  const socket = new WebSocket(`ws://${HOST}:${port}`, { perMessageDeflate: false });
  socket.binaryType = 'nodebuffer';
  await new Promise<void>((resolve, reject) => {
    socket.once('open', resolve);
    socket.once('error', reject);
  });
  const link: EchoLink = {
    send: (frame) => socket.send(frame, { binary: true }),
    onReply: () => undefined,
    close: async () => {
      socket.terminate();
    },
  };
  socket.on('message', (data: Buffer) => link.onReply(data));
  return link;
}

interface WsTransportLike extends Transport {
  address?(): { readonly port: number } | string | null;
}
type WsFactory = (options: Record<string, unknown>) => WsTransportLike;

export type AckordWs = { readonly factory: WsFactory } | { readonly skipped: string };

/** `createWsTransport` from the package's source, if it exports one yet. */
export async function loadAckordWs(): Promise<AckordWs> {
  let module: Record<string, unknown>;
  try {
    module = await import('../../packages/transport-ws/src/index.js');
  } catch (error) {
    return { skipped: `packages/transport-ws/src does not load: ${(error as Error).message}` };
  }
  if (typeof module.createWsTransport !== 'function')
    return { skipped: 'packages/transport-ws/src does not export createWsTransport yet' };
  return { factory: module.createWsTransport as WsFactory };
}

const common = { clusterId: CLUSTER_ID, secret: SECRET, listen: { host: HOST, port: 0 } };

function portOf(transport: WsTransportLike): number {
  const address = transport.address?.();
  if (typeof address !== 'object' || address === null)
    throw new Error('the WebSocket transport has no address() giving its port');
  return address.port;
}

export async function startAckordWsServer(factory: WsFactory): Promise<EchoServer> {
  const transport = factory({ ...common, siteId: SERVER_SITE, peers: [{ id: CLIENT_SITE }] });
  await transport.start({
    frame: (from: SiteId, frame: Uint8Array) => {
      const outcome = transport.send(from, frame);
      if (outcome !== 'queued') throw new Error(`echo send: ${outcome}`);
    },
    peerUp: () => undefined,
    peerDown: () => undefined,
  });
  return { port: portOf(transport), close: () => transport.close() };
}

export async function connectAckordWs(factory: WsFactory, port: number): Promise<EchoLink> {
  const transport = factory({
    ...common,
    siteId: CLIENT_SITE,
    peers: [{ id: SERVER_SITE, host: HOST, port }],
  });
  const link: EchoLink = {
    send: (frame) => {
      const outcome = transport.send(SERVER_SITE, frame);
      if (outcome !== 'queued') throw new Error(`send: ${outcome}`);
    },
    onReply: () => undefined,
    close: () => transport.close(),
  };
  await transport.start({
    frame: (_from, frame) => link.onReply(frame),
    peerUp: () => undefined,
    peerDown: () => undefined,
  });
  await until(() => transport.connectedPeers().has(SERVER_SITE), 'the Ackord WebSocket handshake');
  return link;
}
