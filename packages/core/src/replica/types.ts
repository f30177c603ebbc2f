/**
 * The vocabulary of the pure replication core: what goes in (`ReplicaInput`), what comes out
 * (`ReplicaEffect`), and what a received message meant (`ProcessResult`, Berkeley DB's result codes).
 * Plain data only, so a run can be recorded, replayed and compared.
 */
import type { HistoryEntry } from './history.js';

export type SiteId = string;

/** How far a client got with a record before it acknowledged it. */
export type AckLevel = 'received' | 'written' | 'flushed';

export const ACK_LEVEL_RANK: Readonly<Record<AckLevel, number>> = { received: 0, written: 1, flushed: 2 };

export type Role = 'master' | 'client' | 'none';

/** Flags on a sent message, as Berkeley DB's send callback receives them. */
export const SendFlags = {
  /** The message carries a commit record. */
  PERMANENT: 1,
  /** Send now, do not batch. Kept for Berkeley DB compatibility (allowed on the wire); Ackord never sets it. */
  NOBUFFER: 2,
  /** Records sent again: a catch-up stream, or an answer to a request for missing records. */
  REREQUEST: 4,
  /** A request that any site holding the records may answer (client-to-client sync). */
  ANYWHERE: 8,
} as const;

/** Identifies a commit across sites and failovers: read-your-writes tokens. */
export interface CommitToken {
  readonly generation: number;
  readonly lsn: number;
}

export function formatToken(token: CommitToken): string {
  return `${token.generation}:${token.lsn}`;
}

export function parseToken(text: string): CommitToken | undefined {
  const match = /^(\d{1,10}):(\d{1,16})$/.exec(text);
  if (!match) return undefined;
  const token = { generation: Number(match[1]), lsn: Number(match[2]) };
  return Number.isSafeInteger(token.lsn) && token.generation <= 0xffff_ffff ? token : undefined;
}

/** A transaction ready to apply: its commit record has arrived (never earlier, never in part). */
export interface AppliedTransaction {
  readonly txnId: number;
  readonly generation: number;
  readonly commitLsn: number;
  /** LSN after the commit record. */
  readonly endLsn: number;
  readonly payloads: readonly Uint8Array[];
  /**
   * Set when the transaction was too large to hold in memory until its commit: `payloads` is empty and
   * the shell reads the transaction's data records back from the log, from this LSN to `commitLsn`.
   */
  readonly readFromLsn?: number;
}

/** The facts about the local log the core starts from (the shell reads them at open). */
export interface LogPosition {
  /** First LSN still in the log. */
  readonly firstLsn: number;
  readonly nextLsn: number;
  readonly writtenLsn: number;
  readonly durableLsn: number;
  readonly history: readonly HistoryEntry[];
  /**
   * The generation to start at when it is above the last record's: the highest generation the site
   * learned and stored before it stopped (the manager's ELECTION file). Default: the last record's.
   */
  readonly generation?: number;
  readonly nextTxnId: number;
  /** Commit records at the tail not known to be acknowledged yet (LSN, end LSN), ascending. */
  readonly tailCommits?: readonly { readonly lsn: number; readonly endLsn: number }[];
  /** Transactions at the tail with data records but no commit yet: kept so a later commit applies them. */
  readonly openTransactions?: readonly {
    readonly txnId: number;
    readonly payloads: readonly { lsn: number; payload: Uint8Array }[];
  }[];
}

export type ReplicaInput =
  | { readonly type: 'tick'; readonly now: number }
  | {
      readonly type: 'message';
      readonly from: SiteId;
      readonly message: import('../wire/messages.js').Message;
    }
  | { readonly type: 'durable'; readonly writtenLsn: number; readonly durableLsn: number }
  | {
      readonly type: 'logRead';
      readonly requestId: number;
      /** Whole records in their on-disk encoding, starting at the requested LSN. Empty: nothing there. */
      readonly bytes: Uint8Array;
      readonly fromLsn: number;
    }
  | { readonly type: 'logReadFailed'; readonly requestId: number; readonly firstLsn: number }
  | {
      readonly type: 'snapshotTaken';
      readonly requestId: number;
      readonly lsn: number;
      readonly data: Uint8Array;
    }
  | { readonly type: 'peerUp'; readonly site: SiteId }
  | { readonly type: 'peerDown'; readonly site: SiteId }
  | { readonly type: 'becomeMaster'; readonly generation: number }
  | { readonly type: 'becomeClient' }
  /**
   * An election at `generation` is under way here: from now on take nothing from a master of an older
   * generation (a paused old master must not get acks for writes the election's winner may lack).
   */
  | { readonly type: 'fence'; readonly generation: number }
  /** Ship the batched live records now: those ending in a commit, or (`force`) all of them. */
  | { readonly type: 'flushBulk'; readonly force?: boolean };

