/** The WebSocket transport over wss, with mutual TLS authentication, passes the shared compliance suite. */
import { createTestPki, type TestPki, transportComplianceTests } from '@ackord/core/testing';
import { afterAll } from 'vitest';
import { wsFixture } from './ws-fixture.js';

let pki: Promise<TestPki> | undefined;
afterAll(async () => (await pki)?.remove());

transportComplianceTests('ws over wss', async () => {
  pki ??= createTestPki();
  const ready = await pki;
  const wss = new Map(
    await Promise.all(['a', 'b', 'c'].map(async (site) => [site, await ready.tlsFor(site)] as const)),
  );
  return wsFixture((site) => ({ wss: wss.get(site)! }));
});
