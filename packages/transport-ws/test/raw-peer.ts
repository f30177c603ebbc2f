/**
 * A peer on a bare `ws` socket that runs the real handshake from core, then does whatever a test wants:
 * stop reading, stop answering pings, send text. What the transport does about it is the test.
 */
import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { Handshake, type HandshakeOutcome, type SiteId } from '@ackord/core';
import { WebSocket } from 'ws';
import { SECRET } from './ws-fixture.js';

export interface RawPeer {
  readonly ws: WebSocket;
  readonly outcome: HandshakeOutcome;
  /** Binary messages after the handshake, in order. */
  readonly frames: Uint8Array[];
  /** The close code the transport sent (1006 if the socket was cut). */
  readonly closed: Promise<number>;
}

export interface RawPeerIdentity {
  readonly siteId: SiteId;
  readonly clusterId: string;
  readonly secret?: string;
}

export async function rawPeer(
  url: string,
  identity: RawPeerIdentity,
  options: ConstructorParameters<typeof WebSocket>[2] = {},
): Promise<RawPeer> {
  const ws = new WebSocket(url, { perMessageDeflate: false, ...options });
  ws.on('error', () => undefined);
  const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
  const handshake = new Handshake({
    role: 'initiator',
    siteId: identity.siteId,
    clusterId: identity.clusterId,
    secret: identity.secret ?? SECRET,
    randomBytes: (size) => randomBytes(size),
  });
  const frames: Uint8Array[] = [];
  const outcome = await new Promise<HandshakeOutcome>((resolve, reject) => {
    ws.once('close', () => reject(new Error('closed during the handshake')));
    ws.once('open', () => {
      for (const bytes of handshake.start().send) ws.send(bytes);
    });
    ws.on('message', (data: Buffer) => {
      if (handshake.outcome !== undefined) {
        frames.push(new Uint8Array(data));
        return;
      }
      const step = handshake.push(data);
      for (const bytes of step.send) ws.send(bytes);
      if (step.outcome !== undefined) resolve(step.outcome);
    });
  });
  return { ws, outcome, frames, closed };
}

/**
 * A bare TCP socket that completes the HTTP upgrade by hand, so a test can write raw WebSocket frame
 * bytes (a header that promises more than it sends, say). Resolves once the 101 has arrived.
 */
export async function rawUpgrade(port: number, path = '/ackord'): Promise<Socket> {
  const socket = connect({ host: '127.0.0.1', port });
  socket.on('error', () => undefined);
  const key = randomBytes(16).toString('base64');
  socket.write(
    `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
  );
  let response = '';
  await new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      response += chunk.toString('latin1');
      if (!response.includes('\r\n\r\n')) return;
      socket.off('data', onData);
      if (response.startsWith('HTTP/1.1 101')) resolve();
      else reject(new Error(`upgrade refused: ${response.split('\r\n')[0]}`));
    };
    socket.on('data', onData);
    socket.once('close', () => reject(new Error('closed before the upgrade')));
  });
  return socket;
}

/** A masked client-to-server binary frame header announcing `length` payload bytes (RFC 6455 §5.2). */
export function binaryFrameHeader(length: number): Buffer {
  const header = Buffer.alloc(14);
  header[0] = 0x82;
  header[1] = 0x80 | 127;
  header.writeBigUInt64BE(BigInt(length), 2);
  // Mask key: zero, so the payload goes on the wire as it is.
  header.writeUInt32BE(0, 10);
  return header;
}
