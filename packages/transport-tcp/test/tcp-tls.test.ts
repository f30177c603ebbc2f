/**
 * TLS with mutual authentication: a client without a certificate, or with one from another CA, is
 * refused with a typed `TlsError` on the listener; a server with a certificate from another CA is
 * refused by the dialer. Nothing is delivered from a refused peer, and the listener keeps serving. The
 * Ackord handshake still runs inside TLS: the right certificate with the wrong secret is refused too.
 */
import { createConnection } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import type { ConnectionContext, HandshakeError, SiteId, TlsError } from '@ackord/core';
import { createTestPki, EventRecorder, type TestPki, waitFor } from '@ackord/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTcpTransport, type TcpTransport, type TcpTransportOptions } from '../src/index.js';
import { SECRET } from './tcp-fixture.js';

let pki: TestPki;
let stranger: TestPki;
beforeAll(async () => {
  [pki, stranger] = await Promise.all([createTestPki(), createTestPki({ name: 'stranger-ca' })]);
});
afterAll(async () => {
  await Promise.all([pki?.remove(), stranger?.remove()]);
});

interface Observed {
  readonly transport: TcpTransport;
  readonly recorder: EventRecorder;
  readonly tlsErrors: { error: TlsError; context: ConnectionContext }[];
  readonly handshakeErrors: HandshakeError[];
}

async function site(
  siteId: SiteId,
  overrides: Partial<TcpTransportOptions>,
  peers: TcpTransportOptions['peers'] = [],
): Promise<Observed> {
  const transport = createTcpTransport({
    siteId,
    listen: { host: '127.0.0.1', port: 0 },
    peers,
    clusterId: 'tls',
    secret: SECRET,
    handshakeTimeoutMs: 2_000,
    reconnect: { minMs: 20, maxMs: 100 },
    ...overrides,
  });
  const observed: Observed = { transport, recorder: new EventRecorder(), tlsErrors: [], handshakeErrors: [] };
  transport.on('tlsError', (error, context) => observed.tlsErrors.push({ error, context }));
  transport.on('handshakeError', (error) => observed.handshakeErrors.push(error));
  await transport.start(observed.recorder.handlers);
  return observed;
}

/** Site b listens with the cluster's certificate; site a dials it with `aTls`. */
async function pair(aTls: TcpTransportOptions['tls'], aOverrides: Partial<TcpTransportOptions> = {}) {
  const b = await site('b', { tls: await pki.tlsFor('b') }, [{ id: 'a' }]);
  const a = await site('a', { tls: aTls, ...aOverrides }, [
    { id: 'b', host: '127.0.0.1', port: b.transport.address().port },
  ]);
  return { a, b, close: () => Promise.all([a.transport.close(), b.transport.close()]) };
}

/** A good client still gets through: the listener survived what came before. */
async function expectStillServing(b: Observed): Promise<void> {
  const good = await site('a', { tls: await pki.tlsFor('a') }, [
    { id: 'b', host: '127.0.0.1', port: b.transport.address().port },
  ]);
  try {
    await waitFor(() => good.transport.connectedPeers().has('b'), 'a good client connected');
    expect(good.transport.send('b', Uint8Array.of(7))).toBe('queued');
    await waitFor(() => b.recorder.frames('a').length === 1, 'its frame delivered');
  } finally {
    await good.transport.close();
  }
}

