/**
 * The body of each message type, little-endian, `generation` always first. Encoders and decoders of
 * one type sit side by side so a layout change touches one place (and docs/protocol.md):
 *
 *   log           generation u32 | prevLsn u64 | prevGeneration u32 | records…          16 + records
 *   ack           generation u32 | lsn u64 | nextLsn u64 | level u8                      21
 *   logRequest    generation u32 | fromLsn u64 | toLsn u64 | lastLsn u64 | lastGeneration u32   32
 *   syncRequest   generation u32 | lastLsn u64 | lastGeneration u32 | nextLsn u64        24
 *   syncVerify    generation u32 | firstLsn u64 | nextLsn u64 | count u32 | count × entry  24 + 12n
 *   init          generation u32 | snapshotLsn u64 | count u32 | count × entry | snapshot…  16 + 12n + snapshot
 *   newMaster     generation u32 | nextLsn u64                                           12
 *   masterRequest generation u32                                                         4
 *   heartbeat     generation u32 | nextLsn u64 | permLsn u64                             20
 *   vote1         generation u32 | electionGeneration u32 | dataGeneration u32 | lastLsn u64
 *                 | priority u32 | tiebreaker u32 | nsites u32 | nvotes u32              36
 *   vote2         generation u32 | electionGeneration u32 | length u8 | candidate UTF-8  9 + length
 *   forward       generation u32 | requestId u32 | policy u8 | ackTimeoutMs u32 | count u32
 *                 | count × payload                                                     17 + Σ(4 + length)
 *   forwardResult generation u32 | requestId u32 | outcome u8 | lsn u64 | commitGeneration u32
 *                 | policy u8 | reason u8 | needed u8 | flags u8 | localLevel u8
 *                 | ackCount u8 | ackCount × ack | missingCount u8 | missingCount × site
 *                                                                   28 + Σ(6 + length) + Σ(1 + length)
 *   election      generation u32 | electionGeneration u32 | kind u8 | granted u8 | dataGeneration u32
 *                 | lastLsn u64 | time u64 | length u8 | site UTF-8                      31 + length
 *
 * entry = generation u32 | lsn u64. payload = length u32 | bytes. u64 = lo u32 then hi u32, as in
 * log/record.ts. policy: 0 = the master's default (forward) or none (forwardResult of notMaster),
 * 1… = ACK_POLICIES in order. ackTimeoutMs: 0xFFFFFFFF = the master's default, else at most
 * MAX_ACK_TIMEOUT_MS (the zod pass). outcome: 1 acknowledged, 2 permFailed, 3 unknown, 4 notMaster.
 * reason: 0 none, 1… = FORWARD_REASONS in order. needed: at most MAX_GROUP_SITES. flags: bit 0
 * localFlushForced, the other bits 0. localLevel: 1 buffered, 2 written, 3 flushed. ack = level u8 (as
 * in `ack`) | latencyUs u32 | length u8 | site UTF-8; site = length u8 | UTF-8; site ids 1 to
 * MAX_SITE_ID_BYTES bytes (the zod pass); ackCount and missingCount at most MAX_GROUP_SITES. For
 * notMaster every field after commitGeneration is 0 but localLevel, 1 (the zod pass). kind: 1… =
 * ELECTION_CONTROL_KINDS in order; granted: 0 or 1.
 *
 * Decoding is the binary pass only: lengths, counts, enums, UTF-8. The caller then runs the zod pass.
 */
import type { DurabilityLevel } from '../log/log.js';
import { MAX_ACK_TIMEOUT_MS, MAX_GROUP_SITES } from '../manager/options.js';
import { ACK_POLICIES, type AckPolicy } from '../manager/policy.js';
import type { HistoryEntry } from '../replica/history.js';
import type { AckLevel } from '../replica/types.js';
import {
  type DecodedMessage,
  ELECTION_CONTROL_KINDS,
  type ElectionControlKind,
  FORWARD_REASONS,
  type ForwardedAck,
  type ForwardOutcome,
  type ForwardReason,
  LONE_SURROGATE,
  type LogMessage,
  MAX_FORWARD_PAYLOADS,
  MAX_MESSAGE_HISTORY_ENTRIES,
  MAX_SITE_ID_BYTES,
  type Message,
  type MessageTypeName,
} from './messages.js';
import { ProtocolError } from './protocol-error.js';

const TWO_POW_32 = 0x1_0000_0000;
const U32_MAX = 0xffff_ffff;
const HISTORY_ENTRY_BYTES = 12;

