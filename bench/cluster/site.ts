/**
 * One benchmark site as a process (adapted from test/cluster-proc/site.ts): a ReplicationManager with a
 * data directory on disk, the key-value state machine, a TCP or WebSocket transport, and — on the
 * master — the load generator itself: N concurrent committers calling `manager.commit()` in this
 * process, as an application embedding Ackord would. Roles are set explicitly (`--role`), elections are
 * off. Driven over stdin/stdout JSON lines (protocol.ts); the secret comes from ACKORD_SECRET.
 *
 *   ACKORD_SECRET='sixteen bytes or more' node --import tsx bench/cluster/site.ts --root . \
 *     --transport tcp --site a --role master --dir /tmp/a --durability none \
 *     --sites a=127.0.0.1:7401,b=127.0.0.1:7402,c=127.0.0.1:7403
 *
 * `pnpm bench` runs it bundled (build-site.ts) on plain node, so a site's CPU and RSS are its own and
 * not tsx's.
 */
import { createHook } from 'node:async_hooks';
import { Session } from 'node:inspector/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import type { ReplicationManager, SiteId } from '../../packages/core/src/index.js';
import { LatencyRecorder } from '../log/stats.js';
import type {
  CommitCosts,
  LoadResult,
  LoadSpec,
  Reply,
  RequestWithId,
  SiteEvent,
  SiteStatus,
  Usage,
} from './protocol.js';

interface SiteAddress {
  readonly id: SiteId;
  readonly host: string;
  readonly port: number;
}

/** Latency samples kept per run; past it the recorder keeps the most recent. */
const LATENCY_CAPACITY = 256 * 1024;
const RSS_SAMPLE_MS = 50;
/**
 * Every commit writes one of this many keys, so the state stays bounded. The encoded puts are made once
 * per record size and shared by every committer and run: the load itself allocates nothing per commit.
 */
const KEYS = 64;
const MAX_CONCURRENCY = 1024;
const MAX_SIZE = 16 * 1024 * 1024;

function write(line: SiteEvent | Reply): void {
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

function parseConfig(argv: readonly string[]) {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      transport: { type: 'string' },
      site: { type: 'string' },
      role: { type: 'string', default: 'client' },
      dir: { type: 'string' },
      sites: { type: 'string' },
      durability: { type: 'string', default: 'none' },
      'ack-timeout-ms': { type: 'string', default: '2000' },
      code: { type: 'string', default: 'dist' },
      root: { type: 'string' },
    },
    strict: true,
  });
  const transport = values.transport;
  if (transport !== 'tcp' && transport !== 'ws') throw new Error('--transport must be tcp or ws');
  const role = values.role;
  if (role !== 'master' && role !== 'client') throw new Error('--role must be master or client');
  const durability = values.durability;
  if (durability !== 'none' && durability !== 'fsync') throw new Error('--durability must be none or fsync');
  const sites = (values.sites ?? '').split(',').map((entry): SiteAddress => {
    const match = /^([^=]+)=([^:]+):(\d+)$/.exec(entry);
    if (match === null) throw new Error(`--sites: expected id=host:port, got ${entry}`);
    return { id: match[1]!, host: match[2]!, port: Number(match[3]) };
  });
  const siteId = values.site ?? '';
  if (!sites.some((site) => site.id === siteId)) throw new Error(`--sites does not include ${siteId}`);
  if (values.dir === undefined) throw new Error('--dir is required');
  const code = values.code;
  if (code !== 'dist' && code !== 'source') throw new Error('--code must be dist or source');
  if (values.root === undefined) throw new Error('--root (the repository) is required');
  const secret = process.env.ACKORD_SECRET;
  if (secret === undefined || secret.length < 16) throw new Error('ACKORD_SECRET must hold 16 bytes or more');
  return {
    transport,
    role,
    durability,
    sites,
    siteId,
    dir: values.dir,
    secret,
    ackTimeoutMs: Number(values['ack-timeout-ms']),
    code,
    root: values.root,
  } as const;
}

