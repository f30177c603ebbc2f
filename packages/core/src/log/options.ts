/** Log options, validated with zod: bad configuration is one `ConfigError` listing every issue. */
import { z } from 'zod';
import type { Clock } from '../clock.js';
import { ConfigError } from '../errors.js';
import type { SyncIo } from './file-storage.js';
import { RECORD_HEADER_BYTES } from './record.js';
import { MAX_CLUSTER_ID_BYTES, SEGMENT_HEADER_BYTES } from './segment-header.js';
import type { LogStorage } from './storage.js';

/**
 * The local flush policy (DESIGN §2):
 * - `none`: commit returns with the record in the in-memory buffer; nothing survives until a flush.
 * - `write`: commit returns after write() to the OS; survives a process crash.
 * - `fsync`: commit returns after an fdatasync that covers it (group commit); survives power loss.
 * - `dsync`: the segment is opened O_DSYNC; commit returns after that write; survives power loss.
 * - `delayed`: like `write`, plus a background flush: every commit is durable within maxDelayMs.
 */
export type DurabilityMode =
  | 'none'
  | 'write'
  | 'fsync'
  | 'dsync'
  | { readonly mode: 'delayed'; readonly maxDelayMs: number };

export type DurabilityModeName = 'none' | 'write' | 'fsync' | 'dsync' | 'delayed';

export const DEFAULT_SEGMENT_BYTES = 64 * 1024 * 1024;
export const MIN_SEGMENT_BYTES = 4096;
export const MAX_SEGMENT_BYTES = 1024 * 1024 * 1024;
export const DEFAULT_MAX_PAYLOAD_BYTES = 1024 * 1024;
export const DEFAULT_BUFFER_BYTES = 4 * 1024 * 1024;
/** The longest a `delayed` commit may stay unsynced. */
export const MAX_DELAYED_DURABILITY_MS = 60_000;

const delayedPattern = /^delayed:(\d+)$/;

const durabilitySchema = z.union([
  z.enum(['none', 'write', 'fsync', 'dsync']),
  z
    .string()
    .regex(delayedPattern, 'expected none, write, fsync, dsync or delayed:MS')
    .transform((text) => ({ mode: 'delayed' as const, maxDelayMs: Number(delayedPattern.exec(text)![1]) }))
    .pipe(
      z.object({
        mode: z.literal('delayed'),
        maxDelayMs: z.number().int().min(1).max(MAX_DELAYED_DURABILITY_MS),
      }),
    ),
  z.object({
    mode: z.literal('delayed'),
    maxDelayMs: z.number().int().min(1).max(MAX_DELAYED_DURABILITY_MS),
  }),
]);

const optionsSchema = z
  .object({
    durability: durabilitySchema.default('fsync'),
    clusterId: z
      .string()
      .min(1)
      .refine((id) => Buffer.byteLength(id) <= MAX_CLUSTER_ID_BYTES, `at most ${MAX_CLUSTER_ID_BYTES} bytes`)
      .default('ackord'),
    segmentBytes: z
      .number()
      .int()
      .min(MIN_SEGMENT_BYTES)
      .max(MAX_SEGMENT_BYTES)
      .default(DEFAULT_SEGMENT_BYTES),
    maxPayloadBytes: z.number().int().min(0).optional(),
    bufferBytes: z.number().int().min(4096).max(MAX_SEGMENT_BYTES).default(DEFAULT_BUFFER_BYTES),
    recovery: z.enum(['strict', 'repair']).default('strict'),
    syncIo: z.enum(['blocking', 'threadpool']).default('blocking'),
    groupCommit: z.enum(['turn', 'iteration']).default('turn'),
    create: z.boolean().default(true),
    storage: z.custom<LogStorage>((value) => typeof value === 'object' && value !== null).optional(),
    clock: z.custom<Clock>((value) => typeof value === 'object' && value !== null).optional(),
  })
  .strict()
  .transform((options) => ({
    ...options,
    // Unset: 1 MiB, or less when a small segment or buffer could not hold such a record.
    maxPayloadBytes:
      options.maxPayloadBytes ??
      Math.min(
        DEFAULT_MAX_PAYLOAD_BYTES,
        options.segmentBytes - SEGMENT_HEADER_BYTES - RECORD_HEADER_BYTES,
        options.bufferBytes - RECORD_HEADER_BYTES,
      ),
  }))
  .superRefine((options, context) => {
    const maxRecord = options.maxPayloadBytes + RECORD_HEADER_BYTES;
    if (maxRecord > options.segmentBytes - SEGMENT_HEADER_BYTES) {
      context.addIssue({
        code: 'custom',
        path: ['maxPayloadBytes'],
        message: `a record (${maxRecord} bytes) must fit in a segment (${options.segmentBytes} bytes less its ${SEGMENT_HEADER_BYTES}-byte header)`,
      });
    }
    if (maxRecord > options.bufferBytes) {
      context.addIssue({
        code: 'custom',
        path: ['bufferBytes'],
        message: `the write buffer (${options.bufferBytes} bytes) must hold the largest record (${maxRecord} bytes)`,
      });
    }
  });

export interface LogOptions {
  /** Default `fsync`. Also accepts the string `delayed:MS`. */
  durability?: DurabilityMode | `delayed:${number}`;
  /** Written into every segment header; a log of another cluster refuses to open. Default `ackord`. */
  clusterId?: string;
  /** Segment file size before a switch. Default 64 MiB. */
  segmentBytes?: number;
  /** Largest payload of one record. Default 1 MiB (less if the segment or buffer is smaller). */
  maxPayloadBytes?: number;
  /** The in-memory write buffer; a full buffer is written out before the next append. Default 4 MiB. */
  bufferBytes?: number;
  /** `strict` (default) refuses a corrupted log; `repair` cuts it at the first bad record and reports it. */
  recovery?: 'strict' | 'repair';
  /** How file syncs run (see `SyncIo`). Ignored with a custom `storage`. Default `blocking`. */
  syncIo?: SyncIo;
  /**
   * How far a group commit gathers before its flush starts. `'turn'` (default): the commits made
   * before the end of the current microtasks. `'iteration'`: the commits made by every I/O callback
   * of the current event-loop iteration (`Clock.afterIo`) — a server whose requests arrive on
   * different connections gets one sync per iteration, not one per request. Falls back to `'turn'`
   * when the clock has no `afterIo`.
   */
  groupCommit?: 'turn' | 'iteration';
  /** Create the log if the directory holds none. Default true. */
  create?: boolean;
  /** Storage other than files in `dir` (e.g. `MemoryStorage`). */
  storage?: LogStorage;
  /** Clock for the `delayed` mode's background flush. Default the system clock. */
  clock?: Clock;
}

export type ResolvedLogOptions = z.output<typeof optionsSchema>;

export function parseLogOptions(options: LogOptions | undefined): ResolvedLogOptions {
  const result = optionsSchema.safeParse(options ?? {});
  if (!result.success) throw new ConfigError('log options', result.error.issues);
  return result.data;
}

export function durabilityModeName(mode: ResolvedLogOptions['durability']): DurabilityModeName {
  return typeof mode === 'string' ? mode : 'delayed';
}
