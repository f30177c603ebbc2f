/** Sorting socket errors: certificate failures, TLS handshake failures (ours or the peer's), the rest. */
import { describe, expect, it } from 'vitest';
import { TlsError, tlsErrorFrom } from '../../src/transport/index.js';

function errorWithCode(code: string): Error {
  return Object.assign(new Error(`failed: ${code}`), { code });
}

describe('tlsErrorFrom', () => {
  it.each([
    ['UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'peer-certificate-rejected', false],
    ['DEPTH_ZERO_SELF_SIGNED_CERT', 'peer-certificate-rejected', false],
    ['CERT_HAS_EXPIRED', 'peer-certificate-rejected', false],
    ['ERR_TLS_CERT_ALTNAME_INVALID', 'peer-certificate-rejected', false],
    ['ERR_SSL_TLSV1_ALERT_UNKNOWN_CA', 'handshake-failed', true],
    ['ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED', 'handshake-failed', true],
    ['ERR_SSL_WRONG_VERSION_NUMBER', 'handshake-failed', false],
    ['ERR_TLS_HANDSHAKE_TIMEOUT', 'handshake-failed', false],
  ] as const)('%s is a TLS failure: %s (remote: %s)', (code, reason, remote) => {
    const cause = errorWithCode(code);
    const error = tlsErrorFrom(cause);
    expect(error).toBeInstanceOf(TlsError);
    expect(error?.code).toBe('ERR_ACKORD_TLS');
    expect(error?.reason).toBe(reason);
    expect(error?.remote).toBe(remote);
    expect(error?.tlsCode).toBe(code);
    expect(error?.cause).toBe(cause);
    expect(error?.message).toContain(code);
  });

  it.each(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'WS_ERR_INVALID_OPCODE'])(
    '%s is not a TLS failure',
    (code) => {
      expect(tlsErrorFrom(errorWithCode(code))).toBeUndefined();
    },
  );

  it('ignores values without a string code', () => {
    for (const value of [undefined, null, 'ECONNRESET', new Error('plain'), { code: 42 }])
      expect(tlsErrorFrom(value)).toBeUndefined();
  });
});
