/** TCP transport options, validated with zod: one `ConfigError` listing every issue. */
import {
  ConfigError,
  checkPeers,
  livenessSchema,
  peerAddressShape,
  TRANSPORT_MAX_FRAME_BYTES_LIMIT,
  TRANSPORT_MAX_PEERS,
  transportOptionsShape,
  transportPortSchema,
  transportTlsSchema,
} from '@ackord/core';
import { z } from 'zod';

/** Frames above 256 MiB are refused even if configured: the u32 length would allow 4 GiB. */
export const TCP_MAX_FRAME_BYTES_LIMIT = TRANSPORT_MAX_FRAME_BYTES_LIMIT;
/** Once authenticated, a side that wrote nothing for this long writes a keepalive. */
export const TCP_HEARTBEAT_INTERVAL_MS_DEFAULT = 1_000;
/** A peer we heard nothing from, or that read nothing we sent, for this long is declared down. */
export const TCP_HEARTBEAT_TIMEOUT_MS_DEFAULT = 5_000;

const schema = z
  .object({
    ...transportOptionsShape,
    listen: z.object({ host: z.string().min(1).default('0.0.0.0'), port: transportPortSchema }).strict(),
    /**
     * Every other site. A site dials only the peers whose id sorts above its own (JavaScript string
     * order), so `host`/`port` are needed only for those; lower ids dial us.
     */
    peers: z.array(z.object(peerAddressShape).strict()).max(TRANSPORT_MAX_PEERS),
    /** TLS with mutual authentication (see `TransportTlsOptions`); plain TCP when absent. */
    tls: transportTlsSchema.optional(),
    /**
     * Liveness: a side that wrote nothing for `intervalMs` writes a keepalive; a peer heard from not at
     * all (no frame, no keepalive) for `timeoutMs`, or that read nothing we sent for as long, is closed
     * (`connectionError` `unresponsive`). A quiet peer writes at least every 2 × `intervalMs`, so
     * `timeoutMs` must be longer than that.
     */
    heartbeat: livenessSchema(
      { intervalMs: TCP_HEARTBEAT_INTERVAL_MS_DEFAULT, timeoutMs: TCP_HEARTBEAT_TIMEOUT_MS_DEFAULT },
      2,
    ),
  })
  .strict()
  .superRefine(checkPeers);

export type TcpTransportOptions = z.input<typeof schema>;
export type ResolvedTcpOptions = z.output<typeof schema>;

export function parseTcpOptions(options: TcpTransportOptions): ResolvedTcpOptions {
  const result = schema.safeParse(options);
  if (!result.success) throw new ConfigError('TCP transport options', result.error.issues);
  return result.data;
}
