/**
 * Starts real `kv node` processes for the tests, exactly as `pnpm kv node …` runs them (node with tsx as
 * its loader and the @ackord/source condition: see site-process.ts), on loopback with free ports, and
 * tracks every one so afterAll can stop them all even when a test failed half-way.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type Answer, agreedMaster, call, waitFor } from '../src/http-client.js';
import { freePorts } from '../src/ports.js';
import { SiteProcess } from '../src/site-process.js';

/** Long enough that a loaded 2-core machine does not elect for nothing; short enough for quick failovers. */
export const TEST_ELECTION_TIMEOUT_MS = 1000;

export interface TestCluster {
  readonly dir: string;
  readonly ids: readonly string[];
  readonly sites: Map<string, SiteProcess>;
  readonly urls: Map<string, string>;
  /** The flags each site was started with (a restart reuses them). */
  readonly flags: Map<string, readonly string[]>;
  /** Starts (or restarts) one site with its flags; resolves with its HTTP URL. */
  start(id: string): Promise<string>;
  /** The master every answering site agrees on, among `ids` (default: all). */
  master(ids?: readonly string[], timeoutMs?: number): Promise<{ id: string; url: string }>;
  url(id: string): string;
  stop(): Promise<void>;
}

export async function startCluster(options: {
  readonly ids?: readonly string[];
  readonly transport?: 'tcp' | 'ws';
  readonly extraFlags?: readonly string[];
}): Promise<TestCluster> {
  const ids = options.ids ?? ['a', 'b', 'c'];
  const dir = await mkdtemp(path.join(tmpdir(), 'ackord-kv-test-'));
  const ports = await freePorts(ids.length);
  const sites = new Map<string, SiteProcess>();
  const urls = new Map<string, string>();
  const flags = new Map<string, readonly string[]>();
  ids.forEach((id, index) => {
    flags.set(id, [
      ...['--id', id, '--listen', `127.0.0.1:${ports[index]}`, '--http', '127.0.0.1:0'],
      ...['--data', path.join(dir, id), '--transport', options.transport ?? 'tcp'],
      ...ids.flatMap((other, otherIndex) =>
        other === id ? [] : ['--peer', `${other}=127.0.0.1:${ports[otherIndex]}`],
      ),
      ...['--election-timeout-ms', String(TEST_ELECTION_TIMEOUT_MS), '--log-level', 'warn'],
      ...(options.extraFlags ?? []),
    ]);
  });
  const cluster: TestCluster = {
    dir,
    ids,
    sites,
    urls,
    flags,
    async start(id) {
      const site = new SiteProcess(id, flags.get(id)!, { env: { KV_LOG_FORMAT: 'json' } });
      sites.set(id, site);
      const url = await site.ready;
      urls.set(id, url);
      return url;
    },
    master(among = ids, timeoutMs = 20_000) {
      return waitFor(
        () => agreedMaster(among.map((id) => urls.get(id)!)),
        `a master among ${among.join(', ')}`,
        timeoutMs,
      );
    },
    url(id) {
      const url = urls.get(id);
      if (url === undefined) throw new Error(`site ${id} has no URL`);
      return url;
    },
    async stop() {
      await Promise.all([...sites.values()].map((site) => site.stop(5_000)));
      await rm(dir, { recursive: true, force: true });
    },
  };
  try {
    await Promise.all(ids.map((id) => cluster.start(id)));
  } catch (error) {
    await cluster.stop();
    throw error;
  }
  return cluster;
}

export function put(url: string, key: string, value: string | Uint8Array, query = ''): Promise<Answer> {
  return call(`${url}/kv/${encodeURIComponent(key)}${query}`, { method: 'PUT', body: value });
}

export function get(url: string, key: string, query = ''): Promise<Answer> {
  return call(`${url}/kv/${encodeURIComponent(key)}${query}`);
}

export { type Answer, call, waitFor };
