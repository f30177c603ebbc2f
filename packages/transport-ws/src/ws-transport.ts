/**
 * The WebSocket transport: an HTTP(S) listener that upgrades one path, and dialers, around the shared
 * peer table (`PeerLinks` in core: who dials, unauthenticated cap, reconnect back-off, peer up/down).
 * Binary messages only, permessage-deflate off on both ends, `maxPayload` at the frame limit. With
 * `wss`, both directions run TLS with mutual authentication, and the Ackord handshake still runs inside.
 */
import { randomBytes as cryptoRandomBytes } from 'node:crypto';
import { createServer as createHttpServer, type IncomingMessage, type Server, STATUS_CODES } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import {
  ConnectionError,
  checkPeerCertificate,
  emitLinkError,
  HANDSHAKE_MAX_FRAME_BYTES,
  type LinkError,
  type LinkSetup,
  PeerLinks,
  type SendOutcome,
  type SiteId,
  silentLogger,
  type Transport,
  type TransportEvents,
  type TransportHandlers,
  tlsClientOptions,
  tlsErrorFrom,
  tlsServerOptions,
} from '@ackord/core';
import { EventEmitter } from 'eventemitter3';
import { WebSocket, WebSocketServer } from 'ws';
import {
  parseWsOptions,
  peerUrl,
  type ResolvedWsOptions,
  type ResolvedWsPeer,
  type WsTransportOptions,
} from './options.js';
import { WsConnection } from './ws-connection.js';

/** `handshakeError`, `tlsError` and `connectionError`, each with `{ peer, remoteAddress }`. */
export type WsTransportEvents = TransportEvents;

export function createWsTransport(options: WsTransportOptions): WsTransport {
  return new WsTransport(options);
}

export class WsTransport extends EventEmitter<WsTransportEvents> implements Transport {
  readonly siteId: SiteId;
  readonly #options: ResolvedWsOptions;
  readonly #server: Server;
  readonly #upgrader: WebSocketServer;
  readonly #links: PeerLinks;
  /** One message is one frame, or one handshake frame before the peer is authenticated. */
  readonly #maxPayload: number;
  #closing: Promise<void> | undefined;