export type ReplicaEffect =
  /** Append these whole encoded records at `firstLsn` (the log's end). */
  | {
      readonly type: 'append';
      readonly bytes: Uint8Array;
      readonly firstLsn: number;
      readonly endLsn: number;
    }
  /** Make the log durable up to `lsn` (exclusive) at the site's level; report with a `durable` input. */
  | { readonly type: 'flush'; readonly lsn: number }
  | {
      readonly type: 'send';
      readonly to: SiteId | 'broadcast';
      readonly message: import('../wire/messages.js').Message;
      readonly flags: number;
    }
  /**
   * Live records for the synced peers in `to` (possibly none): one message, encoded once. `endLsn` is
   * the LSN after its last record, so a shell can tell which commits it carried.
   */
  | {
      readonly type: 'ship';
      readonly to: readonly SiteId[];
      readonly message: import('../wire/messages.js').LogMessage;
      readonly flags: number;
      readonly endLsn: number;
      /**
       * `message` already encoded, when the core built the frame itself (a bulk batch: the frame around
       * the records, which were not copied). Send these bytes rather than encoding `message` again.
       */
      readonly frame?: Buffer | undefined;
    }
  /** Read whole records from `fromLsn`, at most `maxBytes` (at least one record); answer with `logRead`. */
  | {
      readonly type: 'readLog';
      readonly requestId: number;
      readonly fromLsn: number;
      readonly toLsn: number;
      readonly maxBytes: number;
    }
  /** Roll back: remove records from `toLsn` on; the state machine loses what it applied from there. */
  | { readonly type: 'truncate'; readonly toLsn: number }
  | { readonly type: 'apply'; readonly txn: AppliedTransaction }
  /** Take a state-machine snapshot (at a transaction boundary) for internal init; answer `snapshotTaken`. */
  | { readonly type: 'takeSnapshot'; readonly requestId: number }
  /**
   * Internal init: replace the log by an empty one starting at `lsn` and restore the state machine.
   * Records from `discardFrom` on were not shared with the master: the shell reports them rolled back.
   */
  | {
      readonly type: 'restore';
      readonly lsn: number;
      readonly snapshot: Uint8Array;
      readonly discardFrom: number;
    }
  | {
      readonly type: 'roleChanged';
      readonly role: Role;
      readonly generation: number;
      readonly master: SiteId | undefined;
    }
  /** A client acknowledged permanent records up to `lsn` at `level` (master side). */
  | { readonly type: 'acked'; readonly site: SiteId; readonly lsn: number; readonly level: AckLevel }
  | { readonly type: 'holdElection'; readonly reason: string }
  | { readonly type: 'joinFailure'; readonly reason: string }
  | { readonly type: 'newSite'; readonly site: SiteId };

/** Berkeley DB's `processMessage` results. */
export type ProcessResult =
  /** Permanent records up to `lsn` are (or will be, once the `flush` effect completes) durable here. */
  | { readonly code: 'ISPERM'; readonly lsn: number }
  /** The permanent record at `lsn` could not be made durable: records in [missingFrom, missingTo) are missing. */
  | {
      readonly code: 'NOTPERM';
      readonly lsn: number;
      readonly missingFrom: number;
      readonly missingTo: number;
    }
  | { readonly code: 'NEWSITE'; readonly site: SiteId }
  | { readonly code: 'HOLDELECTION' }
  | { readonly code: 'DUPMASTER' }
  | { readonly code: 'IGNORE'; readonly reason: string }
  | { readonly code: 'JOIN_FAILURE' }
  | { readonly code: 'OK' };
