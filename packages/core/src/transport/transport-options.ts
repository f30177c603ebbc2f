/**
 * The options every built-in transport shares, as zod shapes each transport spreads into its own
 * schema, so the names, defaults and bounds stay the same across TCP and WebSocket.
 */
import { z } from 'zod';
import type { Logger } from '../logger.js';
import { HANDSHAKE_MAX_ID_BYTES } from './handshake-frame.js';

/** Frames above 256 MiB are refused even if configured: no replication message needs more. */
export const TRANSPORT_MAX_FRAME_BYTES_LIMIT = 256 * 1024 * 1024;
export const TRANSPORT_MAX_FRAME_BYTES_DEFAULT = 16 * 1024 * 1024;
/**
 * Bytes waiting to go out per peer before `send` reports `backpressure`. 32 MiB: two maximum-size frames fit, and a peer that authenticates and then never reads costs
 * at most this much until liveness closes it (TESTPLAN P18 allows less than 64 MiB of growth).
 */
export const TRANSPORT_SEND_QUEUE_BYTES_DEFAULT = 32 * 1024 * 1024;
export const TRANSPORT_SEND_QUEUE_BYTES_LIMIT = 1024 * 1024 * 1024;
export const TRANSPORT_HANDSHAKE_TIMEOUT_MS_DEFAULT = 5_000;
export const TRANSPORT_MAX_UNAUTHENTICATED_DEFAULT = 64;
/** A site has at most this many peers: the peer table and the dialers are sized by it. */
export const TRANSPORT_MAX_PEERS = 256;
export const TRANSPORT_RECONNECT_DEFAULT = { minMs: 100, maxMs: 10_000 } as const;
/** The cluster secret's minimum length, in bytes (or characters for a string). */
export const TRANSPORT_MIN_SECRET_BYTES = 16;

/**
 * A liveness option (`{ intervalMs, timeoutMs }`, see `Liveness`) with its defaults. `timeoutMs` must
 * be more than `minIntervals` × `intervalMs`: the most time a live but quiet peer can go without
 * sending anything.
 */
export function livenessSchema(
  defaults: { readonly intervalMs: number; readonly timeoutMs: number },
  minIntervals: number,
) {
  return z
    .object({
      intervalMs: z.number().int().min(10).max(600_000).default(defaults.intervalMs),
      timeoutMs: z.number().int().min(10).max(3_600_000).default(defaults.timeoutMs),
    })
    .strict()
    .refine(
      (value) => value.timeoutMs > minIntervals * value.intervalMs,
      minIntervals === 1
        ? 'timeoutMs must exceed intervalMs'
        : `timeoutMs must exceed ${minIntervals} × intervalMs`,
    )
    .default({ intervalMs: defaults.intervalMs, timeoutMs: defaults.timeoutMs });
}

export const transportIdSchema = z
  .string()
  .min(1)
  .refine(
    (value) => Buffer.byteLength(value) <= HANDSHAKE_MAX_ID_BYTES,
    `at most ${HANDSHAKE_MAX_ID_BYTES} bytes`,
  );

export const transportPortSchema = z.number().int().min(0).max(65_535);

/** The options that mean the same on every transport. */
export const transportOptionsShape = {
  siteId: transportIdSchema,
  clusterId: transportIdSchema,
  secret: z.union([
    z.string().min(TRANSPORT_MIN_SECRET_BYTES),
    z.instanceof(Uint8Array).refine((bytes) => bytes.length >= TRANSPORT_MIN_SECRET_BYTES),
  ]),
  maxFrameBytes: z
    .number()
    .int()
    .min(1)
    .max(TRANSPORT_MAX_FRAME_BYTES_LIMIT)
    .default(TRANSPORT_MAX_FRAME_BYTES_DEFAULT),
  /** From the TCP accept (or the start of a dial) to an authenticated peer, TLS included. */
  handshakeTimeoutMs: z.number().int().min(1).max(600_000).default(TRANSPORT_HANDSHAKE_TIMEOUT_MS_DEFAULT),
  /** Inbound connections not yet authenticated beyond which new ones are closed at once. */
  maxUnauthenticated: z.number().int().min(1).max(10_000).default(TRANSPORT_MAX_UNAUTHENTICATED_DEFAULT),
  sendQueueBytes: z
    .number()
    .int()
    .min(1)
    .max(TRANSPORT_SEND_QUEUE_BYTES_LIMIT)
    .default(TRANSPORT_SEND_QUEUE_BYTES_DEFAULT),
  reconnect: z
    .object({
      minMs: z.number().int().min(1).max(600_000).default(TRANSPORT_RECONNECT_DEFAULT.minMs),
      maxMs: z.number().int().min(1).max(600_000).default(TRANSPORT_RECONNECT_DEFAULT.maxMs),
    })
    .strict()
    .refine((value) => value.minMs <= value.maxMs, 'minMs must not exceed maxMs')
    .default(TRANSPORT_RECONNECT_DEFAULT),
  /** Nonces for the handshake (default: `crypto.randomBytes`). */
  randomBytes: z.custom<(size: number) => Uint8Array>((value) => typeof value === 'function').optional(),
  /** Reconnect jitter in [0, 1) (default: `Math.random`). */
  random: z.custom<() => number>((value) => typeof value === 'function').optional(),
  logger: z.custom<Logger>((value) => typeof value === 'object' && value !== null).optional(),
};

/** The address fields of a peer entry: needed only for peers this site dials. */
export const peerAddressShape = {
  id: transportIdSchema,
  host: z.string().min(1).optional(),
  port: transportPortSchema.optional(),
};

/**
 * The peer rules every transport checks: no site is its own peer, ids are unique, and a peer whose id
 * sorts above ours (the ones this site dials) has a host and port.
 */
export function checkPeers(
  value: {
    readonly siteId: string;
    readonly peers: readonly { readonly id: string; readonly host?: string; readonly port?: number }[];
  },
  context: z.RefinementCtx,
): void {
  const seen = new Set<string>();
  value.peers.forEach((peer, index) => {
    if (peer.id === value.siteId)
      context.addIssue({
        code: 'custom',
        path: ['peers', index, 'id'],
        message: 'a site is not its own peer',
      });
    if (seen.has(peer.id))
      context.addIssue({ code: 'custom', path: ['peers', index, 'id'], message: 'a peer is listed twice' });
    seen.add(peer.id);
    if (peer.id > value.siteId && (peer.host === undefined || peer.port === undefined))
      context.addIssue({
        code: 'custom',
        path: ['peers', index],
        message: 'host and port are required: this site dials peers whose id sorts above its own',
      });
  });
}
