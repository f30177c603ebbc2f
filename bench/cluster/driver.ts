/**
 * The controller side of site.ts (adapted from test/cluster-proc/driver.ts): spawns site processes,
 * talks to them over JSON lines, and starts whole clusters on loopback with ports allocated up front.
 * Every process started here is tracked, and `killAllChildren` kills them all when the benchmark
 * ends, fails or is interrupted.
 */
import { type ChildProcess, type ChildProcessWithoutNullStreams, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import { createServer, type Server } from 'node:net';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type {
  Durability,
  LoadResult,
  LoadSpec,
  Reply,
  Request,
  SiteEvent,
  SiteStatus,
  TransportKind,
  Usage,
} from './protocol.js';

export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** What the benchmark runs compiled: the packages under test and the kv example (`tsc -b`). */
const BUILT_UNDER_TEST = [
  'packages/core',
  'packages/transport-tcp',
  'packages/transport-ws',
  'examples/kv-cluster/tsconfig.build.json',
];

/** Builds the code under test; false when `tsc -b` failed (its errors are on the terminal). */
export function buildUnderTest(): boolean {
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  const result = spawnSync(process.execPath, [tsc, '-b', ...BUILT_UNDER_TEST], {
    cwd: REPO_ROOT,
    stdio: 'inherit',
  });
  return result.status === 0;
}
const SITE_ENTRY = fileURLToPath(new URL('./site.ts', import.meta.url));
export const BENCH_SECRET = 'the benchmark cluster secret';
const STDERR_KEPT_BYTES = 16 * 1024;

/** Every child process the benchmark started and has not seen exit; killed on the way out. */
const liveChildren = new Set<ChildProcess>();

export function trackChild(child: ChildProcess): void {
  liveChildren.add(child);
  child.once('exit', () => liveChildren.delete(child));
}

/** SIGKILLs every tracked child (each by its own pid) and waits for the exits. */
export async function killAllChildren(): Promise<void> {
  await Promise.all(
    [...liveChildren].map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          child.once('exit', () => resolve());
          child.kill('SIGKILL');
        }),
    ),
  );
}

/** Synchronous last resort for `process.on('exit')`. */
export function killAllChildrenNow(): void {
  for (const child of liveChildren) child.kill('SIGKILL');
}

export async function waitUntil(
  condition: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 20_000,
  intervalMs = 25,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** Free loopback ports (bound at once so they differ, then released). */
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
  readonly durability: Durability;
  readonly role: 'master' | 'client';
  readonly dir: string;
  readonly ports: ReadonlyMap<string, number>;
  /** Extra node flags (e.g. --cpu-prof) for this site. */
  readonly nodeArgs?: readonly string[];
  /** The packages as compiled (`dist`, default) or their source through tsx. */
  readonly code?: 'dist' | 'source';
  /** The repository whose packages the site loads (default: this one; another tree for an A/B comparison). */
  readonly packagesRoot?: string;
}

interface Waiting {
  readonly resolve: (result: unknown) => void;
  readonly reject: (error: Error) => void;
}

let bundledSite: string | undefined;

/** The bundled site.ts (build-site.ts) that `dist` sites run on plain node. */
export function useBundledSite(file: string): void {
  bundledSite = file;
}

function siteEntry(code: 'dist' | 'source'): string[] {
  if (code === 'source')
    return ['--conditions=@ackord/source', '--import', 'tsx', SITE_ENTRY, '--code', 'source'];
  // Without a bundle (a script that did not build one), tsx runs site.ts, which still loads dist.
  return bundledSite === undefined
    ? ['--import', 'tsx', SITE_ENTRY, '--code', 'dist']
    : [bundledSite, '--code', 'dist'];
}

export class BenchSite {
  readonly spec: SiteSpec;
  readonly child: ChildProcessWithoutNullStreams;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  readonly events: SiteEvent[] = [];
  #stderr = '';
  #nextId = 1;
  readonly #waiting = new Map<number, Waiting>();

  private constructor(spec: SiteSpec) {
    this.spec = spec;
    const sites = [...spec.ports].map(([id, port]) => `${id}=127.0.0.1:${port}`).join(',');
    this.child = spawn(
      process.execPath,
      [
        ...(spec.nodeArgs ?? []),
        ...siteEntry(spec.code ?? 'dist'),
        ...['--root', spec.packagesRoot ?? REPO_ROOT],
        ...['--transport', spec.transport, '--site', spec.id, '--role', spec.role],
        ...['--dir', spec.dir, '--durability', spec.durability, '--sites', sites],
      ],
      { cwd: REPO_ROOT, env: { ...process.env, ACKORD_SECRET: BENCH_SECRET }, stdio: 'pipe' },
    );
    trackChild(this.child);
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
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

  static async start(spec: SiteSpec, timeoutMs = 30_000): Promise<BenchSite> {
    const site = new BenchSite(spec);
    const failed = site.exited.then(({ code, signal }) => {
      throw new Error(`site ${spec.id} exited before ready (${code ?? signal}): ${site.stderrTail()}`);
    });
    const ready = waitUntil(
      () => site.events.some((event) => event.event === 'ready'),
      `site ${spec.id} ready`,
      timeoutMs,
    );
    try {
      await Promise.race([ready, failed]);
    } catch (error) {
      await site.kill();
      throw error;
    }
    return site;
  }

  get id(): string {
    return this.spec.id;
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
      if (parsed.event === 'fatal') process.stderr.write(`site ${this.id} fatal: ${parsed.message}\n`);
      return;
    }
    const waiting = this.#waiting.get(parsed.id);
    if (waiting === undefined) return;
    this.#waiting.delete(parsed.id);
    if (parsed.ok) waiting.resolve(parsed.result);
    else waiting.reject(new Error(`site ${this.id}: ${parsed.error}`));
  }