export const LOG_FIXED_BYTES = 16;
const ACK_BYTES = 21;
const LOG_REQUEST_BYTES = 32;
const SYNC_REQUEST_BYTES = 24;
const SYNC_VERIFY_FIXED_BYTES = 24;
const INIT_FIXED_BYTES = 16;
const NEW_MASTER_BYTES = 12;
const MASTER_REQUEST_BYTES = 4;
const HEARTBEAT_BYTES = 20;
const VOTE1_BYTES = 36;
const VOTE2_FIXED_BYTES = 9;
const FORWARD_FIXED_BYTES = 17;
const FORWARD_PAYLOAD_LENGTH_BYTES = 4;
/** ackTimeoutMs of a `forward` that leaves it to the master. */
const FORWARD_DEFAULT_ACK_TIMEOUT = 0xffff_ffff;
/** forwardResult up to and including ackCount. */
const FORWARD_RESULT_FIXED_BYTES = 27;
/** An ack of forwardResult before its site: level u8 | latencyUs u32 | length u8. */
const FORWARD_ACK_FIXED_BYTES = 6;
/** forwardResult's flags byte: bit 0 localFlushForced. */
const FORWARD_RESULT_FLUSH_FORCED = 1;
const ELECTION_FIXED_BYTES = 31;

const ACK_LEVEL_CODES: Readonly<Record<AckLevel, number>> = { received: 1, written: 2, flushed: 3 };
const ACK_LEVELS: readonly (AckLevel | undefined)[] = [undefined, 'received', 'written', 'flushed'];

/** Policy byte: 0 = undefined (the master's default), then ACK_POLICIES in order from 1. */
const POLICY_CODES: ReadonlyMap<AckPolicy, number> = new Map(
  ACK_POLICIES.map((policy, index) => [policy, index + 1]),
);
const FORWARD_OUTCOME_CODES: Readonly<Record<ForwardOutcome, number>> = {
  acknowledged: 1,
  permFailed: 2,
  unknown: 3,
  notMaster: 4,
};
const FORWARD_OUTCOMES: readonly (ForwardOutcome | undefined)[] = [
  undefined,
  'acknowledged',
  'permFailed',
  'unknown',
  'notMaster',
];

const FORWARD_REASON_CODES: ReadonlyMap<ForwardReason, number> = new Map(
  FORWARD_REASONS.map((reason, index) => [reason, index + 1]),
);
const DURABILITY_LEVEL_CODES: Readonly<Record<DurabilityLevel, number>> = {
  buffered: 1,
  written: 2,
  flushed: 3,
};
const DURABILITY_LEVELS: readonly (DurabilityLevel | undefined)[] = [
  undefined,
  'buffered',
  'written',
  'flushed',
];

const ELECTION_KIND_CODES: ReadonlyMap<ElectionControlKind, number> = new Map(
  ELECTION_CONTROL_KINDS.map((kind, index) => [kind, index + 1]),
);

// ── encoding ────────────────────────────────────────────────────────────────────────────────────────
// Encoding is given trusted data from this process: a bad value is a programmer error and throws.

function u32Of(message: Message, field: string, value: number): number {
  if (!Number.isInteger(value) || value < 0 || value > U32_MAX) {
    throw new RangeError(`cannot encode ${message.type}.${field} = ${value}: not a u32`);
  }
  return value;
}

function u64Of(message: Message, field: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(
      `cannot encode ${message.type}.${field} = ${value}: not a non-negative safe integer`,
    );
  }
  return value;
}

function putU32(target: Buffer, offset: number, value: number): number {
  target.writeUInt32LE(value, offset);
  return offset + 4;
}

function putU64(target: Buffer, offset: number, value: number): number {
  target.writeUInt32LE(value % TWO_POW_32, offset);
  target.writeUInt32LE(Math.floor(value / TWO_POW_32), offset + 4);
  return offset + 8;
}

/** UTF-8 length of a site id field, checked to be `min` to MAX_SITE_ID_BYTES bytes and well formed. */
function siteIdBytes(message: Message, field: string, value: string, min: number): number {
  if (LONE_SURROGATE.test(value)) {
    throw new RangeError(`cannot encode ${message.type}.${field}: not well-formed UTF-16 (a lone surrogate)`);
  }
  const bytes = Buffer.byteLength(value, 'utf8');
  if (bytes < min || bytes > MAX_SITE_ID_BYTES) {
    throw new RangeError(
      `cannot encode ${message.type}.${field}: ${bytes} bytes (${min} to ${MAX_SITE_ID_BYTES})`,
    );
  }
  return bytes;
}

