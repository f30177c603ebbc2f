/**
 * Write batching over WebSocket: the frames sent in one event-loop iteration leave the TCP socket in a
 * few writes, not one write (or writev) each — and still as one WebSocket message per frame, complete,
 * in order and byte-exact, so a peer reading plain `ws` messages (an older Ackord) sees no difference.
 * The bounds match the TCP transport's: the first frame of an iteration is not held back, and a corked
 * batch is flushed at half the socket's high-water mark even if the sender never yields.
 */
import { Socket } from 'node:net';
import { EventRecorder, waitFor } from '@ackord/core/testing';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { rawPeer } from './raw-peer.js';
import { wsFixture } from './ws-fixture.js';
import { CLUSTER_ID, startSite } from './ws-site.js';

afterEach(() => {
  vi.restoreAllMocks();
});

/** Frame `index` of a burst: 1 to 48 bytes, every byte derived from the index and its position. */
function frame(index: number, bytes = 1 + ((index * 7) % 48)): Uint8Array {
  const frame = new Uint8Array(bytes);
  for (let at = 0; at < bytes; at++) frame[at] = (index * 31 + at * 13) & 0xff;
  return frame;
}

/** Counts the writes every socket in this process hands to the kernel from now on. */
function spyOnSocketWrites(): () => number {
  const writes = vi.spyOn(Socket.prototype, '_write');
  const writevs = vi.spyOn(Socket.prototype, '_writev');
  return () => writes.mock.calls.length + writevs.mock.calls.length;
}

/** Two transports, a (dials, so it masks what it sends) and b (accepts: sends unmasked), connected. */
async function connectedPair() {
  const fixture = wsFixture();
  const recorders = new Map([
    ['a', new EventRecorder()],
    ['b', new EventRecorder()],
  ]);
  const transports = await fixture.start(['a', 'b'], (site) => recorders.get(site)!.handlers);
  const a = transports.get('a')!;
  const b = transports.get('b')!;
  await waitFor(() => a.connectedPeers().has('b') && b.connectedPeers().has('a'), 'a and b connected');
  // Let the handshake's own writes and any batch they opened go by.
  await new Promise((resolve) => setImmediate(resolve));
  return { fixture, transports, received: (at: string, from: string) => recorders.get(at)!.frames(from) };
}

describe('ws transport write batching', () => {
  for (const [from, to, side] of [
    ['a', 'b', 'dialer (masked)'],
    ['b', 'a', 'listener (unmasked)'],
  ] as const)
    it(`hands a synchronous burst from the ${side} to the socket in a few writes, every frame intact`, async () => {
      const { fixture, transports, received } = await connectedPair();
      try {
        const sender = transports.get(from)!;
        const writes = spyOnSocketWrites();
        const count = 200;
        let bytes = 0;
        for (let index = 0; index < count; index++) {
          const sent = frame(index);
          bytes += sent.length + 6; // a WebSocket header of 2 bytes and a mask of 4 at most, at this size
          expect(sender.send(to, sent)).toBe('queued');
        }
        await new Promise((resolve) => setImmediate(resolve));
        // Unbatched, every frame is its own _write or _writev: 200 here. Batched: the first frame, then
        // the rest in batches of half the high-water mark (one or two, for these few KiB).
        const batch = new Socket().writableHighWaterMark / 2;
        expect(writes()).toBeLessThanOrEqual(2 + Math.ceil(bytes / batch));
        await waitFor(() => received(to, from).length === count, `every frame at ${to}`);
        const frames = received(to, from).map((bytes) => Buffer.from(bytes));
        expect(frames).toEqual(Array.from({ length: count }, (_, index) => Buffer.from(frame(index))));
      } finally {
        await fixture.close();
      }
    });

  it('hands the first frame of an iteration to the socket at once', async () => {
    const { fixture, transports, received } = await connectedPair();
    try {
      const writes = spyOnSocketWrites();
      expect(transports.get('a')!.send('b', frame(1))).toBe('queued');
      // Synchronously: not waiting for a tick, an immediate or the rest of the iteration.
      expect(writes()).toBe(1);
      await waitFor(() => received('b', 'a').length === 1, 'the frame at b');
    } finally {
      await fixture.close();
    }
  });

  it('flushes a corked batch at half the high-water mark, without the event loop turning', async () => {
    const { fixture, transports, received } = await connectedPair();
    try {
      const writes = spyOnSocketWrites();
      const frameBytes = 1024;
      const batchBytes = new Socket().writableHighWaterMark / 2;
      const count = Math.ceil((4 * batchBytes) / frameBytes) + 1;
      for (let index = 0; index < count; index++)
        expect(transports.get('b')!.send('a', frame(index, frameBytes))).toBe('queued');
      // The first frame, then at least four full batches, all before any callback could run.
      expect(writes()).toBeGreaterThanOrEqual(5);
      // …and far fewer than one write per frame.
      expect(writes()).toBeLessThan(count / 2);
      await waitFor(() => received('a', 'b').length === count, 'every frame at a');
      expect(received('a', 'b').map((bytes) => Buffer.from(bytes))).toEqual(
        Array.from({ length: count }, (_, index) => Buffer.from(frame(index, frameBytes))),
      );
    } finally {
      await fixture.close();
    }
  });

  it('still sends one WebSocket message per frame: a plain ws peer reads a batch frame by frame', async () => {
    const b = await startSite('b', [{ id: 'a' }]);
    try {
      const a = await rawPeer(b.url, { siteId: 'a', clusterId: CLUSTER_ID });
      await waitFor(() => b.transport.connectedPeers().has('a'), 'a up at b');
      const count = 100;
      for (let index = 0; index < count; index++) expect(b.transport.send('a', frame(index))).toBe('queued');
      await waitFor(() => a.frames.length === count, 'every message at the raw peer');
      expect(a.frames.map((bytes) => Buffer.from(bytes))).toEqual(
        Array.from({ length: count }, (_, index) => Buffer.from(frame(index))),
      );
      a.ws.close();
    } finally {
      await b.transport.close();
    }
  });
});
