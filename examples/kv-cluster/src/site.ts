/**
 * One key-value site: the replication manager (elections on) over the TCP or WebSocket transport, the
 * KvStore state machine, and what the HTTP API reports beyond `manager.stats()` — an election timeline,
 * the rollback journal, latency histograms and peers' HTTP URLs (peer-directory.ts).
 */
import {
  type CommitReceipt,
  createReplicationManager,
  decodeKvOperation,
  type ElectionExplanation,
  evaluatePolicy,
  type ManagerOptions,
  type ReplicationManager,
  type RollbackEvent,
  type SiteId,
} from '@ackord/core';
import { createTcpTransport, type TcpTransport } from '@ackord/transport-tcp';
import { createWsTransport, type WsTransport } from '@ackord/transport-ws';
import type { HostPort } from './address.js';
import { Histogram, type SiteCounters } from './http/metrics.js';
import { KvStore } from './kv-store.js';
import type { KvLogger } from './logger.js';
import type { NodeOptions } from './node-options.js';
import { helloAddress, PeerDirectory } from './peer-directory.js';

/** Reconnect quickly on loopback (a restarted site is back within a second), still capped and jittered. */
export const RECONNECT = { minMs: 50, maxMs: 1000 } as const;
/** Entries kept in the election timeline and the rollback journal shown by /status. */
export const MAX_TIMELINE_ENTRIES = 100;
export const MAX_ROLLBACKS_KEPT = 20;
/** Keys listed per rolled-back transaction, and transactions listed per rollback (the count is exact). */
const MAX_KEYS_LISTED = 16;
const MAX_TRANSACTIONS_LISTED = 64;
/** Explanations of elections won elsewhere, kept by election generation. */
const MAX_ELECTIONS_KEPT = 32;
/** The ack latencies /status summarises (p50/p99): the most recent ones. */
const RECENT_ACK_LATENCIES = 512;

export type TimelineKind =
  | 'electionStarted'
  | 'electionFailed'
  | 'elected'
  | 'newMaster'
  | 'steppedDown'
  | 'rollback';

export interface TimelineEntry {
  /** Wall-clock milliseconds. */
  readonly at: number;
  /** The site that saw it (this one). */
  readonly site: SiteId;
  readonly kind: TimelineKind;
  readonly generation?: number;
  readonly master?: SiteId;
  readonly reason?: string;
  readonly preVote?: boolean;
}

export interface RollbackReport {
  readonly at: number;
  readonly toLsn: number;
  readonly records: number;
  readonly transactionCount: number;
  readonly transactions: readonly {
    readonly commitLsn: number;
    readonly generation: number;
    readonly keys: readonly string[];
  }[];
}

type BuiltinTransport = TcpTransport | WsTransport;

export interface SiteOpenOptions {
  readonly options: NodeOptions;
  readonly secret: string;
  readonly logger: KvLogger;
}

export class Site {
  readonly options: NodeOptions;
  readonly manager: ReplicationManager;
  readonly store: KvStore;
  readonly directory: PeerDirectory;
  readonly transport: BuiltinTransport;
  readonly startedAt = Date.now();
  /** Where this site's HTTP API listens (set once the server is up: the port may have been 0). */
  httpAddress: HostPort;
  readonly #logger: KvLogger;
  readonly #timeline: TimelineEntry[] = [];
  readonly #rollbacks: RollbackReport[] = [];
  readonly #elections = new Map<number, ElectionExplanation>();
  /** A ring of the last RECENT_ACK_LATENCIES ack latencies; #recentAckNext is where the next one goes. */
  readonly #recentAckLatencies: number[] = [];
  #recentAckNext = 0;
  readonly #commitsByOutcome = new Map<string, number>();
  /** `${policy}/${outcome}` keys of #commitsByOutcome, made once per pair rather than per write. */
  readonly #outcomeKeys = new Map<string, Map<string, string>>();
  readonly #commitLatency = new Map<string, Histogram>();
  readonly #ackLatency = new Map<string, Histogram>();
  /** Responses by status code (numbers: no string per response). */
  readonly #httpRequests = new Map<number, number>();
  #rollbackCount = 0;
  #rolledBackTransactions = 0;
  #handshakeErrors = 0;
  #connectionErrors = 0;