describe('tcp transport over TLS', () => {
  it('refuses a client that presents no certificate, and keeps serving', async () => {
    const b = await site('b', { tls: await pki.tlsFor('b') }, [{ id: 'a' }]);
    const received: Buffer[] = [];
    const client = tlsConnect({ host: '127.0.0.1', port: b.transport.address().port, ca: pki.ca.cert });
    try {
      client.on('error', () => undefined);
      client.on('data', (chunk: Buffer) => received.push(chunk));
      await waitFor(() => b.tlsErrors.length === 1, 'a TLS error at the listener');
      const { error, context } = b.tlsErrors[0]!;
      expect(error.code).toBe('ERR_ACKORD_TLS');
      expect(error.reason).toBe('no-peer-certificate');
      expect(error.remote).toBe(false);
      expect(context).toEqual({ peer: undefined, remoteAddress: '127.0.0.1' });
      await waitFor(() => client.destroyed, 'the client cut off');
      // Not even the listener's HELLO went out: the handshake never began.
      expect(received).toEqual([]);
      expect(b.recorder.events).toEqual([]);
      await expectStillServing(b);
    } finally {
      client.destroy();
      await b.transport.close();
    }
  });

  it('refuses a client whose certificate comes from another CA', async () => {
    const { a, b, close } = await pair({ ...(await stranger.tlsFor('a')), ca: pki.ca.cert });
    try {
      await waitFor(() => b.tlsErrors.length > 0, 'a TLS error at the listener');
      const { error } = b.tlsErrors[0]!;
      expect(error).toBeInstanceOf(Error);
      expect(error.name).toBe('TlsError');
      expect(error.reason).toBe('peer-certificate-rejected');
      expect(error.tlsCode).toBe('UNABLE_TO_VERIFY_LEAF_SIGNATURE');
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(a.transport.connectedPeers().size).toBe(0);
      expect(a.recorder.events).toEqual([]);
      expect(b.recorder.events).toEqual([]);
      await a.transport.close();
      await expectStillServing(b);
    } finally {
      await close();
    }
  });

  it('refuses, at the dialer, a listener whose certificate comes from another CA', async () => {
    const b = await site('b', { tls: { ...(await stranger.tlsFor('b')), ca: pki.ca.cert } }, [{ id: 'a' }]);
    const a = await site('a', { tls: await pki.tlsFor('a') }, [
      { id: 'b', host: '127.0.0.1', port: b.transport.address().port },
    ]);
    try {
      await waitFor(() => a.tlsErrors.length > 0, 'a TLS error at the dialer');
      const { error, context } = a.tlsErrors[0]!;
      expect(error.reason).toBe('peer-certificate-rejected');
      expect(error.tlsCode).toBe('UNABLE_TO_VERIFY_LEAF_SIGNATURE');
      expect(context.peer).toBe('b');
      expect(a.recorder.events).toEqual([]);
      expect(b.recorder.events).toEqual([]);
    } finally {
      await Promise.all([a.transport.close(), b.transport.close()]);
    }
  });

  it('still runs the handshake inside TLS: the right certificate with the wrong secret is refused', async () => {
    const { a, b, close } = await pair(await pki.tlsFor('a'), { secret: 'another secret, also long' });
    try {
      await waitFor(
        () => a.handshakeErrors.length > 0 && b.handshakeErrors.length > 0,
        'handshake errors on both sides',
      );
      expect(a.handshakeErrors[0]!.reason).toBe('bad-proof');
      expect(b.handshakeErrors[0]!.reason).toBe('bad-proof');
      expect(a.tlsErrors).toEqual([]);
      expect(b.tlsErrors).toEqual([]);
      expect(b.recorder.events).toEqual([]);
    } finally {
      await close();
    }
  });

  it('refuses plain TCP on a TLS listener before any Ackord byte is parsed', async () => {
    const b = await site('b', { tls: await pki.tlsFor('b') }, [{ id: 'a' }]);
    const socket = createConnection({ host: '127.0.0.1', port: b.transport.address().port });
    try {
      socket.on('error', () => undefined);
      socket.write('AKHS not a TLS record, and long enough for the parser to look at\r\n\r\n');
      await waitFor(() => b.tlsErrors.length === 1, 'a TLS error');
      expect(b.tlsErrors[0]!.error.reason).toBe('handshake-failed');
      expect(b.handshakeErrors).toEqual([]);
      expect(b.recorder.events).toEqual([]);
    } finally {
      socket.destroy();
      await b.transport.close();
    }
  });

  it('counts connections stuck before the TLS handshake against the cap, and times them out', async () => {
    const b = await site(
      'b',
      { tls: await pki.tlsFor('b'), maxUnauthenticated: 1, handshakeTimeoutMs: 600 },
      [{ id: 'a' }],
    );
    const port = b.transport.address().port;
    const first = createConnection({ host: '127.0.0.1', port });
    first.on('error', () => undefined);
    await new Promise((resolve) => first.once('connect', resolve));
    await new Promise((resolve) => setTimeout(resolve, 20));
    const second = createConnection({ host: '127.0.0.1', port });
    second.on('error', () => undefined);
    try {
      // The second is closed at once: the first holds the only slot while it says nothing.
      await new Promise((resolve) => second.once('close', resolve));
      expect(b.handshakeErrors).toEqual([]);
      await new Promise((resolve) => first.once('close', resolve));
      expect(b.handshakeErrors.map((error) => error.reason)).toEqual(['timeout']);
    } finally {
      first.destroy();
      second.destroy();
      await b.transport.close();
    }
  });
});
