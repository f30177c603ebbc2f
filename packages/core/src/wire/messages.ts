/**
 * The replication messages as plain data: a discriminated union on `type`. Every message carries the
 * sender's generation; site ids are not in messages (the transport knows the sender). LSNs are byte
 * positions in the log, non-negative safe integers; generations are u32. The byte layout of each body
 * is in body.ts and docs/protocol.md.
 */
import type { DurabilityLevel } from '../log/log.js';
import type { AckPolicy } from '../manager/policy.js';
import type { HistoryEntry } from '../replica/history.js';
import type { AckLevel } from '../replica/types.js';

/** The message type byte of the frame header. Numbers are part of the protocol: never reuse one. */
export const MessageType = {
  log: 1,
  ack: 2,
  logRequest: 3,
  syncRequest: 4,
  syncVerify: 5,
  init: 6,
  newMaster: 7,
  masterRequest: 8,
  heartbeat: 9,
  vote1: 10,
  vote2: 11,
  forward: 12,
  forwardResult: 13,
  election: 14,
} as const;
export type MessageTypeName = keyof typeof MessageType;
export type MessageTypeCode = (typeof MessageType)[MessageTypeName];

/** Header flag bits (Berkeley DB's send flags). Bits not listed here must be 0. */
export const FrameFlags = {
  /** The frame carries a commit record (only on `log`; set if and only if the batch holds a commit). */
  PERMANENT: 1,
  /** Send at once, do not batch. */
  NOBUFFER: 2,
  /** A request repeated after no answer, or records re-sent in answer to a request. */
  REREQUEST: 4,
  /** A request any site holding the records may answer (client-to-client sync). */
  ANYWHERE: 8,
} as const;

/**
 * Records shipped from a master (or, with ANYWHERE, another client). `records` is whole log records in
 * their on-disk encoding (log/record.ts), contiguous, at least one. `prevLsn`/`prevGeneration` identify
 * the record just before the first one (0/0: none), so the receiver can check that its log matches.
 */
export interface LogMessage {
  readonly type: 'log';
  readonly generation: number;
  /** PERMANENT (required iff a commit record is in the batch), NOBUFFER, REREQUEST. */
  readonly flags: number;
  readonly prevLsn: number;
  readonly prevGeneration: number;
  readonly records: Uint8Array;
}

/** What the decoder learned while validating a `log` batch, so the hot path never parses it again. */
export interface LogBatch {
  readonly recordCount: number;
  /** LSN of the first record. */
  readonly firstLsn: number;
  /** LSN of the last record. */
  readonly lastLsn: number;
  /** LSN just after the last record: the receiver's log end once the batch is appended. */
  readonly endLsn: number;
  readonly firstGeneration: number;
  readonly lastGeneration: number;
  readonly hasCommit: boolean;
  /** LSN of the last commit record in the batch; 0 when there is none (0 is never a record's LSN). */
  readonly lastCommitLsn: number;
}

/** A decoded `log` message: `records` is a view into the received bytes, `batch` its summary. */
export interface DecodedLogMessage extends LogMessage {
  readonly batch: LogBatch;
}

/** A client's acknowledgement: permanent records up to `lsn` are durable here at `level`. */
export interface AckMessage {
  readonly type: 'ack';
  readonly generation: number;
  /** The largest permanent LSN durable at the receiver (0: none). */
  readonly lsn: number;
  readonly level: AckLevel;
  /** The receiver's log end. */
  readonly nextLsn: number;
}

/** A client asking for a missing range of the log. */
export interface LogRequestMessage {
  readonly type: 'logRequest';
  readonly generation: number;
  /** NOBUFFER, REREQUEST, ANYWHERE. */
  readonly flags: number;
  readonly fromLsn: number;
  /** Exclusive; 0 = up to the end of the log. Otherwise ≥ fromLsn. */
  readonly toLsn: number;
  /** The client's last record, identifying where its log ends. */
  readonly lastLsn: number;
  readonly lastGeneration: number;
}

