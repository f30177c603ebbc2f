/**
 * A peer with the wrong secret or the wrong cluster id is refused on both sides with a typed error
 * event, never comes up, and none of its frames are delivered.
 */
import { createConnection } from 'node:net';
import type { ConnectionContext, ConnectionError, HandshakeError, SiteId } from '@ackord/core';
import { EventRecorder, waitFor } from '@ackord/core/testing';
import { describe, expect, it } from 'vitest';
import { createTcpTransport, encodeTcpFrame, type TcpTransportOptions } from '../src/index.js';
import { SECRET } from './tcp-fixture.js';

function options(siteId: SiteId, overrides: Partial<TcpTransportOptions> = {}): TcpTransportOptions {
  return {
    siteId,
    listen: { host: '127.0.0.1', port: 0 },
    peers: [],
    clusterId: 'auth',
    secret: SECRET,
    handshakeTimeoutMs: 1_000,
    reconnect: { minMs: 20, maxMs: 100 },
    ...overrides,
  };
}

async function pair(bOverrides: Partial<TcpTransportOptions>) {
  const b = createTcpTransport(options('b', { peers: [{ id: 'a' }] }));
  const recorderB = new EventRecorder();
  const errorsB: HandshakeError[] = [];
  b.on('handshakeError', (error) => errorsB.push(error));
  await b.start(recorderB.handlers);
  const a = createTcpTransport(
    options('a', { peers: [{ id: 'b', host: '127.0.0.1', port: b.address().port }], ...bOverrides }),
  );
  const recorderA = new EventRecorder();
  const errorsA: HandshakeError[] = [];
  a.on('handshakeError', (error) => errorsA.push(error));
  await a.start(recorderA.handlers);
  return { a, b, recorderA, recorderB, errorsA, errorsB };
}

describe('tcp transport authentication', () => {
  for (const [what, overrides, reason] of [
    ['a wrong secret', { secret: 'another secret, also long' }, 'bad-proof'],
    ['a wrong cluster id', { clusterId: 'elsewhere' }, 'wrong-cluster'],
  ] as const) {
    it(`refuses ${what} on both sides`, async () => {
      const { a, b, recorderA, recorderB, errorsA, errorsB } = await pair(overrides);
      try {
        await waitFor(() => errorsA.length > 0 && errorsB.length > 0, 'handshake errors on both sides');
        expect(errorsA[0]!.reason).toBe(reason);
        expect(errorsB[0]!.reason).toBe(reason);
        expect(errorsB[0]!.code).toBe('ERR_ACKORD_HANDSHAKE');
        expect(a.send('b', Uint8Array.of(1))).toBe('peerDown');
        expect(recorderA.events).toEqual([]);
        expect(recorderB.events).toEqual([]);
      } finally {
        await Promise.all([a.close(), b.close()]);
      }
    });
  }

  it('parses nothing but the handshake from an unauthenticated socket', async () => {
    const b = createTcpTransport(options('b', { peers: [{ id: 'a' }] }));
    const recorder = new EventRecorder();
    const errors: HandshakeError[] = [];
    b.on('handshakeError', (error) => errors.push(error));
    await b.start(recorder.handlers);
    const socket = createConnection({ host: '127.0.0.1', port: b.address().port });
    try {
      socket.on('error', () => undefined);
      socket.write(encodeTcpFrame(Uint8Array.of(1, 2, 3)));
      await waitFor(() => errors.length === 1, 'a refusal');
      expect(errors[0]!.reason).toBe('bad-magic');
      expect(recorder.events).toEqual([]);
    } finally {
      socket.destroy();
      await b.close();
    }
  });

  it('times out a silent connection and caps unauthenticated ones, with a typed event for each', async () => {
    const b = createTcpTransport(
      options('b', { peers: [{ id: 'a' }], handshakeTimeoutMs: 100, maxUnauthenticated: 1 }),
    );
    const errors: HandshakeError[] = [];
    b.on('handshakeError', (error) => errors.push(error));
    const refusals: { error: ConnectionError; context: ConnectionContext }[] = [];
    b.on('connectionError', (error, context) => refusals.push({ error, context }));
    await b.start(new EventRecorder().handlers);
    const port = b.address().port;
    const first = createConnection({ host: '127.0.0.1', port });
    first.on('error', () => undefined);
    await new Promise((resolve) => first.once('connect', resolve));
    await new Promise((resolve) => setTimeout(resolve, 20));
    const second = createConnection({ host: '127.0.0.1', port });
    second.on('error', () => undefined);
    try {
      await new Promise((resolve) => second.once('close', resolve));
      expect(errors).toEqual([]);
      expect(refusals.map(({ error }) => [error.code, error.reason])).toEqual([
        ['ERR_ACKORD_CONNECTION', 'unauthenticated-cap'],
      ]);
      expect(refusals[0]!.context).toEqual({ peer: undefined, remoteAddress: '127.0.0.1' });
      await waitFor(() => errors.length === 1, 'the handshake timeout');
      expect(errors[0]!.reason).toBe('timeout');
      expect(refusals).toHaveLength(1);
    } finally {
      first.destroy();
      second.destroy();
      await b.close();
    }
  });
});
