/**
 * wss with mutual authentication: a client without a certificate, or with one from another CA, is
 * refused with a typed `TlsError` on the listener before any HTTP is read; a listener with a
 * certificate from another CA is refused by the dialer; plain ws to a wss listener fails TLS. Nothing is
 * delivered from a refused peer, and the listener keeps serving. The Ackord handshake still runs
 * inside TLS.
 */
import { createTestPki, type TestPki, waitFor } from '@ackord/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { rawPeer } from './raw-peer.js';
import { CLUSTER_ID, type Site, startSite } from './ws-site.js';

let pki: TestPki;
let stranger: TestPki;
beforeAll(async () => {
  [pki, stranger] = await Promise.all([createTestPki(), createTestPki({ name: 'stranger-ca' })]);
});
afterAll(async () => {
  await Promise.all([pki?.remove(), stranger?.remove()]);
});

async function listener(): Promise<Site> {
  return startSite('b', [{ id: 'a' }], { wss: await pki.tlsFor('b') });
}

/** A good client still gets through: the listener survived what came before. */
async function expectStillServing(b: Site): Promise<void> {
  const good = await startSite('a', [{ id: 'b', host: '127.0.0.1', port: b.port }], {
    wss: await pki.tlsFor('a'),
  });
  try {
    await waitFor(() => good.transport.connectedPeers().has('b'), 'a good client connected');
    expect(good.transport.send('b', Uint8Array.of(7))).toBe('queued');
    await waitFor(() => b.recorder.frames('a').length === 1, 'its frame delivered');
  } finally {
    await good.transport.close();
  }
}

describe('ws transport over wss', () => {
  it('refuses a client that presents no certificate, and keeps serving', async () => {
    const b = await listener();
    const ws = new WebSocket(b.url, { ca: pki.ca.cert, perMessageDeflate: false });
    let opened = false;
    ws.on('open', () => {
      opened = true;
    });
    ws.on('error', () => undefined);
    try {
      await new Promise((resolve) => ws.once('close', resolve));
      expect(opened).toBe(false);
      expect(b.tlsErrors.map(({ error }) => [error.code, error.reason])).toEqual([
        ['ERR_ACKORD_TLS', 'no-peer-certificate'],
      ]);
      expect(b.tlsErrors[0]!.context).toEqual({ peer: undefined, remoteAddress: '127.0.0.1' });
      expect(b.recorder.events).toEqual([]);
      await expectStillServing(b);
    } finally {
      ws.terminate();
      await b.transport.close();
    }
  });

  it('refuses a client whose certificate comes from another CA', async () => {
    const b = await listener();
    const a = await startSite('a', [{ id: 'b', host: '127.0.0.1', port: b.port }], {
      wss: { ...(await stranger.tlsFor('a')), ca: pki.ca.cert },
    });
    try {
      await waitFor(() => b.tlsErrors.length > 0, 'a TLS error at the listener');
      const { error } = b.tlsErrors[0]!;
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
      await Promise.all([a.transport.close(), b.transport.close()]);
    }
  });

  it('refuses, at the dialer, a listener whose certificate comes from another CA', async () => {
    const b = await startSite('b', [{ id: 'a' }], {
      wss: { ...(await stranger.tlsFor('b')), ca: pki.ca.cert },
    });
    const a = await startSite('a', [{ id: 'b', host: '127.0.0.1', port: b.port }], {
      wss: await pki.tlsFor('a'),
    });
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

  it('refuses plain ws on a wss listener', async () => {
    const b = await listener();
    try {
      await expect(
        rawPeer(`ws://127.0.0.1:${b.port}/ackord`, { siteId: 'a', clusterId: CLUSTER_ID }),
      ).rejects.toThrow(/closed/);
      await waitFor(() => b.tlsErrors.length === 1, 'a TLS error');
      expect(b.tlsErrors[0]!.error.reason).toBe('handshake-failed');
      expect(b.handshakeErrors).toEqual([]);
      expect(b.recorder.events).toEqual([]);
    } finally {
      await b.transport.close();
    }
  });

  it('still runs the handshake inside TLS: the right certificate with the wrong secret is refused', async () => {
    const b = await listener();
    const a = await startSite('a', [{ id: 'b', host: '127.0.0.1', port: b.port }], {
      wss: await pki.tlsFor('a'),
      secret: 'another secret, also long',
    });
    try {
      await waitFor(
        () => a.handshakeErrors.length > 0 && b.handshakeErrors.length > 0,
        'handshake errors on both sides',
      );
      expect(a.handshakeErrors[0]!.error.reason).toBe('bad-proof');
      expect(b.handshakeErrors[0]!.error.reason).toBe('bad-proof');
      expect([...a.tlsErrors, ...b.tlsErrors]).toEqual([]);
      expect(b.recorder.events).toEqual([]);
    } finally {
      await Promise.all([a.transport.close(), b.transport.close()]);
    }
  });
});
