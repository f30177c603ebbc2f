/** The in-memory transport passes the same compliance suite as every real transport. */
import type { SiteId } from '../../src/replica/types.js';
import {
  MEMORY_MAX_FRAME_BYTES,
  MemoryNetwork,
  type MemoryTransport,
  type TransportFixture,
  transportComplianceTests,
} from '../../src/testing/index.js';

function memoryFixture(): TransportFixture {
  const network = new MemoryNetwork();
  const open = new Map<SiteId, MemoryTransport>();
  return {
    maxFrameBytes: MEMORY_MAX_FRAME_BYTES,
    async start(sites, handlers) {
      for (const site of sites) {
        const transport = network.createTransport(site);
        open.set(site, transport);
        await transport.start(handlers(site));
      }
      return new Map(open);
    },
    async restart(site, handlers) {
      await open.get(site)?.close();
      const transport = network.createTransport(site);
      open.set(site, transport);
      await transport.start(handlers);
      return transport;
    },
    async close() {
      for (const transport of open.values()) await transport.close();
    },
  };
}

transportComplianceTests('memory', memoryFixture);
