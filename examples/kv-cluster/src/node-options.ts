/**
 * `kv node` flags, validated with zod. Every bad flag is reported at once, as `--flag: what is wrong`,
 * through a UsageError (the CLI exits 2). The same parser checks the node flags `kv cluster` passes on,
 * so a bad value is reported once by the launcher rather than once per site.
 */
import { parseArgs } from 'node:util';
import {
  ACK_POLICIES,
  type AckPolicy,
  DEFAULT_MAX_PAYLOAD_BYTES,
  MAX_ACK_TIMEOUT_MS,
  MAX_ELECTION_TIMEOUT_MS,
} from '@ackord/core';
import { z } from 'zod';
import { type HostPort, parseHostPort } from './address.js';
import { formatIssues, UsageError } from './usage-error.js';

export const DEFAULT_CLUSTER_ID = 'ackord-kv';
export const DEFAULT_ELECTION_TIMEOUT_MS = 1500;
/** The smallest election timeout the CLI takes: below it, a loaded machine elects for no reason. */
export const MIN_ELECTION_TIMEOUT_MS = 100;
/** Values up to 1 MiB by default; a value must also fit one log record with its key (see routes-kv). */
export const DEFAULT_MAX_VALUE_BYTES = 1024 * 1024;
export const MAX_VALUE_BYTES_LIMIT = DEFAULT_MAX_PAYLOAD_BYTES;
/** Sites in one group (the manager allows 64; a CLI cluster of more is a typo). */
export const MAX_PEERS = 63;
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export const TRANSPORTS = ['tcp', 'ws'] as const;
export type TransportKind = (typeof TRANSPORTS)[number];

/** Site ids show up in URLs, metric labels and file names: keep them plain. */
const SITE_ID = /^[A-Za-z0-9_.-]{1,64}$/;
/** "required" for a missing flag instead of zod's "expected string, received undefined". */
const requiredString = () =>
  z.string({ error: (issue) => (issue.input === undefined ? 'required' : 'expected a string') });

const siteIdSchema = requiredString().regex(SITE_ID, 'letters, digits, _ . - (1 to 64)');

const hostPortSchema = requiredString().transform((text, context): HostPort => {
  const address = parseHostPort(text);
  if (address === undefined) {
    context.addIssue({ code: 'custom', message: `expected HOST:PORT, got ${JSON.stringify(text)}` });
    return z.NEVER;
  }
  return address;
});

const wholeNumber = (min: number, max: number) =>
  z
    .string()
    .regex(/^\d+$/, 'expected a whole number')
    .transform(Number)
    .pipe(z.number().int().min(min).max(max));

/** `ID=VALUE` pairs, VALUE parsed by `value`. */
function pairs<T>(what: string, value: (text: string) => T | undefined) {
  return z.array(z.string()).transform((entries, context) => {
    const parsed: { id: string; value: T }[] = [];
    entries.forEach((entry, index) => {
      const equals = entry.indexOf('=');
      const id = entry.slice(0, equals);
      const result = equals > 0 && SITE_ID.test(id) ? value(entry.slice(equals + 1)) : undefined;
      if (result === undefined) {
        context.addIssue({
          code: 'custom',
          path: [index],
          message: `expected ID=${what}, got ${JSON.stringify(entry)}`,
        });
      } else parsed.push({ id, value: result });
    });
    return parsed;
  });
}

const priority = (text: string) =>
  /^\d{1,7}$/.test(text) && Number(text) <= 1_000_000 ? Number(text) : undefined;

const durabilitySchema = z
  .string()
  .regex(/^(none|write|fsync|dsync|delayed:\d{1,5})$/, 'expected none, write, fsync, dsync or delayed:MS')
  .refine((text) => !text.startsWith('delayed:') || Number(text.slice(8)) >= 1, 'delayed:MS needs MS >= 1');

