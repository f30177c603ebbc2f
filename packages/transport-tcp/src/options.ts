/** TCP transport options, validated with zod: one `ConfigError` listing every issue. */
import { ConfigError, HANDSHAKE_MAX_ID_BYTES, type Logger } from '@ackord/core';
import { z } from 'zod';

/** Frames above 256 MiB are refused even if configured: the u32 length would allow 4 GiB. */
export const TCP_MAX_FRAME_BYTES_LIMIT = 256 * 1024 * 1024;

const id = z
  .string()
  .min(1)
  .refine(
    (value) => Buffer.byteLength(value) <= HANDSHAKE_MAX_ID_BYTES,
    `at most ${HANDSHAKE_MAX_ID_BYTES} bytes`,
  );
const port = z.number().int().min(0).max(65_535);

const schema = z
  .object({
    siteId: id,
    listen: z.object({ host: z.string().min(1).default('0.0.0.0'), port }).strict(),
    /**
     * Every other site. A site dials only the peers whose id sorts above its own (JavaScript string
     * order), so `host`/`port` are needed only for those; lower ids dial us.
     */
    peers: z
      .array(z.object({ id, host: z.string().min(1).optional(), port: port.optional() }).strict())
      .max(256),
    clusterId: id,
    secret: z.union([z.string().min(16), z.instanceof(Uint8Array).refine((bytes) => bytes.length >= 16)]),
    maxFrameBytes: z
      .number()
      .int()
      .min(1)
      .max(TCP_MAX_FRAME_BYTES_LIMIT)
      .default(16 * 1024 * 1024),
    handshakeTimeoutMs: z.number().int().min(1).max(600_000).default(5_000),
    /** Inbound connections still in their handshake beyond which new ones are closed at once. */
    maxUnauthenticated: z.number().int().min(1).max(10_000).default(64),
    /** Bytes queued per peer while the socket pushes back; `send` reports `backpressure` past it. */
    sendQueueBytes: z
      .number()
      .int()
      .min(1)
      .max(1024 * 1024 * 1024)
      .default(64 * 1024 * 1024),
    reconnect: z
      .object({
        minMs: z.number().int().min(1).max(600_000).default(100),
        maxMs: z.number().int().min(1).max(600_000).default(10_000),
      })
      .strict()
      .refine((value) => value.minMs <= value.maxMs, 'minMs must not exceed maxMs')
      .default({ minMs: 100, maxMs: 10_000 }),
    randomBytes: z.custom<(size: number) => Uint8Array>((value) => typeof value === 'function').optional(),
    random: z.custom<() => number>((value) => typeof value === 'function').optional(),
    logger: z.custom<Logger>((value) => typeof value === 'object' && value !== null).optional(),
  })
  .strict()
  .superRefine((value, context) => {
    value.peers.forEach((peer, index) => {
      if (peer.id === value.siteId)
        context.addIssue({
          code: 'custom',
          path: ['peers', index, 'id'],
          message: 'a site is not its own peer',
        });
      if (peer.id > value.siteId && (peer.host === undefined || peer.port === undefined))
        context.addIssue({
          code: 'custom',
          path: ['peers', index],
          message: 'host and port are required: this site dials peers whose id sorts above its own',
        });
    });
  });

export type TcpTransportOptions = z.input<typeof schema>;
export type ResolvedTcpOptions = z.output<typeof schema>;

export function parseTcpOptions(options: TcpTransportOptions): ResolvedTcpOptions {
  const result = schema.safeParse(options);
  if (!result.success) throw new ConfigError('TCP transport options', result.error.issues);
  return result.data;
}