  request<T>(request: Request, timeoutMs = 120_000): Promise<T> {
    if (!this.alive) return Promise.reject(new Error(`site ${this.id} is not running: ${this.stderrTail()}`));
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

  status(): Promise<SiteStatus> {
    return this.request({ cmd: 'status' });
  }

  usage(): Promise<Usage> {
    return this.request({ cmd: 'usage' });
  }

  load(spec: LoadSpec): Promise<LoadResult> {
    return this.request({ cmd: 'load', ...spec }, spec.seconds * 1000 + 60_000);
  }

  async kill(): Promise<void> {
    if (this.alive) this.child.kill('SIGKILL');
    await this.exited;
  }

  /** Asks the site to close its manager and exit (so a --cpu-prof profile gets written). */
  async shutdown(timeoutMs = 10_000): Promise<void> {
    if (!this.alive) return;
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    try {
      await this.request({ cmd: 'shutdown' }, timeoutMs).catch(() => undefined);
      await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }
}

export interface ClusterSpec {
  readonly transport: TransportKind;
  readonly durability: Durability;
  /** Sites in all, the master included. */
  readonly sites: number;
  /** Node flags for the master's process only. */
  readonly masterNodeArgs?: readonly string[];
  /** Node flags for the first client's process (site `b`) only. */
  readonly clientNodeArgs?: readonly string[];
  readonly code?: 'dist' | 'source';
  readonly packagesRoot?: string;
}

export interface SiteUsage extends Usage {
  readonly site: string;
}

/** Sites on loopback, the first (`a`) master, each with its own data directory under `root`. */
export class BenchCluster {
  readonly spec: ClusterSpec;
  readonly sites: readonly BenchSite[];
  readonly #dir: string;

  private constructor(spec: ClusterSpec, sites: readonly BenchSite[], dir: string) {
    this.spec = spec;
    this.sites = sites;
    this.#dir = dir;
  }

  get master(): BenchSite {
    return this.sites[0]!;
  }

  get name(): string {
    return `${this.spec.transport}/${this.spec.durability}/${this.spec.sites} sites`;
  }

  static async start(spec: ClusterSpec, root: string): Promise<BenchCluster> {
    const ids = Array.from({ length: spec.sites }, (_, index) => String.fromCharCode(97 + index));
    const dir = fs.mkdtempSync(path.join(root, `${spec.transport}-${spec.durability}-${spec.sites}-`));
    const ports = await allocatePorts(ids.length);
    const portOf = new Map(ids.map((id, index) => [id, ports[index]!]));
    const started = await Promise.allSettled(
      ids.map((id, index) =>
        BenchSite.start({
          id,
          transport: spec.transport,
          durability: spec.durability,
          role: index === 0 ? 'master' : 'client',
          dir: path.join(dir, id),
          ports: portOf,
          ...(spec.code === undefined ? {} : { code: spec.code }),
          ...(spec.packagesRoot === undefined ? {} : { packagesRoot: spec.packagesRoot }),
          ...(index === 0 && spec.masterNodeArgs !== undefined ? { nodeArgs: spec.masterNodeArgs } : {}),
          ...(index === 1 && spec.clientNodeArgs !== undefined ? { nodeArgs: spec.clientNodeArgs } : {}),
        }),
      ),
    );
    const sites = started.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
    const cluster = new BenchCluster(spec, sites, dir);
    const failure = started.find((result) => result.status === 'rejected');
    if (failure !== undefined) {
      await cluster.close();
      throw failure.reason;
    }
    try {
      await cluster.#waitInSync();
    } catch (error) {
      await cluster.close();
      throw error;
    }
    return cluster;
  }

  /** Until the master is connected to every client, every client follows it, and a commit under `all` is acknowledged. */
  async #waitInSync(): Promise<void> {
    const clients = this.sites.slice(1).map((site) => site.id);
    await waitUntil(
      async () => {
        const master = await this.master.status();
        if (master.role !== 'master' || !clients.every((id) => master.connected.includes(id))) return false;
        const followers = await Promise.all(this.sites.slice(1).map((site) => site.status()));
        return followers.every((status) => status.master === 'a' && status.role === 'client');
      },
      `${this.name}: master connected and followed`,
      30_000,
      50,
    );
    await waitUntil(
      async () => {
        const result = await this.master.load({ policy: 'all', concurrency: 1, size: 128, seconds: 0.05 });
        return result.commits > 0 && result.notAcknowledged === 0;
      },
      `${this.name}: a commit acknowledged by every site`,
      30_000,
      100,
    );
  }

  /** Every site's usage since the previous call. */
  async usage(): Promise<SiteUsage[]> {
    const usages = await Promise.all(this.sites.map((site) => site.usage()));
    return usages.map((usage, index) => ({ site: this.sites[index]!.id, ...usage }));
  }

  /** Shuts every site down cleanly (profiles get written), then removes the data. */
  async shutdown(): Promise<void> {
    await Promise.all(this.sites.map((site) => site.shutdown()));
    fs.rmSync(this.#dir, { recursive: true, force: true });
  }

  async close(): Promise<void> {
    await Promise.all(this.sites.map((site) => site.kill()));
    fs.rmSync(this.#dir, { recursive: true, force: true });
  }
}
