/**
 * The HTTP example under load: three `kv node` sites (examples/kv-cluster) — compiled, `node
 * examples/kv-cluster/dist/cli.js node …` with the packages from their dist, like the embedded sites
 * (`--code source`: through tsx from source, exactly as the root `kv` script runs them) — an undici load client with keep-alive in this process writing
 * `PUT /kv/:key?ack=quorum` to the master, and — in the same run, interleaved — the same client against
 * a trivial node:http server in a process of its own: the client's own ceiling.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { Pool } from 'undici';
import { LatencyRecorder } from '../log/stats.js';
import { allocatePorts, REPO_ROOT, trackChild, waitUntil } from './driver.js';
import type { LimitRun } from './limits.js';

const KV_DIR = path.join(REPO_ROOT, 'examples', 'kv-cluster');
/** The compiled `kv` command (`pnpm build`, or the benchmark's own build step, writes it). */
const KV_CLI_DIST = path.join(KV_DIR, 'dist', 'cli.js');
const KV_CLI_SOURCE = path.join(KV_DIR, 'src', 'cli.ts');
const HTTP_SECRET = 'the benchmark kv cluster secret';
/** Keys written round-robin, so the store stays bounded. */
const KEYS = 256;

/** Why the HTTP part cannot run, or undefined when it can (checked again by actually starting it). */
export function kvUnavailable(code: 'dist' | 'source'): string | undefined {
  if (!fs.existsSync(KV_CLI_SOURCE)) return `${path.relative(REPO_ROOT, KV_CLI_SOURCE)} does not exist yet`;
  if (code === 'dist' && !fs.existsSync(KV_CLI_DIST))
    return `${path.relative(REPO_ROOT, KV_CLI_DIST)} does not exist: run pnpm build (or pnpm bench without --no-build)`;
  return undefined;
}

/**
 * The node arguments that run `kv`: compiled (no tsx loader thread, no esbuild `__name()` wrappers on
 * the request path), or as the root `kv` script does (`tsx --conditions=@ackord/source …cli.ts`).
 */
function kvNodeArgs(code: 'dist' | 'source'): string[] {
  return code === 'dist' ? [KV_CLI_DIST] : ['--conditions=@ackord/source', '--import', 'tsx', KV_CLI_SOURCE];
}

interface KvSite {
  readonly id: string;
  readonly httpPort: number;
  readonly child: ReturnType<typeof spawn>;
  output: string;
}

/** Three `kv node` sites on loopback with elections on (the example's default); found master by /status. */
export class KvCluster {
  readonly durability: 'none' | 'fsync';
  readonly #sites: readonly KvSite[];
  readonly #dir: string;
  #master: KvSite | undefined;

  private constructor(durability: 'none' | 'fsync', sites: readonly KvSite[], dir: string) {
    this.durability = durability;
    this.#sites = sites;
    this.#dir = dir;
  }

  /** `nodeArgs`: extra node flags for every site (e.g. --cpu-prof, for a look at where the time goes). */
  static async start(
    root: string,
    durability: 'none' | 'fsync',
    code: 'dist' | 'source',
    nodeArgs: readonly string[] = [],
  ): Promise<KvCluster> {
    const dir = fs.mkdtempSync(path.join(root, `kv-${durability}-`));
    const secretFile = path.join(dir, 'secret');
    fs.writeFileSync(secretFile, HTTP_SECRET, { mode: 0o600 });
    const ids = ['a', 'b', 'c'];
    const ports = await allocatePorts(ids.length * 2);
    const transportPort = (index: number) => ports[index]!;
    const httpPort = (index: number) => ports[ids.length + index]!;
    const sites = ids.map((id, index): KvSite => {
      const peers = ids.flatMap((peer, peerIndex) =>
        peer === id ? [] : ['--peer', `${peer}=127.0.0.1:${transportPort(peerIndex)}`],
      );
      const peerHttp = ids.flatMap((peer, peerIndex) =>
        peer === id ? [] : ['--peer-http', `${peer}=127.0.0.1:${httpPort(peerIndex)}`],
      );
      const child = spawn(
        process.execPath,
        [
          ...nodeArgs,
          ...kvNodeArgs(code),
          'node',
          ...['--id', id, '--listen', `127.0.0.1:${transportPort(index)}`],
          ...['--http', `127.0.0.1:${httpPort(index)}`, '--data', path.join(dir, id)],
          ...peers,
          ...peerHttp,
          ...['--ack', 'quorum', '--durability', durability, '--secret-file', secretFile],
          ...['--log-level', 'warn'],
        ],
        { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
      );
      trackChild(child);
      const site: KvSite = { id, httpPort: httpPort(index), child, output: '' };
      const keep = (line: string) => {
        site.output = `${site.output}${line}\n`.slice(-4000);
      };
      createInterface({ input: child.stdout! }).on('line', keep);
      createInterface({ input: child.stderr! }).on('line', keep);
      return site;
    });
    const cluster = new KvCluster(durability, sites, dir);
    try {
      await cluster.#waitForMaster();
    } catch (error) {
      await cluster.close();
      throw error;
    }
    return cluster;
  }

  get masterPort(): number {
    return this.#master!.httpPort;
  }

  get masterPid(): number | undefined {
    return this.#master!.child.pid;
  }

  /** Until one site says it is master and sees both others connected. */
  async #waitForMaster(): Promise<void> {
    await waitUntil(
      async () => {
        for (const site of this.#sites) {
          if (site.child.exitCode !== null)
            throw new Error(
              `kv node ${site.id} exited (${site.child.exitCode}): ${site.output.slice(-1500)}`,
            );
        }
        for (const site of this.#sites) {
          const status = await getJson(site.httpPort, '/status');
          if (status === undefined || status.role !== 'master') continue;
          const sites = (status.sites ?? []) as { id: string; connected: boolean }[];
          if (sites.filter((entry) => entry.id !== site.id && entry.connected).length < 2) continue;
          this.#master = site;
          return true;
        }
        return false;
      },
      'a kv master that sees both clients',
      60_000,
      100,
    );
    // The first write under quorum also proves the clients caught up.
    const pool = new Pool(`http://127.0.0.1:${this.masterPort}`, { connections: 1 });
    try {
      await waitUntil(
        async () => {
          const response = await pool.request({ method: 'PUT', path: '/kv/warm?ack=all', body: 'warm' });
          await response.body.dump();
          return response.statusCode === 200;
        },
        'a kv write acknowledged by every site',
        30_000,
        100,
      );
    } finally {
      await pool.close();
    }
  }