  constructor(options: WsTransportOptions) {
    super();
    this.#options = parseWsOptions(options);
    const resolved = this.#options;
    this.siteId = resolved.siteId;
    this.#maxPayload = Math.max(resolved.maxFrameBytes, HANDSHAKE_MAX_FRAME_BYTES);
    const logger = (resolved.logger ?? silentLogger).child({ site: this.siteId, component: 'transport-ws' });
    const peers = new Map(resolved.peers.map((peer) => [peer.id, peer]));
    this.#links = new PeerLinks({
      siteId: resolved.siteId,
      clusterId: resolved.clusterId,
      secret: resolved.secret,
      peers: resolved.peers.map((peer) => peer.id),
      dialing: resolved.peers.filter((peer) => peer.id > this.siteId).map((peer) => peer.id),
      handshakeTimeoutMs: resolved.handshakeTimeoutMs,
      maxUnauthenticated: resolved.maxUnauthenticated,
      reconnect: resolved.reconnect,
      randomBytes: resolved.randomBytes ?? ((size) => cryptoRandomBytes(size)),
      random: resolved.random ?? Math.random,
      logger,
      dial: (peer, setup) => this.#dial(peers.get(peer)!, setup),
      onError: (error, context) => emitLinkError(this, error, context),
    });
    this.#upgrader = new WebSocketServer({
      noServer: true,
      perMessageDeflate: false,
      maxPayload: this.#maxPayload,
      clientTracking: false,
    });
    this.#server = this.#listener();
  }

  /** The address the listener is bound to (after start): the port the OS picked for port 0. */
  address(): { host: string; port: number } {
    const address = this.#server.address();
    if (address === null || typeof address === 'string') throw new Error('the transport is not listening');
    return { host: address.address, port: address.port };
  }

  async start(handlers: TransportHandlers, options: { readonly signal?: AbortSignal } = {}): Promise<void> {
    options.signal?.throwIfAborted();
    const { host, port } = this.#options.listen;
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen({ host, port }, () => {
        this.#server.off('error', reject);
        resolve();
      });
    });
    options.signal?.addEventListener('abort', () => void this.close(), { once: true });
    this.#links.start(handlers);
  }

  send(to: SiteId, frame: Uint8Array): SendOutcome {
    return this.#links.send(to, frame);
  }

  connectedPeers(): ReadonlySet<SiteId> {
    return this.#links.connectedPeers();
  }

  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    const serverClosed = new Promise<void>((resolve) => {
      if (!this.#server.listening) resolve();
      else this.#server.close(() => resolve());
    });
    await Promise.all([this.#links.close(), serverClosed]);
    this.#upgrader.close();
  }

  #listener(): Server {
    const tls = this.#options.wss;
    const server = tls === undefined ? createHttpServer() : createHttpsServer(tlsServerOptions(tls));
    // The slot is taken at the TCP accept, so connections stuck in TLS or the HTTP request count too.
    server.on('connection', (socket: Socket) => void this.#links.admit(socket));
    if (tls !== undefined) {
      server.on('secureConnection', (socket: TLSSocket) => {
        const refused = checkPeerCertificate(socket);
        if (refused === undefined) return;
        this.#report(refused, socket);
        socket.destroy();
      });
      server.on('tlsClientError', (error, socket) => {
        const tlsError = tlsErrorFrom(error);
        if (tlsError !== undefined) this.#report(tlsError, socket);
      });
    }
    server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) =>
      this.#upgrade(request, socket as Socket, head),
    );
    // What Node's HTTP parser cannot make sense of: reported, answered and closed here.
    server.on('clientError', (error: Error, socket: Duplex) => this.#badHttp(error, socket as Socket));
    // Plain HTTP gets nothing from an Ackord listener.
    server.on('request', (_request, response) =>
      response
        .writeHead(426, { connection: 'close', 'content-type': 'text/plain' })
        .end('upgrade required\n'),
    );
    return server;
  }

  /**
   * Node's HTTP parser refused what arrived instead of a request (garbage, an oversize header, …). Without
   * this handler Node answers 400 and closes without telling anyone; with it, the transport reports a
   * `connectionError` `bad-http` and does the same: the status Node would send, if nothing has been
   * written to the socket yet, then destroy. A reset socket is only destroyed: that is not bad HTTP.
   */
  #badHttp(error: Error, socket: Socket): void {
    const code = (error as { code?: unknown }).code;
    const remoteAddress = socket.remoteAddress ?? '';
    if (code !== 'ECONNRESET') {
      this.#links.reportError(
        new ConnectionError('bad-http', `${String(code ?? error.name)}: ${error.message}`, { cause: error }),
        { peer: undefined, remoteAddress },
      );
      if (socket.writable && socket.bytesWritten === 0) {
        const status = code === 'HPE_HEADER_OVERFLOW' ? 431 : code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
        socket.write(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nConnection: close\r\n\r\n`);
      }
    }
    socket.destroy();
  }

  #upgrade(request: IncomingMessage, socket: Socket, head: Buffer): void {
    const path = new URL(request.url ?? '/', 'http://listener').pathname;
    if (path !== this.#options.listen.path) {
      socket.end('HTTP/1.1 404 Not Found\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
      return;
    }
    // ws answers a malformed upgrade itself (400) and never calls back; the slot goes with the socket.
    this.#upgrader.handleUpgrade(request, socket, head, (ws) => {
      const link = this.#links.accept(socket, (setup) =>
        this.#connection(ws, setup, socket.remoteAddress ?? '', socket),
      );
      if (link === undefined) ws.terminate();
    });
  }

  #dial(peer: ResolvedWsPeer, setup: LinkSetup): WsConnection {
    const tls = this.#options.wss;
    const ws = new WebSocket(peerUrl(peer, tls !== undefined), {
      perMessageDeflate: false,
      maxPayload: this.#maxPayload,
      followRedirects: false,
      ...(tls === undefined ? {} : tlsClientOptions(tls)),
    });
    return this.#connection(ws, setup, `${peer.host}:${peer.port}`);
  }

  #connection(ws: WebSocket, setup: LinkSetup, remoteAddress: string, socket?: Socket): WsConnection {
    return new WsConnection(ws, setup, {
      maxFrameBytes: this.#options.maxFrameBytes,
      sendQueueBytes: this.#options.sendQueueBytes,
      sendQueueLowBytes: this.#options.sendQueueLowBytes,
      ping: this.#options.ping,
      remoteAddress,
      ...(socket === undefined ? {} : { socket }),
    });
  }

  #report(error: LinkError, socket: Socket): void {
    this.#links.reportError(error, { peer: undefined, remoteAddress: socket.remoteAddress ?? '' });
  }
}
