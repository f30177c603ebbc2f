/** Configuration of the pure core, with the bounds every queue and buffer in it obeys. */
import type { AckLevel, LogPosition, SiteId } from './types.js';

export interface ReplicaCoreConfig {
  readonly siteId: SiteId;
  /** The other sites of the group (ids). Used for client-to-client re-requests. */
  readonly peers: readonly SiteId[];
  /** The level this site's acks claim: follows its durability mode (none → received, write → written, fsync/dsync → flushed). */
  readonly ackLevel: AckLevel;
  /** A view replicates but never acks (and never votes or becomes master). */
  readonly view: boolean;
  readonly log: LogPosition;
  /** The time the core starts at (ms, the shell's clock). */
  readonly now: number;
  readonly maxPayloadBytes: number;
  /**
   * Batching of live records: a batch is shipped when it holds maxBytes or maxRecords, when its oldest
   * record is maxDelayMs old, and on a `flushBulk` input (which the shell sends at the end of every turn
   * in synchronous mode, and only on `sync()` in asynchronous mode).
   */
  readonly bulk: {
    readonly enabled: boolean;
    readonly maxBytes: number;
    readonly maxRecords: number;
    readonly maxDelayMs: number;
  };
  /** Re-request back-off: first wait and cap (Berkeley DB: 40 ms up to 1.28 s). */
  readonly rerequestMinMs: number;
  readonly rerequestMaxMs: number;
  /** Bound on records held after a gap. */
  readonly gapBufferBytes: number;
  /** Catch-up reads per request, and how far a catch-up may run ahead of the client's acknowledged end. */
  readonly catchUpChunkBytes: number;
  readonly catchUpWindowBytes: number;
  /** Internal init (snapshot + log) when the master's log no longer reaches back; off: JOIN_FAILURE. */
  readonly autoInit: boolean;
  /** Re-requests may alternate with other clients (ANYWHERE). */
  readonly clientToClientSync: boolean;
  /** Bound on the payload bytes of transactions whose commit has not arrived yet. */
  readonly maxOpenTransactionBytes: number;
  /**
   * Master: how often it sends a heartbeat to every connected client (and a new-master announcement to
   * a connected client that is not in sync). Clients learn of records they missed from it.
   */
  readonly heartbeatIntervalMs: number;
  /**
   * @internal Deliberately broken behaviour for the simulator's must-fail controls: a checker that never
   * fails proves nothing. Never set outside tests.
   */
  readonly testMutations?: TestMutations;
}

export interface TestMutations {
  /** Acknowledge on receipt whatever level is claimed (breaks P8). */
  readonly ackBeforeFlush?: boolean;
  /** Roll back to the start of the generation before the common point (breaks P7). */
  readonly rollbackPastCommon?: boolean;
}

export const DEFAULT_CORE_CONFIG = {
  view: false,
  bulk: { enabled: true, maxBytes: 1024 * 1024, maxRecords: 100_000, maxDelayMs: 1 },
  rerequestMinMs: 40,
  rerequestMaxMs: 1280,
  gapBufferBytes: 8 * 1024 * 1024,
  catchUpChunkBytes: 256 * 1024,
  catchUpWindowBytes: 4 * 1024 * 1024,
  autoInit: true,
  clientToClientSync: true,
  maxOpenTransactionBytes: 64 * 1024 * 1024,
  heartbeatIntervalMs: 500,
  maxPayloadBytes: 1024 * 1024,
} as const satisfies Partial<ReplicaCoreConfig>;

/** At most this many log reads in flight (catch-up and re-requests together); more requests wait or are dropped. */
export const MAX_READS_IN_FLIGHT = 64;
/** At most this many snapshots in flight for internal init. */
export const MAX_SNAPSHOTS_IN_FLIGHT = 4;
