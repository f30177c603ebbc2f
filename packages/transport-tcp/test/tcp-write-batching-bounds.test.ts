/**
 * The edges of write batching: the first frame of an event-loop iteration is not held back, and a
 * corked batch is flushed once half the socket's high-water mark waits in it, even if the code sending
 * never yields.
 */
import { Socket } from 'node:net';
import { EventRecorder, waitFor } from '@ackord/core/testing';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { tcpFixture } from './tcp-fixture.js';

afterEach(() => {
  vi.restoreAllMocks();
});

async function connectedPair() {
  const fixture = tcpFixture();
  const recorders = new Map([
    ['a', new EventRecorder()],
    ['b', new EventRecorder()],
  ]);
  const transports = await fixture.start(['a', 'b'], (site) => recorders.get(site)!.handlers);
  const a = transports.get('a')!;
  await waitFor(() => a.connectedPeers().has('b'), 'a connected to b');
  // Let the handshake's own writes and their batch go by.
  await new Promise((resolve) => setImmediate(resolve));
  return { fixture, a, received: () => recorders.get('b')!.frames('a') };
}

describe('tcp transport write batching: bounds', () => {
  it('hands the first frame of an iteration to the socket at once', async () => {
    const { fixture, a, received } = await connectedPair();
    try {
      const writes = vi.spyOn(Socket.prototype, '_write');
      const writevs = vi.spyOn(Socket.prototype, '_writev');
      expect(a.send('b', Uint8Array.of(7))).toBe('queued');
      // Synchronously: not waiting for a tick, an immediate or the rest of the iteration.
      expect(writes.mock.calls.length + writevs.mock.calls.length).toBe(1);
      await waitFor(() => received().length === 1, 'the frame at b');
    } finally {
      await fixture.close();
    }
  });

  it('flushes a corked batch at half the high-water mark, without the event loop turning', async () => {
    const { fixture, a, received } = await connectedPair();
    try {
      const writes = vi.spyOn(Socket.prototype, '_write');
      const writevs = vi.spyOn(Socket.prototype, '_writev');
      const frameBytes = 1024;
      const batchBytes = new Socket().writableHighWaterMark / 2;
      const count = Math.ceil((4 * batchBytes) / frameBytes) + 1;
      for (let index = 0; index < count; index++) {
        const frame = new Uint8Array(frameBytes).fill(index % 251);
        expect(a.send('b', frame)).toBe('queued');
      }
      // The first frame, then at least four full batches, all before any callback could run.
      expect(writes.mock.calls.length + writevs.mock.calls.length).toBeGreaterThanOrEqual(5);
      await waitFor(() => received().length === count, 'every frame at b');
      expect(received().map((frame) => frame[0])).toEqual(
        Array.from({ length: count }, (_, index) => index % 251),
      );
    } finally {
      await fixture.close();
    }
  });
});
