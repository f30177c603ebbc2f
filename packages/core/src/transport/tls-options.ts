/**
 * TLS with mutual authentication for the built-in transports. Every site is both a server (it accepts
 * lower ids) and a client (it dials higher ids), so one certificate serves both ways: it must be valid
 * for serverAuth and clientAuth and name the host its peers dial. Both directions verify against `ca`.
 */
import type { ConnectionOptions, TlsOptions } from 'node:tls';
import { z } from 'zod';

/** PEM text or its bytes. */
const pem = z.union([z.string().min(1), z.instanceof(Uint8Array).refine((bytes) => bytes.length > 0)]);

export const transportTlsSchema = z
  .object({
    /** The CA certificate(s) that sign every site's certificate, PEM. Nothing else is trusted. */
    ca: z.union([pem, z.array(pem).min(1)]),
    /** This site's certificate (chain), PEM. */
    cert: pem,
    /** This site's private key, PEM. */
    key: pem,
    passphrase: z.string().optional(),
  })
  .strict();

export type TransportTlsOptions = z.input<typeof transportTlsSchema>;

type Pem = string | Buffer;

function material(tls: TransportTlsOptions): { ca: Pem | Pem[]; cert: Pem; key: Pem; passphrase?: string } {
  const toPem = (value: string | Uint8Array): Pem => (typeof value === 'string' ? value : Buffer.from(value));
  return {
    ca: Array.isArray(tls.ca) ? tls.ca.map(toPem) : toPem(tls.ca),
    cert: toPem(tls.cert),
    key: toPem(tls.key),
    ...(tls.passphrase === undefined ? {} : { passphrase: tls.passphrase }),
  };
}

/**
 * Listener options: request a client certificate. `rejectUnauthorized` is off on purpose — Node would
 * drop a bad certificate silently — and the listener refuses with `checkPeerCertificate` instead,
 * before it reads a byte from the client.
 */
export function tlsServerOptions(tls: TransportTlsOptions): TlsOptions {
  return { ...material(tls), requestCert: true, rejectUnauthorized: false };
}

/** Dialer options: present our certificate, verify the server's against `ca` and the host we dialed. */
export function tlsClientOptions(tls: TransportTlsOptions): ConnectionOptions {
  return { ...material(tls), rejectUnauthorized: true };
}