/**
 * The packages under test, from the repository at `--root`: compiled (`dist`, what an application runs;
 * the default) or their TypeScript source (`--code source`, when this file itself runs under tsx with
 * the @ackord/source condition). tsx compiles with esbuild's keepNames, which wraps every closure the
 * hot path creates in a `__name()` call: measurable, and not what users run. The paths are computed so
 * that main.ts can bundle this file (without the packages) and run it on plain node.
 */
type Core = typeof import('../../packages/core/src/index.js');
type Tcp = typeof import('../../packages/transport-tcp/src/index.js');
type Ws = typeof import('../../packages/transport-ws/src/index.js');
let core: Core;

async function loadPackages(
  root: string,
  code: 'dist' | 'source',
): Promise<{ core: Core; tcp: Tcp; ws: Ws }> {
  const entry = code === 'dist' ? 'dist/index.js' : 'src/index.ts';
  const load = (name: string) => import(pathToFileURL(path.join(root, 'packages', name, entry)).href);
  return { core: await load('core'), tcp: await load('transport-tcp'), ws: await load('transport-ws') };
}

/** A put of `key` whose encoded operation (the data record's payload) is exactly `size` bytes. */
function putOfSize(key: string, size: number): Buffer {
  const overhead = 3 + Buffer.byteLength(key);
  if (size < overhead) throw new RangeError(`size ${size} is below the ${overhead} bytes of a put of ${key}`);
  return core.encodeKvOperation({ op: 'put', key, value: Buffer.alloc(size - overhead, 0x61) });
}

class Site {
  readonly #manager: ReplicationManager;
  readonly #latencies = new LatencyRecorder(LATENCY_CAPACITY);
  #lastCpu = process.cpuUsage();
  #lastWall = performance.now();
  #peakRss = 0;
  #busy = false;
  #payloads: { readonly size: number; readonly puts: readonly (readonly Uint8Array[])[] } | undefined;

  constructor(manager: ReplicationManager) {
    this.#manager = manager;
    setInterval(() => {
      this.#peakRss = Math.max(this.#peakRss, process.memoryUsage.rss());
    }, RSS_SAMPLE_MS).unref();
  }

  async handle(request: RequestWithId): Promise<unknown> {
    switch (request.cmd) {
      case 'status':
        return this.#status();
      case 'usage':
        return this.#usage();
      case 'load':
        return this.#exclusive(() => this.#load(request));
      case 'costs':
        return this.#exclusive(() => this.#costs(request));
      case 'shutdown':
        await this.#manager.close();
        return null;
    }
  }