function checkHistory(message: Message, history: readonly HistoryEntry[]): void {
  if (history.length > MAX_MESSAGE_HISTORY_ENTRIES) {
    throw new RangeError(`cannot encode ${message.type}.history: ${history.length} entries`);
  }
}

function putHistory(
  message: Message,
  target: Buffer,
  offset: number,
  history: readonly HistoryEntry[],
): number {
  let at = putU32(target, offset, history.length);
  for (const entry of history) {
    at = putU32(target, at, u32Of(message, 'history.generation', entry.generation));
    at = putU64(target, at, u64Of(message, 'history.lsn', entry.lsn));
  }
  return at;
}

/** The body length of `message`. Checks what the size depends on (history length, candidate length). */
export function bodyLength(message: Message): number {
  switch (message.type) {
    case 'log':
      return LOG_FIXED_BYTES + message.records.length;
    case 'ack':
      return ACK_BYTES;
    case 'logRequest':
      return LOG_REQUEST_BYTES;
    case 'syncRequest':
      return SYNC_REQUEST_BYTES;
    case 'syncVerify':
      checkHistory(message, message.history);
      return SYNC_VERIFY_FIXED_BYTES + HISTORY_ENTRY_BYTES * message.history.length;
    case 'init':
      checkHistory(message, message.history);
      return INIT_FIXED_BYTES + HISTORY_ENTRY_BYTES * message.history.length + message.snapshot.length;
    case 'newMaster':
      return NEW_MASTER_BYTES;
    case 'masterRequest':
      return MASTER_REQUEST_BYTES;
    case 'heartbeat':
      return HEARTBEAT_BYTES;
    case 'vote1':
      return VOTE1_BYTES;
    case 'vote2':
      return VOTE2_FIXED_BYTES + siteIdBytes(message, 'candidate', message.candidate, 1);
    case 'forward': {
      const { payloads } = message;
      if (payloads.length > MAX_FORWARD_PAYLOADS) {
        throw new RangeError(
          `cannot encode forward.payloads: ${payloads.length} payloads (at most ${MAX_FORWARD_PAYLOADS})`,
        );
      }
      let length = FORWARD_FIXED_BYTES;
      for (const payload of payloads) {
        if (payload.length > U32_MAX) throw new RangeError('cannot encode forward: a payload above 4 GiB');
        length += FORWARD_PAYLOAD_LENGTH_BYTES + payload.length;
      }
      return length;
    }
    case 'forwardResult': {
      const { ackedBy, missing } = message;
      if (ackedBy.length > MAX_GROUP_SITES || missing.length > MAX_GROUP_SITES) {
        throw new RangeError(
          `cannot encode forwardResult: ${ackedBy.length} acks and ${missing.length} missing sites (at most ${MAX_GROUP_SITES} each)`,
        );
      }
      let length = FORWARD_RESULT_FIXED_BYTES + 1;
      for (const ack of ackedBy)
        length += FORWARD_ACK_FIXED_BYTES + siteIdBytes(message, 'ackedBy.site', ack.site, 1);
      for (const site of missing) length += 1 + siteIdBytes(message, 'missing', site, 1);
      return length;
    }
    case 'election':
      return ELECTION_FIXED_BYTES + siteIdBytes(message, 'site', message.site, 0);
    default:
      return assertNever(message);
  }
}

/**
 * Writes the fixed fields of a `log` body (all but the records) at `offset`; returns where the records go.
 * For a frame built around records already in place (`encodeLogFrameInPlace`).
 */
export function writeLogFixedFields(message: LogMessage, target: Buffer, offset: number): number {
  let at = putU32(target, offset, u32Of(message, 'generation', message.generation));
  at = putU64(target, at, u64Of(message, 'prevLsn', message.prevLsn));
  return putU32(target, at, u32Of(message, 'prevGeneration', message.prevGeneration));
}

