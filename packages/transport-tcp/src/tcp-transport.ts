/**
 * The TCP transport. Connection rule: **the site whose id sorts lower dials**; the higher one only
 * accepts, and refuses (`unknown-peer`) a connection from a site it should be dialing. So there is one
 * connection per pair and no duplicate to break ties over. If an authenticated connection arrives for a
 * peer that already has one (it restarted before we noticed), the new one replaces the old: peer-down,
 * then peer-up.
 */
import { randomBytes as cryptoRandomBytes } from 'node:crypto';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import type {
  HandshakeError,
  HandshakeRole,
  Logger,
  SendOutcome,
  SiteId,
  Transport,
  TransportHandlers,
} from '@ackord/core';
import { silentLogger } from '@ackord/core';
import { EventEmitter } from 'eventemitter3';
import { reconnectDelayMs } from './backoff.js';
import { Connection } from './connection.js';
import { parseTcpOptions, type ResolvedTcpOptions, type TcpTransportOptions } from './options.js';

export interface TcpTransportEvents {
  /** A connection failed its handshake; `peer` is the site we dialed (undefined for inbound). */
  handshakeError: [error: HandshakeError, context: { peer: SiteId | undefined; remoteAddress: string }];
}

export function createTcpTransport(options: TcpTransportOptions): TcpTransport {
  return new TcpTransport(options);
}

interface Dialer {
  readonly peer: SiteId;
  readonly host: string;
  readonly port: number;
  attempt: number;
  connection: Connection | undefined;
  timer: NodeJS.Timeout | undefined;
}

export class TcpTransport extends EventEmitter<TcpTransportEvents> implements Transport {
  readonly siteId: SiteId;
  readonly #options: ResolvedTcpOptions;
  readonly #logger: Logger;
  readonly #random: () => number;
  readonly #randomBytes: (size: number) => Uint8Array;
  readonly #server: Server;
  /** Every live socket, authenticated or not, so close() can end them all. */
  readonly #connections = new Set<Connection>();
  readonly #byPeer = new Map<SiteId, Connection>();
  readonly #up = new Set<SiteId>();
  readonly #dialers = new Map<SiteId, Dialer>();
  #unauthenticatedInbound = 0;
  #handlers: TransportHandlers | undefined;
  #closing: Promise<void> | undefined;