  /** One put per key, of `size` bytes each, made once per size (the last size only: they can be large). */
  #payloadsOf(size: number): readonly (readonly Uint8Array[])[] {
    if (this.#payloads?.size !== size) {
      this.#payloads = {
        size,
        puts: Array.from({ length: KEYS }, (_, key) => [putOfSize(`key-${key}`, size)]),
      };
    }
    return this.#payloads.puts;
  }

  async #exclusive<T>(body: () => Promise<T>): Promise<T> {
    if (this.#busy) throw new Error('a load is already running');
    this.#busy = true;
    try {
      return await body();
    } finally {
      this.#busy = false;
    }
  }

  #status(): SiteStatus {
    const stats = this.#manager.stats();
    return {
      role: stats.role,
      master: stats.master ?? null,
      connected: [...stats.connected].sort(),
      acks: Object.fromEntries(stats.acks.map((ack) => [ack.site, ack.lsn])),
      nextLsn: this.#manager.log.nextLsn,
      commits: stats.commits,
      framesSent: stats.framesSent,
      framesReceived: stats.framesReceived,
      bytesSent: stats.bytesSent,
      fsyncs: stats.log.fsyncs,
    };
  }

  #usage(): Usage {
    const cpu = process.cpuUsage(this.#lastCpu);
    const now = performance.now();
    const memory = process.memoryUsage();
    const rss = memory.rss;
    const usage: Usage = {
      cpuMs: (cpu.user + cpu.system) / 1000,
      wallMs: now - this.#lastWall,
      peakRssBytes: Math.max(this.#peakRss, rss),
      rssBytes: rss,
      heapUsedBytes: memory.heapUsed,
      arrayBuffersBytes: memory.arrayBuffers,
    };
    this.#lastCpu = process.cpuUsage();
    this.#lastWall = now;
    this.#peakRss = rss;
    return usage;
  }

  /** N committers until the time is up; latency from the commit() call to its receipt. */
  async #load(spec: LoadSpec): Promise<LoadResult> {
    checkSpec(spec);
    const manager = this.#manager;
    const latencies = this.#latencies;
    latencies.reset();
    let notAcknowledged = 0;
    const options = { policy: spec.policy } as const;
    const cpuBefore = process.cpuUsage();
    const monotonicStartUs = Number(process.hrtime.bigint() / 1000n);
    const started = performance.now();
    const deadline = started + spec.seconds * 1000;
    const payloads = this.#payloadsOf(spec.size);
    const committer = async (index: number): Promise<number> => {
      let commits = 0;
      let now = performance.now();
      while (now < deadline) {
        const begin = now;
        const receipt = await manager.commit(payloads[(index + commits) % KEYS]!, options);
        if (receipt.outcome !== 'acknowledged') notAcknowledged++;
        now = performance.now();
        latencies.record(now - begin);
        commits++;
      }
      return commits;
    };
    const counts = await Promise.all(
      Array.from({ length: spec.concurrency }, (_, index) => committer(index)),
    );
    const elapsedMs = performance.now() - started;
    const cpu = process.cpuUsage(cpuBefore);
    const commits = counts.reduce((sum, count) => sum + count, 0);
    const [p50Ms, p99Ms] = latencies.quantiles(0.5, 0.99);
    return {
      commits,
      elapsedMs,
      opsPerSec: (commits * 1000) / elapsedMs,
      p50Ms: p50Ms!,
      p99Ms: p99Ms!,
      notAcknowledged,
      cpuUsPerCommit: (cpu.user + cpu.system) / Math.max(1, commits),
      monotonicStartUs,
      monotonicEndUs: Number(process.hrtime.bigint() / 1000n),
    };
  }

  /**
   * The same load twice with counters on: promises created (an async_hooks init hook), then heap bytes
   * allocated (V8's sampling heap profiler, keeping objects already collected, so it counts what was
   * allocated, not what survived). Both slow the process down: the rates here are not benchmark figures.
   */
  async #costs(spec: LoadSpec): Promise<CommitCosts> {
    // Two runs, so that neither counter counts the other's cost: promises first, then allocations.
    let promises = 0;
    const hook = createHook({
      init(_id, type) {
        if (type === 'PROMISE') promises++;
      },
    });
    hook.enable();
    let counted: LoadResult;
    try {
      counted = await this.#load(spec);
    } finally {
      hook.disable();
    }
    const session = new Session();
    session.connect();
    try {
      await session.post('HeapProfiler.enable');
      await session.post('HeapProfiler.startSampling', {
        samplingInterval: 512,
        includeObjectsCollectedByMajorGC: true,
        includeObjectsCollectedByMinorGC: true,
      });
      const sampled = await this.#load(spec);
      const { profile } = (await session.post('HeapProfiler.stopSampling')) as {
        profile: { head: SamplingNode };
      };
      const byFunction = new Map<string, number>();
      let total = 0;
      const visit = (node: SamplingNode) => {
        total += node.selfSize;
        const frame = node.callFrame;
        const where = frame.url.replace(/^.*?\/(packages|bench|node_modules)\//, '$1/');
        const name = `${frame.functionName || '(anonymous)'} ${where}:${frame.lineNumber + 1}`;
        byFunction.set(name, (byFunction.get(name) ?? 0) + node.selfSize);
        for (const child of node.children) visit(child);
      };
      visit(profile.head);
      const perCommit = (value: number) => value / Math.max(1, sampled.commits);
      return {
        commits: sampled.commits,
        promisesPerCommit: promises / Math.max(1, counted.commits),
        heapBytesPerCommit: perCommit(total),
        opsPerSec: sampled.opsPerSec,
        topAllocators: [...byFunction]
          .sort((a, b) => b[1] - a[1])
          .slice(0, 12)
          .map(([name, bytes]) => `${Math.round(perCommit(bytes))} B/commit  ${name}`),
      };
    } finally {
      session.disconnect();
    }
  }
}