  static async open({ options, secret, logger }: SiteOpenOptions): Promise<Site> {
    const common = {
      siteId: options.id,
      clusterId: options.clusterId,
      secret,
      listen: options.listen,
      peers: options.peers.map((peer) => ({ id: peer.id, host: peer.address.host, port: peer.address.port })),
      reconnect: RECONNECT,
      // The transports and the manager bind the site id and their component themselves.
      logger,
    };
    const transport: BuiltinTransport =
      options.transport === 'ws' ? createWsTransport(common) : createTcpTransport(common);
    // The directory needs the site for its hello; the site needs the directory: tie them after construction.
    let site: Site | undefined;
    // A peer's hello can arrive while the manager opens, before the site exists: keep what it says.
    const earlyElections: ElectionExplanation[] = [];
    const directory = new PeerDirectory({
      inner: transport,
      peers: options.peers,
      hello: () => ({
        http: helloAddress(site?.httpAddress ?? options.http),
        priority: options.priority,
        ...electionOf(site),
      }),
      onElection: (explanation) => {
        if (site === undefined) earlyElections.push(explanation);
        else site.noteElection(explanation);
      },
      logger: logger.child({ site: options.id, component: 'peers' }),
    });
    const store = new KvStore();
    const managerOptions: ManagerOptions = {
      siteId: options.id,
      sites: [
        { id: options.id, priority: options.priority },
        ...options.peers.map((peer) => ({ id: peer.id, priority: peer.priority })),
      ],
      dir: options.dataDir,
      clusterId: options.clusterId,
      durability: options.durability as ManagerOptions['durability'],
      transport: directory,
      stateMachine: store,
      ackPolicy: options.ackPolicy,
      ackTimeoutMs: options.ackTimeoutMs,
      election: { electionTimeoutMs: options.electionTimeoutMs },
      logger,
    };
    // The site subscribes to the manager's events right after open(): elections run on timers, so none
    // can have started before then.
    const manager = await createReplicationManager(managerOptions);
    site = new Site(options, manager, store, directory, transport, logger);
    for (const explanation of earlyElections) site.noteElection(explanation);
    return site;
  }

  private constructor(
    options: NodeOptions,
    manager: ReplicationManager,
    store: KvStore,
    directory: PeerDirectory,
    transport: BuiltinTransport,
    logger: KvLogger,
  ) {
    this.options = options;
    this.manager = manager;
    this.store = store;
    this.directory = directory;
    this.transport = transport;
    this.httpAddress = options.http;
    this.#logger = logger.child({ site: options.id, component: 'kv' });
    this.#subscribe();
  }

