/**
 * Ping/pong liveness: a peer that stops answering pings is declared down and its socket terminated; a
 * peer that answers them stays up however long it sends nothing else.
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
});
