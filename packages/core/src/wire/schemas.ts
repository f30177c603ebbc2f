/**
 * zod schemas of the decoded messages: the second pass after binary decoding, for the ranges and
 * cross-field rules the byte layout cannot express (LSNs are safe integers, toLsn ≥ fromLsn, histories
 * strictly increasing, site ids of bounded length). `log` keeps to its fixed fields here: its record
 * bytes are checked by the binary pass (log-batch.ts), so the hot path stays cheap.
 */
import { z } from 'zod';
import { MAX_ACK_TIMEOUT_MS, MAX_GROUP_SITES } from '../manager/options.js';
import { ACK_POLICIES } from '../manager/policy.js';
import { allowedFlags } from './frame.js';
import {
  type AckMessage,
  ELECTION_CONTROL_KINDS,
  type ElectionControlMessage,
  FORWARD_REASONS,
  type ForwardMessage,
  type ForwardResultMessage,
  type HeartbeatMessage,
  type InitMessage,
  type LogRequestMessage,
  MAX_FORWARD_PAYLOADS,
  MAX_MESSAGE_HISTORY_ENTRIES,
  MAX_SITE_ID_BYTES,
  type MasterRequestMessage,
  type Message,
  type MessageTypeName,
  type NewMasterMessage,
  type SyncRequestMessage,
  type SyncVerifyMessage,
  type Vote1Message,
  type Vote2Message,
} from './messages.js';

const U32_MAX = 0xffff_ffff;

const u32 = z.number().int().min(0).max(U32_MAX);
const lsn = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

function flagsFor(type: MessageTypeName) {
  const allowed = allowedFlags(type);
  return z
    .number()
    .int()
    .min(0)
    .max(0xff)
    .refine((flags) => (flags & ~allowed) === 0, `only flag bits 0x${allowed.toString(16)} are allowed`);
}

const historySchema = z
  .array(z.object({ generation: u32, lsn }))
  .max(MAX_MESSAGE_HISTORY_ENTRIES)
  .superRefine((entries, context) => {
    for (let index = 1; index < entries.length; index++) {
      const previous = entries[index - 1]!;
      const entry = entries[index]!;
      if (entry.generation <= previous.generation || entry.lsn <= previous.lsn) {
        context.addIssue({
          code: 'custom',
          path: [index],
          message: `history must increase strictly in generation and lsn: (${entry.generation}, ${entry.lsn}) after (${previous.generation}, ${previous.lsn})`,
        });
      }
    }
  });

/** The fixed fields of `log`: what the hot path validates with zod. */
export const logFieldsSchema = z
  .object({
    type: z.literal('log'),
    generation: u32,
    flags: flagsFor('log'),
    prevLsn: lsn,
    prevGeneration: u32,
  })
  .refine((message) => message.prevLsn !== 0 || message.prevGeneration === 0, {
    path: ['prevGeneration'],
    message: 'must be 0 when prevLsn is 0 (no previous record)',
  })
  .refine((message) => message.prevGeneration <= message.generation, {
    path: ['prevGeneration'],
    message: 'must not exceed the message generation',
  });

/**
 * `logFieldsSchema`'s and `ackSchema`'s rules as plain comparisons, for the two message types of the hot
 * path (zod's safeParse costs more than the rest of decoding a small frame). `true` means zod would
 * accept too; on `false` the decoder runs zod, which stays the single source of the error and its
 * issues — so these may only ever be stricter than the schemas, never looser. Keep in step with them.
 */
export function logFieldsLookValid(fields: {
  readonly generation: number;
  readonly flags: number;
  readonly prevLsn: number;
  readonly prevGeneration: number;
}): boolean {
  const { generation, prevGeneration, prevLsn, flags } = fields;
  return (
    isU32(generation) &&
    isU32(prevGeneration) &&
    isLsn(prevLsn) &&
    Number.isInteger(flags) &&
    flags >= 0 &&
    flags <= 0xff &&
    (flags & ~LOG_FLAGS) === 0 &&
    (prevLsn !== 0 || prevGeneration === 0) &&
    prevGeneration <= generation
  );
}

