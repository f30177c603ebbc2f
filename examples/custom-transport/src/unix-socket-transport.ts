/**
 * An Ackord `Transport` over Unix domain sockets: every site listens on a socket file, and sites on the
 * same machine reach each other through those files. The pieces a transport needs, in the order a
 * connection meets them:
 *
 * - **Who dials.** The site whose id sorts lower dials; the higher one only accepts. So each pair has
 *   one connection and no tie to break. A lost connection is redialled by the lower site, with capped
 *   exponential back-off and jitter.
 * - **The handshake** (peer-connection.ts): the one from `@ackord/core`, on every connection, before
 *   anything else is read.
 * - **Peer up/down**: `peerUp` once a connection is authenticated, `peerDown` exactly once when it goes.
 *   A second authenticated connection from the same peer (it restarted before we noticed) replaces the
 *   first: peer-down, then peer-up.
 * - **`send` never throws**: it answers `queued`, `peerDown`, `tooLarge` or `backpressure`.
 * - **`close()`** ends every socket, the listener and the redial timers, and can be called any number of
 *   times, also concurrently.
 */
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import {
  AckordError,
  Handshake,
  type HandshakeError,
  type HandshakeRole,
  InvalidStateError,
  type SendOutcome,
  type SiteId,
  type Transport,
  type TransportHandlers,
} from '@ackord/core';
import { LENGTH_BYTES } from './frames.js';
import { PeerConnection } from './peer-connection.js';

export interface UnixSocketTransportOptions {
  readonly siteId: SiteId;
  /** The socket file this site listens on. Linux allows at most 107 bytes of path. */
  readonly path: string;
  /** Every other site and its socket file. */
  readonly peers: readonly { readonly id: SiteId; readonly path: string }[];
  readonly clusterId: string;
  /** The cluster secret: the same on every site. */
  readonly secret: string | Uint8Array;
  /** Largest frame `send` accepts and the reader allows (default 16 MiB). */
  readonly maxFrameBytes?: number;
  /** Bytes waiting to be written to one peer beyond which `send` says `backpressure` (default 64 MiB). */
  readonly maxQueuedBytes?: number;
  /** A connection that has not finished its handshake by then is closed (default 5 s). */
  readonly handshakeTimeoutMs?: number;
  /** Inbound connections still in their handshake beyond which new ones are closed at once (default 64). */
  readonly maxUnauthenticated?: number;
  /** Redial delay bounds (default 100 ms to 5 s). */
  readonly reconnect?: { readonly minMs: number; readonly maxMs: number };
  /** Told about every failed handshake (wrong secret, wrong cluster, unknown site, timeout, …). */
  readonly onHandshakeError?: (error: HandshakeError) => void;
}

type Peer = UnixSocketTransportOptions['peers'][number];

export class UnixSocketTransport implements Transport {
  readonly siteId: SiteId;
  readonly #options: UnixSocketTransportOptions;
  readonly #maxFrameBytes: number;
  readonly #maxQueuedBytes: number;
  readonly #server: Server;
  /** Every open socket, authenticated or not, so that close() can end them all. */
  readonly #connections = new Set<PeerConnection>();
  /** The one authenticated connection per peer: what `send` uses. */
  readonly #byPeer = new Map<SiteId, PeerConnection>();
  readonly #up = new Set<SiteId>();
  readonly #redialTimers = new Set<NodeJS.Timeout>();
  #unauthenticatedInbound = 0;
  #handlers: TransportHandlers | undefined;
  #listening: Promise<void> | undefined;
  #closing: Promise<void> | undefined;

