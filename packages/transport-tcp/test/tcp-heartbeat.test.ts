/**
 * Heartbeats: once authenticated, a side that wrote nothing for an interval writes a keepalive (the
 * reserved length prefix, never delivered); a peer that goes silent, or that stops reading while it
 * still writes, is closed as `unresponsive` with one peer-down; two idle transports stay up.
 */
import type { ConnectionContext, ConnectionError, SiteId } from '@ackord/core';
import { EventRecorder, waitFor } from '@ackord/core/testing';
import { describe, expect, it } from 'vitest';
import {
  createTcpTransport,
  FRAME_LENGTH_BYTES,
  TCP_KEEPALIVE_LENGTH,
  type TcpTransport,
  type TcpTransportOptions,
} from '../src/index.js';
import { rawTcpPeer } from './raw-tcp-peer.js';
import { SECRET } from './tcp-fixture.js';

const CLUSTER_ID = 'heartbeat';
const HEARTBEAT = { intervalMs: 50, timeoutMs: 400 };
const KEEPALIVE = Buffer.from([0xff, 0xff, 0xff, 0xfe]);

interface Site {
  readonly transport: TcpTransport;
  readonly recorder: EventRecorder;
  readonly connectionErrors: { error: ConnectionError; context: ConnectionContext }[];
  readonly port: number;
}

