/**
 * One simulated site: in-memory storage that models crashes, the production log, and either the base
 * replica driven directly (the application owns the transport) or the replication manager over a
 * transport that rides on the simulated network.
 */
import {
  type AckPolicy,
  BaseReplica,
  type Clock,
  type CommitReceipt,
  createReplicationManager,
  KvStateMachine,
  MemoryStorage,
  openLog,
  type ReplicationManager,
  type SendFunction,
  type SendOutcome,
  type SiteId,
  type TestMutations,
  type Transport,
  type TransportHandlers,
  type WriteAheadLog,
} from '@ackord/core';
import type { Durability } from './scenario.js';

export interface SiteHooks {
  readonly send: (from: string, message: Uint8Array, target: string | 'broadcast', flags: number) => boolean;
  readonly attach: (site: SimSite, replica: BaseReplica) => void;
  readonly attachManager: (site: SimSite, manager: ReplicationManager) => void;
}

export interface SiteSettings {
  readonly bulk: boolean;
  /** Batches and group commits at the end of the turn, or of the iteration (the clock's `afterIo`). */
  readonly batching: 'turn' | 'iteration';
  readonly mutations: TestMutations | undefined;
  /** Run the replication manager (ack policies, timeouts, receipts) instead of the bare base API. */
  readonly manager: boolean;
  readonly ackTimeoutMs: number;
  /** The configured group (ids and priorities), this site included. */
  readonly group: readonly { readonly id: string; readonly priority: number }[];
  /** Elections on (manager runs only): the group elects its masters. */
  readonly election?: {
    readonly electionTimeoutMs: number;
    readonly random: () => number;
    readonly electWithoutUpToDateCheck: boolean;
  };
}

/** The manager's transport in the simulator: frames go through the simulated network. */
class SimTransport implements Transport {
  readonly siteId: SiteId;
  readonly #send: (to: SiteId, frame: Uint8Array) => boolean;
  readonly #up = new Set<SiteId>();
  #handlers: TransportHandlers | undefined;

  constructor(siteId: SiteId, send: (to: SiteId, frame: Uint8Array) => boolean) {
    this.siteId = siteId;
    this.#send = send;
  }

  async start(handlers: TransportHandlers): Promise<void> {
    this.#handlers = handlers;
  }