/** Writes the body of `message` at `offset`; `target` has room for `bodyLength(message)` bytes. */
export function writeBody(message: Message, target: Buffer, offset: number): void {
  let at = putU32(target, offset, u32Of(message, 'generation', message.generation));
  switch (message.type) {
    case 'log':
      target.set(message.records, writeLogFixedFields(message, target, offset));
      return;
    case 'ack': {
      const level = ACK_LEVEL_CODES[message.level];
      if (level === undefined) throw new RangeError(`cannot encode ack.level = ${String(message.level)}`);
      at = putU64(target, at, u64Of(message, 'lsn', message.lsn));
      at = putU64(target, at, u64Of(message, 'nextLsn', message.nextLsn));
      target[at] = level;
      return;
    }
    case 'logRequest':
      at = putU64(target, at, u64Of(message, 'fromLsn', message.fromLsn));
      at = putU64(target, at, u64Of(message, 'toLsn', message.toLsn));
      at = putU64(target, at, u64Of(message, 'lastLsn', message.lastLsn));
      putU32(target, at, u32Of(message, 'lastGeneration', message.lastGeneration));
      return;
    case 'syncRequest':
      at = putU64(target, at, u64Of(message, 'lastLsn', message.lastLsn));
      at = putU32(target, at, u32Of(message, 'lastGeneration', message.lastGeneration));
      putU64(target, at, u64Of(message, 'nextLsn', message.nextLsn));
      return;
    case 'syncVerify':
      at = putU64(target, at, u64Of(message, 'firstLsn', message.firstLsn));
      at = putU64(target, at, u64Of(message, 'nextLsn', message.nextLsn));
      putHistory(message, target, at, message.history);
      return;
    case 'init':
      at = putU64(target, at, u64Of(message, 'snapshotLsn', message.snapshotLsn));
      at = putHistory(message, target, at, message.history);
      target.set(message.snapshot, at);
      return;
    case 'newMaster':
      putU64(target, at, u64Of(message, 'nextLsn', message.nextLsn));
      return;
    case 'masterRequest':
      return;
    case 'heartbeat':
      at = putU64(target, at, u64Of(message, 'nextLsn', message.nextLsn));
      putU64(target, at, u64Of(message, 'permLsn', message.permLsn));
      return;
    case 'vote1':
      at = putU32(target, at, u32Of(message, 'electionGeneration', message.electionGeneration));
      at = putU32(target, at, u32Of(message, 'dataGeneration', message.dataGeneration));
      at = putU64(target, at, u64Of(message, 'lastLsn', message.lastLsn));
      at = putU32(target, at, u32Of(message, 'priority', message.priority));
      at = putU32(target, at, u32Of(message, 'tiebreaker', message.tiebreaker));
      at = putU32(target, at, u32Of(message, 'nsites', message.nsites));
      putU32(target, at, u32Of(message, 'nvotes', message.nvotes));
      return;
    case 'vote2': {
      at = putU32(target, at, u32Of(message, 'electionGeneration', message.electionGeneration));
      const written = target.write(message.candidate, at + 1, 'utf8');
      target[at] = written;
      return;
    }
    case 'forward': {
      const policy = message.policy === undefined ? 0 : POLICY_CODES.get(message.policy);
      if (policy === undefined)
        throw new RangeError(`cannot encode forward.policy = ${String(message.policy)}`);
      const { ackTimeoutMs } = message;
      if (
        ackTimeoutMs !== undefined &&
        !(Number.isInteger(ackTimeoutMs) && ackTimeoutMs >= 0 && ackTimeoutMs <= MAX_ACK_TIMEOUT_MS)
      ) {
        throw new RangeError(
          `cannot encode forward.ackTimeoutMs = ${ackTimeoutMs}: not an integer from 0 to ${MAX_ACK_TIMEOUT_MS}`,
        );
      }
      at = putU32(target, at, u32Of(message, 'requestId', message.requestId));
      target[at] = policy;
      at = putU32(target, at + 1, ackTimeoutMs ?? FORWARD_DEFAULT_ACK_TIMEOUT);
      at = putU32(target, at, message.payloads.length);
      for (const payload of message.payloads) {
        at = putU32(target, at, payload.length);
        target.set(payload, at);
        at += payload.length;
      }
      return;
    }
    case 'forwardResult': {
      const outcome = FORWARD_OUTCOME_CODES[message.outcome];
      if (outcome === undefined) {
        throw new RangeError(`cannot encode forwardResult.outcome = ${String(message.outcome)}`);
      }
      const policy = message.policy === undefined ? 0 : POLICY_CODES.get(message.policy);
      if (policy === undefined) {
        throw new RangeError(`cannot encode forwardResult.policy = ${String(message.policy)}`);
      }
      const reason = message.reason === undefined ? 0 : FORWARD_REASON_CODES.get(message.reason);
      if (reason === undefined) {
        throw new RangeError(`cannot encode forwardResult.reason = ${String(message.reason)}`);
      }
      const localLevel = DURABILITY_LEVEL_CODES[message.localLevel];
      if (localLevel === undefined) {
        throw new RangeError(`cannot encode forwardResult.localLevel = ${String(message.localLevel)}`);
      }
      const { needed } = message;
      if (!Number.isInteger(needed) || needed < 0 || needed > MAX_GROUP_SITES) {
        throw new RangeError(`cannot encode forwardResult.needed = ${needed}: not 0 to ${MAX_GROUP_SITES}`);
      }
      at = putU32(target, at, u32Of(message, 'requestId', message.requestId));
      target[at] = outcome;
      at = putU64(target, at + 1, u64Of(message, 'lsn', message.lsn));
      at = putU32(target, at, u32Of(message, 'commitGeneration', message.commitGeneration));
      target[at] = policy;
      target[at + 1] = reason;
      target[at + 2] = needed;
      target[at + 3] = message.localFlushForced ? FORWARD_RESULT_FLUSH_FORCED : 0;
      target[at + 4] = localLevel;
      target[at + 5] = message.ackedBy.length;
      at += 6;
      for (const ack of message.ackedBy) at = putForwardedAck(message, target, at, ack);
      target[at++] = message.missing.length;
      for (const site of message.missing) {
        const written = target.write(site, at + 1, 'utf8');
        target[at] = written;
        at += 1 + written;
      }
      return;
    }
    case 'election': {
      const kind = ELECTION_KIND_CODES.get(message.kind);
      if (kind === undefined) throw new RangeError(`cannot encode election.kind = ${String(message.kind)}`);
      at = putU32(target, at, u32Of(message, 'electionGeneration', message.electionGeneration));
      target[at] = kind;
      target[at + 1] = message.granted ? 1 : 0;
      at = putU32(target, at + 2, u32Of(message, 'dataGeneration', message.dataGeneration));
      at = putU64(target, at, u64Of(message, 'lastLsn', message.lastLsn));
      at = putU64(target, at, u64Of(message, 'time', message.time));
      target[at] = target.write(message.site, at + 1, 'utf8');
      return;
    }
    default:
      assertNever(message);
  }
}

