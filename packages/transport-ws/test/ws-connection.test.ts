/**
 * One WsConnection over a fake socket, after a real handshake: the watermark rule exactly (refuse
 * above the high mark, keep refusing until the low one, one frame always fits an empty buffer), and
 * what it hands out and sends are copies the other side cannot disturb.
 */
import { EventEmitter } from 'node:events';
import { Handshake, type LinkEvents, type SiteId } from '@ackord/core';
import { describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { WsConnection } from '../src/ws-connection.js';
import { SECRET } from './ws-fixture.js';

/** The parts of a `ws` WebSocket that WsConnection uses. */
class FakeSocket extends EventEmitter {
  readyState: number = WebSocket.OPEN;
  bufferedAmount = 0;
  readonly sent: Buffer[] = [];
  send(data: Uint8Array): void {
    this.sent.push(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
  }
  ping(): void {}
  close(): void {
    this.terminate();
  }
  terminate(): void {
    if (this.readyState === WebSocket.CLOSED) return;
    this.readyState = WebSocket.CLOSED;
    this.emit('close', 1006);
  }
}

const HIGH = 100;
const LOW = 40;

function connected() {
  const socket = new FakeSocket();
  const frames: Uint8Array[] = [];
  let peer: SiteId | undefined;
  const events: LinkEvents = {
    authenticated: (_link, site) => {
      peer = site;
    },
    failed: (_link, error) => {
      throw error;
    },
    frame: (_link, frame) => frames.push(frame),
    closed: () => undefined,
  };
  const handshake = {
    clusterId: 'unit',
    secret: SECRET,
    randomBytes: (size: number) => new Uint8Array(size).fill(7),
  };
  const connection = new WsConnection(
    socket as unknown as WebSocket,
    { handshake: { ...handshake, role: 'responder', siteId: 'b' }, handshakeTimeoutMs: 1_000, events },
    {
      maxFrameBytes: 1_000,
      sendQueueBytes: HIGH,
      sendQueueLowBytes: LOW,
      ping: { intervalMs: 60_000, timeoutMs: 120_000 },
      remoteAddress: '192.0.2.1',
    },
  );
  // The peer: a real handshake, its messages delivered as binary messages.
  const remote = new Handshake({
    ...handshake,
    role: 'initiator',
    siteId: 'a',
    randomBytes: () => new Uint8Array(32).fill(9),
  });
  const deliver = (bytes: readonly Uint8Array[]) => {
    for (const message of bytes) socket.emit('message', Buffer.from(message), true);
  };
  let read = 0;
  deliver(remote.start().send);
  for (let round = 0; round < 4 && remote.outcome === undefined; round++) {
    const replies = socket.sent.slice(read).flatMap((message) => remote.push(message).send);
    read = socket.sent.length;
    deliver(replies);
  }
  expect(remote.outcome?.ok).toBe(true);
  expect(peer).toBe('a');
  socket.sent.length = 0;
  return { socket, connection, frames };
}

describe('WsConnection', () => {
  it('refuses above the high watermark and keeps refusing until the low one', () => {
    const { socket, connection } = connected();
    const frame = new Uint8Array(30);
    expect(connection.send(frame)).toBe('queued');
    socket.bufferedAmount = 70;
    expect(connection.send(frame)).toBe('queued'); // 70 + 30 = 100: at the mark, not above
    socket.bufferedAmount = 80;
    expect(connection.send(frame)).toBe('backpressure');
    socket.bufferedAmount = 41;
    expect(connection.send(frame)).toBe('backpressure'); // drained below the high mark, not to the low one
    socket.bufferedAmount = LOW;
    expect(connection.send(frame)).toBe('queued');
    socket.bufferedAmount = 60;
    expect(connection.send(frame)).toBe('queued'); // unblocked again: only the high mark counts
    expect(socket.sent.length).toBe(4);
  });

  it('lets one frame above the watermark into an empty buffer, never into a busy one', () => {
    const { socket, connection } = connected();
    expect(connection.send(new Uint8Array(500))).toBe('queued');
    socket.bufferedAmount = 1;
    expect(connection.send(new Uint8Array(500))).toBe('backpressure');
    expect(connection.send(new Uint8Array(1_001))).toBe('tooLarge');
  });

  it('sends a copy, and hands out frames that are plain Uint8Arrays of their own', () => {
    const { socket, connection, frames } = connected();
    const frame = Uint8Array.of(1, 2, 3);
    connection.send(frame);
    frame[0] = 99;
    expect([...socket.sent[0]!]).toEqual([1, 2, 3]);
    const pooled = Buffer.from([4, 5, 6]); // a slice of Node's shared pool
    socket.emit('message', pooled, true);
    pooled[0] = 0;
    expect(frames.length).toBe(1);
    expect(Buffer.isBuffer(frames[0])).toBe(false);
    expect([...frames[0]!]).toEqual([4, 5, 6]);
  });

  it('reports peerDown once the socket is gone', () => {
    const { socket, connection } = connected();
    socket.terminate();
    expect(connection.send(Uint8Array.of(1))).toBe('peerDown');
  });
});
