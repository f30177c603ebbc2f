/**
 * TCP both ways: the Ackord transport (`@ackord/transport-tcp`, handshake included) and the ceiling, a
 * bare `node:net` socket with the same u32 length-prefix framing and nothing else: no handshake, no
 * per-frame copy on receive, no bounds, no handlers.
 */
import { createConnection, createServer, type Socket } from 'node:net';
import type { SiteId } from '../../packages/core/src/index.js';
import { createTcpTransport } from '../../packages/transport-tcp/src/index.js';
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

const LENGTH_BYTES = 4;

function encode(frame: Uint8Array): Buffer {
  const bytes = Buffer.allocUnsafe(LENGTH_BYTES + frame.length);
  bytes.writeUInt32BE(frame.length, 0);
  bytes.set(frame, LENGTH_BYTES);
  return bytes;
}

/** The minimal reader: frames are views into the chunk (copied only when a frame spans chunks). */
function onFrames(socket: Socket, handle: (frame: Buffer) => void): void {
  let pending: Buffer | undefined;
  socket.on('data', (chunk: Buffer) => {
    const buffer = pending === undefined ? chunk : Buffer.concat([pending, chunk]);
    let offset = 0;
    while (buffer.length - offset >= LENGTH_BYTES) {
      const length = buffer.readUInt32BE(offset);
      if (buffer.length - offset - LENGTH_BYTES < length) break;
      handle(buffer.subarray(offset + LENGTH_BYTES, offset + LENGTH_BYTES + length));
      offset += LENGTH_BYTES + length;
    }
    pending = offset < buffer.length ? buffer.subarray(offset) : undefined;
  });
}

function listening(server: ReturnType<typeof createServer>): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: HOST, port: 0 }, () => {
      const address = server.address();
      resolve(typeof address === 'object' && address !== null ? address.port : 0);
    });
  });
}

export async function startBareTcpServer(): Promise<EchoServer> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    socket.setNoDelay(true);
    onFrames(socket, (frame) => socket.write(encode(frame)));
  });
  const port = await listening(server);
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

export async function connectBareTcp(port: number): Promise<EchoLink> {
  const socket = createConnection({ host: HOST, port });
  socket.setNoDelay(true);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  const link: EchoLink = {
    send: (frame) => void socket.write(encode(frame)),
    onReply: () => undefined,
    close: async () => {
      socket.destroy();
    },
  };
  onFrames(socket, (frame) => link.onReply(frame));
  return link;
}

export async function startAckordTcpServer(): Promise<EchoServer> {
  const transport = createTcpTransport({
    siteId: SERVER_SITE,
    listen: { host: HOST, port: 0 },
    peers: [{ id: CLIENT_SITE }],
    clusterId: CLUSTER_ID,
    secret: SECRET,
  });
  await transport.start({
    frame: (from: SiteId, frame: Uint8Array) => {
      const outcome = transport.send(from, frame);
      if (outcome !== 'queued') throw new Error(`echo send: ${outcome}`);
    },
    peerUp: () => undefined,
    peerDown: () => undefined,
  });
  return { port: transport.address().port, close: () => transport.close() };
}

export async function connectAckordTcp(port: number): Promise<EchoLink> {
  const transport = createTcpTransport({
    siteId: CLIENT_SITE,
    listen: { host: HOST, port: 0 },
    peers: [{ id: SERVER_SITE, host: HOST, port }],
    clusterId: CLUSTER_ID,
    secret: SECRET,
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
  await until(() => transport.connectedPeers().has(SERVER_SITE), 'the Ackord TCP handshake');
  return link;
}