function putForwardedAck(message: Message, target: Buffer, offset: number, ack: ForwardedAck): number {
  const level = ACK_LEVEL_CODES[ack.level];
  if (level === undefined)
    throw new RangeError(`cannot encode forwardResult.ackedBy.level = ${String(ack.level)}`);
  target[offset] = level;
  const at = putU32(target, offset + 1, u32Of(message, 'ackedBy.latencyUs', ack.latencyUs));
  const written = target.write(ack.site, at + 1, 'utf8');
  target[at] = written;
  return at + 1 + written;
}

// ── decoding (binary pass) ──────────────────────────────────────────────────────────────────────────

/** A decoded body before the zod pass; `log` gets its batch summary after its own record checks. */
export type UncheckedBody = Exclude<DecodedMessage, { type: 'log' }> | LogFields;

export interface LogFields {
  readonly type: 'log';
  readonly generation: number;
  readonly flags: number;
  readonly prevLsn: number;
  readonly prevGeneration: number;
  readonly records: Buffer;
}

function u64At(body: Buffer, offset: number): number {
  return body.readUInt32LE(offset) + body.readUInt32LE(offset + 4) * TWO_POW_32;
}

function exactLength(type: MessageTypeName, body: Buffer, expected: number): ProtocolError | undefined {
  if (body.length < expected) {
    return new ProtocolError('truncated-body', `${type} body of ${body.length} bytes, needs ${expected}`);
  }
  if (body.length > expected) {
    return new ProtocolError(
      'trailing-bytes',
      `${type} body of ${body.length} bytes, ${body.length - expected} after its fields`,
    );
  }
  return undefined;
}

function atLeast(type: MessageTypeName, body: Buffer, expected: number): ProtocolError | undefined {
  return body.length < expected
    ? new ProtocolError('truncated-body', `${type} body of ${body.length} bytes, needs at least ${expected}`)
    : undefined;
}

function historyCount(type: MessageTypeName, body: Buffer, offset: number): number | ProtocolError {
  const count = body.readUInt32LE(offset);
  if (count > MAX_MESSAGE_HISTORY_ENTRIES) {
    return new ProtocolError(
      'invalid-field',
      `${type}: history of ${count} entries, at most ${MAX_MESSAGE_HISTORY_ENTRIES}`,
    );
  }
  return count;
}

