/**
 * Ping/pong liveness: a peer that stops answering pings is declared down and its socket terminated; a
 * peer that answers them stays up however long it sends nothing else; a peer that stops reading is
 * declared down even while it keeps pinging us.
 */
import { waitFor } from '@ackord/core/testing';
import { describe, expect, it } from 'vitest';
import { rawPeer } from './raw-peer.js';
import { CLUSTER_ID, startSite } from './ws-site.js';

const PING = { intervalMs: 50, timeoutMs: 400 };

describe('ws transport liveness', () => {
  it('declares a peer that misses pongs down and terminates its socket', async () => {
    const b = await startSite('b', [{ id: 'a' }], { ping: PING });
    try {
      const startedAt = performance.now();
      const a = await rawPeer(b.url, { siteId: 'a', clusterId: CLUSTER_ID }, { autoPong: false });
      expect(a.outcome.ok).toBe(true);
      await waitFor(() => b.transport.connectedPeers().has('a'), 'a up at b');
      // 1006: terminated, no closing handshake.
      expect(await a.closed).toBe(1006);
      const elapsedMs = performance.now() - startedAt;
      expect(elapsedMs).toBeGreaterThanOrEqual(PING.timeoutMs);
      await waitFor(() => b.recorder.count('peerDown', 'a') === 1, 'a down at b');
      expect(b.transport.connectedPeers().has('a')).toBe(false);
      expect(b.connectionErrors.map(({ error }) => error.reason)).toEqual(['unresponsive']);
      expect(b.connectionErrors[0]!.context.peer).toBe('a');
    } finally {
      await b.transport.close();
    }
  });

  it('keeps a quiet peer that answers pings', async () => {
    const b = await startSite('b', [{ id: 'a' }], { ping: PING });
    try {
      const a = await rawPeer(b.url, { siteId: 'a', clusterId: CLUSTER_ID });
      await waitFor(() => b.transport.connectedPeers().has('a'), 'a up at b');
      let pings = 0;
      a.ws.on('ping', () => pings++);
      await new Promise((resolve) => setTimeout(resolve, 3 * PING.timeoutMs));
      expect(pings).toBeGreaterThanOrEqual(3);
      expect(b.transport.connectedPeers().has('a')).toBe(true);
      expect(b.connectionErrors).toEqual([]);
      a.ws.close();
    } finally {
      await b.transport.close();
    }
  });

  it('declares a peer that reads nothing down, even while it keeps pinging', async () => {
    const b = await startSite('b', [{ id: 'a' }], { ping: PING, sendQueueBytes: 1024 * 1024 });
    const a = await rawPeer(b.url, { siteId: 'a', clusterId: CLUSTER_ID });
    const pinging = setInterval(() => a.ws.ping(), PING.intervalMs / 2);
    try {
      await waitFor(() => b.transport.connectedPeers().has('a'), 'a up at b');
      a.ws.pause();
      const frame = new Uint8Array(64 * 1024);
      let refused = 0;
      // Fill the kernel's buffers and b's watermark; keep offering frames until b gives up on a.
      for (let round = 0; b.connectionErrors.length === 0; round++) {
        if (round > 2_000) throw new Error('b never gave up on a');
        for (let index = 0; index < 32; index++)
          if (b.transport.send('a', frame) === 'backpressure') refused++;
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      expect(refused).toBeGreaterThan(0);
      expect(b.connectionErrors.map(({ error }) => error.reason)).toEqual(['unresponsive']);
      expect(b.connectionErrors[0]!.error.detail).toMatch(/read none of what we sent/);
      await waitFor(() => b.recorder.count('peerDown', 'a') === 1, 'a down at b');
      clearInterval(pinging);
      a.ws.resume();
      expect(await a.closed).toBe(1006);
      expect(b.recorder.count('peerDown', 'a')).toBe(1);
    } finally {
      clearInterval(pinging);
      a.ws.terminate();
      await b.transport.close();
    }
  });
});
