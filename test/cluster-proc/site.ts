/**
 * One Ackord site as a real process, for multi-process tests: a ReplicationManager with a data
 * directory on disk (FileStorage via `dir`), the key-value state machine, and a TCP or WebSocket
 * transport chosen by `--transport`. Roles are set explicitly (`--role master|client`): no election.
 * A test drives it over stdin/stdout JSON lines (see protocol.ts); the cluster secret comes from the
 * environment (ACKORD_SECRET), so it never shows in a process listing.
 *
 * Run from the repository root:
 *
 *   ACKORD_SECRET='sixteen bytes or more' node --conditions=@ackord/source --import tsx \
 *     test/cluster-proc/site.ts --transport tcp --site a --role master --dir /tmp/a \
 *     --sites a=127.0.0.1:7401,b=127.0.0.1:7402,c=127.0.0.1:7403
 *
 * then type `{"id":1,"cmd":"commit","count":3,"keyPrefix":"k","policy":"quorum"}` on stdin.
 */
import { createHash } from 'node:crypto';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import {
  type CommitReceipt,
  createReplicationManager,
  encodeKvOperation,
  KvStateMachine,
  type Logger,
  type ManagerOptions,
  type ReplicationManager,
  type SiteId,
  type Transport,
  type TransportHandlers,
} from '@ackord/core';
import { createTcpTransport, type TcpTransport } from '@ackord/transport-tcp';
import { createWsTransport, type WsTransport } from '@ackord/transport-ws';
import {
  ATTACK_MARKER,
  type Digest,
  type LoopCounts,
  type Policy,
  type ReceiptSummary,
  type Reply,
  type RequestWithId,
  type SiteEvent,
  type SiteStats,
  type TransportKind,
} from './protocol.js';

interface SiteAddress {
  readonly id: SiteId;
  readonly host: string;
  readonly port: number;
}

interface SiteConfig {
  readonly transport: TransportKind;
  readonly siteId: SiteId;
  readonly role: 'master' | 'client';
  readonly dir: string;
  /** Every real site, this one included, with the address it listens on. */
  readonly sites: readonly SiteAddress[];
  /** Configured view sites with no address: they dial us (their ids must sort below ours). */
  readonly views: readonly SiteId[];
  readonly clusterId: string;
  readonly secret: string;
  readonly durability: string;
  readonly ackTimeoutMs: number;
  readonly handshakeTimeoutMs: number;
  readonly maxUnauthenticated: number;
  readonly sendQueueBytes: number;
  readonly maxFrameBytes: number;
  readonly reconnectMaxMs: number;
  /** Liveness (TCP `heartbeat`, WebSocket `ping`); undefined: the transport's defaults. */
  readonly liveness: { readonly intervalMs: number; readonly timeoutMs: number } | undefined;
  readonly verbose: boolean;
}

/** The options both built-in transports take (the WebSocket transport's have the TCP shape). */
interface CommonTransportOptions {
  readonly siteId: SiteId;
  readonly listen: { readonly host: string; readonly port: number };
  readonly peers: readonly { readonly id: SiteId; readonly host?: string; readonly port?: number }[];
  readonly clusterId: string;
  readonly secret: string;
  readonly maxFrameBytes: number;
  readonly handshakeTimeoutMs: number;
  readonly maxUnauthenticated: number;
  readonly sendQueueBytes: number;
  readonly reconnect: { readonly minMs: number; readonly maxMs: number };
  readonly logger: Logger;
}

/**
 * Both built-in transports report failed handshakes, and connections they closed or refused (broken
 * framing, silence, the unauthenticated cap, bad HTTP), as typed events.
 */
type ObservableTransport = TcpTransport | WsTransport;

const MAX_COMMITS_PER_REQUEST = 10_000;
/** By default the loop writes over this many keys, so its state stays bounded however long it runs. */
const LOOP_KEYS_DEFAULT = 256;
const LOOP_KEYS_MAX = 65_536;