/** A client telling a master where its log ends. */
export interface SyncRequestMessage {
  readonly type: 'syncRequest';
  readonly generation: number;
  readonly lastLsn: number;
  readonly lastGeneration: number;
  readonly nextLsn: number;
}

/** A master's generation history, so a client can find the last record the two logs share. */
export interface SyncVerifyMessage {
  readonly type: 'syncVerify';
  readonly generation: number;
  /** The master's first LSN still in its log. */
  readonly firstLsn: number;
  readonly nextLsn: number;
  /** Strictly increasing in both fields; at most MAX_MESSAGE_HISTORY_ENTRIES. */
  readonly history: readonly HistoryEntry[];
}

/** Internal init: a state-machine snapshot and the LSN the log continues from. */
export interface InitMessage {
  readonly type: 'init';
  readonly generation: number;
  readonly snapshotLsn: number;
  readonly history: readonly HistoryEntry[];
  /** Opaque state-machine bytes. Decoded: a view into the received bytes. */
  readonly snapshot: Uint8Array;
}

export interface NewMasterMessage {
  readonly type: 'newMaster';
  readonly generation: number;
  readonly nextLsn: number;
}

export interface MasterRequestMessage {
  readonly type: 'masterRequest';
  readonly generation: number;
}

export interface HeartbeatMessage {
  readonly type: 'heartbeat';
  readonly generation: number;
  readonly nextLsn: number;
  /** The master's last permanent LSN. */
  readonly permLsn: number;
}

/** Election phase 1 (packages/election owns the meaning; the wire only carries it). */
export interface Vote1Message {
  readonly type: 'vote1';
  readonly generation: number;
  readonly electionGeneration: number;
  readonly dataGeneration: number;
  readonly lastLsn: number;
  readonly priority: number;
  readonly tiebreaker: number;
  readonly nsites: number;
  readonly nvotes: number;
}

/** Election phase 2: a vote for `candidate` (a site id, 1 to MAX_SITE_ID_BYTES bytes of UTF-8). */
export interface Vote2Message {
  readonly type: 'vote2';
  readonly generation: number;
  readonly electionGeneration: number;
  readonly candidate: string;
}

/** The election's other traffic (pre-vote, ping/pong, transfer): see `@ackord/election`. */
export const ELECTION_CONTROL_KINDS = ['preVote', 'preVoteReply', 'ping', 'pong', 'transfer'] as const;
export type ElectionControlKind = (typeof ELECTION_CONTROL_KINDS)[number];

/** Election control: `site` is 0 to MAX_SITE_ID_BYTES bytes of UTF-8 (the target of a `transfer`). */
export interface ElectionControlMessage {
  readonly type: 'election';
  readonly generation: number;
  readonly electionGeneration: number;
  readonly kind: ElectionControlKind;
  readonly granted: boolean;
  readonly dataGeneration: number;
  readonly lastLsn: number;
  /** ping/pong: the master's clock when it sent the ping (echoed). */
  readonly time: number;
  readonly site: string;
}

/**
 * Write forwarding: a client hands a commit (its payloads, in order) to the master, which commits it
 * and answers with `forwardResult` carrying the same `requestId`.
 */
export interface ForwardMessage {
  readonly type: 'forward';
  readonly generation: number;
  /** Chosen by the sender to match the answer to the request (u32). */
  readonly requestId: number;
  /** The acknowledgement policy to commit under; undefined: the master's default. */
  readonly policy: AckPolicy | undefined;
  /** How long the master waits for acks, in whole ms, at most MAX_ACK_TIMEOUT_MS; undefined: its default. */
  readonly ackTimeoutMs: number | undefined;
  /**
   * At most MAX_FORWARD_PAYLOADS, each at most the receiver's record payload limit (`maxRecordBytes`
   * minus the record header). Decoded: views into the received bytes.
   */
  readonly payloads: readonly Uint8Array[];
}

/** What became of a forwarded commit. */
export type ForwardOutcome = 'acknowledged' | 'permFailed' | 'unknown' | 'notMaster';

