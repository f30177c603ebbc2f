/**
 * The WebSocket rules: binary messages only, each at most maxFrameBytes (checked by ws's maxPayload from
 * the frame header), permessage-deflate never negotiated in either direction, one path upgraded and
 * nothing else served.
 */
import { randomBytes } from 'node:crypto';
import { createServer, get, type IncomingHttpHeaders } from 'node:http';
import { connect } from 'node:net';
import { waitFor } from '@ackord/core/testing';
import { describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { createWsTransport } from '../src/index.js';
import { rawPeer, rawUpgrade } from './raw-peer.js';
import { SECRET } from './ws-fixture.js';
import { CLUSTER_ID, startSite } from './ws-site.js';

const MAX_FRAME_BYTES = 64 * 1024;

describe('ws transport protocol rules', () => {
  it('closes an authenticated peer that sends a text message (1003)', async () => {
    const b = await startSite('b', [{ id: 'a' }]);
    try {
      const a = await rawPeer(b.url, { siteId: 'a', clusterId: CLUSTER_ID });
      await waitFor(() => b.transport.connectedPeers().has('a'), 'a up at b');
      a.ws.send('{"not":"a frame"}');
      expect(await a.closed).toBe(1003);
      await waitFor(() => b.recorder.count('peerDown', 'a') === 1, 'a down at b');
      expect(b.connectionErrors.map(({ error }) => [error.code, error.reason])).toEqual([
        ['ERR_ACKORD_CONNECTION', 'not-binary'],
      ]);
      expect(b.connectionErrors[0]!.context.peer).toBe('a');
      expect(b.recorder.frames('a')).toEqual([]);
    } finally {
      await b.transport.close();
    }
  });

  it('refuses a message above maxFrameBytes from its header (1009), and the peer can come back', async () => {
    const b = await startSite('b', [{ id: 'a' }], { maxFrameBytes: MAX_FRAME_BYTES });
    try {
      const a = await rawPeer(b.url, { siteId: 'a', clusterId: CLUSTER_ID });
      await waitFor(() => b.transport.connectedPeers().has('a'), 'a up at b');
      a.ws.send(new Uint8Array(MAX_FRAME_BYTES));
      a.ws.send(new Uint8Array(MAX_FRAME_BYTES + 1));
      expect(await a.closed).toBe(1009);
      await waitFor(() => b.connectionErrors.length === 1, 'a connection error');
      const { error } = b.connectionErrors[0]!;
      expect(error.reason).toBe('frame-too-large');
      // ws refused it from the frame header (maxPayload), not after buffering it.
      expect((error.cause as { code?: string }).code).toBe('WS_ERR_UNSUPPORTED_MESSAGE_LENGTH');
      expect(b.recorder.frames('a').map((frame) => frame.length)).toEqual([MAX_FRAME_BYTES]);
      const again = await rawPeer(b.url, { siteId: 'a', clusterId: CLUSTER_ID });
      expect(again.outcome.ok).toBe(true);
      again.ws.close();
    } finally {
      await b.transport.close();
    }
  });

  it('never negotiates permessage-deflate, even when the dialer offers it', async () => {
    const b = await startSite('b', [{ id: 'a' }]);
    try {
      const a = await rawPeer(b.url, { siteId: 'a', clusterId: CLUSTER_ID }, { perMessageDeflate: true });
      expect(a.outcome.ok).toBe(true);
      expect(a.ws.extensions).toBe('');
      a.ws.close();
    } finally {
      await b.transport.close();
    }
  });

  it('dials without offering permessage-deflate', async () => {
    const server = createServer();
    const upgrader = new WebSocketServer({ noServer: true });
    const requests: IncomingHttpHeaders[] = [];
    server.on('upgrade', (request, socket, head) => {
      requests.push(request.headers);
      upgrader.handleUpgrade(request, socket, head, (ws) => ws.terminate());
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    const a = createWsTransport({
      siteId: 'a',
      listen: { host: '127.0.0.1', port: 0 },
      peers: [{ id: 'b', host: '127.0.0.1', port }],
      clusterId: CLUSTER_ID,
      secret: SECRET,
      reconnect: { minMs: 1_000, maxMs: 1_000 },
    });
    try {
      await a.start({ frame: () => undefined, peerUp: () => undefined, peerDown: () => undefined });
      await waitFor(() => requests.length === 1, 'the dial');
      expect(requests[0]!['sec-websocket-extensions']).toBeUndefined();
      expect(requests[0]!.upgrade).toBe('websocket');
    } finally {
      await a.close();
      upgrader.close();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('answers plain HTTP with 426 and another path with 404', async () => {
    const b = await startSite('b', [{ id: 'a' }]);
    try {
      const status = await new Promise<number | undefined>((resolve, reject) =>
        get(`http://127.0.0.1:${b.port}/ackord`, (response) => {
          response.resume();
          resolve(response.statusCode);
        }).on('error', reject),
      );
      expect(status).toBe(426);
      await expect(rawUpgrade(b.port, '/elsewhere')).rejects.toThrow(/404/);
      const ws = new WebSocket(`ws://127.0.0.1:${b.port}/elsewhere`);
      const refused = await new Promise<Error>((resolve) => ws.once('error', resolve));
      expect(refused.message).toMatch(/404/);
      expect(b.recorder.events).toEqual([]);
      // Well-formed HTTP, answered: nothing to report.
      expect(b.connectionErrors).toEqual([]);
    } finally {
      await b.transport.close();
    }
  });

  it('answers garbage instead of an HTTP request with 400, reports bad-http, and closes', async () => {
    const b = await startSite('b', [{ id: 'a' }], { maxUnauthenticated: 1 });
    const socket = connect({ host: '127.0.0.1', port: b.port });
    socket.on('error', () => undefined);
    let answer = '';
    socket.on('data', (chunk: Buffer) => {
      answer += chunk.toString('latin1');
    });
    const closed = new Promise((resolve) => socket.once('close', resolve));
    try {
      await new Promise((resolve) => socket.once('connect', resolve));
      const garbage = randomBytes(512);
      garbage[0] = 0; // never a method's first byte
      socket.write(garbage);
      await closed;
      expect(answer).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
      await waitFor(() => b.connectionErrors.length === 1, 'a connection error');
      const { error, context } = b.connectionErrors[0]!;
      expect([error.code, error.reason]).toEqual(['ERR_ACKORD_CONNECTION', 'bad-http']);
      expect(error.detail).toMatch(/^HPE_/);
      expect(context).toEqual({ peer: undefined, remoteAddress: '127.0.0.1' });
      expect(b.handshakeErrors).toEqual([]);
      expect(b.recorder.events).toEqual([]);
      // The slot it held is free again: a real peer gets in with a cap of one.
      const a = await rawPeer(b.url, { siteId: 'a', clusterId: CLUSTER_ID });
      expect(a.outcome.ok).toBe(true);
      a.ws.close();
    } finally {
      socket.destroy();
      await b.transport.close();
    }
  });

  it('reports an oversize request header as bad-http and answers 431', async () => {
    const b = await startSite('b', [{ id: 'a' }]);
    const socket = connect({ host: '127.0.0.1', port: b.port });
    socket.on('error', () => undefined);
    let answer = '';
    socket.on('data', (chunk: Buffer) => {
      answer += chunk.toString('latin1');
    });
    const closed = new Promise((resolve) => socket.once('close', resolve));
    try {
      await new Promise((resolve) => socket.once('connect', resolve));
      socket.write(`GET /ackord HTTP/1.1\r\nx-filler: ${'x'.repeat(64 * 1024)}\r\n`);
      await closed;
      expect(answer).toMatch(/^HTTP\/1\.1 431 /);
      await waitFor(() => b.connectionErrors.length === 1, 'a connection error');
      expect(b.connectionErrors[0]!.error.reason).toBe('bad-http');
      expect(b.connectionErrors[0]!.error.detail).toMatch(/^HPE_HEADER_OVERFLOW/);
    } finally {
      socket.destroy();
      await b.transport.close();
    }
  });

  it('reports a listener that refuses the upgrade (a wrong path) as upgrade-refused', async () => {
    const b = await startSite('b', [{ id: 'a' }]);
    const a = await startSite('a', [{ id: 'b', host: '127.0.0.1', port: b.port, path: '/elsewhere' }]);
    try {
      await waitFor(() => a.connectionErrors.length > 0, 'a connection error at the dialer');
      const { error, context } = a.connectionErrors[0]!;
      expect(error.reason).toBe('upgrade-refused');
      expect(error.detail).toMatch(/HTTP 404/);
      expect(context).toEqual({ peer: 'b', remoteAddress: `127.0.0.1:${b.port}` });
      expect(a.recorder.events).toEqual([]);
    } finally {
      await Promise.all([a.transport.close(), b.transport.close()]);
    }
  });
});