/** See `logFieldsLookValid`. */
export function ackLooksValid(ack: AckMessage): boolean {
  const level = ack.level;
  return (
    isU32(ack.generation) &&
    isLsn(ack.lsn) &&
    isLsn(ack.nextLsn) &&
    (level === 'received' || level === 'written' || level === 'flushed')
  );
}

const LOG_FLAGS = allowedFlags('log');

function isU32(value: number): boolean {
  return Number.isInteger(value) && value >= 0 && value <= U32_MAX;
}

function isLsn(value: number): boolean {
  return Number.isSafeInteger(value) && value >= 0;
}

const logSchema = logFieldsSchema.and(z.object({ records: z.instanceof(Uint8Array) }));

const ackSchema = z.object({
  type: z.literal('ack'),
  generation: u32,
  lsn,
  level: z.enum(['received', 'written', 'flushed']),
  nextLsn: lsn,
}) satisfies z.ZodType<AckMessage>;

const logRequestSchema = z
  .object({
    type: z.literal('logRequest'),
    generation: u32,
    flags: flagsFor('logRequest'),
    fromLsn: lsn,
    toLsn: lsn,
    lastLsn: lsn,
    lastGeneration: u32,
  })
  .refine((message) => message.toLsn === 0 || message.toLsn >= message.fromLsn, {
    path: ['toLsn'],
    message: 'must be 0 (to the end) or at least fromLsn',
  }) satisfies z.ZodType<LogRequestMessage>;

const syncRequestSchema = z.object({
  type: z.literal('syncRequest'),
  generation: u32,
  lastLsn: lsn,
  lastGeneration: u32,
  nextLsn: lsn,
}) satisfies z.ZodType<SyncRequestMessage>;

const syncVerifySchema = z
  .object({
    type: z.literal('syncVerify'),
    generation: u32,
    firstLsn: lsn,
    nextLsn: lsn,
    history: historySchema,
  })
  .refine((message) => message.firstLsn <= message.nextLsn, {
    path: ['nextLsn'],
    message: 'must be at least firstLsn',
  }) satisfies z.ZodType<SyncVerifyMessage>;

const initSchema = z.object({
  type: z.literal('init'),
  generation: u32,
  snapshotLsn: lsn,
  history: historySchema,
  snapshot: z.instanceof(Uint8Array),
}) satisfies z.ZodType<InitMessage>;

const newMasterSchema = z.object({
  type: z.literal('newMaster'),
  generation: u32,
  nextLsn: lsn,
}) satisfies z.ZodType<NewMasterMessage>;

const masterRequestSchema = z.object({
  type: z.literal('masterRequest'),
  generation: u32,
}) satisfies z.ZodType<MasterRequestMessage>;

const heartbeatSchema = z.object({
  type: z.literal('heartbeat'),
  generation: u32,
  nextLsn: lsn,
  permLsn: lsn,
}) satisfies z.ZodType<HeartbeatMessage>;

const vote1Schema = z.object({
  type: z.literal('vote1'),
  generation: u32,
  electionGeneration: u32,
  dataGeneration: u32,
  lastLsn: lsn,
  priority: u32,
  tiebreaker: u32,
  nsites: u32,
  nvotes: u32,
}) satisfies z.ZodType<Vote1Message>;

/** A site id in a message: 1 to MAX_SITE_ID_BYTES bytes of UTF-8. */
const siteIdSchema = z
  .string()
  .min(1)
  .refine(
    (site) => Buffer.byteLength(site, 'utf8') <= MAX_SITE_ID_BYTES,
    `at most ${MAX_SITE_ID_BYTES} bytes of UTF-8`,
  );

const vote2Schema = z.object({
  type: z.literal('vote2'),
  generation: u32,
  electionGeneration: u32,
  candidate: siteIdSchema,
}) satisfies z.ZodType<Vote2Message>;

