/** What the compliance suite does not cover: refusals, the send bound, and the socket file. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { HandshakeError, SiteId } from '@ackord/core';
import { EventRecorder, waitFor } from '@ackord/core/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { UnixSocketTransport, type UnixSocketTransportOptions } from '../src/unix-socket-transport.js';
import { SECRET } from './unix-socket-fixture.js';

let directory: string;
const opened: UnixSocketTransport[] = [];

beforeEach(() => {
  directory = mkdtempSync(join(tmpdir(), 'ackord-uds-'));
});

afterEach(async () => {
  await Promise.all(opened.splice(0).map((transport) => transport.close()));
  rmSync(directory, { recursive: true, force: true });
});

function transport(siteId: SiteId, overrides: Partial<UnixSocketTransportOptions> = {}) {
  const other = siteId === 'a' ? 'b' : 'a';
  const created = new UnixSocketTransport({
    siteId,
    path: join(directory, `${siteId}.sock`),
    peers: [{ id: other, path: join(directory, `${other}.sock`) }],
    clusterId: 'tests',
    secret: SECRET,
    reconnect: { minMs: 5, maxMs: 20 },
    ...overrides,
  });
  opened.push(created);
  return created;
}

describe('unix socket transport', () => {
  it('refuses a peer with the wrong secret on both sides, and never reports it up', async () => {
    const errors: HandshakeError[] = [];
    const onHandshakeError = (error: HandshakeError) => errors.push(error);
    const a = transport('a', { onHandshakeError });
    const b = transport('b', { onHandshakeError, secret: 'another secret, just as long' });
    const heardA = new EventRecorder();
    const heardB = new EventRecorder();
    await b.start(heardB.handlers);
    await a.start(heardA.handlers);
    await waitFor(() => errors.length >= 2, 'a handshake error on each side');
    expect(errors.map((error) => error.reason)).toEqual(['bad-proof', 'bad-proof']);
    expect(a.send('b', Uint8Array.of(1))).toBe('peerDown');
    expect(heardA.events).toEqual([]);
    expect(heardB.events).toEqual([]);
  });

  it('says backpressure once the per-peer queue is full, and delivers everything it queued', async () => {
    const frameBytes = 256 * 1024;
    const limits = { maxFrameBytes: frameBytes, maxQueuedBytes: 2 * frameBytes };
    const a = transport('a', limits);
    const b = transport('b', limits);
    const heardB = new EventRecorder();
    await b.start(heardB.handlers);
    await a.start(new EventRecorder().handlers);
    await waitFor(() => a.connectedPeers().has('b'), 'a connected to b');
    // A synchronous burst: b cannot read before it ends, so whatever the kernel does not take waits in a's queue.
    let queued = 0;
    let outcome = a.send('b', new Uint8Array(frameBytes).fill(0));
    while (outcome === 'queued' && queued < 200) {
      queued++;
      outcome = a.send('b', new Uint8Array(frameBytes).fill(queued));
    }
    expect(outcome).toBe('backpressure');
    // The kernel's socket buffer takes a few frames; without a bound the loop would have run to 200.
    expect(queued).toBeLessThan(64);
    await waitFor(() => heardB.frames('a').length === queued, 'every queued frame at b');
    expect(heardB.frames('a').map((frame) => frame[frameBytes - 1])).toEqual(
      Array.from({ length: queued }, (_, index) => index & 0xff),
    );
    expect(a.send('b', Uint8Array.of(1))).toBe('queued');
  });

  it('listens over a file left behind by a crashed process, but not over a live listener', async () => {
    writeFileSync(join(directory, 'a.sock'), '');
    const heardA = new EventRecorder();
    const a = transport('a');
    await a.start(heardA.handlers);
    const impostor = transport('a');
    await expect(impostor.start(new EventRecorder().handlers)).rejects.toMatchObject({ code: 'EADDRINUSE' });
    const b = transport('b');
    await b.start(new EventRecorder().handlers);
    await waitFor(() => b.connectedPeers().has('a'), 'b reaches the first a');
    expect(b.send('a', Uint8Array.of(9))).toBe('queued');
    await waitFor(() => heardA.frames('b').length === 1, 'the frame at the first a');
    expect([...heardA.frames('b')[0]!]).toEqual([9]);
  });

  it('refuses a bad configuration when it is built, not on the first connection', () => {
    expect(() => transport('a', { maxFrameBytes: 1_000, maxQueuedBytes: 1_000 })).toThrow(/maxQueuedBytes/);
    expect(() => transport('a', { clusterId: '' })).toThrow(/clusterId/);
    expect(() => transport('a', { secret: '' })).toThrow(/secret/);
  });
});
