/**
 * The control channel between a test and a site process (site.ts): JSON lines. The test writes one
 * request per line to the site's stdin; the site writes replies (matched by `id`) and unsolicited events
 * to its stdout, one JSON object per line. stderr is free-form diagnostics.
 */

export type TransportKind = 'tcp' | 'ws';
export type Policy = 'none' | 'one' | 'one_peer' | 'quorum' | 'all' | 'all_peers' | 'all_available';

/** Frames whose bytes start with this are an attacker's probe: a site counts them and never passes them on. */
export const ATTACK_MARKER = 'ACKORD-ATTACK-PROBE';

export type Request =
  | {
      readonly cmd: 'commit';
      /** Commits `count` transactions one after the other, each a put of `${keyPrefix}${i}`. */
      readonly count: number;
      readonly keyPrefix: string;
      readonly policy: Policy;
      readonly ackTimeoutMs?: number;
      readonly valueBytes?: number;
    }
  | { readonly cmd: 'stats' }
  | { readonly cmd: 'get'; readonly key: string }
  | { readonly cmd: 'digest' }
  /**
   * Master: commits in a loop (one at a time) until `stopLoop`, each a put of one of `keys` keys (default
   * 256), so the state stays bounded; counts go into stats.loop and carry over from one loop to the next.
   */
  | {
      readonly cmd: 'startLoop';
      readonly policy: Policy;
      readonly valueBytes: number;
      readonly keys?: number;
    }
  | { readonly cmd: 'stopLoop' }
  | { readonly cmd: 'shutdown' };

export type RequestWithId = Request & { readonly id: number };

/** What a site reports of a commit receipt. */
export interface ReceiptSummary {
  readonly key: string;
  readonly lsn: number;
  readonly generation: number;
  readonly policy: string;
  readonly outcome: string;
  readonly perm: boolean | null;
  readonly reason: string | null;
  readonly ackedBy: readonly string[];
  readonly needed: number;
  readonly missing: readonly string[];
  readonly elapsedMs: number;
  readonly token: string;
}

export interface LoopCounts {
  readonly running: boolean;
  readonly acknowledged: number;
  readonly permFailed: number;
  readonly unknown: number;
  readonly errors: number;
  readonly lastError: string | null;
}

export interface SiteStats {
  readonly siteId: string;
  readonly pid: number;
  readonly role: string;
  readonly generation: number;
  readonly master: string | null;
  readonly connected: readonly string[];
  readonly commits: number;
  readonly permAcknowledged: number;
  readonly permFailures: number;
  readonly appliedLsn: number;
  readonly logNextLsn: number;
  readonly sendsRefused: {
    readonly peerDown: number;
    readonly backpressure: number;
    readonly tooLarge: number;
  };
  /** Frames the transport delivered, by the site it attributed them to. */
  readonly framesFrom: Readonly<Record<string, number>>;
  /** Frames attributed to a site that is not configured (must stay 0). */
  readonly framesFromStrangers: number;
  /** Frames carrying ATTACK_MARKER that reached the manager's handler (must stay 0 for failed handshakes). */
  readonly attackFramesDelivered: number;
  /** Handshake failures reported by the transport, by reason. */
  readonly handshakeErrors: Readonly<Record<string, number>>;
  /**
   * Connections the transport closed or refused other than for a failed handshake or TLS, by reason:
   * broken framing, liveness (`unresponsive`), the unauthenticated cap, bad HTTP.
   */
  readonly connectionErrors: Readonly<Record<string, number>>;
  /** Frames from authenticated peers that did not decode. */
  readonly badMessages: number;
  /** Warnings the site's logger received (transport and manager), by message. */
  readonly warnings: Readonly<Record<string, number>>;
  readonly rss: number;
  readonly heapUsed: number;
  readonly loop: LoopCounts;
}

export interface Digest {
  readonly entries: number;
  readonly sha256: string;
  readonly appliedLsn: number;
}

export type Reply =
  | { readonly id: number; readonly ok: true; readonly result: unknown }
  | {
      readonly id: number;
      readonly ok: false;
      readonly error: { readonly name: string; readonly code?: string; readonly message: string };
    };

/** Unsolicited: everything a test may wait for. */
export type SiteEvent =
  | { readonly event: 'ready'; readonly siteId: string; readonly pid: number; readonly port: number }
  | {
      readonly event: 'handshakeError';
      readonly code: string;
      readonly reason: string;
      readonly remote: boolean;
      readonly peer: string | null;
      readonly remoteAddress: string;
    }
  /**
   * A connection the transport closed or refused (ConnectionError): broken framing, liveness, the
   * unauthenticated cap (`unauthenticated-cap`), unparseable HTTP (`bad-http`).
   */
  | {
      readonly event: 'connectionError';
      readonly code: string;
      readonly reason: string;
      readonly detail: string;
      readonly peer: string | null;
      readonly remoteAddress: string;
    }
  | { readonly event: 'badMessage'; readonly from: string; readonly reason: string }
  | { readonly event: 'connectEstablished'; readonly site: string }
  | { readonly event: 'connectBroken'; readonly site: string }
  | { readonly event: 'newMaster'; readonly master: string; readonly generation: number }
  | { readonly event: 'log'; readonly level: string; readonly message: string; readonly fields: object }
  | { readonly event: 'fatal'; readonly message: string };
