/** Shared helpers of the wire tests (not a test file itself): arbitraries, raw frames, comparisons. */
import fc from 'fast-check';
import { crc32c } from '../../src/log/crc32c.js';
import { encodeRecord, type RecordType } from '../../src/log/record.js';
import { MAX_ACK_TIMEOUT_MS, MAX_GROUP_SITES } from '../../src/manager/options.js';
import { ACK_POLICIES } from '../../src/manager/policy.js';
import {
  type DecodedMessage,
  FORWARD_REASONS,
  FRAME_HEADER_BYTES,
  FRAME_MAGIC,
  FrameFlags,
  type LogBatch,
  type LogMessage,
  type Message,
  PROTOCOL_VERSION,
} from '../../src/wire/index.js';
import { NOT_MASTER_RESULT } from '../../src/wire/messages.js';

const TWO_POW_32 = 0x1_0000_0000;

export const u32 = (): fc.Arbitrary<number> =>
  fc.oneof(fc.constantFrom(0, 1, 0x7fff_ffff, 0xffff_ffff), fc.nat({ max: 0xffff_ffff }));

export const lsn = (): fc.Arbitrary<number> =>
  fc.oneof(
    fc.constantFrom(0, 1, TWO_POW_32 - 1, TWO_POW_32, Number.MAX_SAFE_INTEGER),
    fc.nat({ max: 2 * TWO_POW_32 }),
    fc.maxSafeNat(),
  );

/** Strictly increasing in both fields, as a master's generation history is. */
export const history = (maxLength = 12): fc.Arbitrary<{ generation: number; lsn: number }[]> =>
  fc
    .tuple(
      fc.nat({ max: 1000 }),
      fc.nat({ max: 1_000_000 }),
      fc.array(fc.tuple(fc.integer({ min: 1, max: 1000 }), fc.integer({ min: 1, max: 2 ** 40 })), {
        maxLength,
      }),
    )
    .map(([generation0, lsn0, steps]) => {
      let generation = generation0;
      let at = lsn0;
      return steps.map(([generationStep, lsnStep]) => {
        generation += generationStep;
        at += lsnStep;
        return { generation, lsn: at };
      });
    });

export const ackLevel = (): fc.Arbitrary<'received' | 'written' | 'flushed'> =>
  fc.constantFrom('received' as const, 'written' as const, 'flushed' as const);

/** A site id: 1 to 64 bytes of UTF-8, well-formed. */
export const siteId = (): fc.Arbitrary<string> =>
  fc
    .oneof(
      fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 64 }),
      fc.string({ unit: 'binary', minLength: 1, maxLength: 64 }),
    )
    .filter((text) => Buffer.byteLength(text, 'utf8') <= 64);

export interface RecordSpec {
  readonly generation: number;
  readonly type: RecordType;
  readonly txnId: number;
  readonly payload: Uint8Array;
}

export interface LogCase {
  readonly message: LogMessage;
  readonly records: readonly (RecordSpec & { lsn: number })[];
  readonly expected: LogBatch;
}

/** Builds a valid `log` message from record specs starting at `firstLsn`. */
export function buildLogMessage(options: {
  generation: number;
  firstLsn: number;
  prevLsn: number;
  prevGeneration: number;
  records: readonly RecordSpec[];
  extraFlags?: number;
}): LogCase {
  let at = options.firstLsn;
  const placed = options.records.map((spec) => {
    const record = { ...spec, lsn: at };
    at += 32 + spec.payload.length;
    return record;
  });
  const records = Buffer.concat(placed.map((record) => encodeRecord(record)));
  const commits = placed.filter((record) => record.type === 2);
  const message: LogMessage = {
    type: 'log',
    generation: options.generation,
    flags: (commits.length > 0 ? FrameFlags.PERMANENT : 0) | (options.extraFlags ?? 0),
    prevLsn: options.prevLsn,
    prevGeneration: options.prevGeneration,
    records,
  };
  const expected: LogBatch = {
    recordCount: placed.length,
    firstLsn: options.firstLsn,
    lastLsn: placed.at(-1)!.lsn,
    endLsn: at,
    firstGeneration: placed[0]!.generation,
    lastGeneration: placed.at(-1)!.generation,
    hasCommit: commits.length > 0,
    lastCommitLsn: commits.at(-1)?.lsn ?? 0,
  };
  return { message, records: placed, expected };
}