  #subscribe(): void {
    const manager = this.manager;
    manager.on('electionStarted', (event) =>
      this.#record({
        kind: 'electionStarted',
        generation: event.electionGeneration,
        reason: event.reason,
        preVote: event.preVote,
      }),
    );
    manager.on('electionFailed', (event) =>
      this.#record({ kind: 'electionFailed', generation: event.electionGeneration, reason: event.reason }),
    );
    manager.on('elected', (explanation) => {
      this.#record({
        kind: 'elected',
        generation: explanation.electionGeneration,
        master: explanation.winner,
        reason: explanation.reason,
      });
      this.noteElection(explanation);
      // Tell every peer why we won: their /status shows it too.
      this.directory.announce();
    });
    manager.on('newMaster', (event) =>
      this.#record({ kind: 'newMaster', generation: event.generation, master: event.master }),
    );
    manager.on('steppedDown', (event) => this.#record({ kind: 'steppedDown', reason: event.reason }));
    manager.on('rollback', (event) => this.#noteRollback(event));
    this.transport.on('handshakeError', (error) => {
      this.#handshakeErrors++;
      this.#logger.warn({ reason: error.reason, remote: error.remote }, 'handshake failed');
    });
    this.transport.on('connectionError', (error, context) => {
      this.#connectionErrors++;
      this.#logger.warn({ reason: error.reason, peer: context.peer }, 'connection closed for cause');
    });
  }

  #record(entry: Omit<TimelineEntry, 'at' | 'site'>): void {
    this.#timeline.push({ at: Date.now(), site: this.options.id, ...entry });
    if (this.#timeline.length > MAX_TIMELINE_ENTRIES) this.#timeline.shift();
  }

  /** Keeps the explanation of an election (won here, or announced by the peer that won it). */
  noteElection(explanation: ElectionExplanation): void {
    this.#elections.set(explanation.electionGeneration, explanation);
    if (this.#elections.size > MAX_ELECTIONS_KEPT) {
      const oldest = Math.min(...this.#elections.keys());
      this.#elections.delete(oldest);
    }
  }

  /** The last election this site won. */
  ownLastElection(): ElectionExplanation | undefined {
    return this.manager.stats().election?.lastElection;
  }

  #noteRollback(event: RollbackEvent): void {
    this.#rollbackCount++;
    this.#rolledBackTransactions += event.transactions.length;
    const transactions = event.transactions.slice(0, MAX_TRANSACTIONS_LISTED).map((txn) => ({
      commitLsn: txn.commitLsn,
      generation: txn.generation,
      keys: txn.payloads
        .slice(0, MAX_KEYS_LISTED)
        .map((payload) => decodeKvOperation(payload))
        .map((operation) => (operation === undefined ? '?' : `${operation.op} ${operation.key}`)),
    }));
    this.#rollbacks.push({
      at: Date.now(),
      toLsn: event.toLsn,
      records: event.records,
      transactionCount: event.transactions.length,
      transactions,
    });
    if (this.#rollbacks.length > MAX_ROLLBACKS_KEPT) this.#rollbacks.shift();
    this.#record({
      kind: 'rollback',
      reason: `${event.transactions.length} transaction(s) rolled back to LSN ${event.toLsn}`,
    });
  }

  /** Counts what a write through the HTTP API came to. */
  noteReceipt(receipt: CommitReceipt): void {
    let byOutcome = this.#outcomeKeys.get(receipt.policy);
    if (byOutcome === undefined) {
      byOutcome = new Map();
      this.#outcomeKeys.set(receipt.policy, byOutcome);
    }
    let key = byOutcome.get(receipt.outcome);
    if (key === undefined) {
      key = `${receipt.policy}/${receipt.outcome}`;
      byOutcome.set(receipt.outcome, key);
    }
    this.#commitsByOutcome.set(key, (this.#commitsByOutcome.get(key) ?? 0) + 1);
    histogramFor(this.#commitLatency, receipt.policy).observe(receipt.elapsedMs / 1000);
    for (const ack of receipt.ackedBy) {
      histogramFor(this.#ackLatency, ack.site).observe(ack.latencyMs / 1000);
      this.#recentAckLatencies[this.#recentAckNext] = ack.latencyMs;
      this.#recentAckNext = (this.#recentAckNext + 1) % RECENT_ACK_LATENCIES;
    }
  }

  noteHttpStatus(code: number): void {
    this.#httpRequests.set(code, (this.#httpRequests.get(code) ?? 0) + 1);
  }

  counters(): SiteCounters {
    return {
      commitsByOutcome: this.#commitsByOutcome,
      commitLatency: this.#commitLatency,
      ackLatency: this.#ackLatency,
      rollbacks: this.#rollbackCount,
      rolledBackTransactions: this.#rolledBackTransactions,
      handshakeErrors: this.#handshakeErrors,
      connectionErrors: this.#connectionErrors,
      httpRequests: new Map([...this.#httpRequests].map(([code, count]) => [String(code), count])),
    };
  }

  timeline(): readonly TimelineEntry[] {
    return this.#timeline;
  }
  rollbacks(): readonly RollbackReport[] {
    return this.#rollbacks;
  }
  /** The newest election this site knows the explanation of (won here, or announced by its winner). */
  lastElection(): ElectionExplanation | undefined {
    const own = this.ownLastElection();
    if (own !== undefined) this.noteElection(own);
    if (this.#elections.size === 0) return undefined;
    return this.#elections.get(Math.max(...this.#elections.keys()));
  }

  /** p50 and p99 of the most recent ack latencies, in milliseconds. */
  recentAckLatency(): {
    readonly count: number;
    readonly p50Ms: number | null;
    readonly p99Ms: number | null;
  } {
    const sorted = [...this.#recentAckLatencies].sort((a, b) => a - b);
    const at = (quantile: number) =>
      sorted.length === 0 ? null : sorted[Math.min(sorted.length - 1, Math.floor(quantile * sorted.length))]!;
    return { count: sorted.length, p50Ms: at(0.5), p99Ms: at(0.99) };
  }

  /**
   * Master: the last commit LSN a quorum of electable sites holds (it survives any election). Client:
   * the last permanent LSN this site acknowledged.
   */
  permLsn(): number {
    const manager = this.manager;
    if (manager.role !== 'master') return manager.replica.core.ackedLsn;
    const acks = manager.stats().acks;
    const sites = [
      { id: this.options.id, priority: this.options.priority, view: false },
      ...this.options.peers.map((peer) => ({ id: peer.id, priority: peer.priority, view: false })),
    ];
    const lastCommit = manager.replica.core.lastCommitLsn;
    const candidates = [lastCommit, ...acks.map((ack) => Math.min(ack.lsn, lastCommit))].sort(
      (a, b) => b - a,
    );
    for (const lsn of candidates) {
      if (lsn <= 0) break;
      const verdict = evaluatePolicy({
        policy: 'quorum',
        master: this.options.id,
        sites,
        connected: new Set(sites.map((site) => site.id)),
        acked: new Set(acks.filter((ack) => ack.lsn >= lsn).map((ack) => ack.site)),
        twoSiteStrict: true,
      });
      if (verdict.perm) return lsn;
    }
    return 0;
  }

  async close(): Promise<void> {
    await this.manager.close();
  }
}

/** A hello carries the last election its sender won, so its peers can explain their new master. */
function electionOf(site: Site | undefined): { lastElection?: ElectionExplanation } {
  const explanation = site?.ownLastElection();
  return explanation === undefined ? {} : { lastElection: explanation };
}

function histogramFor(map: Map<string, Histogram>, key: string): Histogram {
  let histogram = map.get(key);
  if (histogram === undefined) {
    histogram = new Histogram();
    map.set(key, histogram);
  }
  return histogram;
}