function parseConfig(argv: readonly string[]): SiteConfig {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      transport: { type: 'string' },
      site: { type: 'string' },
      role: { type: 'string', default: 'client' },
      dir: { type: 'string' },
      sites: { type: 'string' },
      views: { type: 'string', default: '' },
      'cluster-id': { type: 'string', default: 'proc-cluster' },
      durability: { type: 'string', default: 'fsync' },
      'ack-timeout-ms': { type: 'string', default: '1000' },
      'handshake-timeout-ms': { type: 'string', default: '5000' },
      'max-unauthenticated': { type: 'string', default: '64' },
      'send-queue-bytes': { type: 'string', default: String(64 * 1024 * 1024) },
      'max-frame-bytes': { type: 'string', default: String(16 * 1024 * 1024) },
      'reconnect-max-ms': { type: 'string', default: '10000' },
      'heartbeat-interval-ms': { type: 'string' },
      'heartbeat-timeout-ms': { type: 'string' },
      verbose: { type: 'boolean', default: false },
    },
    strict: true,
  });
  const required = (name: string, value: string | undefined): string => {
    if (value === undefined || value === '') throw new Error(`--${name} is required`);
    return value;
  };
  const integer = (name: string, value: string): number => {
    const parsed = Number(value);
    if (!Number.isSafeInteger(parsed) || parsed < 0) throw new Error(`--${name}: not an integer: ${value}`);
    return parsed;
  };
  const transport = required('transport', values.transport);
  if (transport !== 'tcp' && transport !== 'ws') throw new Error(`--transport must be tcp or ws`);
  const role = values.role;
  if (role !== 'master' && role !== 'client') throw new Error(`--role must be master or client`);
  const sites = required('sites', values.sites)
    .split(',')
    .map((entry): SiteAddress => {
      const match = /^([^=]+)=([^:]+):(\d+)$/.exec(entry);
      if (match === null) throw new Error(`--sites: expected id=host:port, got ${entry}`);
      return { id: match[1]!, host: match[2]!, port: Number(match[3]) };
    });
  const siteId = required('site', values.site);
  if (!sites.some((site) => site.id === siteId)) throw new Error(`--sites does not include ${siteId}`);
  const secret = process.env.ACKORD_SECRET;
  if (secret === undefined || secret.length < 16) throw new Error('ACKORD_SECRET must hold 16 bytes or more');
  return {
    transport,
    siteId,
    role,
    dir: required('dir', values.dir),
    sites,
    views: values.views.split(',').filter((view) => view !== ''),
    clusterId: values['cluster-id'],
    secret,
    durability: values.durability,
    ackTimeoutMs: integer('ack-timeout-ms', values['ack-timeout-ms']),
    handshakeTimeoutMs: integer('handshake-timeout-ms', values['handshake-timeout-ms']),
    maxUnauthenticated: integer('max-unauthenticated', values['max-unauthenticated']),
    sendQueueBytes: integer('send-queue-bytes', values['send-queue-bytes']),
    maxFrameBytes: integer('max-frame-bytes', values['max-frame-bytes']),
    reconnectMaxMs: integer('reconnect-max-ms', values['reconnect-max-ms']),
    liveness:
      values['heartbeat-interval-ms'] === undefined || values['heartbeat-timeout-ms'] === undefined
        ? undefined
        : {
            intervalMs: integer('heartbeat-interval-ms', values['heartbeat-interval-ms']),
            timeoutMs: integer('heartbeat-timeout-ms', values['heartbeat-timeout-ms']),
          },
    verbose: values.verbose,
  };
}

// ---- output ----

function write(line: SiteEvent | Reply): void {
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

function describeError(error: unknown): { name: string; code?: string; message: string } {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return { name: error.name, ...(typeof code === 'string' ? { code } : {}), message: error.message };
  }
  return { name: 'Error', message: String(error) };
}

/** Counts warnings by message and reports warnings and errors as events; debug/info go to stderr with --verbose. */
function controlLogger(
  verbose: boolean,
  warnings: Map<string, number>,
  bindings: Record<string, string | number> = {},
): Logger {
  const report = (level: string) => (object: object, message?: string) => {
    const text = message ?? '';
    if (level === 'warn') increment(warnings, text);
    if (level === 'warn' || level === 'error') {
      write({ event: 'log', level, message: text, fields: { ...bindings, ...object } });
    } else if (verbose) {
      process.stderr.write(`${level} ${text} ${JSON.stringify({ ...bindings, ...object })}\n`);
    }
  };
  return {
    debug: report('debug'),
    info: report('info'),
    warn: report('warn'),
    error: report('error'),
    child: (more) => controlLogger(verbose, warnings, { ...bindings, ...more }),
  };
}

// ---- the transport ----

