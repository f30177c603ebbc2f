/**
 * Authentication and the limits before it: a wrong secret or cluster is refused on both sides; only
 * lower ids may dial; nothing but the handshake is parsed before it passes; a silent connection times
 * out; unauthenticated connections are capped; and a stranger cannot make the listener buffer a big
 * message before the handshake.
 */
import { connect } from 'node:net';
import { waitFor } from '@ackord/core/testing';
import { describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { WS_UNAUTHENTICATED_MAX_BYTES } from '../src/index.js';
import { binaryFrameHeader, rawPeer, rawUpgrade } from './raw-peer.js';
import { CLUSTER_ID, startSite } from './ws-site.js';

/** Retries `attempt` for up to a second: the listener notices closed sockets on its own schedule. */
async function admittedSoon<T>(attempt: () => Promise<T>): Promise<T> {
  for (let tries = 1; ; tries++) {
    try {
      return await attempt();
    } catch (error) {
      if (tries >= 50) throw error;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
}

describe('ws transport authentication', () => {
  for (const [what, overrides, reason] of [
    ['a wrong secret', { secret: 'another secret, also long' }, 'bad-proof'],
    ['a wrong cluster id', { clusterId: 'elsewhere' }, 'wrong-cluster'],
  ] as const) {
    it(`refuses ${what} on both sides`, async () => {
      const b = await startSite('b', [{ id: 'a' }]);
      const a = await startSite('a', [{ id: 'b', host: '127.0.0.1', port: b.port }], overrides);
      try {
        await waitFor(
          () => a.handshakeErrors.length > 0 && b.handshakeErrors.length > 0,
          'handshake errors on both sides',
        );
        expect(a.handshakeErrors[0]!.error.reason).toBe(reason);
        expect(a.handshakeErrors[0]!.context.peer).toBe('b');
        expect(b.handshakeErrors[0]!.error.reason).toBe(reason);
        expect(b.handshakeErrors[0]!.error.code).toBe('ERR_ACKORD_HANDSHAKE');
        expect(a.transport.send('b', Uint8Array.of(1))).toBe('peerDown');
        expect(a.recorder.events).toEqual([]);
        expect(b.recorder.events).toEqual([]);
      } finally {
        await Promise.all([a.transport.close(), b.transport.close()]);
      }
    });
  }

  it('accepts only lower ids: a site it should dial, or a stranger, is an unknown peer', async () => {
    // b dials c (nobody listens there); a may dial b.
    const b = await startSite('b', [{ id: 'a' }, { id: 'c', host: '127.0.0.1', port: 9 }]);
    try {
      for (const siteId of ['c', 'mallory']) {
        const peer = await rawPeer(b.url, { siteId, clusterId: CLUSTER_ID });
        expect(peer.outcome.ok).toBe(false);
        if (!peer.outcome.ok) expect(peer.outcome.error.reason).toBe('unknown-peer');
        await peer.closed;
      }
      expect(b.handshakeErrors.map(({ error }) => error.reason)).toEqual(['unknown-peer', 'unknown-peer']);
      const a = await rawPeer(b.url, { siteId: 'a', clusterId: CLUSTER_ID });
      expect(a.outcome).toEqual({ ok: true, peer: 'b' });
      await waitFor(() => b.transport.connectedPeers().has('a'), 'a up at b');
      a.ws.close();
    } finally {
      await b.transport.close();
    }
  });

  it('parses nothing but the handshake from an unauthenticated WebSocket', async () => {
    const b = await startSite('b', [{ id: 'a' }]);
    const ws = new WebSocket(b.url, { perMessageDeflate: false });
    ws.on('error', () => undefined);
    try {
      await new Promise((resolve) => ws.once('open', resolve));
      ws.send(Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8));
      await waitFor(() => b.handshakeErrors.length === 1, 'a refusal');
      expect(b.handshakeErrors[0]!.error.reason).toBe('bad-magic');
      expect(b.handshakeErrors[0]!.context).toEqual({ peer: undefined, remoteAddress: '127.0.0.1' });
      expect(b.recorder.events).toEqual([]);
    } finally {
      ws.terminate();
      await b.transport.close();
    }
  });

  it('closes a connection that sends a text message during the handshake', async () => {
    const b = await startSite('b', [{ id: 'a' }]);
    const ws = new WebSocket(b.url, { perMessageDeflate: false });
    ws.on('error', () => undefined);
    const closed = new Promise<number>((resolve) => ws.once('close', resolve));
    try {
      await new Promise((resolve) => ws.once('open', resolve));
      ws.send('AKHS hello');
      expect(await closed).toBe(1003);
      expect(b.connectionErrors.map(({ error }) => error.reason)).toEqual(['not-binary']);
      expect(b.recorder.events).toEqual([]);
    } finally {
      ws.terminate();
      await b.transport.close();
    }
  });

  it('times out a WebSocket that never speaks, and a socket that never even upgrades', async () => {
    const b = await startSite('b', [{ id: 'a' }], { handshakeTimeoutMs: 150 });
    const ws = new WebSocket(b.url, { perMessageDeflate: false });
    ws.on('error', () => undefined);
    const tcp = connect({ host: '127.0.0.1', port: b.port });
    tcp.on('error', () => undefined);
    try {
      await Promise.all([
        new Promise((resolve) => ws.once('close', resolve)),
        new Promise((resolve) => tcp.once('close', resolve)),
      ]);
      expect(b.handshakeErrors.map(({ error }) => error.reason)).toEqual(['timeout', 'timeout']);
    } finally {
      ws.terminate();
      tcp.destroy();
      await b.transport.close();
    }
  });

  it('caps unauthenticated connections, counted from the TCP accept', async () => {
    const b = await startSite('b', [{ id: 'a' }], { maxUnauthenticated: 2, handshakeTimeoutMs: 10_000 });
    const holders = [0, 1].map(() =>
      connect({ host: '127.0.0.1', port: b.port }).on('error', () => undefined),
    );
    try {
      await Promise.all(holders.map((socket) => new Promise((resolve) => socket.once('connect', resolve))));
      await new Promise((resolve) => setTimeout(resolve, 20));
      // Both slots are held by sockets that never sent an HTTP request: a real peer is refused now...
      await expect(rawPeer(b.url, { siteId: 'a', clusterId: CLUSTER_ID })).rejects.toThrow(/closed/);
      await waitFor(() => b.connectionErrors.length === 1, 'the refusal reported');
      expect(b.connectionErrors.map(({ error }) => [error.code, error.reason])).toEqual([
        ['ERR_ACKORD_CONNECTION', 'unauthenticated-cap'],
      ]);
      expect(b.connectionErrors[0]!.context).toEqual({ peer: undefined, remoteAddress: '127.0.0.1' });
      for (const socket of holders) socket.destroy();
      // ...and gets in once the listener has seen them go.
      const a = await admittedSoon(() => rawPeer(b.url, { siteId: 'a', clusterId: CLUSTER_ID }));
      expect(a.outcome.ok).toBe(true);
      expect(b.handshakeErrors).toEqual([]);
      a.ws.close();
    } finally {
      for (const socket of holders) socket.destroy();
      await b.transport.close();
    }
  });

  it('closes a stranger whose first message is bigger than the handshake, before it is all buffered', async () => {
    const b = await startSite('b', [{ id: 'a' }]);
    const socket = await rawUpgrade(b.port);
    const closed = new Promise((resolve) => socket.once('close', resolve));
    try {
      // A message within maxPayload (1 MiB) that never completes: only the byte budget can stop it.
      socket.write(binaryFrameHeader(1024 * 1024));
      socket.write(Buffer.alloc(2 * WS_UNAUTHENTICATED_MAX_BYTES, 0x41));
      await closed;
      expect(b.handshakeErrors.map(({ error }) => error.reason)).toEqual(['oversize']);
      expect(b.handshakeErrors[0]!.error.detail).toMatch(/bytes arrived before the handshake ended/);
      expect(b.recorder.events).toEqual([]);
    } finally {
      socket.destroy();
      await b.transport.close();
    }
  });
});