  constructor(options: UnixSocketTransportOptions) {
    this.siteId = options.siteId;
    this.#options = options;
    this.#maxFrameBytes = options.maxFrameBytes ?? 16 * 1024 * 1024;
    this.#maxQueuedBytes = options.maxQueuedBytes ?? 64 * 1024 * 1024;
    // A frame of the maximum size must fit in an empty queue, or it could never be sent.
    if (this.#maxQueuedBytes < LENGTH_BYTES + this.#maxFrameBytes)
      throw new AckordError('ERR_ACKORD_CONFIG', 'maxQueuedBytes must hold at least one maximum-size frame');
    // Handshake checks the ids and the secret when it is built. Build one now, so that a bad option
    // throws here and not later, inside a socket callback, where nobody could catch it.
    new Handshake({ ...this.#handshakeOptions('initiator'), acceptPeer: () => false });
    this.#server = createServer((socket) => this.#accept(socket));
  }

  async start(handlers: TransportHandlers, options: { readonly signal?: AbortSignal } = {}): Promise<void> {
    options.signal?.throwIfAborted();
    if (this.#handlers !== undefined || this.#closing !== undefined)
      throw new InvalidStateError('a transport starts once');
    this.#handlers = handlers;
    this.#listening = listen(this.#server, this.#options.path);
    await this.#listening;
    options.signal?.addEventListener('abort', () => void this.close(), { once: true });
    for (const peer of this.#options.peers) if (peer.id > this.siteId) this.#dial(peer, 0);
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
    for (const timer of this.#redialTimers) clearTimeout(timer);
    this.#redialTimers.clear();
    // If start() is still binding, let it finish so that there is a listener to close.
    await this.#listening?.catch(() => undefined);
    const serverClosed = new Promise<void>((resolve) => {
      if (this.#server.listening) this.#server.close(() => resolve());
      else resolve();
    });
    const connections = [...this.#connections];
    for (const connection of connections) connection.destroy();
    await Promise.all([serverClosed, ...connections.map((connection) => connection.closed)]);
  }

  #dial(peer: Peer, attempt: number): void {
    if (this.#closing !== undefined) return;
    const socket = createConnection({ path: peer.path });
    const connection = this.#track(socket, 'initiator', (site) => site === peer.id);
    socket.once('connect', () => connection.begin());
    void connection.closed.then(() => {
      if (this.#closing !== undefined) return;
      // After a connection that worked, start the back-off again from the shortest delay.
      const next = connection.peer === undefined ? attempt + 1 : 0;
      const timer = setTimeout(() => {
        this.#redialTimers.delete(timer);
        this.#dial(peer, next);
      }, this.#redialDelayMs(next));
      this.#redialTimers.add(timer);
    });
  }

  /** Full jitter: uniform in [0, min(max, min·2^attempt)], so sites that lost a peer together spread out. */
  #redialDelayMs(attempt: number): number {
    const { minMs, maxMs } = this.#options.reconnect ?? { minMs: 100, maxMs: 5_000 };
    return Math.random() * Math.min(maxMs, minMs * 2 ** Math.min(attempt, 20));
  }

  #accept(socket: Socket): void {
    const cap = this.#options.maxUnauthenticated ?? 64;
    if (this.#closing !== undefined || this.#unauthenticatedInbound >= cap) {
      socket.destroy();
      return;
    }
    this.#unauthenticatedInbound++;
    let counted = true;
    const handshakeOver = () => {
      if (counted) this.#unauthenticatedInbound--;
      counted = false;
    };
    // Only sites that sort below us dial us (see "Who dials" above); anyone else is refused.
    const accept = (site: SiteId) =>
      site < this.siteId && this.#options.peers.some((peer) => peer.id === site);
    const connection = this.#track(socket, 'responder', accept, handshakeOver);
    connection.begin();
  }

  #track(
    socket: Socket,
    role: HandshakeRole,
    acceptPeer: (site: SiteId) => boolean,
    handshakeOver: () => void = () => undefined,
  ): PeerConnection {
    const connection: PeerConnection = new PeerConnection(socket, {
      handshake: { ...this.#handshakeOptions(role), acceptPeer },
      handshakeTimeoutMs: this.#options.handshakeTimeoutMs ?? 5_000,
      maxFrameBytes: this.#maxFrameBytes,
      maxQueuedBytes: this.#maxQueuedBytes,
      onAuthenticated: (peer) => {
        handshakeOver();
        this.#register(connection, peer);
      },
      onHandshakeFailed: (error) => {
        handshakeOver();
        this.#options.onHandshakeError?.(error);
      },
      onFrame: (frame) => {
        // Only the registered connection speaks for a peer: a replaced one may still have bytes in flight.
        const peer = connection.peer;
        if (peer !== undefined && this.#byPeer.get(peer) === connection) this.#handlers?.frame(peer, frame);
      },
      onClose: () => {
        handshakeOver();
        this.#connections.delete(connection);
        const peer = connection.peer;
        if (peer !== undefined && this.#byPeer.get(peer) === connection) {
          this.#byPeer.delete(peer);
          this.#up.delete(peer);
          this.#handlers?.peerDown(peer);
        }
      },
    });
    this.#connections.add(connection);
    return connection;
  }

  #handshakeOptions(role: HandshakeRole) {
    const { clusterId, secret } = this.#options;
    return { role, clusterId, siteId: this.siteId, secret, randomBytes: (size: number) => randomBytes(size) };
  }

  #register(connection: PeerConnection, peer: SiteId): void {
    if (this.#closing !== undefined) {
      connection.destroy();
      return;
    }
    const previous = this.#byPeer.get(peer);
    if (previous !== undefined) {
      // The peer restarted and reached us before its old socket closed: the new connection wins.
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

/**
 * Listens on a socket file. A file left behind by a process that crashed makes listen() fail with
 * EADDRINUSE; it is removed only when nothing answers on it, so a second live process is never robbed
 * of its address.
 */
async function listen(server: Server, path: string): Promise<void> {
  try {
    await listenOnce(server, path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE' || (await answers(path))) throw error;
    await rm(path, { force: true });
    await listenOnce(server, path);
  }
}

function listenOnce(server: Server, path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createConnection({ path });
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
}
