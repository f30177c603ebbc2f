/** Manager configuration, validated with zod: one `ConfigError` listing every issue. */
import { z } from 'zod';
import type { Clock } from '../clock.js';
import { ConfigError } from '../errors.js';
import type { LogStorage } from '../log/storage.js';
import type { Logger } from '../logger.js';
import type { StateMachine } from '../replica/state-machine.js';
import type { Transport } from '../transport.js';
import { LONE_SURROGATE, MAX_SITE_ID_BYTES } from '../wire/messages.js';
import {
  electionOptionsSchema,
  type ResolvedElectionOptions,
  resolveElectionOptions,
} from './election-options.js';
import { ACK_POLICIES } from './policy.js';

/** The longest ack timeout accepted: ten minutes. */
export const MAX_ACK_TIMEOUT_MS = 600_000;
/** At most this many sites in a group. */
export const MAX_GROUP_SITES = 64;

const siteId = z
  .string()
  .min(1)
  .refine((id) => !LONE_SURROGATE.test(id), 'must be well-formed Unicode (no lone surrogate)')
  .refine((id) => Buffer.byteLength(id) <= MAX_SITE_ID_BYTES, `at most ${MAX_SITE_ID_BYTES} bytes`);

const siteSchema = z
  .object({
    id: siteId,
    /** 0: never master; above 0: an electable peer (higher wins ties). */
    priority: z.number().int().min(0).max(1_000_000).default(1),
    /** A view replicates but never acks, votes or becomes master. */
    view: z.boolean().default(false),
  })
  .strict();

const durability = z.union([
  z.enum(['none', 'write', 'fsync', 'dsync']),
  z.string().regex(/^delayed:\d+$/, 'expected none, write, fsync, dsync or delayed:MS'),
  z.object({ mode: z.literal('delayed'), maxDelayMs: z.number().int().min(1).max(60_000) }).strict(),
]);

const replication = z.union([
  z.literal('sync'),
  z
    .object({
      mode: z.literal('async'),
      /** Ship when this many records are queued. */
      maxRecords: z.number().int().min(1).max(1_000_000).default(1000),
      /** Ship when the oldest queued record is this old. */
      maxDelayMs: z.number().int().min(1).max(60_000).default(50),
    })
    .strict(),
]);

const schema = z
  .object({
    siteId,
    /** The whole group, this site included. */
    sites: z.array(siteSchema).min(1).max(MAX_GROUP_SITES),
    dir: z.string().min(1).optional(),
    storage: z.custom<LogStorage>((value) => typeof value === 'object' && value !== null).optional(),
    clusterId: z.string().min(1).max(64).default('ackord'),
    durability: durability.default('fsync'),
    transport: z.custom<Transport>((value) => typeof value === 'object' && value !== null, 'a Transport'),
    stateMachine: z.custom<StateMachine>(
      (value) => typeof value === 'object' && value !== null,
      'a StateMachine',
    ),
    ackPolicy: z.enum(ACK_POLICIES).default('quorum'),
    ackTimeoutMs: z.number().int().min(0).max(MAX_ACK_TIMEOUT_MS).default(1000),
    /** Only acks at this level or above count (e.g. 'flushed', like Redis WAITAOF). */
    minAckLevel: z.enum(['received', 'written', 'flushed']).default('received'),
    twoSiteStrict: z.boolean().default(true),
    replication: replication.default('sync'),
    /**
     * How far commits gather before their batch leaves for the clients (synchronous replication) and
     * before their group fsync starts. `'iteration'` (default): every commit made by the I/O callbacks
     * of one event-loop iteration, so an HTTP server's requests read from different connections share
     * one frame per client and one sync; `'turn'`: the commits made before the end of the current
     * microtasks. Under durability `fsync`/`dsync` the batch still leaves at the end of its turn, ahead
     * of the master's own sync, so that the clients' syncs overlap it.
     */
    batching: z.enum(['turn', 'iteration']).default('iteration'),
    heartbeatIntervalMs: z.number().int().min(10).max(60_000).default(500),
    /** A client that hears nothing from its master this long reports HOLDELECTION. */
    masterTimeoutMs: z.number().int().min(50).max(600_000).default(3000),
    autoInit: z.boolean().default(true),
    /**
     * Elections (packages/election): `false` (default) leaves roles to the application
     * (becomeMaster/becomeClient); `true` or settings make the group elect its master.
     */
    election: z.union([z.boolean(), electionOptionsSchema]).default(false),
    logger: z.custom<Logger>((value) => typeof value === 'object' && value !== null).optional(),
    clock: z.custom<Clock>((value) => typeof value === 'object' && value !== null).optional(),
  })
  .strict()
  .superRefine((options, context) => {
    const ids = options.sites.map((site) => site.id);
    if (new Set(ids).size !== ids.length)
      context.addIssue({ code: 'custom', path: ['sites'], message: 'site ids must be unique' });
    if (!ids.includes(options.siteId)) {
      context.addIssue({
        code: 'custom',
        path: ['sites'],
        message: `must include this site (${options.siteId})`,
      });
    }
    if ((options.dir === undefined) === (options.storage === undefined)) {
      context.addIssue({ code: 'custom', path: ['dir'], message: 'give exactly one of dir and storage' });
    }
    if (options.masterTimeoutMs <= options.heartbeatIntervalMs) {
      context.addIssue({
        code: 'custom',
        path: ['masterTimeoutMs'],
        message: 'must be above heartbeatIntervalMs',
      });
    }
  });

export type ManagerOptions = z.input<typeof schema>;
export type ResolvedManagerOptions = Omit<z.output<typeof schema>, 'election'> & {
  /** undefined: elections off. */
  readonly election: ResolvedElectionOptions | undefined;
};

export function parseManagerOptions(options: ManagerOptions): ResolvedManagerOptions {
  const result = schema.safeParse(options);
  if (!result.success) throw new ConfigError('replication manager options', result.error.issues);
  const parsed = result.data;
  if (parsed.election === false) return { ...parsed, election: undefined };
  const settings = parsed.election === true ? electionOptionsSchema.parse({}) : parsed.election;
  const election = resolveElectionOptions(settings, parsed);
  if (Array.isArray(election)) {
    throw new ConfigError(
      'replication manager options',
      election.map((message) => ({ code: 'custom' as const, path: ['election'], message, input: undefined })),
    );
  }
  return { ...parsed, election };
}