async function site(
  siteId: SiteId,
  peers: TcpTransportOptions['peers'],
  overrides: Partial<TcpTransportOptions> = {},
): Promise<Site> {
  const transport = createTcpTransport({
    siteId,
    listen: { host: '127.0.0.1', port: 0 },
    peers,
    clusterId: CLUSTER_ID,
    secret: SECRET,
    handshakeTimeoutMs: 2_000,
    reconnect: { minMs: 20, maxMs: 100 },
    heartbeat: HEARTBEAT,
    ...overrides,
  });
  const recorder = new EventRecorder();
  const connectionErrors: Site['connectionErrors'] = [];
  transport.on('connectionError', (error, context) => connectionErrors.push({ error, context }));
  await transport.start(recorder.handlers);
  return { transport, recorder, connectionErrors, port: transport.address().port };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Splits what a transport sent into keepalives and frames (lengths only). */
function parse(bytes: Buffer): { keepalives: number; frames: number[] } {
  let keepalives = 0;
  const frames: number[] = [];
  for (let offset = 0; offset + FRAME_LENGTH_BYTES <= bytes.length; ) {
    const length = bytes.readUInt32BE(offset);
    offset += FRAME_LENGTH_BYTES;
    if (length === TCP_KEEPALIVE_LENGTH) keepalives++;
    else {
      frames.push(length);
      offset += length;
    }
  }
  return { keepalives, frames };
}

describe('tcp transport heartbeats', () => {
  it('reserves a length above every frame limit for the keepalive', () => {
    expect(TCP_KEEPALIVE_LENGTH).toBe(KEEPALIVE.readUInt32BE(0));
    expect(TCP_KEEPALIVE_LENGTH).toBeGreaterThan(256 * 1024 * 1024);
    expect(TCP_KEEPALIVE_LENGTH).not.toBe(0xffff_ffff);
  });

  it('writes keepalives to a quiet peer, only while it sends nothing else, and delivers none of the peer’s', async () => {
    const b = await site('b', [{ id: 'a' }]);
    const a = await rawTcpPeer(b.port, 'a', CLUSTER_ID);
    const ticking = setInterval(() => a.socket.write(KEEPALIVE), HEARTBEAT.intervalMs);
    try {
      expect(a.outcome.ok).toBe(true);
      await waitFor(() => b.transport.connectedPeers().has('a'), 'a up at b');
      await sleep(8 * HEARTBEAT.intervalMs);
      const idle = parse(a.received());
      expect(idle.frames).toEqual([]);
      expect(idle.keepalives).toBeGreaterThanOrEqual(4);
      // While b sends frames at a faster pace than its interval, it writes no keepalive.
      const before = a.received().length;
      const sending = setInterval(() => b.transport.send('a', Uint8Array.of(1, 2, 3)), 10);
      await sleep(8 * HEARTBEAT.intervalMs);
      clearInterval(sending);
      const busy = parse(a.received().subarray(before));
      expect(busy.frames.length).toBeGreaterThanOrEqual(10);
      expect(busy.keepalives).toBeLessThanOrEqual(2);
      // a's keepalives kept it up; none was delivered, and an empty frame still is.
      a.socket.write(Buffer.alloc(FRAME_LENGTH_BYTES));
      await waitFor(() => b.recorder.frames('a').length === 1, 'the empty frame');
      expect(b.recorder.frames('a')[0]).toEqual(new Uint8Array(0));
      expect(b.recorder.events.map(({ kind }) => kind)).toEqual(['peerUp', 'frame']);
      expect(b.connectionErrors).toEqual([]);
    } finally {
      clearInterval(ticking);
      a.socket.destroy();
      await b.transport.close();
    }
  });

  it('keeps two idle transports connected, delivering nothing, across many timeouts', async () => {
    const b = await site('b', [{ id: 'a' }]);
    const a = await site('a', [{ id: 'b', host: '127.0.0.1', port: b.port }]);
    try {
      await waitFor(
        () => a.transport.connectedPeers().has('b') && b.transport.connectedPeers().has('a'),
        'a and b up',
      );
      await sleep(3 * HEARTBEAT.timeoutMs);
      expect(a.recorder.events.map(({ kind, site }) => `${kind}:${site}`)).toEqual(['peerUp:b']);
      expect(b.recorder.events.map(({ kind, site }) => `${kind}:${site}`)).toEqual(['peerUp:a']);
      expect([...a.connectionErrors, ...b.connectionErrors]).toEqual([]);
      expect(a.transport.send('b', new Uint8Array(0))).toBe('queued');
      await waitFor(() => b.recorder.frames('a').length === 1, 'the empty frame');
      expect(b.recorder.frames('a')[0]!.length).toBe(0);
    } finally {
      await Promise.all([a.transport.close(), b.transport.close()]);
    }
  });

  it('closes a peer that goes silent after the handshake: unresponsive, one peer-down', async () => {
    const b = await site('b', [{ id: 'a' }]);
    try {
      const a = await rawTcpPeer(b.port, 'a', CLUSTER_ID);
      expect(a.outcome.ok).toBe(true);
      await waitFor(() => b.transport.connectedPeers().has('a'), 'a up at b');
      const upAt = performance.now();
      await a.closed;
      expect(performance.now() - upAt).toBeGreaterThanOrEqual(HEARTBEAT.timeoutMs - HEARTBEAT.intervalMs);
      await waitFor(() => b.recorder.count('peerDown', 'a') === 1, 'a down at b');
      expect(b.transport.connectedPeers().has('a')).toBe(false);
      expect(b.connectionErrors.map(({ error }) => [error.code, error.reason])).toEqual([
        ['ERR_ACKORD_CONNECTION', 'unresponsive'],
      ]);
      expect(b.connectionErrors[0]!.error.detail).toMatch(/nothing heard from the peer/);
      expect(b.connectionErrors[0]!.context).toEqual({ peer: 'a', remoteAddress: '127.0.0.1' });
      expect(b.transport.send('a', Uint8Array.of(1))).toBe('peerDown');
      await sleep(2 * HEARTBEAT.timeoutMs);
      expect(b.recorder.count('peerDown', 'a')).toBe(1);
      expect(b.connectionErrors).toHaveLength(1);
    } finally {
      await b.transport.close();
    }
  });

  it('closes a peer that stops reading, even while it keeps writing keepalives', async () => {
    const b = await site('b', [{ id: 'a' }], { sendQueueBytes: 1024 * 1024 });
    const a = await rawTcpPeer(b.port, 'a', CLUSTER_ID);
    const ticking = setInterval(() => a.socket.write(KEEPALIVE), HEARTBEAT.intervalMs / 2);
    try {
      expect(a.outcome.ok).toBe(true);
      await waitFor(() => b.transport.connectedPeers().has('a'), 'a up at b');
      a.socket.pause();
      const frame = new Uint8Array(64 * 1024);
      const outcomes = new Map<string, number>();
      // Fill the kernel's buffers and then b's queue; keep offering frames until b gives up on a.
      for (let round = 0; b.connectionErrors.length === 0; round++) {
        if (round > 2_000) throw new Error('b never gave up on a');
        for (let index = 0; index < 32; index++) {
          const outcome = b.transport.send('a', frame);
          outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
        }
        await sleep(5);
      }
      expect(outcomes.get('backpressure')).toBeGreaterThan(0);
      expect(b.connectionErrors.map(({ error }) => error.reason)).toEqual(['unresponsive']);
      expect(b.connectionErrors[0]!.error.detail).toMatch(/read none of what we sent/);
      expect(b.connectionErrors[0]!.context.peer).toBe('a');
      await waitFor(() => b.recorder.count('peerDown', 'a') === 1, 'a down at b');
      expect(b.transport.send('a', frame)).toBe('peerDown');
      // A paused socket never reads the end of the stream: read again to see it closed.
      clearInterval(ticking);
      a.socket.resume();
      await a.closed;
      expect(b.recorder.count('peerDown', 'a')).toBe(1);
    } finally {
      clearInterval(ticking);
      a.socket.destroy();
      await b.transport.close();
    }
  });
});