const schema = z
  .object({
    id: siteIdSchema,
    listen: hostPortSchema,
    http: hostPortSchema,
    data: requiredString().min(1, 'a directory is required'),
    peer: pairs('HOST:PORT', parseHostPort).default([]),
    'peer-http': pairs('HOST:PORT', parseHostPort).default([]),
    'peer-priority': pairs('N (0 to 1000000)', priority).default([]),
    priority: wholeNumber(0, 1_000_000).default(1),
    transport: z.enum(TRANSPORTS).default('tcp'),
    ack: z.enum(ACK_POLICIES).default('quorum'),
    'ack-timeout-ms': wholeNumber(0, MAX_ACK_TIMEOUT_MS).default(1000),
    durability: durabilitySchema.default('fsync'),
    'cluster-id': z.string().regex(SITE_ID, 'letters, digits, _ . - (1 to 64)').default(DEFAULT_CLUSTER_ID),
    'secret-file': z.string().min(1).optional(),
    'log-level': z.enum(LOG_LEVELS).default('info'),
    'election-timeout-ms': wholeNumber(MIN_ELECTION_TIMEOUT_MS, MAX_ELECTION_TIMEOUT_MS).default(
      DEFAULT_ELECTION_TIMEOUT_MS,
    ),
    'max-value-bytes': wholeNumber(0, MAX_VALUE_BYTES_LIMIT).default(DEFAULT_MAX_VALUE_BYTES),
  })
  .strict()
  .superRefine((flags, context) => {
    const ids = new Set<string>();
    flags.peer.forEach((peer, index) => {
      if (peer.id === flags.id)
        context.addIssue({ code: 'custom', path: ['peer', index], message: 'a site is not its own peer' });
      if (ids.has(peer.id))
        context.addIssue({ code: 'custom', path: ['peer', index], message: `${peer.id} is listed twice` });
      ids.add(peer.id);
    });
    if (flags.peer.length > MAX_PEERS)
      context.addIssue({ code: 'custom', path: ['peer'], message: `at most ${MAX_PEERS} peers` });
    for (const name of ['peer-http', 'peer-priority'] as const) {
      const seen = new Set<string>();
      flags[name].forEach((entry, index) => {
        if (!ids.has(entry.id))
          context.addIssue({ code: 'custom', path: [name, index], message: `${entry.id} is not a --peer` });
        if (seen.has(entry.id))
          context.addIssue({ code: 'custom', path: [name, index], message: `${entry.id} is listed twice` });
        seen.add(entry.id);
      });
    }
  });

export interface PeerOptions {
  readonly id: string;
  readonly address: HostPort;
  /** From --peer-http; otherwise the peer announces its own (see peer-directory.ts). */
  readonly http: HostPort | undefined;
  readonly priority: number;
}

export interface NodeOptions {
  readonly id: string;
  readonly listen: HostPort;
  readonly http: HostPort;
  readonly dataDir: string;
  readonly peers: readonly PeerOptions[];
  readonly priority: number;
  readonly transport: TransportKind;
  readonly ackPolicy: AckPolicy;
  readonly ackTimeoutMs: number;
  readonly durability: string;
  readonly clusterId: string;
  readonly secretFile: string | undefined;
  readonly logLevel: LogLevel;
  readonly electionTimeoutMs: number;
  readonly maxValueBytes: number;
}

/** The flags `kv node` takes, for node:util parseArgs. */
export const NODE_FLAGS = {
  id: { type: 'string' },
  listen: { type: 'string' },
  http: { type: 'string' },
  data: { type: 'string' },
  peer: { type: 'string', multiple: true },
  'peer-http': { type: 'string', multiple: true },
  'peer-priority': { type: 'string', multiple: true },
  priority: { type: 'string' },
  transport: { type: 'string' },
  ack: { type: 'string' },
  'ack-timeout-ms': { type: 'string' },
  durability: { type: 'string' },
  'cluster-id': { type: 'string' },
  'secret-file': { type: 'string' },
  'log-level': { type: 'string' },
  'election-timeout-ms': { type: 'string' },
  'max-value-bytes': { type: 'string' },
} as const;

export type RawNodeFlags = Partial<Record<keyof typeof NODE_FLAGS, string | string[]>>;

/** Parses argv (after `node`); throws UsageError. */
export function parseNodeArgs(argv: readonly string[]): NodeOptions {
  let values: RawNodeFlags;
  try {
    values = parseArgs({
      args: [...argv],
      options: NODE_FLAGS,
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (error) {
    throw new UsageError(`kv node: ${(error as Error).message}`);
  }
  return validateNodeFlags(values);
}

/** Validates flags already split by name (also used by `kv cluster` for each site it starts). */
export function validateNodeFlags(values: RawNodeFlags): NodeOptions {
  const result = schema.safeParse(values);
  if (!result.success)
    throw new UsageError(`kv node: invalid options:\n${formatIssues(result.error.issues)}`);
  const flags = result.data;
  const httpOf = new Map(flags['peer-http'].map((entry) => [entry.id, entry.value]));
  const priorityOf = new Map(flags['peer-priority'].map((entry) => [entry.id, entry.value]));
  return {
    id: flags.id,
    listen: flags.listen,
    http: flags.http,
    dataDir: flags.data,
    peers: flags.peer.map((peer) => ({
      id: peer.id,
      address: peer.value,
      http: httpOf.get(peer.id),
      // Every site must see the same priorities (acks and votes count by them): peers default to 1.
      priority: priorityOf.get(peer.id) ?? 1,
    })),
    priority: flags.priority,
    transport: flags.transport,
    ackPolicy: flags.ack,
    ackTimeoutMs: flags['ack-timeout-ms'],
    durability: flags.durability,
    clusterId: flags['cluster-id'],
    secretFile: flags['secret-file'],
    logLevel: flags['log-level'],
    electionTimeoutMs: flags['election-timeout-ms'],
    maxValueBytes: flags['max-value-bytes'],
  };
}
