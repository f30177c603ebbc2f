/** Frames sent in one turn of the event loop leave the socket together, not one write() each. */
import { Socket } from 'node:net';
import { EventRecorder, waitFor } from '@ackord/core/testing';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { tcpFixture } from './tcp-fixture.js';

afterEach(() => {
  vi.restoreAllMocks();
});

describe('tcp transport write batching', () => {
  it('hands a synchronous burst of frames to the socket in one batch, in order', async () => {
    const fixture = tcpFixture();
    const recorders = new Map([
      ['a', new EventRecorder()],
      ['b', new EventRecorder()],
    ]);
    const transports = await fixture.start(['a', 'b'], (site) => recorders.get(site)!.handlers);
    try {
      const a = transports.get('a')!;
      await waitFor(() => a.connectedPeers().has('b'), 'a connected to b');
      const writes = vi.spyOn(Socket.prototype, '_write');
      const writevs = vi.spyOn(Socket.prototype, '_writev');
      const count = 200;
      for (let index = 0; index < count; index++) expect(a.send('b', Uint8Array.of(index))).toBe('queued');
      await new Promise((resolve) => setImmediate(resolve));
      // Unbatched, every frame is its own _write call (the socket takes each one at once).
      expect(writes.mock.calls.length + writevs.mock.calls.length).toBeLessThanOrEqual(2);
      await waitFor(() => recorders.get('b')!.frames('a').length === count, 'every frame at b');
      expect(
        recorders
          .get('b')!
          .frames('a')
          .map((frame) => frame[0]),
      ).toEqual(Array.from({ length: count }, (_, index) => index));
    } finally {
      await fixture.close();
    }
  });
});
