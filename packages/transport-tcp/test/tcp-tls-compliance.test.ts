/** The TCP transport over TLS with mutual authentication passes the shared compliance suite. */
import { createTestPki, type TestPki, transportComplianceTests } from '@ackord/core/testing';
import { afterAll } from 'vitest';
import { tcpFixture } from './tcp-fixture.js';

let pki: Promise<TestPki> | undefined;
afterAll(async () => (await pki)?.remove());

transportComplianceTests('tcp over tls', async () => {
  pki ??= createTestPki();
  const ready = await pki;
  const tls = new Map(
    await Promise.all(['a', 'b', 'c'].map(async (site) => [site, await ready.tlsFor(site)] as const)),
  );
  return tcpFixture((site) => ({ tls: tls.get(site)! }));
});
