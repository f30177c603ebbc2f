/**
 * A link is one connection of a connection-oriented transport (a TCP socket, a WebSocket) as the peer
 * table sees it: it runs the handshake itself (with `LinkHandshake`), then carries frames. The table
 * (`PeerLinks`) decides whom to dial, which links to accept, and which link is a peer's live one.
 */
import type { SiteId } from '../replica/types.js';
import type { SendOutcome } from '../transport.js';
import type { ConnectionError } from './connection-error.js';
import type { HandshakeOptions } from './handshake.js';
import type { HandshakeError } from './handshake-error.js';
import type { TlsError } from './tls-error.js';

/** What a transport reports about a failed connection: the site we dialed (undefined inbound), and where from. */
export interface ConnectionContext {
  readonly peer: SiteId | undefined;
  readonly remoteAddress: string;
}

/** The typed events every built-in transport emits (an eventemitter3 event map). */
export interface TransportEvents {
  /** A connection failed the Ackord handshake (wrong secret, wrong cluster, timeout, …). */
  handshakeError: [error: HandshakeError, context: ConnectionContext];
  /** A connection failed TLS (no client certificate, one from another CA, an alert from the peer). */
  tlsError: [error: TlsError, context: ConnectionContext];
  /**
   * A connection broke the framing rules or went silent, and was closed; or the listener turned it
   * away before any handshake (the unauthenticated cap, unparseable HTTP).
   */
  connectionError: [error: ConnectionError, context: ConnectionContext];
}

export type LinkError = HandshakeError | TlsError | ConnectionError;

export interface Link {
  /** The authenticated peer; undefined until the handshake passes. */
  readonly peer: SiteId | undefined;
  readonly remoteAddress: string;
  /** Resolves once, when the connection is gone (after `LinkEvents.closed`). */
  readonly closed: Promise<void>;
  send(frame: Uint8Array): SendOutcome;
  /** Closes at once, without a goodbye. */
  destroy(): void;
}

/** What a link reports to the peer table. */
export interface LinkEvents {
  authenticated(link: Link, peer: SiteId): void;
  /** A typed failure; the link closes itself afterwards. */
  failed(link: Link, error: LinkError): void;
  frame(link: Link, frame: Uint8Array): void;
  /** Exactly once, whatever the reason. */
  closed(link: Link): void;
}

/** Everything a transport needs to open a link: the handshake to run, its time budget, whom to tell. */
export interface LinkSetup {
  readonly handshake: HandshakeOptions;
  /** Time left to finish the handshake; inbound links count it from the TCP accept. */
  readonly handshakeTimeoutMs: number;
  readonly events: LinkEvents;
}
