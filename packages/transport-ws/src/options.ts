/** WebSocket transport options, validated with zod: one `ConfigError` listing every issue. */
import {
  ConfigError,
  checkPeers,
  livenessSchema,
  peerAddressShape,
  TRANSPORT_MAX_PEERS,
  TRANSPORT_SEND_QUEUE_BYTES_LIMIT,
  transportOptionsShape,
  transportPortSchema,
  transportTlsSchema,
} from '@ackord/core';
import { z } from 'zod';

/** The HTTP path the listener upgrades, and the one dialers ask for unless a peer says otherwise. */
export const WS_DEFAULT_PATH = '/ackord';
/** Ping a peer this often once it is authenticated. */
export const WS_PING_INTERVAL_MS_DEFAULT = 5_000;
/** A peer we heard nothing from (no pong, no frame) for this long is declared down. */
export const WS_PONG_TIMEOUT_MS_DEFAULT = 15_000;
/** The low watermark defaults to this fraction of the high one (`sendQueueBytes`). */
const LOW_WATERMARK_DIVISOR = 4;

const path = z
  .string()
  .max(256)
  .regex(/^\/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*$/, 'an absolute URL path without query or fragment');

const schema = z
  .object({
    ...transportOptionsShape,
    listen: z
      .object({
        host: z.string().min(1).default('0.0.0.0'),
        port: transportPortSchema,
        path: path.default(WS_DEFAULT_PATH),
      })
      .strict(),
    /**
     * Every other site. A site dials only the peers whose id sorts above its own (JavaScript string
     * order), so `host`/`port` are needed only for those; lower ids dial us. The URL dialed is
     * `ws://host:port/path` (`wss://` with the `wss` option).
     */
    peers: z
      .array(z.object({ ...peerAddressShape, path: path.default(WS_DEFAULT_PATH) }).strict())
      .max(TRANSPORT_MAX_PEERS),
    /** TLS with mutual authentication (see `TransportTlsOptions`): the listener and dialers speak wss. */
    wss: transportTlsSchema.optional(),
    /**
     * The low watermark: once `send` reported `backpressure` (the socket's `bufferedAmount` above
     * `sendQueueBytes`, the high watermark), it keeps doing so until `bufferedAmount` falls to this.
     * Default: a quarter of `sendQueueBytes`.
     */
    sendQueueLowBytes: z.number().int().min(0).max(TRANSPORT_SEND_QUEUE_BYTES_LIMIT).optional(),
    /**
     * Liveness: ping every `intervalMs`; nothing heard (no pong, no frame) for `timeoutMs`, or nothing
     * of ours read (the socket's write buffer stuck above its high watermark) for as long, and the peer
     * is down.
     */
    ping: livenessSchema(
      { intervalMs: WS_PING_INTERVAL_MS_DEFAULT, timeoutMs: WS_PONG_TIMEOUT_MS_DEFAULT },
      1,
    ),
  })
  .strict()
  .superRefine(checkPeers)
  .superRefine((value, context) => {
    value.peers.forEach((peer, index) => {
      if (peer.host !== undefined && peer.port !== undefined && !URL.canParse(peerUrl(peer, false)))
        context.addIssue({
          code: 'custom',
          path: ['peers', index, 'host'],
          message: 'not a host a URL can name',
        });
    });
    if (value.sendQueueLowBytes !== undefined && value.sendQueueLowBytes > value.sendQueueBytes)
      context.addIssue({
        code: 'custom',
        path: ['sendQueueLowBytes'],
        message: 'the low watermark must not exceed sendQueueBytes',
      });
  })
  .transform((value) => ({
    ...value,
    sendQueueLowBytes: value.sendQueueLowBytes ?? Math.floor(value.sendQueueBytes / LOW_WATERMARK_DIVISOR),
  }));

export type WsTransportOptions = z.input<typeof schema>;
export type ResolvedWsOptions = z.output<typeof schema>;
export type ResolvedWsPeer = ResolvedWsOptions['peers'][number];

export function parseWsOptions(options: WsTransportOptions): ResolvedWsOptions {
  const result = schema.safeParse(options);
  if (!result.success) throw new ConfigError('WebSocket transport options', result.error.issues);
  return result.data;
}

/** The URL a dialer opens for `peer`. */
export function peerUrl(peer: ResolvedWsPeer, secure: boolean): string {
  // An IPv6 literal goes in brackets in a URL.
  const host = peer.host!.includes(':') ? `[${peer.host}]` : peer.host!;
  return `${secure ? 'wss' : 'ws'}://${host}:${peer.port}${peer.path}`;
}
