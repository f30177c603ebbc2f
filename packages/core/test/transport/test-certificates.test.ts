/** The openssl-made test PKI: a CA, site certificates it signs for both TLS roles, and clean-up. */
import { X509Certificate } from 'node:crypto';
import { access } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestPki, type TestPki } from '../../src/testing/index.js';

let pki: TestPki;
let other: TestPki;
beforeAll(async () => {
  [pki, other] = await Promise.all([createTestPki(), createTestPki({ name: 'other-ca' })]);
});
afterAll(async () => {
  await Promise.all([pki?.remove(), other?.remove()]);
});

describe('createTestPki', () => {
  it('issues site certificates its CA signed, for serverAuth and clientAuth, naming loopback', async () => {
    const ca = new X509Certificate(pki.ca.cert);
    const site = new X509Certificate((await pki.issue('a')).cert);
    expect(ca.ca).toBe(true);
    expect(site.ca).toBe(false);
    expect(site.checkIssued(ca)).toBe(true);
    expect(site.verify(ca.publicKey)).toBe(true);
    expect(site.subject).toBe('CN=a');
    expect(site.subjectAltName).toContain('IP Address:127.0.0.1');
    expect(site.subjectAltName).toContain('DNS:localhost');
    // serverAuth and clientAuth
    expect(site.keyUsage).toEqual(expect.arrayContaining(['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']));
    const foreign = new X509Certificate((await other.issue('a')).cert);
    expect(foreign.checkIssued(ca)).toBe(false);
  });

  it('names the hosts asked for', async () => {
    const site = new X509Certificate((await pki.issue('named', { hosts: ['b.internal', '10.1.2.3'] })).cert);
    expect(site.subjectAltName).toBe('DNS:b.internal, IP Address:10.1.2.3');
  });

  it('gives transport TLS options per site, issuing each once', async () => {
    const first = await pki.tlsFor('c');
    const again = await pki.tlsFor('c');
    expect(again).toEqual(first);
    expect(first.ca).toBe(pki.ca.cert);
    expect(first.key).toMatch(/PRIVATE KEY/);
  });

  it('refuses names that are not file-safe, and removes its directory', async () => {
    await expect(pki.issue('../escape')).rejects.toThrow(/not \[A-Za-z0-9._-\]/);
    const scratch = await createTestPki({ name: 'scratch' });
    await access(scratch.ca.certPath);
    await scratch.remove();
    await scratch.remove();
    await expect(access(scratch.dir)).rejects.toThrow();
  });
});
