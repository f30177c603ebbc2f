/**
 * `kv node`: one site in the foreground. Opens (and recovers) the log in --data, joins the group with
 * elections on, serves the HTTP API, prints `site ID ready: URL` on stdout once both listen, and shuts
 * down cleanly on SIGINT/SIGTERM (a second signal exits at once).
 */
import { mkdir } from 'node:fs/promises';
import type { Server } from 'node:http';
import { AckordError, ConfigError } from '@ackord/core';
import { httpUrl, isWildcard } from './address.js';
import { EXIT_WITH_PARENT_ENV, readyLine } from './child-protocol.js';
import { createHttpServer } from './http/server.js';
import { createLogger, type KvLogger } from './logger.js';
import { parseNodeArgs } from './node-options.js';
import { loadSecret } from './secret.js';
import { Site } from './site.js';

import { UsageError } from './usage-error.js';

/** In-flight HTTP requests get this long to finish at shutdown before their connections are cut. */
export const SHUTDOWN_HTTP_GRACE_MS = 2_000;
/** Past this, a shutdown that hangs exits anyway. */
export const SHUTDOWN_DEADLINE_MS = 10_000;

/** Exit codes besides 0 and EXIT_USAGE (2). */
export const EXIT_FAILED = 1;
export const EXIT_SIGNAL_TWICE = 130;

export async function runNode(argv: readonly string[]): Promise<void> {
  const options = parseNodeArgs(argv);
  const root = createLogger(options.logLevel);
  const logger = root.child({ site: options.id, component: 'kv' });
  const secret = await loadSecret(options.secretFile, (message) => logger.warn({}, message));
  await mkdir(options.dataDir, { recursive: true });
  let site: Site;
  try {
    site = await Site.open({ options, secret, logger: root });
  } catch (error) {
    if (error instanceof ConfigError) throw new UsageError(`kv node: ${error.message}`);
    throw startFailure(error);
  }
  const server = createHttpServer(site, logger);
  try {
    await listen(server, options.http.host, options.http.port);
  } catch (error) {
    await site.close();
    throw startFailure(error);
  }
  const address = server.address();
  if (address !== null && typeof address === 'object') {
    site.httpAddress = { host: options.http.host, port: address.port };
    // Peers that connected before the HTTP port was known hear the real one now.
    site.directory.announce();
  }
  const shownHost = isWildcard(site.httpAddress.host) ? '127.0.0.1' : site.httpAddress.host;
  const url = httpUrl({ host: shownHost, port: site.httpAddress.port });
  logger.info(
    {
      http: url,
      transport: options.transport,
      listen: site.transport.address(),
      data: options.dataDir,
      peers: options.peers.length,
    },
    'site ready',
  );
  process.stdout.write(readyLine(options.id, url));
  handleSignals(site, server, logger);
  if (process.env[EXIT_WITH_PARENT_ENV] === '1') {
    // Started by a launcher or a test (site-process.ts): leave with it.
    process.stdin.on('end', () => void shutdown(site, server, logger, 0));
    process.stdin.on('error', () => void shutdown(site, server, logger, 0));
    process.stdin.resume();
  }
  site.manager.on('fatal', (error) => {
    // Fail-stop (the log could not write or sync): leave, so a supervisor restarts the site and it recovers.
    logger.fatal({ err: error.message }, 'the site failed and stops');
    void shutdown(site, server, logger, EXIT_FAILED);
  });
}

function listen(server: Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port }, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/** A start-up failure as one clear line (address in use, data directory locked, …). */
function startFailure(error: unknown): Error {
  if (error instanceof AckordError)
    return new Error(`kv node: cannot start: ${error.message} (${error.code})`);
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'EADDRINUSE' || code === 'EACCES' || code === 'EADDRNOTAVAIL')
    return new Error(`kv node: cannot listen: ${(error as Error).message}`);
  return error instanceof Error ? error : new Error(String(error));
}

let stopping: Promise<void> | undefined;

function shutdown(site: Site, server: Server, logger: KvLogger, code: number): Promise<void> {
  stopping ??= (async () => {
    const deadline = setTimeout(() => {
      logger.error({}, 'shutdown took too long: exiting');
      process.exit(EXIT_FAILED);
    }, SHUTDOWN_DEADLINE_MS);
    deadline.unref();
    server.close();
    server.closeIdleConnections();
    const grace = setTimeout(() => server.closeAllConnections(), SHUTDOWN_HTTP_GRACE_MS);
    grace.unref();
    try {
      // Writes still waiting for acks end as outcome unknown (504), which is what they are.
      await site.close();
    } catch (error) {
      logger.error({ err: (error as Error).message }, 'closing the site failed');
      code = EXIT_FAILED;
    }
    logger.info({ code }, 'site stopped');
    process.exit(code);
  })();
  return stopping;
}

function handleSignals(site: Site, server: Server, logger: KvLogger): void {
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping !== undefined) {
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(EXIT_SIGNAL_TWICE);
    }
    logger.info({ signal }, 'shutting down');
    void shutdown(site, server, logger, 0);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}