  constructor(options: TcpTransportOptions) {
    super();
    this.#options = parseTcpOptions(options);
    this.siteId = this.#options.siteId;
    this.#logger = (this.#options.logger ?? silentLogger).child({
      site: this.siteId,
      component: 'transport-tcp',
    });
    this.#random = this.#options.random ?? Math.random;
    this.#randomBytes = this.#options.randomBytes ?? ((size) => cryptoRandomBytes(size));
    this.#server = createServer((socket) => this.#accept(socket));
  }

  /** The address the listener is bound to (after start): the port the OS picked for port 0. */
  address(): { host: string; port: number } {
    const address = this.#server.address();
    if (address === null || typeof address === 'string') throw new Error('the transport is not listening');
    return { host: address.address, port: address.port };
  }

  async start(handlers: TransportHandlers, options: { readonly signal?: AbortSignal } = {}): Promise<void> {
    options.signal?.throwIfAborted();
    this.#handlers = handlers;
    const { host, port } = this.#options.listen;
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen({ host, port }, () => {
        this.#server.off('error', reject);
        resolve();
      });
    });
    options.signal?.addEventListener('abort', () => void this.close(), { once: true });
    for (const peer of this.#options.peers) {
      if (peer.id <= this.siteId || peer.host === undefined || peer.port === undefined) continue;
      const dialer: Dialer = {
        peer: peer.id,
        host: peer.host,
        port: peer.port,
        attempt: 0,
        connection: undefined,
        timer: undefined,
      };
      this.#dialers.set(peer.id, dialer);
      this.#dial(dialer);
    }
  }

  send(to: SiteId, frame: Uint8Array): SendOutcome {
    const connection = this.#byPeer.get(to);
    if (connection === undefined) return 'peerDown';
    return connection.send(frame);
  }

  connectedPeers(): ReadonlySet<SiteId> {
    return this.#up;
  }

  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    for (const dialer of this.#dialers.values()) if (dialer.timer !== undefined) clearTimeout(dialer.timer);
    const serverClosed = new Promise<void>((resolve) => {
      if (!this.#server.listening) resolve();
      else this.#server.close(() => resolve());
    });
    const connections = [...this.#connections];
    for (const connection of connections) connection.destroy();
    await Promise.all([serverClosed, ...connections.map((connection) => connection.closed)]);
  }

  #isClosing(): boolean {
    return this.#closing !== undefined;
  }

  #dial(dialer: Dialer): void {
    dialer.timer = undefined;
    if (this.#isClosing()) return;
    const socket = createConnection({ host: dialer.host, port: dialer.port });
    const connection = this.#connect(socket, 'initiator', (site) => site === dialer.peer);
    dialer.connection = connection;
    socket.once('connect', () => connection.begin());
    void connection.closed.then(() => {
      dialer.connection = undefined;
      if (this.#isClosing()) return;
      const delayMs = reconnectDelayMs(dialer.attempt++, this.#options.reconnect, this.#random);
      this.#logger.debug({ peer: dialer.peer, delayMs }, 'redialing');
      dialer.timer = setTimeout(() => this.#dial(dialer), delayMs);
      dialer.timer.unref();
    });
  }

  #accept(socket: Socket): void {
    if (this.#isClosing() || this.#unauthenticatedInbound >= this.#options.maxUnauthenticated) {
      this.#logger.warn(
        { remoteAddress: socket.remoteAddress ?? '' },
        'connection refused: too many unauthenticated',
      );
      socket.destroy();
      return;
    }
    this.#unauthenticatedInbound++;
    let counted = true;
    const uncount = () => {
      if (counted) this.#unauthenticatedInbound--;
      counted = false;
    };
    // Only lower ids dial us: see the connection rule at the top of this file.
    const known = new Set(this.#options.peers.map((peer) => peer.id));
    const connection = this.#connect(
      socket,
      'responder',
      (site) => known.has(site) && site < this.siteId,
      uncount,
    );
    connection.begin();
  }

  #connect(
    socket: Socket,
    role: HandshakeRole,
    acceptPeer: (site: SiteId) => boolean,
    onHandshakeOver: () => void = () => undefined,
  ): Connection {
    const options = this.#options;
    const connection = new Connection(socket, {
      handshake: {
        role,
        clusterId: options.clusterId,
        siteId: options.siteId,
        secret: options.secret,
        randomBytes: this.#randomBytes,
        acceptPeer,
      },
      handshakeTimeoutMs: options.handshakeTimeoutMs,
      maxFrameBytes: options.maxFrameBytes,
      sendQueueBytes: options.sendQueueBytes,
      onAuthenticated: (authenticated, peer) => {
        onHandshakeOver();
        this.#register(authenticated, peer);
      },
      onHandshakeError: (_failed, error) => {
        onHandshakeOver();
        const peer =
          role === 'initiator'
            ? [...this.#dialers.values()].find((d) => d.connection === connection)?.peer
            : undefined;
        this.#logger.warn({ reason: error.reason, remote: String(error.remote) }, 'handshake failed');
        this.emit('handshakeError', error, { peer, remoteAddress: socket.remoteAddress ?? '' });
      },
      onFrame: (from, frame) => {
        if (from.peer !== undefined && this.#byPeer.get(from.peer) === from)
          this.#handlers?.frame(from.peer, frame);
      },
      onClose: (closed) => {
        onHandshakeOver();
        this.#connections.delete(closed);
        const peer = closed.peer;
        if (peer !== undefined && this.#byPeer.get(peer) === closed) {
          this.#byPeer.delete(peer);
          this.#up.delete(peer);
          this.#handlers?.peerDown(peer);
        }
      },
    });
    this.#connections.add(connection);
    return connection;
  }

  #register(connection: Connection, peer: SiteId): void {
    if (this.#isClosing()) {
      connection.destroy();
      return;
    }
    const dialer = this.#dialers.get(peer);
    if (dialer !== undefined) dialer.attempt = 0;
    const previous = this.#byPeer.get(peer);
    if (previous !== undefined) {
      this.#byPeer.delete(peer);
      this.#up.delete(peer);
      previous.destroy();
      this.#handlers?.peerDown(peer);
    }
    this.#byPeer.set(peer, connection);
    this.#up.add(peer);
    this.#handlers?.peerUp(peer);
  }
}
