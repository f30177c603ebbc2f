import type { SiteId, Transport, TransportHandlers } from '@ackord/core';
import type { TransportFixture } from '@ackord/core/testing';
import { createWsTransport, type WsTransport, type WsTransportOptions } from '../src/index.js';

export const SECRET = 'a test secret of sixteen bytes+';
export const MAX_FRAME_BYTES = 1024 * 1024;

/**
 * WebSocket transports on 127.0.0.1, port 0. Sites start from the highest id down: a site dials only
 * higher ids, whose ports are then known. A restarted site listens on its old port again.
 */
export function wsFixture(
  overrides: (site: SiteId) => Partial<WsTransportOptions> = () => ({}),
): TransportFixture {
  const ports = new Map<SiteId, number>();
  const open = new Map<SiteId, WsTransport>();
  let sites: readonly SiteId[] = [];

  async function create(site: SiteId, handlers: TransportHandlers): Promise<WsTransport> {
    const transport = createWsTransport({
      siteId: site,
      listen: { host: '127.0.0.1', port: ports.get(site) ?? 0 },
      peers: sites
        .filter((other) => other !== site)
        .map((other) => ({ id: other, host: '127.0.0.1', port: ports.get(other) })),
      clusterId: 'compliance',
      secret: SECRET,
      maxFrameBytes: MAX_FRAME_BYTES,
      handshakeTimeoutMs: 2_000,
      reconnect: { minMs: 5, maxMs: 50 },
      ...overrides(site),
    });
    open.set(site, transport);
    await transport.start(handlers);
    ports.set(site, transport.address().port);
    return transport;
  }

  return {
    maxFrameBytes: MAX_FRAME_BYTES,
    async start(toStart, handlers) {
      sites = [...toStart];
      const started = new Map<SiteId, Transport>();
      for (const site of [...toStart].sort().reverse()) started.set(site, await create(site, handlers(site)));
      return started;
    },
    async restart(site, handlers) {
      await open.get(site)?.close();
      return create(site, handlers);
    },
    async close() {
      await Promise.all([...open.values()].map((transport) => transport.close()));
    },
  };
}