function createTransport(config: SiteConfig, options: CommonTransportOptions): ObservableTransport {
  const peers = [...options.peers];
  switch (config.transport) {
    case 'tcp':
      return createTcpTransport({
        ...options,
        peers,
        ...(config.liveness === undefined ? {} : { heartbeat: config.liveness }),
      });
    case 'ws':
      return createWsTransport({
        ...options,
        peers,
        ...(config.liveness === undefined ? {} : { ping: config.liveness }),
      });
  }
}

class FrameCounters {
  readonly from = new Map<SiteId, number>();
  strangers = 0;
  attackFrames = 0;
}

/** What the site counts of its transport's and logger's reports, for `stats`. */
interface Observations {
  readonly frames: FrameCounters;
  readonly handshakeErrors: Map<string, number>;
  readonly connectionErrors: Map<string, number>;
  readonly warnings: Map<string, number>;
}

function increment(counts: Map<string, number>, key: string): void {
  counts.set(key, (counts.get(key) ?? 0) + 1);
}

const marker = Buffer.from(ATTACK_MARKER);

/**
 * Wraps a transport to count every frame it delivers by the site it names as the sender, and frames that
 * carry an attacker's marker (those are counted and dropped: they are not replication messages).
 */
function observeFrames(
  inner: Transport,
  configured: ReadonlySet<SiteId>,
  counters: FrameCounters,
): Transport {
  return {
    siteId: inner.siteId,
    start: (handlers: TransportHandlers, options) =>
      inner.start(
        {
          frame: (from, frame) => {
            counters.from.set(from, (counters.from.get(from) ?? 0) + 1);
            if (!configured.has(from)) counters.strangers++;
            if (frame.length >= marker.length && marker.equals(frame.subarray(0, marker.length))) {
              counters.attackFrames++;
              return;
            }
            handlers.frame(from, frame);
          },
          peerUp: (site) => handlers.peerUp(site),
          peerDown: (site) => handlers.peerDown(site),
        },
        options,
      ),
    send: (to, frame) => inner.send(to, frame),
    connectedPeers: () => inner.connectedPeers(),
    close: () => inner.close(),
  };
}

// ---- the site ----

class Site {
  readonly #config: SiteConfig;
  readonly #manager: ReplicationManager;
  readonly #state: KvStateMachine;
  readonly #observations: Observations;
  #badMessages = 0;
  #loop: { running: boolean; done: Promise<void> } | undefined;
  #loopCounts = { acknowledged: 0, permFailed: 0, unknown: 0, errors: 0, lastError: null as string | null };

  constructor(
    config: SiteConfig,
    manager: ReplicationManager,
    state: KvStateMachine,
    observations: Observations,
  ) {
    this.#config = config;
    this.#manager = manager;
    this.#state = state;
    this.#observations = observations;
    manager.replica.on('badMessage', ({ from, reason }) => {
      this.#badMessages++;
      write({ event: 'badMessage', from, reason });
    });
    manager.on('connectEstablished', ({ site }) => write({ event: 'connectEstablished', site }));
    manager.on('connectBroken', ({ site }) => write({ event: 'connectBroken', site }));
    manager.on('newMaster', ({ master, generation }) => write({ event: 'newMaster', master, generation }));
    manager.on('fatal', (error) => write({ event: 'fatal', message: error.message }));
  }

  async handle(request: RequestWithId): Promise<unknown> {
    switch (request.cmd) {
      case 'commit':
        return this.#commitMany(request);
      case 'stats':
        return this.#stats();
      case 'get': {
        const value = this.#state.get(request.key);
        return value === undefined ? null : Buffer.from(value).toString('utf8');
      }
      case 'digest':
        return this.#digest();
      case 'startLoop':
        this.#startLoop(request.policy, request.valueBytes, request.keys ?? LOOP_KEYS_DEFAULT);
        return this.#loopReport();
      case 'stopLoop':
        await this.#stopLoop();
        return this.#loopReport();
      case 'shutdown':
        await this.close();
        return null;
    }
  }

  async close(): Promise<void> {
    await this.#stopLoop();
    await this.#manager.close();
  }