/** Valid `log` messages: 1 to 8 records, contiguous, generations non-decreasing and ≤ the message's. */
export const logCase = (): fc.Arbitrary<LogCase> =>
  fc
    .record({
      firstLsn: fc.oneof(fc.integer({ min: 1, max: 1_000_000 }), fc.integer({ min: 1, max: 2 ** 52 })),
      generation0: fc.nat({ max: 0xffff_fff0 }),
      specs: fc.array(
        fc.record({
          generationStep: fc.constantFrom(0, 0, 0, 1),
          type: fc.constantFrom<RecordType>(1, 2, 3, 4, 5),
          txnId: fc.oneof(fc.nat(), fc.maxSafeNat()),
          payload: fc.uint8Array({ maxLength: 96 }),
        }),
        { minLength: 1, maxLength: 8 },
      ),
      messageGenerationStep: fc.nat({ max: 3 }),
      prev: fc.option(fc.tuple(fc.nat(), fc.nat()), { nil: undefined }),
      extraFlags: fc.constantFrom(
        0,
        FrameFlags.NOBUFFER,
        FrameFlags.REREQUEST,
        FrameFlags.NOBUFFER | FrameFlags.REREQUEST,
      ),
    })
    .map(({ firstLsn, generation0, specs, messageGenerationStep, prev, extraFlags }) => {
      let generation = generation0;
      const records = specs.map((spec) => {
        generation += spec.generationStep;
        return { generation, type: spec.type, txnId: spec.txnId, payload: spec.payload };
      });
      // prev: a record before the first one, of a generation not after the first record's.
      const prevLsn = prev === undefined || firstLsn === 1 ? 0 : 1 + (prev[0] % (firstLsn - 1));
      const prevGeneration = prevLsn === 0 || prev === undefined ? 0 : prev[1] % (generation0 + 1);
      return buildLogMessage({
        generation: generation + messageGenerationStep,
        firstLsn,
        prevLsn,
        prevGeneration,
        records,
        extraFlags,
      });
    });

/** Every message type with arbitrary valid field values. */
export const message = (): fc.Arbitrary<Message> =>
  fc.oneof(
    logCase().map((c) => c.message),
    fc.record({
      type: fc.constant('ack' as const),
      generation: u32(),
      lsn: lsn(),
      level: ackLevel(),
      nextLsn: lsn(),
    }),
    fc
      .record({
        type: fc.constant('logRequest' as const),
        generation: u32(),
        flags: fc.subarray([FrameFlags.NOBUFFER, FrameFlags.REREQUEST, FrameFlags.ANYWHERE]),
        fromLsn: lsn(),
        toSpan: fc.option(fc.nat({ max: 2 ** 40 }), { nil: undefined }),
        lastLsn: lsn(),
        lastGeneration: u32(),
      })
      .map(({ flags, toSpan, ...rest }) => ({
        ...rest,
        flags: flags.reduce((sum, flag) => sum | flag, 0),
        toLsn: toSpan === undefined ? 0 : Math.min(rest.fromLsn + toSpan, Number.MAX_SAFE_INTEGER),
      })),
    fc.record({
      type: fc.constant('syncRequest' as const),
      generation: u32(),
      lastLsn: lsn(),
      lastGeneration: u32(),
      nextLsn: lsn(),
    }),
    fc
      .record({
        type: fc.constant('syncVerify' as const),
        generation: u32(),
        firstLsn: lsn(),
        span: fc.nat({ max: 2 ** 40 }),
        history: history(),
      })
      .map(({ span, ...rest }) => ({
        ...rest,
        nextLsn: Math.min(rest.firstLsn + span, Number.MAX_SAFE_INTEGER),
      })),
    fc.record({
      type: fc.constant('init' as const),
      generation: u32(),
      snapshotLsn: lsn(),
      history: history(),
      snapshot: fc.uint8Array({ maxLength: 300 }),
    }),
    fc.record({ type: fc.constant('newMaster' as const), generation: u32(), nextLsn: lsn() }),
    fc.record({ type: fc.constant('masterRequest' as const), generation: u32() }),
    fc.record({ type: fc.constant('heartbeat' as const), generation: u32(), nextLsn: lsn(), permLsn: lsn() }),
    fc.record({
      type: fc.constant('vote1' as const),
      generation: u32(),
      electionGeneration: u32(),
      dataGeneration: u32(),
      lastLsn: lsn(),
      priority: u32(),
      tiebreaker: u32(),
      nsites: u32(),
      nvotes: u32(),
    }),
    fc.record({
      type: fc.constant('vote2' as const),
      generation: u32(),
      electionGeneration: u32(),
      candidate: siteId(),
    }),
    forwardMessage(),
    forwardResultMessage(),
    electionMessage(),
  );

/** `election` control messages: every kind, an empty or a real site id. */
export const electionMessage = (): fc.Arbitrary<Message> =>
  fc.record({
    type: fc.constant('election' as const),
    generation: u32(),
    electionGeneration: u32(),
    kind: fc.constantFrom(
      'preVote' as const,
      'preVoteReply' as const,
      'ping' as const,
      'pong' as const,
      'transfer' as const,
    ),
    granted: fc.boolean(),
    dataGeneration: u32(),
    lastLsn: lsn(),
    time: lsn(),
    site: fc.oneof(fc.constant(''), siteId()),
  });