function readHistory(body: Buffer, offset: number, count: number): HistoryEntry[] {
  const history: HistoryEntry[] = new Array(count);
  for (let index = 0; index < count; index++) {
    const at = offset + index * HISTORY_ENTRY_BYTES;
    history[index] = { generation: body.readUInt32LE(at), lsn: u64At(body, at + 4) };
  }
  return history;
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * Decodes the body of a `type` frame whose header and CRC have been checked. Allocates only the result.
 * `maxPayloadBytes` bounds each `forward` payload (the decoder's record limit minus the record header).
 */
export function readBody(
  type: MessageTypeName,
  flags: number,
  body: Buffer,
  maxPayloadBytes: number,
): UncheckedBody | ProtocolError {
  const error = atLeast(type, body, 4);
  if (error !== undefined) return error;
  const generation = body.readUInt32LE(0);
  switch (type) {
    case 'log':
      return (
        atLeast(type, body, LOG_FIXED_BYTES) ?? {
          type,
          generation,
          flags,
          prevLsn: u64At(body, 4),
          prevGeneration: body.readUInt32LE(12),
          records: body.subarray(LOG_FIXED_BYTES),
        }
      );
    case 'ack':
      return (
        exactLength(type, body, ACK_BYTES) ?? {
          type,
          generation,
          lsn: u64At(body, 4),
          // An unknown level byte stays undefined here and fails the zod pass with a readable issue.
          level: ACK_LEVELS[body[20]!] as AckLevel,
          nextLsn: u64At(body, 12),
        }
      );
    case 'logRequest':
      return (
        exactLength(type, body, LOG_REQUEST_BYTES) ?? {
          type,
          generation,
          flags,
          fromLsn: u64At(body, 4),
          toLsn: u64At(body, 12),
          lastLsn: u64At(body, 20),
          lastGeneration: body.readUInt32LE(28),
        }
      );
    case 'syncRequest':
      return (
        exactLength(type, body, SYNC_REQUEST_BYTES) ?? {
          type,
          generation,
          lastLsn: u64At(body, 4),
          lastGeneration: body.readUInt32LE(12),
          nextLsn: u64At(body, 16),
        }
      );
    case 'syncVerify': {
      const fixed = atLeast(type, body, SYNC_VERIFY_FIXED_BYTES);
      if (fixed !== undefined) return fixed;
      const count = historyCount(type, body, 20);
      if (count instanceof ProtocolError) return count;
      return (
        exactLength(type, body, SYNC_VERIFY_FIXED_BYTES + count * HISTORY_ENTRY_BYTES) ?? {
          type,
          generation,
          firstLsn: u64At(body, 4),
          nextLsn: u64At(body, 12),
          history: readHistory(body, SYNC_VERIFY_FIXED_BYTES, count),
        }
      );
    }
    case 'init': {
      const fixed = atLeast(type, body, INIT_FIXED_BYTES);
      if (fixed !== undefined) return fixed;
      const count = historyCount(type, body, 12);
      if (count instanceof ProtocolError) return count;
      const snapshotOffset = INIT_FIXED_BYTES + count * HISTORY_ENTRY_BYTES;
      return (
        atLeast(type, body, snapshotOffset) ?? {
          type,
          generation,
          snapshotLsn: u64At(body, 4),
          history: readHistory(body, INIT_FIXED_BYTES, count),
          snapshot: body.subarray(snapshotOffset),
        }
      );
    }
    case 'newMaster':
      return exactLength(type, body, NEW_MASTER_BYTES) ?? { type, generation, nextLsn: u64At(body, 4) };
    case 'masterRequest':
      return exactLength(type, body, MASTER_REQUEST_BYTES) ?? { type, generation };
    case 'heartbeat':
      return (
        exactLength(type, body, HEARTBEAT_BYTES) ?? {
          type,
          generation,
          nextLsn: u64At(body, 4),
          permLsn: u64At(body, 12),
        }
      );
    case 'vote1':
      return (
        exactLength(type, body, VOTE1_BYTES) ?? {
          type,
          generation,
          electionGeneration: body.readUInt32LE(4),
          dataGeneration: body.readUInt32LE(8),
          lastLsn: u64At(body, 12),
          priority: body.readUInt32LE(20),
          tiebreaker: body.readUInt32LE(24),
          nsites: body.readUInt32LE(28),
          nvotes: body.readUInt32LE(32),
        }
      );
    case 'vote2': {
      const fixed = atLeast(type, body, VOTE2_FIXED_BYTES);
      if (fixed !== undefined) return fixed;
      const length = body[8]!;
      const sized = exactLength(type, body, VOTE2_FIXED_BYTES + length);
      if (sized !== undefined) return sized;
      let candidate: string;
      try {
        candidate = utf8.decode(body.subarray(VOTE2_FIXED_BYTES));
      } catch {
        return new ProtocolError('invalid-field', 'vote2: candidate is not valid UTF-8');
      }
      return { type, generation, electionGeneration: body.readUInt32LE(4), candidate };
    }
    case 'forward':
      return readForward(body, generation, maxPayloadBytes);
    case 'election':
      return readElection(body, generation);
    case 'forwardResult':
      return readForwardResult(body, generation);
    default:
      return assertNever(type);
  }
}

function readForward(
  body: Buffer,
  generation: number,
  maxPayloadBytes: number,
): UncheckedBody | ProtocolError {
  const fixed = atLeast('forward', body, FORWARD_FIXED_BYTES);
  if (fixed !== undefined) return fixed;
  const policyCode = body[8]!;
  const ackTimeoutMs = body.readUInt32LE(9);
  const count = body.readUInt32LE(13);
  if (count > MAX_FORWARD_PAYLOADS) {
    return new ProtocolError('invalid-field', `forward: ${count} payloads, at most ${MAX_FORWARD_PAYLOADS}`);
  }
  const payloads: Buffer[] = new Array(count);
  let at = FORWARD_FIXED_BYTES;
  for (let index = 0; index < count; index++) {
    if (body.length - at < FORWARD_PAYLOAD_LENGTH_BYTES) {
      return new ProtocolError(
        'truncated-body',
        `forward body of ${body.length} bytes ends before the length of payload ${index}`,
      );
    }
    const length = body.readUInt32LE(at);
    at += FORWARD_PAYLOAD_LENGTH_BYTES;
    if (length > maxPayloadBytes) {
      return new ProtocolError(
        'invalid-field',
        `forward: payload ${index} of ${length} bytes, at most ${maxPayloadBytes}`,
      );
    }
    if (body.length - at < length) {
      return new ProtocolError(
        'truncated-body',
        `forward body of ${body.length} bytes ends inside payload ${index} (${length} bytes at ${at})`,
      );
    }
    payloads[index] = body.subarray(at, at + length);
    at += length;
  }
  if (at < body.length) {
    return new ProtocolError(
      'trailing-bytes',
      `forward body of ${body.length} bytes, ${body.length - at} after its fields`,
    );
  }
  return {
    type: 'forward',
    generation,
    requestId: body.readUInt32LE(4),
    // 0: the master's default. An unknown code stays a number here and fails the zod pass readably.
    policy: policyFromCode(policyCode),
    // Above MAX_ACK_TIMEOUT_MS (but the default's code) fails the zod pass.
    ackTimeoutMs: ackTimeoutMs === FORWARD_DEFAULT_ACK_TIMEOUT ? undefined : ackTimeoutMs,
    payloads,
  };
}

/** 0: none. An unknown code stays a number here and fails the zod pass readably. */
function policyFromCode(code: number): AckPolicy | undefined {
  return (code === 0 ? undefined : (ACK_POLICIES[code - 1] ?? code)) as AckPolicy | undefined;
}

function readForwardResult(body: Buffer, generation: number): UncheckedBody | ProtocolError {
  const type = 'forwardResult';
  const fixed = atLeast(type, body, FORWARD_RESULT_FIXED_BYTES + 1);
  if (fixed !== undefined) return fixed;
  const flags = body[24]!;
  if ((flags & ~FORWARD_RESULT_FLUSH_FORCED) !== 0) {
    return new ProtocolError(
      'invalid-field',
      `forwardResult: flags byte 0x${flags.toString(16).padStart(2, '0')}, only bit 0 (localFlushForced) is defined`,
    );
  }
  const ackCount = body[26]!;
  if (ackCount > MAX_GROUP_SITES) {
    return new ProtocolError('invalid-field', `forwardResult: ${ackCount} acks, at most ${MAX_GROUP_SITES}`);
  }
  const ackedBy: ForwardedAck[] = new Array(ackCount);
  let at = FORWARD_RESULT_FIXED_BYTES;
  for (let index = 0; index < ackCount; index++) {
    if (body.length - at < FORWARD_ACK_FIXED_BYTES) {
      return new ProtocolError(
        'truncated-body',
        `forwardResult body of ${body.length} bytes ends inside ack ${index} (at ${at})`,
      );
    }
    const site = readSite(body, at + FORWARD_ACK_FIXED_BYTES - 1, `ack ${index}`);
    if (site instanceof ProtocolError) return site;
    ackedBy[index] = {
      site: site.site,
      // An unknown level byte stays undefined here and fails the zod pass with a readable issue.
      level: ACK_LEVELS[body[at]!] as AckLevel,
      latencyUs: body.readUInt32LE(at + 1),
    };
    at = site.end;
  }
  if (at >= body.length) {
    return new ProtocolError(
      'truncated-body',
      `forwardResult body of ${body.length} bytes ends before its missing count`,
    );
  }
  const missingCount = body[at]!;
  if (missingCount > MAX_GROUP_SITES) {
    return new ProtocolError(
      'invalid-field',
      `forwardResult: ${missingCount} missing sites, at most ${MAX_GROUP_SITES}`,
    );
  }
  at++;
  const missing: string[] = new Array(missingCount);
  for (let index = 0; index < missingCount; index++) {
    const site = readSite(body, at, `missing site ${index}`);
    if (site instanceof ProtocolError) return site;
    missing[index] = site.site;
    at = site.end;
  }
  if (at < body.length) {
    return new ProtocolError(
      'trailing-bytes',
      `forwardResult body of ${body.length} bytes, ${body.length - at} after its fields`,
    );
  }
  const reasonCode = body[22]!;
  return {
    type,
    generation,
    requestId: body.readUInt32LE(4),
    // Unknown enum bytes stay undefined (or the number) here and fail the zod pass with a readable issue.
    outcome: FORWARD_OUTCOMES[body[8]!] as ForwardOutcome,
    lsn: u64At(body, 9),
    commitGeneration: body.readUInt32LE(17),
    policy: policyFromCode(body[21]!),
    reason: (reasonCode === 0 ? undefined : (FORWARD_REASONS[reasonCode - 1] ?? reasonCode)) as
      | ForwardReason
      | undefined,
    needed: body[23]!,
    localFlushForced: flags === FORWARD_RESULT_FLUSH_FORCED,
    localLevel: DURABILITY_LEVELS[body[25]!] as DurabilityLevel,
    ackedBy,
    missing,
  };
}

/** A site id of forwardResult: length u8 at `offset`, then that many bytes of UTF-8. */
function readSite(body: Buffer, offset: number, what: string): { site: string; end: number } | ProtocolError {
  if (offset >= body.length) {
    return new ProtocolError(
      'truncated-body',
      `forwardResult body of ${body.length} bytes ends before the length of ${what}`,
    );
  }
  const end = offset + 1 + body[offset]!;
  if (end > body.length) {
    return new ProtocolError(
      'truncated-body',
      `forwardResult body of ${body.length} bytes ends inside ${what} (${body[offset]} bytes at ${offset + 1})`,
    );
  }
  try {
    return { site: utf8.decode(body.subarray(offset + 1, end)), end };
  } catch {
    return new ProtocolError('invalid-field', `forwardResult: ${what} is not valid UTF-8`);
  }
}

function assertNever(value: never): never {
  throw new Error(`unreachable: ${JSON.stringify(value)}`);
}

function readElection(body: Buffer, generation: number): UncheckedBody | ProtocolError {
  const fixed = atLeast('election', body, ELECTION_FIXED_BYTES);
  if (fixed !== undefined) return fixed;
  const length = body[ELECTION_FIXED_BYTES - 1]!;
  const sized = exactLength('election', body, ELECTION_FIXED_BYTES + length);
  if (sized !== undefined) return sized;
  const granted = body[9]!;
  if (granted > 1)
    return new ProtocolError('invalid-field', `election: granted byte ${granted}, expected 0 or 1`);
  let site: string;
  try {
    site = utf8.decode(body.subarray(ELECTION_FIXED_BYTES));
  } catch {
    return new ProtocolError('invalid-field', 'election: site is not valid UTF-8');
  }
  return {
    type: 'election',
    generation,
    electionGeneration: body.readUInt32LE(4),
    // An unknown kind byte stays undefined here and fails the zod pass with a readable issue.
    kind: ELECTION_CONTROL_KINDS[body[8]! - 1] as ElectionControlKind,
    granted: granted === 1,
    dataGeneration: body.readUInt32LE(10),
    lastLsn: u64At(body, 14),
    time: u64At(body, 22),
    site,
  };
}
