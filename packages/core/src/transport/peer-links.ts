/**
 * The peer table shared by the connection-oriented transports (TCP, WebSocket): whom to dial, which
 * inbound connections to accept, and which link is each peer's live one.
 *
 * Connection rule: **the site whose id sorts lower dials** (JavaScript string order); the higher one
 * only accepts, and refuses (`unknown-peer`) a connection from a site it should be dialing itself. So
 * there is one connection per pair and no duplicate to break ties over. If an authenticated link
 * arrives for a peer that already has one (it restarted before we noticed), the new one replaces the
 * old: peer-down, then peer-up. A dialer whose link closes redials after a capped exponential back-off
 * with full jitter; `close()` stops it.
 */
import type { Socket } from 'node:net';
import type { EventEmitter } from 'eventemitter3';
import type { Logger } from '../logger.js';
import type { SiteId } from '../replica/types.js';
import type { SendOutcome, TransportHandlers } from '../transport.js';
import { Admissions } from './admissions.js';
import { type ReconnectBounds, reconnectDelayMs } from './backoff.js';
import { ConnectionError } from './connection-error.js';
import { HandshakeError } from './handshake-error.js';
import type { HandshakeRole } from './handshake-proof.js';
import type { ConnectionContext, Link, LinkError, LinkEvents, LinkSetup, TransportEvents } from './link.js';
import { TlsError } from './tls-error.js';

export interface PeerLinksOptions {
  readonly siteId: SiteId;
  readonly clusterId: string;
  readonly secret: Uint8Array | string;
  /** Every other site that may connect to us or that we dial. */
  readonly peers: readonly SiteId[];
  /** The peers this site dials: ids above its own. */
  readonly dialing: readonly SiteId[];
  readonly handshakeTimeoutMs: number;
  readonly maxUnauthenticated: number;
  readonly reconnect: ReconnectBounds;
  readonly randomBytes: (size: number) => Uint8Array;
  readonly random: () => number;
  readonly logger: Logger;
  /** Opens a link to `peer`: connect, then run the handshake in `setup`. */
  readonly dial: (peer: SiteId, setup: LinkSetup) => Link;
  /** A typed connection failure, for the transport's events. */
  readonly onError: (error: LinkError, context: ConnectionContext) => void;
}

interface Dialer {
  readonly peer: SiteId;
  attempt: number;
  link: Link | undefined;
  timer: NodeJS.Timeout | undefined;
}

export class PeerLinks {
  readonly #options: PeerLinksOptions;
  readonly #known: ReadonlySet<SiteId>;
  readonly #admissions: Admissions;
  /** Every live link, authenticated or not, so close() can end them all. */
  readonly #links = new Set<Link>();
  readonly #byPeer = new Map<SiteId, Link>();
  readonly #up = new Set<SiteId>();
  readonly #dialers = new Map<SiteId, Dialer>();
  #handlers: TransportHandlers | undefined;
  #closing: Promise<void> | undefined;