  send(to: SiteId, frame: Uint8Array): SendOutcome {
    if (!this.#up.has(to)) return 'peerDown';
    return this.#send(to, frame) ? 'queued' : 'peerDown';
  }

  connectedPeers(): ReadonlySet<SiteId> {
    return this.#up;
  }

  async close(): Promise<void> {
    this.#up.clear();
    this.#handlers = undefined;
  }

  deliver(from: SiteId, frame: Uint8Array): void {
    this.#handlers?.frame(from, frame);
  }

  peerUp(site: SiteId): void {
    if (this.#up.has(site)) return;
    this.#up.add(site);
    this.#handlers?.peerUp(site);
  }

  peerDown(site: SiteId): void {
    if (!this.#up.delete(site)) return;
    this.#handlers?.peerDown(site);
  }
}

export class SimSite {
  readonly id: string;
  readonly durability: Durability;
  readonly peers: readonly string[];
  storage: MemoryStorage;
  /** The base replica (in manager mode: the one under the manager). */
  replica: BaseReplica | undefined;
  manager: ReplicationManager | undefined;
  kv: KvStateMachine = new KvStateMachine();
  /** Bumped on every crash: events addressed to an older incarnation are dropped. */
  incarnation = 0;

  readonly #clock: Clock;
  readonly #hooks: SiteHooks;
  readonly #settings: SiteSettings;
  #transport: SimTransport | undefined;

  constructor(
    id: string,
    durability: Durability,
    peers: readonly string[],
    clock: Clock,
    hooks: SiteHooks,
    settings: SiteSettings,
  ) {
    this.id = id;
    this.durability = durability;
    this.peers = peers;
    this.storage = new MemoryStorage(id);
    this.#clock = clock;
    this.#hooks = hooks;
    this.#settings = settings;
  }

  get alive(): boolean {
    return this.replica !== undefined;
  }

  get log(): WriteAheadLog {
    return this.replica!.log;
  }

  /** Opens the log on the current storage (recovering it) and starts the site as a client. */
  async start(): Promise<void> {
    this.kv = new KvStateMachine();
    if (this.#settings.manager) {
      await this.#startManager();
      return;
    }
    const log = await openLog(this.storage, {
      durability: this.durability,
      clock: this.#clock,
      segmentBytes: 16 * 1024,
      clusterId: 'sim',
      groupCommit: this.#settings.batching,
    });
    const send: SendFunction = (message, target, flags) => this.#hooks.send(this.id, message, target, flags);
    const replica = BaseReplica.open({
      siteId: this.id,
      peers: this.peers,
      log,
      stateMachine: this.kv,
      send,
      clock: this.#clock,
      bulk: {
        enabled: this.#settings.bulk,
        maxBytes: 64 * 1024,
        maxDelayMs: 2,
        shipAt: this.#settings.batching,
      },
      heartbeatIntervalMs: 200,
      ...(this.#settings.mutations === undefined ? {} : { testMutations: this.#settings.mutations }),
    });
    this.replica = replica;
    this.#hooks.attach(this, replica);
    await replica.becomeClient();
  }

  async #startManager(): Promise<void> {
    const transport = new SimTransport(this.id, (to, frame) => this.#hooks.send(this.id, frame, to, 0));
    const manager = await createReplicationManager({
      siteId: this.id,
      sites: this.#settings.group.map(({ id, priority }) => ({ id, priority })),
      storage: this.storage,
      durability: this.durability,
      clusterId: 'sim',
      transport,
      stateMachine: this.kv,
      clock: this.#clock,
      batching: this.#settings.batching,
      ackTimeoutMs: this.#settings.ackTimeoutMs,
      heartbeatIntervalMs: 200,
      masterTimeoutMs: 1000,
      ...(this.#settings.election === undefined
        ? {}
        : {
            election: {
              electionTimeoutMs: this.#settings.election.electionTimeoutMs,
              random: this.#settings.election.random,
              ...(this.#settings.election.electWithoutUpToDateCheck
                ? { mutations: { electWithoutUpToDateCheck: true } }
                : {}),
            },
          }),
    });
    this.#transport = transport;
    this.manager = manager;
    this.replica = manager.replica;
    this.#hooks.attach(this, manager.replica);
    this.#hooks.attachManager(this, manager);
  }

  /** A frame from the network. */
  async deliver(bytes: Uint8Array, from: string): ReturnType<BaseReplica['processMessage']> {
    if (this.#transport !== undefined) {
      this.#transport.deliver(from, bytes);
      return { code: 'OK' };
    }
    return this.replica!.processMessage(bytes, from);
  }

  async peerUp(peer: string): Promise<void> {
    if (this.#transport !== undefined) this.#transport.peerUp(peer);
    else await this.replica!.peerUp(peer);
  }

  async peerDown(peer: string): Promise<void> {
    if (this.#transport !== undefined) this.#transport.peerDown(peer);
    else await this.replica!.peerDown(peer);
  }

  async becomeMaster(generation: number): Promise<void> {
    if (this.manager !== undefined) await this.manager.becomeMaster(generation);
    else await this.replica!.becomeMaster(generation);
  }

  /** Elections on: asks this master to hand over to `target` (the outcome is the election's). */
  async transferMastership(target: string): Promise<void> {
    await this.manager!.transferMastership(target);
  }

  async becomeClient(): Promise<void> {
    if (this.manager !== undefined) await this.manager.becomeClient();
    else await this.replica!.becomeClient();
  }

  /** Commits through the manager (with a policy) or the base API; resolves to a receipt or undefined. */
  async commit(payloads: Uint8Array[], policy: AckPolicy): Promise<CommitReceipt | undefined> {
    if (this.manager !== undefined) return this.manager.commit(payloads, { policy });
    await this.replica!.commit(payloads);
    return undefined;
  }

  /**
   * Crash: what survives is what the storage model keeps for `kind`. The old replica is closed on the
   * old storage object, which is then thrown away, so nothing it does afterwards reaches the disk.
   */
  async crash(kind: 'power' | 'process', tornBytes: (unsynced: number) => number): Promise<void> {
    const image = this.storage.crash({ kind, tornBytes: (_file, unsynced) => tornBytes(unsynced) });
    const replica = this.replica;
    const manager = this.manager;
    this.replica = undefined;
    this.manager = undefined;
    this.#transport = undefined;
    this.incarnation++;
    this.storage = image;
    if (manager !== undefined) {
      manager.removeAllListeners();
      replica?.removeAllListeners();
      await manager.close().catch(() => undefined);
    } else if (replica !== undefined) {
      replica.removeAllListeners();
      await replica.close().catch(() => undefined);
    }
  }

  async close(): Promise<void> {
    if (this.manager !== undefined) await this.manager.close();
    else await this.replica?.close();
  }
}
