/** One simulated site: in-memory storage that models crashes, the production log and base replica. */
import {
  BaseReplica,
  KvStateMachine,
  MemoryStorage,
  openLog,
  type SendFunction,
  type TestMutations,
  type VirtualClock,
  type WriteAheadLog,
} from '@ackord/core';
import type { Durability } from './scenario.js';

export interface SiteHooks {
  readonly send: (from: string, message: Uint8Array, target: string | 'broadcast', flags: number) => boolean;
  readonly attach: (site: SimSite, replica: BaseReplica) => void;
}

export class SimSite {
  readonly id: string;
  readonly durability: Durability;
  readonly peers: readonly string[];
  storage: MemoryStorage;
  replica: BaseReplica | undefined;
  kv: KvStateMachine = new KvStateMachine();
  /** Bumped on every crash: events addressed to an older incarnation are dropped. */
  incarnation = 0;

  readonly #clock: VirtualClock;
  readonly #hooks: SiteHooks;
  readonly #bulk: boolean;
  readonly #mutations: TestMutations | undefined;

  constructor(
    id: string,
    durability: Durability,
    peers: readonly string[],
    clock: VirtualClock,
    hooks: SiteHooks,
    bulk: boolean,
    mutations: TestMutations | undefined,
  ) {
    this.id = id;
    this.durability = durability;
    this.peers = peers;
    this.storage = new MemoryStorage(id);
    this.#clock = clock;
    this.#hooks = hooks;
    this.#bulk = bulk;
    this.#mutations = mutations;
  }

  get alive(): boolean {
    return this.replica !== undefined;
  }

  get log(): WriteAheadLog {
    return this.replica!.log;
  }

  /** Opens the log on the current storage (recovering it) and starts the replica as a client. */
  async start(): Promise<void> {
    const log = await openLog(this.storage, {
      durability: this.durability,
      clock: this.#clock,
      segmentBytes: 16 * 1024,
      clusterId: 'sim',
    });
    this.kv = new KvStateMachine();
    const send: SendFunction = (message, target, flags) => this.#hooks.send(this.id, message, target, flags);
    const replica = BaseReplica.open({
      siteId: this.id,
      peers: this.peers,
      log,
      stateMachine: this.kv,
      send,
      clock: this.#clock,
      bulk: { enabled: this.#bulk, maxBytes: 64 * 1024, maxDelayMs: 2 },
      heartbeatIntervalMs: 200,
      ...(this.#mutations === undefined ? {} : { testMutations: this.#mutations }),
    });
    this.replica = replica;
    this.#hooks.attach(this, replica);
    await replica.becomeClient();
  }

  /**
   * Crash: what survives is what the storage model keeps for `kind`. The old replica is closed on the
   * old storage object, which is then thrown away, so nothing it does afterwards reaches the disk.
   */
  async crash(kind: 'power' | 'process', tornBytes: (unsynced: number) => number): Promise<void> {
    const image = this.storage.crash({ kind, tornBytes: (_file, unsynced) => tornBytes(unsynced) });
    const replica = this.replica;
    this.replica = undefined;
    this.incarnation++;
    this.storage = image;
    if (replica !== undefined) {
      replica.removeAllListeners();
      await replica.close().catch(() => undefined);
    }
  }
}