  async #commitMany(request: Extract<RequestWithId, { cmd: 'commit' }>): Promise<ReceiptSummary[]> {
    if (!Number.isSafeInteger(request.count) || request.count < 1 || request.count > MAX_COMMITS_PER_REQUEST)
      throw new RangeError(`count must be 1 to ${MAX_COMMITS_PER_REQUEST}`);
    const receipts: ReceiptSummary[] = [];
    for (let index = 0; index < request.count; index++) {
      const key = `${request.keyPrefix}${index}`;
      const receipt = await this.#manager.commit([putPayload(key, request.valueBytes ?? 16)], {
        policy: request.policy,
        ...(request.ackTimeoutMs === undefined ? {} : { ackTimeoutMs: request.ackTimeoutMs }),
      });
      receipts.push(summarize(key, receipt));
    }
    return receipts;
  }

  #startLoop(policy: Policy, valueBytes: number, keys: number): void {
    if (this.#loop?.running) throw new Error('the loop is already running');
    if (!Number.isSafeInteger(keys) || keys < 1 || keys > LOOP_KEYS_MAX)
      throw new RangeError(`keys must be 1 to ${LOOP_KEYS_MAX}`);
    const loop = { running: true, done: Promise.resolve() };
    loop.done = (async () => {
      for (let index = 0; loop.running; index++) {
        try {
          const receipt = await this.#manager.commit([putPayload(`loop-${index % keys}`, valueBytes)], {
            policy,
          });
          if (receipt.outcome === 'acknowledged') this.#loopCounts.acknowledged++;
          else if (receipt.outcome === 'permFailed') this.#loopCounts.permFailed++;
          else this.#loopCounts.unknown++;
        } catch (error) {
          this.#loopCounts.errors++;
          this.#loopCounts.lastError = describeError(error).message;
          // Not master (or closed): do not spin.
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
      }
    })();
    this.#loop = loop;
  }

  async #stopLoop(): Promise<void> {
    const loop = this.#loop;
    if (loop === undefined) return;
    loop.running = false;
    await loop.done;
  }

  #loopReport(): LoopCounts {
    return { running: this.#loop?.running ?? false, ...this.#loopCounts };
  }

  #stats(): SiteStats {
    const stats = this.#manager.stats();
    const memory = process.memoryUsage();
    return {
      siteId: stats.siteId,
      pid: process.pid,
      role: stats.role,
      generation: stats.generation,
      master: stats.master ?? null,
      connected: [...stats.connected].sort(),
      commits: stats.commits,
      permAcknowledged: stats.permAcknowledged,
      permFailures: stats.permFailures,
      appliedLsn: stats.appliedLsn,
      logNextLsn: this.#manager.log.nextLsn,
      sendsRefused: stats.sendsRefused,
      framesFrom: Object.fromEntries(this.#observations.frames.from),
      framesFromStrangers: this.#observations.frames.strangers,
      attackFramesDelivered: this.#observations.frames.attackFrames,
      handshakeErrors: Object.fromEntries(this.#observations.handshakeErrors),
      connectionErrors: Object.fromEntries(this.#observations.connectionErrors),
      badMessages: this.#badMessages,
      warnings: Object.fromEntries(this.#observations.warnings),
      rss: memory.rss,
      heapUsed: memory.heapUsed,
      loop: this.#loopReport(),
    };
  }

  #digest(): Digest {
    const hash = createHash('sha256');
    const entries = [...this.#state.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    for (const [key, value] of entries) {
      hash.update(`${Buffer.byteLength(key)}:${key}:${value.length}:`);
      hash.update(value);
    }
    return { entries: entries.length, sha256: hash.digest('hex'), appliedLsn: this.#state.appliedLsn };
  }

  get siteId(): SiteId {
    return this.#config.siteId;
  }
}

function putPayload(key: string, valueBytes: number): Buffer {
  const value = Buffer.alloc(valueBytes, (key.length % 26) + 97);
  value.write(`${key}:`, 0, 'utf8');
  return encodeKvOperation({ op: 'put', key, value });
}

function summarize(key: string, receipt: CommitReceipt): ReceiptSummary {
  return {
    key,
    lsn: receipt.lsn,
    generation: receipt.generation,
    policy: receipt.policy,
    outcome: receipt.outcome,
    perm: receipt.perm ?? null,
    reason: receipt.reason ?? null,
    ackedBy: receipt.ackedBy.map((ack) => ack.site).sort(),
    needed: receipt.needed,
    missing: [...receipt.missing].sort(),
    elapsedMs: receipt.elapsedMs,
    token: receipt.token,
  };
}

async function main(): Promise<void> {
  const config = parseConfig(process.argv.slice(2));
  const observations: Observations = {
    frames: new FrameCounters(),
    handshakeErrors: new Map(),
    connectionErrors: new Map(),
    warnings: new Map(),
  };
  const logger = controlLogger(config.verbose, observations.warnings, { site: config.siteId });
  const self = config.sites.find((site) => site.id === config.siteId)!;
  const transport = createTransport(config, {
    siteId: config.siteId,
    listen: { host: self.host, port: self.port },
    peers: [
      ...config.sites.filter((site) => site.id !== config.siteId),
      ...config.views.map((id) => ({ id })),
    ],
    clusterId: config.clusterId,
    secret: config.secret,
    maxFrameBytes: config.maxFrameBytes,
    handshakeTimeoutMs: config.handshakeTimeoutMs,
    maxUnauthenticated: config.maxUnauthenticated,
    sendQueueBytes: config.sendQueueBytes,
    reconnect: { minMs: Math.min(20, config.reconnectMaxMs), maxMs: config.reconnectMaxMs },
    logger,
  });
  transport.on('handshakeError', (error, context) => {
    increment(observations.handshakeErrors, error.reason);
    write({
      event: 'handshakeError',
      code: error.code,
      reason: error.reason,
      remote: error.remote,
      peer: context.peer ?? null,
      remoteAddress: context.remoteAddress,
    });
  });
  transport.on('connectionError', (error, context) => {
    increment(observations.connectionErrors, error.reason);
    write({
      event: 'connectionError',
      code: error.code,
      reason: error.reason,
      detail: error.detail,
      peer: context.peer ?? null,
      remoteAddress: context.remoteAddress,
    });
  });
  const configured = new Set([...config.sites.map((site) => site.id), ...config.views]);
  const state = new KvStateMachine();
  const manager = await createReplicationManager({
    siteId: config.siteId,
    sites: [
      ...config.sites.map((site) => ({ id: site.id })),
      ...config.views.map((id) => ({ id, view: true })),
    ],
    dir: config.dir,
    clusterId: config.clusterId,
    durability: config.durability as ManagerOptions['durability'],
    transport: observeFrames(transport, configured, observations.frames),
    stateMachine: state,
    ackTimeoutMs: config.ackTimeoutMs,
    logger,
  });
  if (config.role === 'master') await manager.becomeMaster();
  const site = new Site(config, manager, state, observations);

  let closing: Promise<void> | undefined;
  const shutdown = (code: number) => {
    closing ??= site
      .close()
      .catch((error: unknown) => {
        process.stderr.write(`close failed: ${describeError(error).message}\n`);
      })
      .finally(() => process.exit(code));
    return closing;
  };
  const lines = createInterface({ input: process.stdin });
  lines.on('line', (line) => {
    if (line.trim() === '') return;
    let request: RequestWithId;
    try {
      request = JSON.parse(line) as RequestWithId;
    } catch {
      write({ id: -1, ok: false, error: { name: 'SyntaxError', message: `not JSON: ${line.slice(0, 80)}` } });
      return;
    }
    site.handle(request).then(
      (result) => {
        write({ id: request.id, ok: true, result });
        if (request.cmd === 'shutdown') void shutdown(0);
      },
      (error: unknown) => write({ id: request.id, ok: false, error: describeError(error) }),
    );
  });
  // The test that drives us is gone: leave, rather than linger as an orphan.
  lines.on('close', () => void shutdown(0));
  process.on('SIGTERM', () => void shutdown(0));
  const port = transport.address().port;
  write({ event: 'ready', siteId: site.siteId, pid: process.pid, port });
}

process.on('uncaughtException', (error) => {
  process.stderr.write(`uncaught: ${error.stack ?? error.message}\n`);
  write({ event: 'fatal', message: `uncaught: ${error.message}` });
  process.exit(70);
});
process.on('unhandledRejection', (error) => {
  process.stderr.write(`unhandled rejection: ${describeError(error).message}\n`);
  write({ event: 'fatal', message: `unhandled rejection: ${describeError(error).message}` });
  process.exit(70);
});
process.stdout.on('error', () => process.exit(0));

main().catch((error: unknown) => {
  process.stderr.write(
    `site failed to start: ${error instanceof Error ? (error.stack ?? error.message) : error}\n`,
  );
  process.exit(1);
});