  /** Stops every site: SIGTERM (a kv node shuts down cleanly on it), SIGKILL after `graceMs`. */
  async close(graceMs = 0): Promise<void> {
    await Promise.all(
      this.#sites.map(
        (site) =>
          new Promise<void>((resolve) => {
            if (site.child.exitCode !== null || site.child.signalCode !== null) return resolve();
            site.child.once('exit', () => resolve());
            if (graceMs === 0) {
              site.child.kill('SIGKILL');
              return;
            }
            site.child.kill('SIGTERM');
            setTimeout(() => site.child.kill('SIGKILL'), graceMs).unref();
          }),
      ),
    );
    fs.rmSync(this.#dir, { recursive: true, force: true });
  }

  /** The HTTP port of every site, the master's first. */
  get ports(): number[] {
    return [this.#master!, ...this.#sites.filter((site) => site !== this.#master)].map(
      (site) => site.httpPort,
    );
  }
}

async function getJson(port: number, pathname: string): Promise<Record<string, unknown> | undefined> {
  try {
    const response = await fetch(`http://127.0.0.1:${port}${pathname}`, {
      signal: AbortSignal.timeout(2000),
    });
    if (!response.ok) return undefined;
    return (await response.json()) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

/** The ceiling: a node:http server that reads the body and answers 200 with a small JSON, in its own process. */
const TRIVIAL_SERVER = `
const http = require('node:http');
const body = JSON.stringify({ lsn: 1, generation: 1, perm: true, acks: 2 });
const server = http.createServer((request, response) => {
  request.on('data', () => {});
  request.on('end', () => {
    response.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    response.end(body);
  });
});
server.keepAliveTimeout = 60000;
server.listen(0, '127.0.0.1', () => process.stdout.write(server.address().port + '\\n'));
process.stdin.on('close', () => process.exit(0));
process.stdin.resume();
`;

export class TrivialServer {
  readonly port: number;
  readonly #child: ReturnType<typeof spawn>;

  private constructor(port: number, child: ReturnType<typeof spawn>) {
    this.port = port;
    this.#child = child;
  }

  static async start(): Promise<TrivialServer> {
    const child = spawn(process.execPath, ['-e', TRIVIAL_SERVER], { stdio: ['pipe', 'pipe', 'inherit'] });
    trackChild(child);
    const port = await new Promise<number>((resolve, reject) => {
      createInterface({ input: child.stdout! }).once('line', (line) => resolve(Number(line)));
      child.once('exit', (code) => reject(new Error(`the trivial HTTP server exited (${code})`)));
    });
    return new TrivialServer(port, child);
  }

  async close(): Promise<void> {
    if (this.#child.exitCode !== null || this.#child.signalCode !== null) return;
    const exited = new Promise((resolve) => this.#child.once('exit', resolve));
    this.#child.kill('SIGKILL');
    await exited;
  }
}

const latencies = new LatencyRecorder(1024 * 1024);

export interface HttpRun extends LimitRun {
  readonly requests: number;
  /** Responses other than 200 (202: not acknowledged in time; anything else: an error). */
  readonly not200: number;
}

/**
 * `concurrency` loops, each `PUT /kv/bench-N?ack=quorum` with a 128 B body and waiting for the whole
 * response, for `seconds`; one keep-alive connection per loop.
 */
export async function runHttp(
  port: number,
  concurrency: number,
  seconds: number,
  size: number,
): Promise<HttpRun> {
  const pool = new Pool(`http://127.0.0.1:${port}`, { connections: concurrency, pipelining: 1 });
  const body = Buffer.alloc(size, 0x61);
  latencies.reset();
  let not200 = 0;
  try {
    // Open every connection before the clock starts.
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        const response = await pool.request({ method: 'GET', path: '/status' });
        await response.body.dump();
      }),
    );
    const started = performance.now();
    const deadline = started + seconds * 1000;
    const loop = async (index: number): Promise<number> => {
      let requests = 0;
      let now = performance.now();
      while (now < deadline) {
        const begin = now;
        const response = await pool.request({
          method: 'PUT',
          path: `/kv/bench-${(index * 7 + requests) % KEYS}?ack=quorum`,
          body,
        });
        await response.body.dump();
        if (response.statusCode !== 200) not200++;
        now = performance.now();
        latencies.record(now - begin);
        requests++;
      }
      return requests;
    };
    const counts = await Promise.all(Array.from({ length: concurrency }, (_, index) => loop(index)));
    const elapsedMs = performance.now() - started;
    const requests = counts.reduce((sum, count) => sum + count, 0);
    const [p50Ms, p99Ms] = latencies.quantiles(0.5, 0.99);
    return { opsPerSec: (requests * 1000) / elapsedMs, p50Ms: p50Ms!, p99Ms: p99Ms!, requests, not200 };
  } finally {
    await pool.close();
  }
}
