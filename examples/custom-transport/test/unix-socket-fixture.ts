/**
 * What the compliance suite needs from our transport: start a few sites that find each other, restart
 * one at the same address, close everything. Socket files live in a fresh temporary directory.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SiteId, Transport, TransportHandlers } from '@ackord/core';
import type { TransportFixture } from '@ackord/core/testing';
import { UnixSocketTransport, type UnixSocketTransportOptions } from '../src/unix-socket-transport.js';

export const SECRET = 'an example secret, not a real one';
export const MAX_FRAME_BYTES = 1024 * 1024;

export function unixSocketFixture(
  overrides: (site: SiteId) => Partial<UnixSocketTransportOptions> = () => ({}),
): TransportFixture {
  const directory = mkdtempSync(join(tmpdir(), 'ackord-uds-'));
  const pathOf = (site: SiteId) => join(directory, `${site}.sock`);
  const open = new Map<SiteId, UnixSocketTransport>();
  let sites: readonly SiteId[] = [];

  async function create(site: SiteId, handlers: TransportHandlers): Promise<UnixSocketTransport> {
    const transport = new UnixSocketTransport({
      siteId: site,
      path: pathOf(site),
      peers: sites.filter((other) => other !== site).map((other) => ({ id: other, path: pathOf(other) })),
      clusterId: 'compliance',
      secret: SECRET,
      maxFrameBytes: MAX_FRAME_BYTES,
      handshakeTimeoutMs: 2_000,
      reconnect: { minMs: 5, maxMs: 50 },
      ...overrides(site),
    });
    open.set(site, transport);
    await transport.start(handlers);
    return transport;
  }

  return {
    maxFrameBytes: MAX_FRAME_BYTES,
    async start(toStart, handlers) {
      sites = [...toStart];
      const started = new Map<SiteId, Transport>();
      // Every path is known up front, so any start order works: a dial that finds no listener yet retries.
      for (const site of toStart) started.set(site, await create(site, handlers(site)));
      return started;
    },
    async restart(site, handlers) {
      await open.get(site)?.close();
      return create(site, handlers);
    },
    async close() {
      await Promise.all([...open.values()].map((transport) => transport.close()));
      rmSync(directory, { recursive: true, force: true });
    },
  };
}