const forwardSchema = z.object({
  type: z.literal('forward'),
  generation: u32,
  requestId: u32,
  policy: z.union([z.enum(ACK_POLICIES), z.undefined()]),
  ackTimeoutMs: z.union([z.number().int().min(0).max(MAX_ACK_TIMEOUT_MS), z.undefined()]),
  // Each payload's size is bounded by the binary pass, against the decoder's maxRecordBytes.
  payloads: z.array(z.instanceof(Uint8Array)).max(MAX_FORWARD_PAYLOADS),
}) satisfies z.ZodType<ForwardMessage>;

const forwardResultSchema = z
  .object({
    type: z.literal('forwardResult'),
    generation: u32,
    requestId: u32,
    outcome: z.enum(['acknowledged', 'permFailed', 'unknown', 'notMaster']),
    lsn,
    commitGeneration: u32,
    policy: z.union([z.enum(ACK_POLICIES), z.undefined()]),
    reason: z.union([z.enum(FORWARD_REASONS), z.undefined()]),
    needed: z.number().int().min(0).max(MAX_GROUP_SITES),
    localFlushForced: z.boolean(),
    localLevel: z.enum(['buffered', 'written', 'flushed']),
    ackedBy: z
      .array(
        z.object({
          site: siteIdSchema,
          level: z.enum(['received', 'written', 'flushed']),
          latencyUs: u32,
        }),
      )
      .max(MAX_GROUP_SITES),
    missing: z.array(siteIdSchema).max(MAX_GROUP_SITES),
  })
  .refine((message) => (message.outcome === 'notMaster') === (message.lsn === 0), {
    path: ['lsn'],
    message: 'must be 0 exactly when outcome is notMaster',
  })
  .refine((message) => (message.outcome === 'notMaster') === (message.commitGeneration === 0), {
    path: ['commitGeneration'],
    message: 'must be 0 exactly when outcome is notMaster',
  })
  .refine((message) => (message.outcome === 'notMaster') === (message.policy === undefined), {
    path: ['policy'],
    message: 'must be none (0) exactly when outcome is notMaster',
  })
  .refine(
    (message) =>
      message.outcome !== 'notMaster' ||
      (message.reason === undefined &&
        message.needed === 0 &&
        !message.localFlushForced &&
        message.localLevel === 'buffered' &&
        message.ackedBy.length === 0 &&
        message.missing.length === 0),
    {
      path: ['outcome'],
      message:
        'notMaster carries no receipt: no reason, needed 0, no flush, localLevel buffered, no acks, no missing sites',
    },
  ) satisfies z.ZodType<ForwardResultMessage>;

const electionSchema = z.object({
  type: z.literal('election'),
  generation: u32,
  electionGeneration: u32,
  kind: z.enum(ELECTION_CONTROL_KINDS),
  granted: z.boolean(),
  dataGeneration: u32,
  lastLsn: lsn,
  time: lsn,
  site: z
    .string()
    .refine(
      (site) => Buffer.byteLength(site, 'utf8') <= MAX_SITE_ID_BYTES,
      `at most ${MAX_SITE_ID_BYTES} bytes of UTF-8`,
    ),
}) satisfies z.ZodType<ElectionControlMessage>;

/** One schema per message type. For `log`, the decoder uses `logFieldsSchema` instead (no record bytes). */
export const messageSchemas = {
  log: logSchema,
  ack: ackSchema,
  logRequest: logRequestSchema,
  syncRequest: syncRequestSchema,
  syncVerify: syncVerifySchema,
  init: initSchema,
  newMaster: newMasterSchema,
  masterRequest: masterRequestSchema,
  heartbeat: heartbeatSchema,
  vote1: vote1Schema,
  vote2: vote2Schema,
  forward: forwardSchema,
  forwardResult: forwardResultSchema,
  election: electionSchema,
} as const satisfies Record<MessageTypeName, z.ZodType<Message>>;