  constructor(options: PeerLinksOptions) {
    this.#options = options;
    this.#known = new Set(options.peers);
    this.#admissions = new Admissions({
      maxUnauthenticated: options.maxUnauthenticated,
      handshakeTimeoutMs: options.handshakeTimeoutMs,
      onTimeout: (remoteAddress) =>
        this.#failed(new HandshakeError('timeout', 'no handshake began in time'), {
          peer: undefined,
          remoteAddress,
        }),
      onRefused: (remoteAddress) => {
        // Its own warning (not 'connection failed'): an operator greps for this one.
        options.logger.warn({ remoteAddress }, 'connection refused: too many unauthenticated');
        options.onError(
          new ConnectionError(
            'unauthenticated-cap',
            `${options.maxUnauthenticated} inbound connections are already authenticating`,
          ),
          { peer: undefined, remoteAddress },
        );
      },
    });
  }

  get closing(): boolean {
    return this.#closing !== undefined;
  }

  /** Inbound connections holding an unauthenticated slot now. */
  get unauthenticated(): number {
    return this.#admissions.held;
  }

  /** Starts dialing; `handlers` hear every frame and peer change from now on. */
  start(handlers: TransportHandlers): void {
    this.#handlers = handlers;
    for (const peer of this.#options.dialing) {
      const dialer: Dialer = { peer, attempt: 0, link: undefined, timer: undefined };
      this.#dialers.set(peer, dialer);
      this.#dial(dialer);
    }
  }

  /**
   * A new inbound TCP socket (before any TLS or upgrade): takes an unauthenticated slot, or destroys the
   * socket when none is free — logged, and reported as a `ConnectionError` `unauthenticated-cap`.
   * Returns whether it was admitted.
   */
  admit(socket: Socket): boolean {
    if (this.closing) {
      socket.destroy();
      return false;
    }
    return this.#admissions.admit(socket);
  }

  /**
   * An admitted socket (or the TLS socket over it) is ready for the handshake: `open` creates the link
   * with the setup given. Returns undefined, with the socket destroyed, if it was not admitted.
   */
  accept<L extends Link>(socket: Socket, open: (setup: LinkSetup) => L): L | undefined {
    const admission = this.closing ? undefined : this.#admissions.claim(socket);
    if (admission === undefined) {
      socket.destroy();
      return undefined;
    }
    // Only lower ids dial us: see the connection rule at the top of this file.
    const acceptPeer = (site: SiteId) => this.#known.has(site) && site < this.#options.siteId;
    const link = open(
      this.#setup('responder', acceptPeer, admission.remainingMs, undefined, admission.release),
    );
    this.#links.add(link);
    void link.closed.then(admission.release);
    return link;
  }

  send(to: SiteId, frame: Uint8Array): SendOutcome {
    const link = this.#byPeer.get(to);
    return link === undefined ? 'peerDown' : link.send(frame);
  }

  connectedPeers(): ReadonlySet<SiteId> {
    return this.#up;
  }

  /** Stops dialing and closes every link and inbound socket. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    for (const dialer of this.#dialers.values()) clearTimeout(dialer.timer);
    this.#admissions.destroyAll();
    const links = [...this.#links];
    for (const link of links) link.destroy();
    await Promise.all(links.map((link) => link.closed));
  }

  #dial(dialer: Dialer): void {
    dialer.timer = undefined;
    if (this.closing) return;
    const setup = this.#setup(
      'initiator',
      (site) => site === dialer.peer,
      this.#options.handshakeTimeoutMs,
      dialer.peer,
    );
    const link = this.#options.dial(dialer.peer, setup);
    dialer.link = link;
    this.#links.add(link);
    void link.closed.then(() => {
      dialer.link = undefined;
      if (this.closing) return;
      const delayMs = reconnectDelayMs(dialer.attempt++, this.#options.reconnect, this.#options.random);
      this.#options.logger.debug({ peer: dialer.peer, delayMs }, 'redialing');
      dialer.timer = setTimeout(() => this.#dial(dialer), delayMs);
      // Redialing alone must not keep a process alive.
      dialer.timer.unref();
    });
  }

  #setup(
    role: HandshakeRole,
    acceptPeer: (site: SiteId) => boolean,
    handshakeTimeoutMs: number,
    dialed: SiteId | undefined,
    onAuthenticated: () => void = () => undefined,
  ): LinkSetup {
    const options = this.#options;
    const events: LinkEvents = {
      authenticated: (link, peer) => {
        onAuthenticated();
        this.#register(link, peer);
      },
      failed: (link, error) =>
        this.#failed(error, { peer: dialed ?? link.peer, remoteAddress: link.remoteAddress }),
      frame: (link, frame) => {
        if (link.peer !== undefined && this.#byPeer.get(link.peer) === link)
          this.#handlers?.frame(link.peer, frame);
      },
      closed: (link) => {
        this.#links.delete(link);
        const peer = link.peer;
        if (peer !== undefined && this.#byPeer.get(peer) === link) {
          this.#byPeer.delete(peer);
          this.#up.delete(peer);
          this.#handlers?.peerDown(peer);
        }
      },
    };
    return {
      handshake: {
        role,
        clusterId: options.clusterId,
        siteId: options.siteId,
        secret: options.secret,
        randomBytes: options.randomBytes,
        acceptPeer,
      },
      handshakeTimeoutMs,
      events,
    };
  }

  /** A typed failure the transport found itself (e.g. a client certificate refused): logged and emitted. */
  reportError(error: LinkError, context: ConnectionContext): void {
    this.#failed(error, context);
  }

  #failed(error: LinkError, context: ConnectionContext): void {
    this.#options.logger.warn(
      { kind: error.name, reason: error.reason, remoteAddress: context.remoteAddress },
      'connection failed',
    );
    this.#options.onError(error, context);
  }

  #register(link: Link, peer: SiteId): void {
    if (this.closing) {
      link.destroy();
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
    this.#byPeer.set(peer, link);
    this.#up.add(peer);
    this.#handlers?.peerUp(peer);
  }
}

/** Emits a typed link failure as the matching `TransportEvents` event. */
export function emitLinkError(
  emitter: EventEmitter<TransportEvents>,
  error: LinkError,
  context: ConnectionContext,
): void {
  if (error instanceof HandshakeError) emitter.emit('handshakeError', error, context);
  else if (error instanceof TlsError) emitter.emit('tlsError', error, context);
  else emitter.emit('connectionError', error, context);
}