/** Why a forwarded commit is not perm: the master receipt's `reason`. Codes 1… on the wire, in order. */
export const FORWARD_REASONS = ['timeout', 'unreachable', 'notQuorum', 'lostMastership'] as const;
export type ForwardReason = (typeof FORWARD_REASONS)[number];

/** An ack that counted for a forwarded commit, as the master's receipt listed it. */
export interface ForwardedAck {
  /** A site id: 1 to MAX_SITE_ID_BYTES bytes of UTF-8. */
  readonly site: string;
  readonly level: AckLevel;
  /** From the commit's start on the master to the ack, in microseconds (u32: the master clamps). */
  readonly latencyUs: number;
}

/**
 * The master's answer to a `forward`: its receipt of the commit, field for field (but `txnId` and
 * `elapsedMs`). For `notMaster` everything past `commitGeneration` is empty: no policy, no reason,
 * needed 0, no flush, `buffered`, no acks, no missing sites.
 */
export interface ForwardResultMessage {
  readonly type: 'forwardResult';
  readonly generation: number;
  /** The `requestId` of the `forward` answered. */
  readonly requestId: number;
  /** `notMaster`: the receiver is not the master and did not commit. */
  readonly outcome: ForwardOutcome;
  /** The commit's LSN; 0 exactly when `outcome` is `notMaster`. */
  readonly lsn: number;
  /** The generation the commit was written in; 0 exactly when `outcome` is `notMaster`. */
  readonly commitGeneration: number;
  /** The policy the master committed under (its default when none was asked for); undefined exactly for `notMaster`. */
  readonly policy: AckPolicy | undefined;
  readonly reason: ForwardReason | undefined;
  /** Acks the policy still needed (0 when met); at most MAX_GROUP_SITES (a group's size). */
  readonly needed: number;
  readonly localFlushForced: boolean;
  /** How durable the commit was on the master when it answered. */
  readonly localLevel: DurabilityLevel;
  /** At most MAX_GROUP_SITES (a group's size). */
  readonly ackedBy: readonly ForwardedAck[];
  /** Site ids (1 to MAX_SITE_ID_BYTES bytes of UTF-8); at most MAX_GROUP_SITES (a group's size). */
  readonly missing: readonly string[];
}

/** The fields of a `notMaster` answer: nothing committed, so no receipt (the zod pass insists on it). */
export const NOT_MASTER_RESULT = Object.freeze({
  outcome: 'notMaster',
  lsn: 0,
  commitGeneration: 0,
  policy: undefined,
  reason: undefined,
  needed: 0,
  localFlushForced: false,
  localLevel: 'buffered',
  ackedBy: Object.freeze([]),
  missing: Object.freeze([]),
} as const satisfies Omit<ForwardResultMessage, 'type' | 'generation' | 'requestId'>);

export type Message =
  | LogMessage
  | AckMessage
  | LogRequestMessage
  | SyncRequestMessage
  | SyncVerifyMessage
  | InitMessage
  | NewMasterMessage
  | MasterRequestMessage
  | HeartbeatMessage
  | Vote1Message
  | Vote2Message
  | ForwardMessage
  | ForwardResultMessage
  | ElectionControlMessage;

/** What the decoders return: a `Message`, with the `log` variant carrying its batch summary. */
export type DecodedMessage = Exclude<Message, LogMessage> | DecodedLogMessage;

/** At most this many generation-history entries in one `syncVerify` or `init`. */
export const MAX_MESSAGE_HISTORY_ENTRIES = 4096;
/** Site ids in messages (vote2's candidate): 1 to this many bytes of UTF-8. */
export const MAX_SITE_ID_BYTES = 64;

/**
 * A lone UTF-16 surrogate: UTF-8 cannot carry it (it would be written as U+FFFD and decode as another
 * string), so a site id holding one is refused by the encoder, and by the manager's options up front.
 */
export const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
/** At most this many payloads in one `forward`. */
export const MAX_FORWARD_PAYLOADS = 1024;
