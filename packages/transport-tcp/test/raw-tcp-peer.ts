/**
 * A peer on a bare TCP socket that runs the real handshake from core, then does whatever a test wants:
 * stay silent, stop reading, write keepalives by hand. It records every byte the transport sends after
 * the handshake, so a test can see the keepalives on the wire.
 */
import { randomBytes } from 'node:crypto';
import { createConnection, type Socket } from 'node:net';
import { Handshake, type HandshakeOutcome, type SiteId } from '@ackord/core';
import { SECRET } from './tcp-fixture.js';

export interface RawTcpPeer {
  readonly socket: Socket;
  readonly outcome: HandshakeOutcome;
  /** Every byte the transport sent after the handshake, in order. */
  readonly received: () => Buffer;
  readonly closed: Promise<void>;
}

export async function rawTcpPeer(port: number, siteId: SiteId, clusterId: string): Promise<RawTcpPeer> {
  const socket = createConnection({ host: '127.0.0.1', port });
  socket.on('error', () => undefined);
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  const handshake = new Handshake({
    role: 'initiator',
    siteId,
    clusterId,
    secret: SECRET,
    randomBytes: (size) => randomBytes(size),
  });
  const after: Buffer[] = [];
  const outcome = await new Promise<HandshakeOutcome>((resolve, reject) => {
    socket.once('close', () => reject(new Error('closed during the handshake')));
    socket.once('connect', () => {
      for (const bytes of handshake.start().send) socket.write(bytes);
    });
    socket.on('data', (chunk: Buffer) => {
      if (handshake.outcome !== undefined) {
        after.push(chunk);
        return;
      }
      const step = handshake.push(chunk);
      for (const bytes of step.send) socket.write(bytes);
      if (step.rest.length > 0) after.push(Buffer.from(step.rest));
      if (step.outcome !== undefined) resolve(step.outcome);
    });
  });
  return { socket, outcome, received: () => Buffer.concat(after), closed };
}
