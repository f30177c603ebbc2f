/**
 * The echo side of `pnpm bench:transport`, in a process of its own (forked by main.ts, so each side has
 * its own event loop, as two sites would). Starts the servers asked for, reports their ports over IPC,
 * and closes them on `stop`.
 */
import type { EchoServer } from './link.js';
import { startAckordTcpServer, startBareTcpServer } from './tcp.js';
import { loadAckordWs, startAckordWsServer, startBareWsServer } from './ws.js';

export type ServerName = 'bare-tcp' | 'ackord-tcp' | 'bare-ws' | 'ackord-ws';

export type ServerMessage =
  | {
      readonly ports: Partial<Record<ServerName, number>>;
      readonly skipped: Partial<Record<ServerName, string>>;
    }
  | { readonly failed: string };

async function main(): Promise<void> {
  const families = (process.argv[2] ?? 'tcp').split(',');
  const servers = new Map<ServerName, EchoServer>();
  const skipped: Partial<Record<ServerName, string>> = {};
  if (families.includes('tcp')) {
    servers.set('bare-tcp', await startBareTcpServer());
    servers.set('ackord-tcp', await startAckordTcpServer());
  }
  if (families.includes('ws')) {
    servers.set('bare-ws', await startBareWsServer());
    const ackordWs = await loadAckordWs();
    if ('skipped' in ackordWs) skipped['ackord-ws'] = ackordWs.skipped;
    else {
      try {
        servers.set('ackord-ws', await startAckordWsServer(ackordWs.factory));
      } catch (error) {
        skipped['ackord-ws'] = `the echo server did not start: ${(error as Error).message}`;
      }
    }
  }
  const ports = Object.fromEntries([...servers].map(([name, server]) => [name, server.port]));
  process.send?.({ ports, skipped } satisfies ServerMessage);
  process.on('message', async (message) => {
    if (message !== 'stop') return;
    await Promise.all([...servers.values()].map((server) => server.close()));
    process.disconnect();
  });
}

main().catch((error: unknown) => {
  process.send?.({ failed: String((error as Error).stack ?? error) } satisfies ServerMessage);
  process.exitCode = 1;
  process.disconnect();
});
