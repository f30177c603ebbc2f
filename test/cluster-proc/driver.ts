/**
 * The test side of site.ts: spawns site processes, talks to them over their stdin/stdout JSON lines,
 * and starts whole clusters on loopback with ports allocated up front (every site must know every
 * other site's address before any of them starts). Every process started here is tracked, so a test's
 * afterEach/afterAll can kill them all even when the test failed half-way.
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type {
  Digest,
  Policy,
  ReceiptSummary,
  Reply,
  Request,
  SiteEvent,
  SiteStats,
  TransportKind,
} from './protocol.js';

export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SITE_ENTRY = fileURLToPath(new URL('./site.ts', import.meta.url));
export const TEST_SECRET = 'a cluster secret for process tests';
const STDERR_KEPT_BYTES = 16 * 1024;

/** Polls `condition` until it holds; throws naming `what` after `timeoutMs`. */
export async function waitUntil(
  condition: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 10_000,
  intervalMs = 25,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/**
 * Free loopback ports: binds `count` listeners on port 0 at once (so they differ), notes the ports and
 * releases them. Another process could take one in between; the site then fails to start, loudly.
 */
export async function allocatePorts(count: number): Promise<number[]> {
  const servers: Server[] = [];
  try {
    for (let index = 0; index < count; index++) {
      const server = createServer();
      servers.push(server);
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen({ host: '127.0.0.1', port: 0 }, resolve);
      });
    }
    return servers.map((server) => (server.address() as { port: number }).port);
  } finally {
    await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  }
}

export interface SiteSpec {
  readonly id: string;
  readonly transport: TransportKind;
  readonly role: 'master' | 'client';
  readonly dir: string;
  /** Every real site with its loopback port. */
  readonly ports: ReadonlyMap<string, number>;
  readonly views?: readonly string[];
  readonly secret?: string;
  /** More flags for site.ts (e.g. `--handshake-timeout-ms 300`). */
  readonly args?: readonly string[];
}

interface Waiting {
  readonly resolve: (result: unknown) => void;
  readonly reject: (error: Error) => void;
}

export class SiteProcess {
  /** Every site process started and not yet seen to exit. */
  static readonly live = new Set<SiteProcess>();

  readonly spec: SiteSpec;
  readonly child: ChildProcessWithoutNullStreams;
  readonly events: SiteEvent[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  #stderr = '';
  #nextId = 1;
  readonly #waiting = new Map<number, Waiting>();

  private constructor(spec: SiteSpec) {
    this.spec = spec;
    const sites = [...spec.ports].map(([id, port]) => `${id}=127.0.0.1:${port}`).join(',');
    this.child = spawn(
      process.execPath,
      [
        '--conditions=@ackord/source',
        '--import',
        'tsx',
        SITE_ENTRY,
        ...['--transport', spec.transport, '--site', spec.id, '--role', spec.role, '--dir', spec.dir],
        ...['--sites', sites, '--views', (spec.views ?? []).join(',')],
        ...(spec.args ?? []),
      ],
      {
        cwd: REPO_ROOT,
        env: { ...process.env, ACKORD_SECRET: spec.secret ?? TEST_SECRET },
        stdio: ['pipe', 'pipe', 'pipe'],
      },
    );
    SiteProcess.live.add(this);
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        SiteProcess.live.delete(this);
        for (const waiting of this.#waiting.values())
          waiting.reject(new Error(`site ${spec.id} exited (${code ?? signal}): ${this.stderrTail()}`));
        this.#waiting.clear();
        resolve({ code, signal });
      });
    });
    this.child.stdin.on('error', () => undefined);
    this.child.stderr.setEncoding('utf8');
    this.child.stderr.on('data', (chunk: string) => {
      this.#stderr = (this.#stderr + chunk).slice(-STDERR_KEPT_BYTES);
    });
    createInterface({ input: this.child.stdout }).on('line', (line) => this.#onLine(line));
  }

  /** Spawns the site and waits for its `ready` event. */
  static async start(spec: SiteSpec, timeoutMs = 20_000): Promise<SiteProcess> {
    const site = new SiteProcess(spec);
    const failed = site.exited.then(({ code, signal }) => {
      throw new Error(`site ${spec.id} exited before ready (${code ?? signal}): ${site.stderrTail()}`);
    });
    const ready = site.waitForEvent((event) => event.event === 'ready', `site ${spec.id} ready`, timeoutMs);
    try {
      await Promise.race([ready, failed]);
    } catch (error) {
      await site.kill('SIGKILL');
      throw error;
    }
    return site;
  }

  static async killAll(): Promise<void> {
    await Promise.all([...SiteProcess.live].map((site) => site.kill('SIGKILL')));
  }

  get id(): string {
    return this.spec.id;
  }

  get pid(): number {
    return this.child.pid!;
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  stderrTail(): string {
    return this.#stderr.slice(-2000);
  }

  #onLine(line: string): void {
    let parsed: SiteEvent | Reply;
    try {
      parsed = JSON.parse(line) as SiteEvent | Reply;
    } catch {
      this.#stderr += `[stdout] ${line}\n`;
      return;
    }
    if ('event' in parsed) {
      this.events.push(parsed);
      return;
    }
    const waiting = this.#waiting.get(parsed.id);
    if (waiting === undefined) return;
    this.#waiting.delete(parsed.id);
    if (parsed.ok) waiting.resolve(parsed.result);
    else waiting.reject(new Error(`site ${this.id}: ${parsed.error.name}: ${parsed.error.message}`));
  }

  request<T>(request: Request, timeoutMs = 20_000): Promise<T> {
    if (!this.alive) return Promise.reject(new Error(`site ${this.id} is not running`));
    const id = this.#nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiting.delete(id);
        reject(new Error(`site ${this.id}: no reply to ${request.cmd} in ${timeoutMs} ms`));
      }, timeoutMs);
      this.#waiting.set(id, {
        resolve: (result) => {
          clearTimeout(timer);
          resolve(result as T);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      });
      this.child.stdin.write(`${JSON.stringify({ ...request, id })}\n`);
    });
  }

  stats(): Promise<SiteStats> {
    return this.request({ cmd: 'stats' });
  }

  digest(): Promise<Digest> {
    return this.request({ cmd: 'digest' });
  }

  get(key: string): Promise<string | null> {
    return this.request({ cmd: 'get', key });
  }

  commit(
    count: number,
    keyPrefix: string,
    policy: Policy,
    options: { ackTimeoutMs?: number; valueBytes?: number } = {},
  ): Promise<ReceiptSummary[]> {
    return this.request({ cmd: 'commit', count, keyPrefix, policy, ...options }, 60_000);
  }

  /** Resolves with the first event (already seen or still to come) from index `since` that matches. */
  async waitForEvent(
    predicate: (event: SiteEvent) => boolean,
    what: string,
    timeoutMs = 10_000,
    since = 0,
  ): Promise<SiteEvent> {
    let found: SiteEvent | undefined;
    await waitUntil(
      () => {
        found = this.events.slice(since).find(predicate);
        return found !== undefined;
      },
      what,
      timeoutMs,
      10,
    );
    return found!;
  }

  /** Sends `signal` and waits until the process is gone (and reaped: its pid no longer holds a lock). */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (this.alive) this.child.kill(signal);
    await this.exited;
  }

  /** Asks the site to close its manager and exit; resolves with the exit code. */
  async shutdown(): Promise<number | null> {
    await this.request({ cmd: 'shutdown' });
    return (await this.exited).code;
  }
}

