/**
 * The `Transport` interface: moves opaque frames between sites. Encoding, validation and (with the TCP
 * and WebSocket transports) the authentication handshake live in core; a transport only carries bytes
 * and says who is reachable. `send` never throws for a peer that is down: it returns an outcome.
 */
import type { SiteId } from './replica/types.js';

/**
 * What became of a frame handed to `send`:
 * - `queued`: accepted for delivery (it may still be lost if the connection breaks);
 * - `peerDown`: no connection to that site now;
 * - `backpressure`: the per-peer queue is full; try later (nothing was queued);
 * - `tooLarge`: above the transport's maximum frame size (nothing was queued).
 */
export type SendOutcome = 'queued' | 'peerDown' | 'backpressure' | 'tooLarge';

export interface TransportHandlers {
  /** A whole frame from an authenticated peer. The bytes are the receiver's to keep. */
  readonly frame: (from: SiteId, frame: Uint8Array) => void;
  readonly peerUp: (site: SiteId) => void;
  readonly peerDown: (site: SiteId) => void;
}

export interface Transport {
  readonly siteId: SiteId;
  /** Starts listening and connecting; `handlers` receive everything from then on. */
  start(handlers: TransportHandlers, options?: { readonly signal?: AbortSignal }): Promise<void>;
  send(to: SiteId, frame: Uint8Array): SendOutcome;
  /** Sites with a live connection now. */
  connectedPeers(): ReadonlySet<SiteId>;
  /** Idempotent: closes every connection and listener. */
  close(): Promise<void>;
}
