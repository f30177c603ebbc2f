/**
 * Backpressure from `bufferedAmount`: against a peer that stops reading, `send` turns to `backpressure`
 * once the high watermark is passed and stays there; when the peer reads again, sending resumes and
 * every frame that was accepted arrives, in order.
 */
import { waitFor } from '@ackord/core/testing';
import { describe, expect, it } from 'vitest';
import { rawPeer } from './raw-peer.js';
import { CLUSTER_ID, startSite } from './ws-site.js';

const FRAME_BYTES = 64 * 1024;
/** Far beyond loopback's socket buffers, so backpressure must show up well before it. */
const MAX_BYTES_OFFERED = 256 * 1024 * 1024;

function frame(index: number): Uint8Array {
  const bytes = new Uint8Array(FRAME_BYTES);
  new DataView(bytes.buffer).setUint32(0, index);
  return bytes;
}

describe('ws transport backpressure', () => {
  it('reports backpressure above the high watermark and resumes below the low one', async () => {
    const b = await startSite('b', [{ id: 'a' }], {
      sendQueueBytes: 512 * 1024,
      sendQueueLowBytes: 128 * 1024,
    });
    try {
      const a = await rawPeer(b.url, { siteId: 'a', clusterId: CLUSTER_ID });
      await waitFor(() => b.transport.connectedPeers().has('a'), 'a up at b');
      a.ws.pause();
      let queued = 0;
      while (b.transport.send('a', frame(queued)) === 'queued') {
        queued++;
        expect(queued * FRAME_BYTES).toBeLessThan(MAX_BYTES_OFFERED);
        // Let the socket move what it can into the kernel, as a real sender's event loop would.
        if (queued % 8 === 0) await new Promise((resolve) => setImmediate(resolve));
      }
      // Nothing is read, so nothing drains: it stays refused.
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(b.transport.send('a', frame(queued))).toBe('backpressure');
      expect(b.transport.connectedPeers().has('a')).toBe(true);

      a.ws.resume();
      await waitFor(() => a.frames.length === queued, 'every accepted frame delivered', 10_000);
      expect(a.frames.map((bytes) => new DataView(bytes.buffer).getUint32(0))).toEqual(
        Array.from({ length: queued }, (_, index) => index),
      );
      expect(b.transport.send('a', frame(queued))).toBe('queued');
      await waitFor(() => a.frames.length === queued + 1, 'the next frame');
      a.ws.close();
    } finally {
      await b.transport.close();
    }
  });
});