/**
 * `forward` with 0 to 12 payloads (some empty), any policy and any ack timeout, the master's defaults
 * included.
 */
export const forwardMessage = (): fc.Arbitrary<Message> =>
  fc.record({
    type: fc.constant('forward' as const),
    generation: u32(),
    requestId: u32(),
    policy: fc.option(fc.constantFrom(...ACK_POLICIES), { nil: undefined }),
    ackTimeoutMs: fc.option(
      fc.oneof(fc.constantFrom(0, 1, MAX_ACK_TIMEOUT_MS), fc.nat({ max: MAX_ACK_TIMEOUT_MS })),
      { nil: undefined },
    ),
    payloads: fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 12 }),
  });

/** 0 to `max` site ids, mostly few, sometimes a whole group's worth. */
const sites = <T>(item: fc.Arbitrary<T>, max: number): fc.Arbitrary<T[]> =>
  fc.oneof(
    { weight: 4, arbitrary: fc.array(item, { maxLength: 5 }) },
    { weight: 1, arbitrary: fc.array(item, { minLength: max, maxLength: max }) },
    { weight: 1, arbitrary: fc.array(item, { maxLength: max }) },
  );

/**
 * `forwardResult`: a whole receipt (policy, reason, needed, flush, local level, acks, missing sites);
 * for `notMaster` lsn and commitGeneration are 0 and the receipt fields empty.
 */
export const forwardResultMessage = (): fc.Arbitrary<Message> =>
  fc
    .record({
      type: fc.constant('forwardResult' as const),
      generation: u32(),
      requestId: u32(),
      outcome: fc.constantFrom(
        'acknowledged' as const,
        'permFailed' as const,
        'unknown' as const,
        'notMaster' as const,
      ),
      lsn: lsn().filter((value) => value > 0),
      commitGeneration: u32().filter((value) => value > 0),
      policy: fc.constantFrom(...ACK_POLICIES),
      reason: fc.option(fc.constantFrom(...FORWARD_REASONS), { nil: undefined }),
      needed: fc.nat({ max: MAX_GROUP_SITES }),
      localFlushForced: fc.boolean(),
      localLevel: fc.constantFrom('buffered' as const, 'written' as const, 'flushed' as const),
      ackedBy: sites(fc.record({ site: siteId(), level: ackLevel(), latencyUs: u32() }), MAX_GROUP_SITES),
      missing: sites(siteId(), MAX_GROUP_SITES),
    })
    .map((m): Message => (m.outcome === 'notMaster' ? { ...m, ...NOT_MASTER_RESULT } : m));

/** A message as plain comparable data: byte fields as hex, the decoder's batch summary dropped. */
export function plain(message: Message | DecodedMessage): Record<string, unknown> {
  const result: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(message)) {
    if (key === 'batch') continue;
    result[key] = hexOf(value);
  }
  return result;
}

function hexOf(value: unknown): unknown {
  if (value instanceof Uint8Array) return Buffer.from(value).toString('hex');
  return Array.isArray(value) && value.every((item) => item instanceof Uint8Array) ? value.map(hexOf) : value;
}

/** A frame with any header values and body, the CRC computed unless given. */
export function rawFrame(options: {
  type: number;
  body: Uint8Array;
  flags?: number;
  magic?: number;
  version?: number;
  reserved?: readonly [number, number, number];
  bodyLength?: number;
  crc?: number;
}): Buffer {
  const frame = Buffer.alloc(FRAME_HEADER_BYTES + options.body.length);
  frame.writeUInt16LE(options.magic ?? FRAME_MAGIC, 0);
  frame[2] = options.version ?? PROTOCOL_VERSION;
  frame[3] = options.type;
  frame[4] = options.flags ?? 0;
  const reserved = options.reserved ?? [0, 0, 0];
  frame[5] = reserved[0];
  frame[6] = reserved[1];
  frame[7] = reserved[2];
  frame.writeUInt32LE(options.bodyLength ?? options.body.length, 8);
  frame.writeUInt32LE(options.crc ?? crc32c(options.body), 12);
  frame.set(options.body, FRAME_HEADER_BYTES);
  return frame;
}

/** Rewrites the body CRC in the header of `frame` (in place) to match its body. */
export function fixCrc(frame: Buffer): Buffer {
  if (frame.length >= FRAME_HEADER_BYTES) frame.writeUInt32LE(crc32c(frame.subarray(FRAME_HEADER_BYTES)), 12);
  return frame;
}

/** Splits `bytes` at the given cut points (any order, duplicates allowed). */
export function splitAt(bytes: Buffer, cuts: readonly number[]): Buffer[] {
  const points = [...new Set(cuts.map((cut) => cut % (bytes.length + 1)))].sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let start = 0;
  for (const point of points) {
    chunks.push(bytes.subarray(start, point));
    start = point;
  }
  chunks.push(bytes.subarray(start));
  return chunks;
}
