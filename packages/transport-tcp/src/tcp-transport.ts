/**
 * The TCP transport: a listener and dialers around the shared peer table (`PeerLinks` in core: who
 * dials, unauthenticated cap, reconnect back-off, peer up/down). With `tls`, both directions run TLS with
 * mutual authentication, and the Ackord handshake still runs inside it: TLS proves a certificate from
 * the cluster's CA, the handshake proves the cluster secret and the site id.
 */
import { randomBytes as cryptoRandomBytes } from 'node:crypto';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer, type TLSSocket, connect as tlsConnect } from 'node:tls';
import {
  type ConnectionContext,
  checkPeerCertificate,
  emitLinkError,
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
import { Connection } from './connection.js';
import { parseTcpOptions, type ResolvedTcpOptions, type TcpTransportOptions } from './options.js';

/** `handshakeError`, `tlsError` and `connectionError`, each with `{ peer, remoteAddress }`. */
export type TcpTransportEvents = TransportEvents;

export function createTcpTransport(options: TcpTransportOptions): TcpTransport {
  return new TcpTransport(options);
}

export class TcpTransport extends EventEmitter<TcpTransportEvents> implements Transport {
  readonly siteId: SiteId;
  readonly #options: ResolvedTcpOptions;
  readonly #server: Server;
  readonly #links: PeerLinks;
  #closing: Promise<void> | undefined;

  constructor(options: TcpTransportOptions) {
    super();
    this.#options = parseTcpOptions(options);
    const resolved = this.#options;
    this.siteId = resolved.siteId;
    const logger = (resolved.logger ?? silentLogger).child({ site: this.siteId, component: 'transport-tcp' });
    const addresses = new Map(resolved.peers.map((peer) => [peer.id, peer]));
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
      dial: (peer, setup) => this.#dial(addresses.get(peer)!, setup),
      onError: (error, context) => emitLinkError(this, error, context),
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
  }

  #listener(): Server {
    const tls = this.#options.tls;
    if (tls === undefined) {
      const server = createServer();
      server.on('connection', (socket) => {
        if (this.#links.admit(socket)) this.#accept(socket);
      });
      return server;
    }
    const server = createTlsServer(tlsServerOptions(tls));
    // The slot is taken at the TCP accept, so connections stuck in the TLS handshake count too.
    server.on('connection', (socket: Socket) => void this.#links.admit(socket));
    server.on('secureConnection', (socket: TLSSocket) => {
      const refused = checkPeerCertificate(socket);
      if (refused === undefined) this.#accept(socket);
      else {
        this.#report(refused, socket);
        socket.destroy();
      }
    });
    server.on('tlsClientError', (error, socket) => {
      const tlsError = tlsErrorFrom(error);
      if (tlsError !== undefined) this.#report(tlsError, socket);
    });
    return server;
  }

  #accept(socket: Socket): void {
    this.#links.accept(socket, (setup) => this.#connection(socket, setup))?.begin();
  }

  #dial(address: { host?: string; port?: number }, setup: LinkSetup): Connection {
    const host = address.host!;
    const port = address.port!;
    const tls = this.#options.tls;
    const socket =
      tls === undefined
        ? createConnection({ host, port })
        : tlsConnect({ host, port, ...tlsClientOptions(tls) });
    const connection = this.#connection(socket, setup, `${host}:${port}`);
    // With TLS the handshake starts once the server's certificate has been verified.
    socket.once(tls === undefined ? 'connect' : 'secureConnect', () => connection.begin());
    return connection;
  }

  #connection(socket: Socket, setup: LinkSetup, dialedAddress?: string): Connection {
    return new Connection(socket, setup, {
      maxFrameBytes: this.#options.maxFrameBytes,
      sendQueueBytes: this.#options.sendQueueBytes,
      heartbeat: this.#options.heartbeat,
      ...(dialedAddress === undefined ? {} : { dialedAddress }),
    });
  }

  #report(error: LinkError, socket: Socket): void {
    const context: ConnectionContext = { peer: undefined, remoteAddress: socket.remoteAddress ?? '' };
    this.#links.reportError(error, context);
  }
}