interface SamplingNode {
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
  readonly selfSize: number;
  readonly children: readonly SamplingNode[];
}

function checkSpec(spec: LoadSpec): void {
  if (!Number.isSafeInteger(spec.concurrency) || spec.concurrency < 1 || spec.concurrency > MAX_CONCURRENCY)
    throw new RangeError(`concurrency must be 1 to ${MAX_CONCURRENCY}`);
  if (!Number.isSafeInteger(spec.size) || spec.size < 1 || spec.size > MAX_SIZE)
    throw new RangeError(`size must be 1 to ${MAX_SIZE}`);
  if (!(spec.seconds > 0 && spec.seconds <= 600)) throw new RangeError('seconds must be in (0, 600]');
}

async function main(): Promise<void> {
  const config = parseConfig(process.argv.slice(2));
  const packages = await loadPackages(config.root, config.code);
  core = packages.core;
  const self = config.sites.find((site) => site.id === config.siteId)!;
  const transportOptions = {
    siteId: config.siteId,
    listen: { host: self.host, port: self.port },
    peers: config.sites.filter((site) => site.id !== config.siteId),
    clusterId: 'ackord-bench',
    secret: config.secret,
  };
  const transport =
    config.transport === 'tcp'
      ? packages.tcp.createTcpTransport(transportOptions)
      : packages.ws.createWsTransport(transportOptions);
  const manager = await core.createReplicationManager({
    siteId: config.siteId,
    sites: config.sites.map((site) => ({ id: site.id })),
    dir: config.dir,
    clusterId: 'ackord-bench',
    durability: config.durability,
    transport,
    stateMachine: new core.KvStateMachine(),
    ackTimeoutMs: config.ackTimeoutMs,
    // Elections are off (the default): roles are set here, so nothing but the load runs.
  });
  manager.on('fatal', (error) => write({ event: 'fatal', message: error.message }));
  if (config.role === 'master') await manager.becomeMaster();
  const site = new Site(manager);

  let closing: Promise<void> | undefined;
  const shutdown = () => {
    closing ??= manager
      .close()
      .catch(() => undefined)
      .finally(() => process.exit(0));
    return closing;
  };
  const lines = createInterface({ input: process.stdin });
  lines.on('line', (line) => {
    if (line.trim() === '') return;
    let request: RequestWithId;
    try {
      request = JSON.parse(line) as RequestWithId;
    } catch {
      write({ id: -1, ok: false, error: `not JSON: ${line.slice(0, 80)}` });
      return;
    }
    site.handle(request).then(
      (result) => {
        write({ id: request.id, ok: true, result });
        if (request.cmd === 'shutdown') void shutdown();
      },
      (error: unknown) =>
        write({ id: request.id, ok: false, error: error instanceof Error ? error.message : String(error) }),
    );
  });
  // The controller is gone: leave rather than linger as an orphan.
  lines.on('close', () => void shutdown());
  process.on('SIGTERM', () => void shutdown());
  write({ event: 'ready', siteId: config.siteId, pid: process.pid });
}

process.on('uncaughtException', (error) => {
  process.stderr.write(`uncaught: ${error.stack ?? error.message}\n`);
  write({ event: 'fatal', message: `uncaught: ${error.message}` });
  process.exit(70);
});
process.on('unhandledRejection', (error) => {
  process.stderr.write(`unhandled rejection: ${String(error)}\n`);
  process.exit(70);
});
process.stdout.on('error', () => process.exit(0));

main().catch((error: unknown) => {
  process.stderr.write(`site failed to start: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