export interface ClusterOptions {
  readonly transport: TransportKind;
  /** Real sites; the first is the master. */
  readonly ids?: readonly string[];
  readonly views?: readonly string[];
  readonly args?: readonly string[];
}

/** Real sites on loopback, each with its own data directory under one temporary root. */
export class ProcCluster {
  readonly transport: TransportKind;
  readonly ids: readonly string[];
  readonly root: string;
  readonly ports: ReadonlyMap<string, number>;
  readonly #options: ClusterOptions;
  readonly #sites = new Map<string, SiteProcess>();

  private constructor(options: ClusterOptions, root: string, ports: ReadonlyMap<string, number>) {
    this.#options = options;
    this.transport = options.transport;
    this.ids = options.ids ?? ['a', 'b', 'c'];
    this.root = root;
    this.ports = ports;
  }

  static async start(options: ClusterOptions): Promise<ProcCluster> {
    const ids = options.ids ?? ['a', 'b', 'c'];
    const root = await mkdtemp(path.join(tmpdir(), 'ackord-proc-'));
    const ports = await allocatePorts(ids.length);
    const cluster = new ProcCluster(options, root, new Map(ids.map((id, index) => [id, ports[index]!])));
    const started = await Promise.allSettled(ids.map((id) => cluster.startSite(id)));
    const failure = started.find((result) => result.status === 'rejected');
    if (failure !== undefined) {
      await cluster.close();
      throw failure.reason;
    }
    return cluster;
  }

  get master(): SiteProcess {
    return this.site(this.ids[0]!);
  }

  get clients(): SiteProcess[] {
    return this.ids.slice(1).map((id) => this.site(id));
  }

  site(id: string): SiteProcess {
    const site = this.#sites.get(id);
    if (site === undefined) throw new Error(`no site ${id}`);
    return site;
  }

  /** Starts (or restarts, with the same directory and port) one site. */
  async startSite(id: string): Promise<SiteProcess> {
    const site = await SiteProcess.start({
      id,
      transport: this.transport,
      role: id === this.ids[0] ? 'master' : 'client',
      dir: path.join(this.root, id),
      ports: this.ports,
      ...(this.#options.views === undefined ? {} : { views: this.#options.views }),
      ...(this.#options.args === undefined ? {} : { args: this.#options.args }),
    });
    this.#sites.set(id, site);
    return site;
  }

  /** Until the master is connected to every client and every client follows it. */
  async waitConnected(timeoutMs = 15_000): Promise<void> {
    const clients = this.ids.slice(1);
    await waitUntil(
      async () => {
        const master = await this.master.stats();
        if (!clients.every((id) => master.connected.includes(id))) return false;
        const followers = await Promise.all(this.clients.map((client) => client.stats()));
        return followers.every((stats) => stats.master === this.ids[0] && stats.role === 'client');
      },
      `${this.ids[0]} connected to ${clients.join(', ')} and followed`,
      timeoutMs,
      50,
    );
  }

  /** Until every running site's key-value state is the master's. */
  async waitConverged(timeoutMs = 15_000): Promise<Digest> {
    let expected: Digest | undefined;
    await waitUntil(
      async () => {
        const digests = await Promise.all(
          [...this.#sites.values()].filter((site) => site.alive).map((site) => site.digest()),
        );
        expected = digests[0];
        return digests.every((digest) => digest.sha256 === expected!.sha256);
      },
      'every site to hold the same state',
      timeoutMs,
      50,
    );
    return expected!;
  }

  async close(): Promise<void> {
    await Promise.all([...this.#sites.values()].map((site) => site.kill('SIGKILL')));
    await rm(this.root, { recursive: true, force: true });
  }
}
