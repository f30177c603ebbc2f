/**
 * TLS failures, as typed values: the peer presented no certificate, a certificate that does not verify
 * against our CA, or the TLS handshake itself failed (an alert from the peer, a non-TLS peer). Node
 * reports these as errors with string codes on the socket; `tlsErrorFrom` sorts them out from plain
 * connection errors (refused, reset), which are not TLS problems.
 */
import type { TLSSocket } from 'node:tls';
import { AckordError } from '../errors.js';

/**
 * - `no-peer-certificate`: mutual authentication is on and the client presented no certificate;
 * - `peer-certificate-rejected`: the peer's certificate does not verify against the configured CA (or
 *   names another host); `tlsCode` says why, e.g. `UNABLE_TO_VERIFY_LEAF_SIGNATURE`;
 * - `handshake-failed`: the TLS handshake failed, e.g. the peer sent an alert (`remote`) because it does
 *   not trust our certificate, or the peer does not speak TLS.
 */
export type TlsErrorReason = 'no-peer-certificate' | 'peer-certificate-rejected' | 'handshake-failed';

export class TlsError extends AckordError {
  readonly reason: TlsErrorReason;
  /** Node's or OpenSSL's code, e.g. `UNABLE_TO_VERIFY_LEAF_SIGNATURE`, `ERR_SSL_TLSV1_ALERT_UNKNOWN_CA`. */
  readonly tlsCode: string | undefined;
  /** True when the peer refused us (a TLS alert it sent); false when this side refused the peer. */
  readonly remote: boolean;

  constructor(
    reason: TlsErrorReason,
    detail: string,
    options: { tlsCode?: string | undefined; remote?: boolean; cause?: unknown } = {},
  ) {
    const remote = options.remote ?? false;
    const why = options.tlsCode === undefined ? reason : `${reason}, ${options.tlsCode}`;
    super('ERR_ACKORD_TLS', `TLS ${remote ? 'refused by the peer' : 'failed'} (${why}): ${detail}`, {
      cause: options.cause,
    });
    this.reason = reason;
    this.tlsCode = options.tlsCode;
    this.remote = remote;
  }
}

/** OpenSSL's certificate verification results, as Node names them (see the tls docs). */
const CERTIFICATE_CODES = new Set([
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_CRL',
  'UNABLE_TO_DECRYPT_CERT_SIGNATURE',
  'UNABLE_TO_DECRYPT_CRL_SIGNATURE',
  'UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY',
  'CERT_SIGNATURE_FAILURE',
  'CRL_SIGNATURE_FAILURE',
  'CERT_NOT_YET_VALID',
  'CERT_HAS_EXPIRED',
  'CRL_NOT_YET_VALID',
  'CRL_HAS_EXPIRED',
  'ERROR_IN_CERT_NOT_BEFORE_FIELD',
  'ERROR_IN_CERT_NOT_AFTER_FIELD',
  'ERROR_IN_CRL_LAST_UPDATE_FIELD',
  'ERROR_IN_CRL_NEXT_UPDATE_FIELD',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'CERT_CHAIN_TOO_LONG',
  'CERT_REVOKED',
  'INVALID_CA',
  'PATH_LENGTH_EXCEEDED',
  'INVALID_PURPOSE',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'HOSTNAME_MISMATCH',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** A `TlsError` for a socket error that is a TLS failure; `undefined` for anything else (ECONNRESET, …). */
export function tlsErrorFrom(error: unknown): TlsError | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code !== 'string') return undefined;
  const message = error instanceof Error ? error.message : String(error);
  if (CERTIFICATE_CODES.has(code))
    return new TlsError('peer-certificate-rejected', message, { tlsCode: code, cause: error });
  if (code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_'))
    return new TlsError('handshake-failed', message, {
      tlsCode: code,
      remote: code.includes('_ALERT_'),
      cause: error,
    });
  return undefined;
}

/**
 * The listener's check of a client certificate once the TLS handshake is over. Servers run with
 * `rejectUnauthorized: false` and call this instead, because Node would otherwise close a socket with
 * a bad certificate silently, and an operator needs to know why a peer cannot connect.
 */
export function checkPeerCertificate(socket: TLSSocket): TlsError | undefined {
  if (socket.authorized) return undefined;
  const presented = Object.keys(socket.getPeerCertificate()).length > 0;
  // Typed as an Error, but Node sets it to a string code (e.g. UNABLE_TO_VERIFY_LEAF_SIGNATURE).
  const raw: unknown = socket.authorizationError;
  const tlsCode = raw === null || raw === undefined ? undefined : String(raw);
  if (!presented)
    return new TlsError('no-peer-certificate', 'the client presented no certificate', { tlsCode });
  return new TlsError('peer-certificate-rejected', 'the client certificate does not verify against the CA', {
    tlsCode,
  });
}
