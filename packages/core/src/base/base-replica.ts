/**
 * The base API, as in Berkeley DB: for integrators who own the transport. The application supplies
 * `send(message, target, flags)` and hands every received frame to `processMessage(bytes, from)`;
 * Ackord does the rest — the log, the protocol core, the state machine — and reports what each message
 * meant (ISPERM, NOTPERM, NEWSITE, …). Roles are set by the application (`becomeMaster`,
 * `becomeClient`) or, in the manager, by elections.
 *
 * This is the shell around the pure `ReplicaCore`: it performs the core's effects in order. Every entry
 * point runs in turn — at once when nothing else is running or waiting, else after what is — so effects
 * of one input are performed before the next input is stepped; flushes run in the background and report
 * back as `durable` inputs. Running at once means that `send`, the state machine and event listeners
 * may be called before the entry point (`commit`, `processMessage`, …) returns its promise; an entry
 * point they call in turn waits until that work is done (it never runs inside it).
 */
import { EventEmitter } from 'eventemitter3';
import { type Clock, type DeferTo, deferrer, systemClock, type TimerHandle } from '../clock.js';
import { InvalidStateError } from '../errors.js';
import type { WriteAheadLog } from '../log/log.js';
import { RecordType } from '../log/record.js';
import { DEFAULT_CORE_CONFIG, type ReplicaCoreConfig, type TestMutations } from '../replica/config.js';
import { type ProposeResult, ReplicaCore } from '../replica/core.js';
import type { HistoryEntry } from '../replica/history.js';
import type { StateMachine } from '../replica/state-machine.js';
import {
  type AckLevel,
  type AppliedTransaction,
  type CommitToken,
  formatToken,
  type ProcessResult,
  parseToken,
  type ReplicaEffect,
  type Role,
  type SiteId,
} from '../replica/types.js';
import { decodeFrame } from '../wire/decode.js';
import { encodeMessage } from '../wire/encode.js';
import type { ForwardMessage, ForwardResultMessage, Message } from '../wire/messages.js';

/** Berkeley DB's send callback: deliver `message` to `target`; resolve false when it could not be sent. */
export type SendFunction = (
  message: Uint8Array,
  target: SiteId | 'broadcast',
  flags: number,
) => Promise<boolean> | boolean;

export interface BaseReplicaOptions {
  readonly siteId: SiteId;
  /** The other sites of the group. */
  readonly peers: readonly SiteId[];
  /** An open log (see `openLog`); the replica owns it from now on and closes it on `close()`. */
  readonly log: WriteAheadLog;
  readonly stateMachine: StateMachine;
  readonly send: SendFunction;
  readonly clock?: Clock;
  /** Default: from the log's durability mode (none → received, write/delayed → written, fsync/dsync → flushed). */
  readonly ackLevel?: AckLevel;
  readonly view?: boolean;
  readonly autoInit?: boolean;
  /**
   * Start at this generation when it is above the generation of the log's last record: the highest
   * generation the site learned and stored durably before it stopped (the manager passes the one in
   * its ELECTION file), so the site never reports an older one, nor follows an older master, after a
   * restart. Default: the log's.
   */
  readonly generation?: number;
  /**
   * Batching of live records. With `shipOnCommit` (the default) a batch goes out at the end of every
   * turn that committed; without it (asynchronous replication) only on size, records, age or `ship()`.
   */
  readonly bulk?: {
    readonly enabled: boolean;
    readonly maxBytes?: number;
    readonly maxRecords?: number;
    readonly maxDelayMs?: number;
    readonly shipOnCommit?: boolean;
    /**
     * When a committed batch leaves. `'turn'` (default): at the end of the committing turn's
     * microtasks. `'iteration'`: once the I/O callbacks of the event-loop iteration have run
     * (`Clock.afterIo`), so commits made in separate I/O callbacks of one iteration — HTTP requests
     * read from different connections — share one batch and one frame per client instead of one
     * each. Falls back to `'turn'` when the clock has no `afterIo` (the simulator's), and when the log
     * syncs on commit (`fsync`, `dsync`) but gathers its group commits per turn: the batch must leave
     * before the log's sync starts, so that the clients' syncs overlap the master's rather than follow
     * it. With the log's `groupCommit: 'iteration'` both wait for the iteration's end, ship first.
     */
    readonly shipAt?: DeferTo;
  };
  readonly rerequestMinMs?: number;
  readonly rerequestMaxMs?: number;
  readonly gapBufferBytes?: number;
  readonly clientToClientSync?: boolean;
  /** Master: heartbeat period (ms). Default 500. */
  readonly heartbeatIntervalMs?: number;
  /** @internal Must-fail controls for the simulator. */
  readonly testMutations?: TestMutations;
}

export interface BaseCommitResult {
  readonly txnId: number;
  readonly generation: number;
  /** LSN of the commit record. */
  readonly lsn: number;
  readonly endLsn: number;
  /** Read-your-writes token: `waitApplied(token)` on any site. */
  readonly token: string;
  /** The sites the commit was sent to (the synced clients at that moment). */
  readonly sentTo: readonly SiteId[];
  /** True when a send failed (or nobody could be sent to) and the master flushed its own log instead. */
  readonly localFlushForced: boolean;
}

export interface RolledBackTransaction {
  readonly txnId: number;
  readonly generation: number;
  readonly commitLsn: number;
  readonly payloads: readonly Uint8Array[];
}

export interface RollbackEvent {
  readonly toLsn: number;
  /** Committed transactions removed by the rollback, in log order: the rollback journal. */
  readonly transactions: readonly RolledBackTransaction[];
  /** Records removed in all (including data of transactions that never committed here). */
  readonly records: number;
  /** The first removed record: what stood at `toLsn` before the rollback. */
  readonly firstRemoved: { readonly lsn: number; readonly generation: number } | undefined;
}

export interface BaseReplicaEvents {
  roleChanged: [{ role: Role; generation: number; master: SiteId | undefined }];
  acked: [{ site: SiteId; lsn: number; level: AckLevel }];
  applied: [AppliedTransaction];
  rollback: [RollbackEvent];
  restored: [{ lsn: number }];
  joinFailure: [{ reason: string }];
  holdElection: [{ reason: string }];
  newSite: [{ site: SiteId }];
  /** A frame that did not decode; it was dropped and nothing else changed. */
  badMessage: [{ from: SiteId; reason: string }];
  /** A forwarded write or its answer: the manager's business, not the protocol core's. */
  forwarded: [{ from: SiteId; message: ForwardMessage | ForwardResultMessage }];
  /** An effect failed (e.g. the log failed stop); the replica should be closed. */
  fatal: [Error];
}

export type WaitAppliedOutcome = 'applied' | 'rolledBack';

interface ShipOutcome {
  readonly ok: boolean;
  readonly to: readonly SiteId[];
}

/** A commit waiting for the batch that carries it to leave. */
interface ShipWaiter {
  readonly endLsn: number;
  /** Called once, when the batch carrying the commit has been handed to send (or never will be). */
  shipped(outcome: ShipOutcome): void;
}

interface AppliedWaiter {
  readonly token: CommitToken;
  readonly resolve: (outcome: WaitAppliedOutcome) => void;
  readonly reject: (error: Error) => void;
}

const NO_TASK = (): void => {};

/** What `commit` returns for a proposal, once its batch has left (or will not). */
function receipt(proposed: ProposeResult, outcome: ShipOutcome, localFlushForced: boolean): BaseCommitResult {
  return {
    txnId: proposed.txnId,
    generation: proposed.generation,
    lsn: proposed.commitLsn,
    endLsn: proposed.endLsn,
    token: formatToken(proposed.token),
    sentTo: outcome.to,
    localFlushForced,
  };
}

/** A commit settled by its ship (see `BaseReplica.commit`): one object, no promise of its own. */
class CommitOnShip implements ShipWaiter {
  readonly endLsn: number;
  readonly #log: WriteAheadLog;
  readonly #proposed: ProposeResult;
  readonly #resolve: (result: BaseCommitResult) => void;
  readonly #reject: (error: unknown) => void;

  constructor(
    log: WriteAheadLog,
    proposed: ProposeResult,
    resolve: (result: BaseCommitResult) => void,
    reject: (error: unknown) => void,
  ) {
    this.endLsn = proposed.endLsn;
    this.#log = log;
    this.#proposed = proposed;
    this.#resolve = resolve;
    this.#reject = reject;
  }

  shipped(outcome: ShipOutcome): void {
    const proposed = this.#proposed;
    if (outcome.ok || this.#log.durableLsn > proposed.commitLsn) {
      this.#resolve(receipt(proposed, outcome, false));
      return;
    }
    // Not sent, and not durable here: the local log is flushed before the commit returns.
    let flushed: Promise<void>;
    try {
      flushed = this.#log.logFlush({ sync: 'on' });
    } catch (error) {
      this.#reject(error);
      return;
    }
    flushed.then(() => this.#resolve(receipt(proposed, outcome, true)), this.#reject);
  }
}

/** What a commit that does not wait for its batch to leave reports: sent to nobody yet. */
const NOT_SHIPPED: ShipOutcome = Object.freeze({ ok: true, to: Object.freeze([]) as readonly SiteId[] });

function defaultAckLevel(log: WriteAheadLog): AckLevel {
  switch (log.durability) {
    case 'none':
      return 'received';
    case 'write':
    case 'delayed':
      return 'written';
    case 'fsync':
    case 'dsync':
      return 'flushed';
  }
}

export class BaseReplica extends EventEmitter<BaseReplicaEvents> {
  readonly siteId: SiteId;
  readonly #log: WriteAheadLog;
  readonly #stateMachine: StateMachine;
  readonly #send: SendFunction;
  readonly #clock: Clock;
  readonly #core: ReplicaCore;
  /** Tasks running or waiting their turn. 0: the next task runs at once, synchronously. */
  #pendingTasks = 0;
  /** Starters of the tasks waiting their turn, first in first out from `#waitingHead`. */
  #waiting: (() => void)[] = [];
  #waitingHead = 0;
  #timer: TimerHandle | undefined;
  #timerAt: number | undefined;
  #bulkFlushScheduled = false;
  readonly #shipOnCommit: boolean;
  /** Schedules the end-of-turn bulk flush: a microtask, or `Clock.afterIo` (see `bulk.shipAt`). */
  readonly #deferShip: (flush: () => void) => void;
  #shipWaiters: ShipWaiter[] = [];
  #appliedWaiters: AppliedWaiter[] = [];
  #appliedLsn: number;
  #closed = false;
  #failure: Error | undefined;

  /** Opens a replica on an open log: replays the log into the state machine and starts as neither role. */
  static open(options: BaseReplicaOptions): BaseReplica {
    return new BaseReplica(options);
  }

  private constructor(options: BaseReplicaOptions) {
    super();
    this.siteId = options.siteId;
    this.#log = options.log;
    this.#stateMachine = options.stateMachine;
    this.#send = options.send;
    this.#clock = options.clock ?? systemClock;
    this.#shipOnCommit = options.bulk?.shipOnCommit ?? true;
    // Under fsync/dsync a batch must leave before the log's sync starts (see shipAt). Deferred to the end
    // of the iteration it does only if the log's group commit is too: a commit schedules its ship before
    // it asks for its flush, and the two run in that order.
    const syncsOnCommit = options.log.durability === 'fsync' || options.log.durability === 'dsync';
    const shipAt = options.bulk?.shipAt ?? 'turn';
    const flushesLater = options.log.groupCommit === 'iteration';
    this.#deferShip = deferrer(syncsOnCommit && !flushesLater ? 'turn' : shipAt, this.#clock);
    const replay = this.#replayLog();
    this.#appliedLsn = replay.appliedLsn;
    const config: ReplicaCoreConfig = {
      ...DEFAULT_CORE_CONFIG,
      siteId: options.siteId,
      peers: options.peers,
      ackLevel: options.ackLevel ?? defaultAckLevel(options.log),
      view: options.view ?? false,
      now: this.#clock.now(),
      maxPayloadBytes: options.log.maxPayloadBytes,
      autoInit: options.autoInit ?? DEFAULT_CORE_CONFIG.autoInit,
      bulk: {
        enabled: options.bulk?.enabled ?? DEFAULT_CORE_CONFIG.bulk.enabled,
        maxBytes: options.bulk?.maxBytes ?? DEFAULT_CORE_CONFIG.bulk.maxBytes,
        maxRecords: options.bulk?.maxRecords ?? DEFAULT_CORE_CONFIG.bulk.maxRecords,
        maxDelayMs: options.bulk?.maxDelayMs ?? DEFAULT_CORE_CONFIG.bulk.maxDelayMs,
      },
      rerequestMinMs: options.rerequestMinMs ?? DEFAULT_CORE_CONFIG.rerequestMinMs,
      rerequestMaxMs: options.rerequestMaxMs ?? DEFAULT_CORE_CONFIG.rerequestMaxMs,
      gapBufferBytes: options.gapBufferBytes ?? DEFAULT_CORE_CONFIG.gapBufferBytes,
      clientToClientSync: options.clientToClientSync ?? DEFAULT_CORE_CONFIG.clientToClientSync,
      heartbeatIntervalMs: options.heartbeatIntervalMs ?? DEFAULT_CORE_CONFIG.heartbeatIntervalMs,
      ...(options.testMutations === undefined ? {} : { testMutations: options.testMutations }),
      log: {
        // Neither serve nor roll back below the stored snapshot: the state machine cannot go back past it.
        firstLsn: replay.floorLsn,
        nextLsn: options.log.nextLsn,
        writtenLsn: options.log.writtenLsn,
        durableLsn: options.log.durableLsn,
        history: replay.history,
        generation: options.generation,
        nextTxnId: options.log.nextTxnId,
        tailCommits: replay.lastCommit === undefined ? [] : [replay.lastCommit],
        openTransactions: replay.openTransactions,
      },
    };
    this.#core = new ReplicaCore(config);
  }

  get role(): Role {
    return this.#core.role;
  }
  get generation(): number {
    return this.#core.generation;
  }
  get master(): SiteId | undefined {
    return this.#core.master;
  }
  get log(): WriteAheadLog {
    return this.#log;
  }
  /** The pure core, for observation (tests, the simulator's checkers). Do not step it directly. */
  get core(): ReplicaCore {
    return this.#core;
  }
  /** LSN after the last transaction applied to the state machine. */
  get appliedLsn(): number {
    return this.#appliedLsn;
  }

  becomeMaster(generation: number): Promise<void> {
    return this.#inTurn(() => {
      this.#core.step({ type: 'becomeMaster', generation });
      return this.#execute();
    });
  }

  becomeClient(): Promise<void> {
    return this.#inTurn(() => {
      this.#core.step({ type: 'becomeClient' });
      return this.#execute();
    });
  }

  /** An election at `generation` is under way: ignore masters of older generations from now on. */
  fence(generation: number): Promise<void> {
    return this.#inTurn(() => {
      this.#core.step({ type: 'fence', generation });
      return this.#execute();
    });
  }

  peerUp(site: SiteId): Promise<void> {
    return this.#inTurn(() => {
      this.#core.step({ type: 'peerUp', site });
      return this.#execute();
    });
  }

  peerDown(site: SiteId): Promise<void> {
    return this.#inTurn(() => {
      this.#core.step({ type: 'peerDown', site });
      return this.#execute();
    });
  }

  /**
   * Master: commits a transaction of `payloads` (one data record each). Returns once the records are as
   * durable as the log's mode asks and have been handed to `send`; if a send failed and the log had not
   * made the commit durable, the log is flushed first (`localFlushForced`). Never aborts a commit that
   * was sent: clients may hold it.
   */
  commit(
    payloads: readonly Uint8Array[],
    options: { readonly waitForShip?: boolean } = {},
  ): Promise<BaseCommitResult> {
    const waitForShip = options.waitForShip ?? this.#shipOnCommit;
    const mode = this.#log.durability;
    if (!waitForShip || mode === 'fsync' || mode === 'dsync')
      return this.#commitAndWait(payloads, waitForShip);
    // The common case: nothing to wait for but the ship. The batch's outcome settles this promise
    // directly (no promise in between, no async function to resume).
    return new Promise<BaseCommitResult>((resolve, reject) => {
      let turn: ProposeResult | Promise<ProposeResult>;
      try {
        turn = this.#serialize(() =>
          this.#propose(payloads, (proposed) => new CommitOnShip(this.#log, proposed, resolve, reject)),
        );
      } catch (error) {
        reject(error);
        return;
      }
      if (turn instanceof Promise) turn.catch(reject);
    });
  }

  /** A commit that waits for a local flush as well (fsync, dsync), or not for its batch at all. */
  async #commitAndWait(payloads: readonly Uint8Array[], waitForShip: boolean): Promise<BaseCommitResult> {
    let shipped: Promise<ShipOutcome> | undefined;
    const turn = this.#serialize(() =>
      this.#propose(payloads, (proposed) => {
        let waiter: ShipWaiter | undefined;
        shipped = new Promise<ShipOutcome>((resolve) => {
          waiter = { endLsn: proposed.endLsn, shipped: resolve };
        });
        return waiter!;
      }),
    );
    const proposed = turn instanceof Promise ? await turn : turn;
    const mode = this.#log.durability;
    // Through the group commit: the write and the sync are shared by every commit of the group.
    const localDurable =
      mode === 'fsync' || mode === 'dsync' ? this.#log.flushThrough(proposed.endLsn - 1) : undefined;
    // Awaited below, after the ship; until then a failure must not surface as an unhandled rejection.
    localDurable?.catch(() => undefined);
    // Asynchronous replication does not wait for the batch to leave: it counts as sent to nobody yet.
    const outcome = waitForShip ? await shipped! : NOT_SHIPPED;
    let localFlushForced = false;
    if (!outcome.ok && this.#log.durableLsn <= proposed.commitLsn) {
      localFlushForced = true;
      await this.#log.logFlush({ sync: 'on' });
    }
    if (localDurable !== undefined) await localDurable; // `none`/`write`/`delayed`: no turn to wait
    return receipt(proposed, outcome, localFlushForced);
  }

  /**
   * The commit's turn: proposes, registers what waits for the batch to leave (made by `waitFor` from the
   * proposal), performs the effects. Returns the proposal, at once or when the turn's effects are done.
   */
  #propose(
    payloads: readonly Uint8Array[],
    waitFor: (proposed: ProposeResult) => ShipWaiter,
  ): ProposeResult | Promise<ProposeResult> {
    const proposed = this.#core.propose(payloads);
    this.#shipWaiters.push(waitFor(proposed));
    const executed = this.#execute();
    if (executed === undefined) {
      if (this.#shipOnCommit) this.#scheduleBulkFlush();
      return proposed;
    }
    return executed.then(() => {
      if (this.#shipOnCommit) this.#scheduleBulkFlush();
      return proposed;
    });
  }

  /**
   * Processes a frame received from `from`. Resolves with what it meant; ISPERM resolves once the
   * permanent records are durable here at this site's ack level. A frame that does not decode is
   * dropped (IGNORE) and reported as a `badMessage` event: it changes nothing.
   */
  async processMessage(bytes: Uint8Array, from: SiteId): Promise<ProcessResult> {
    // A frame that arrives after close (transports deliver late) is dropped, not an error.
    if (this.#closed) return { code: 'IGNORE', reason: 'replica closed' };
    const decoded = decodeFrame(bytes);
    if (!decoded.ok) {
      this.emit('badMessage', { from, reason: decoded.error.message });
      return { code: 'IGNORE', reason: `bad frame: ${decoded.error.reason}` };
    }
    const message = decoded.message;
    if (message.type === 'forward' || message.type === 'forwardResult') {
      this.emit('forwarded', { from, message });
      return { code: 'OK' };
    }
    const turn = this.#serialize(() => {
      const result = this.#core.step({ type: 'message', from, message });
      const executed = this.#execute();
      return executed === undefined ? result : executed.then(() => result);
    });
    const result = turn instanceof Promise ? await turn : turn;
    if (result.code === 'ISPERM' && !(await this.#awaitOwnLevel(result.lsn))) {
      return {
        code: 'IGNORE',
        reason: `LSN ${result.lsn} never became durable here (rolled back or the log failed)`,
      };
    }
    return result;
  }

  /** Ships every batched live record now (asynchronous replication's explicit sync). */
  ship(): Promise<void> {
    return this.#inTurn(() => {
      this.#core.step({ type: 'flushBulk', force: true });
      return this.#execute();
    });
  }

  /** Resolves when this site has applied the commit of `token`, or says it was rolled back here. */
  waitApplied(
    token: string | CommitToken,
    options: { signal?: AbortSignal } = {},
  ): Promise<WaitAppliedOutcome> {
    const parsed = typeof token === 'string' ? parseTokenOrThrow(token) : token;
    const immediate = this.#appliedOutcome(parsed);
    if (immediate !== undefined) return Promise.resolve(immediate);
    const signal = options.signal;
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise((resolve, reject) => {
      const waiter: AppliedWaiter = {
        token: parsed,
        resolve: (outcome) => {
          signal?.removeEventListener('abort', onAbort);
          resolve(outcome);
        },
        reject: (error) => {
          signal?.removeEventListener('abort', onAbort);
          reject(error);
        },
      };
      const onAbort = () => {
        this.#appliedWaiters = this.#appliedWaiters.filter((entry) => entry !== waiter);
        reject(signal!.reason);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#appliedWaiters.push(waiter);
    });
  }

  /** The error that stopped this replica (fail-stop), if one did. */
  get failure(): Error | undefined {
    return this.#failure;
  }

  /**
   * Fail-stop: the first fatal error (a failed write or fsync, a broken effect) stops the replica. It
   * steps nothing more, so it acknowledges nothing more; the application (or the manager) must close it.
   */
  #fatal(error: Error): void {
    if (this.#failure !== undefined) return;
    this.#failure = error;
    this.emit('fatal', error);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    // Every task started before the close finishes first (a failure in one is its caller's business).
    await Promise.resolve(this.#enqueue(() => undefined)).catch(() => undefined);
    for (const waiter of this.#shipWaiters.splice(0)) waiter.shipped({ ok: false, to: [] });
    const closed = new InvalidStateError(`replica ${this.siteId} is closed`);
    for (const waiter of this.#appliedWaiters.splice(0)) waiter.reject(closed);
    await this.#log.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  // ---- the effect loop ----

  /**
   * Work nobody awaits (timer ticks, bulk flushes): an error in it has no caller to reach, so it is
   * fatal — except the refusals of a closed or already failed replica.
   */
  #background(task: () => Promise<void> | undefined): void {
    this.#inTurn(task).catch((error: Error) => {
      if (!this.#closed && this.#failure === undefined) this.#fatal(error);
    });
  }

  /**
   * Runs `task` in turn: at once (synchronously, returning what it returns or throwing what it throws)
   * when no other task is running or waiting, else after them, first in first out (returning a
   * promise). A task's turn lasts until it is done, asynchronous part included, so every task started
   * meanwhile — from a send callback, a listener, a state machine — waits, and the effects of one input
   * are all performed before the next input is stepped. Refuses (throws) once the replica is closed or
   * has failed (fail-stop: nothing more is stepped or performed).
   */
  #serialize<T>(task: () => T | Promise<T>): T | Promise<T> {
    if (this.#closed) throw new InvalidStateError(`replica ${this.siteId} is closed`);
    if (this.#failure !== undefined) throw this.#failure;
    return this.#enqueue(task);
  }

  /** `#serialize` without the refusals (for `close`, which waits for the tasks before it). */
  #enqueue<T>(task: () => T | Promise<T>): T | Promise<T> {
    this.#pendingTasks++;
    if (this.#pendingTasks === 1) return this.#runTurn(task);
    return new Promise<T>((resolve, reject) => {
      this.#waiting.push(() => {
        try {
          resolve(this.#runTurn(task));
        } catch (error) {
          reject(error);
        }
      });
    });
  }

  /** Runs a task whose turn it is; its turn ends when it is done. */
  #runTurn<T>(task: () => T | Promise<T>): T | Promise<T> {
    let result: T | Promise<T>;
    try {
      result = task();
    } catch (error) {
      this.#endTurn();
      throw error;
    }
    if (!(result instanceof Promise)) {
      this.#endTurn();
      return result;
    }
    return result.finally(() => this.#endTurn());
  }

  /** The next waiting task starts in a microtask of its own (never inside the stack of the one before). */
  #endTurn(): void {
    this.#pendingTasks--;
    if (this.#waitingHead === this.#waiting.length) return;
    const next = this.#waiting[this.#waitingHead]!;
    this.#waiting[this.#waitingHead++] = NO_TASK;
    if (this.#waitingHead === this.#waiting.length) {
      this.#waiting = [];
      this.#waitingHead = 0;
    }
    queueMicrotask(next);
  }

  /** `#serialize` for entry points that always answer with a promise (a refusal is a rejection). */
  #inTurn<T>(task: () => T | Promise<T>): Promise<T> {
    try {
      const run = this.#serialize(task);
      return run instanceof Promise ? run : Promise.resolve(run);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * Performs the core's effects in order, including those that performing them produces. Synchronous
   * (returns undefined) as long as every effect is; from the first one that returns a promise on, the
   * rest waits for it and the returned promise settles when all are done.
   */
  #execute(): Promise<void> | undefined {
    for (;;) {
      const effects = this.#core.takeEffects();
      if (effects.length === 0) break;
      for (let index = 0; index < effects.length; index++) {
        let pending: Promise<void> | undefined;
        try {
          pending = this.#perform(effects[index]!);
        } catch (error) {
          this.#fatal(error as Error);
          throw error;
        }
        if (pending !== undefined) return this.#executeAfter(pending, effects, index + 1);
      }
    }
    this.#armTimer();
    return undefined;
  }

  /** The rest of `#execute` once an effect went asynchronous: `pending`, then `effects` from `next` on. */
  async #executeAfter(
    pending: Promise<void>,
    effects: readonly ReplicaEffect[],
    next: number,
  ): Promise<void> {
    try {
      await pending;
      for (let index = next; index < effects.length; index++) {
        // Most effects are synchronous: awaiting them anyway would cost a microtask turn each.
        const more = this.#perform(effects[index]!);
        if (more !== undefined) await more;
      }
    } catch (error) {
      this.#fatal(error as Error);
      throw error;
    }
    const rest = this.#execute();
    if (rest !== undefined) await rest;
  }

  /** Performs one effect; returns a promise only for those that do asynchronous work. */
  #perform(effect: ReplicaEffect): Promise<void> | undefined {
    switch (effect.type) {
      case 'append':
        this.#log.appendEncoded(effect.bytes, effect.firstLsn);
        this.#afterAppend();
        return;
      case 'flush':
        this.#log
          .logFlush({ sync: 'on' })
          .then(
            () => (this.#closed ? undefined : this.#reportDurable()),
            (error: Error) => this.#fatal(error),
          )
          .catch(() => undefined); // a report after close is nobody's business
        return;
      case 'send':
        this.#deliver(effect.message, effect.to, effect.flags);
        return;
      case 'ship':
        this.#ship(effect);
        return;
      case 'readLog':
        this.#readLog(effect.requestId, effect.fromLsn, effect.toLsn, effect.maxBytes);
        return;
      case 'truncate':
        return this.#rollback(effect.toLsn);
      case 'apply':
        this.#apply(effect.txn);
        return;
      case 'takeSnapshot':
        return this.#takeSnapshot(effect.requestId);
      case 'restore':
        return this.#restore(effect.lsn, effect.snapshot, effect.discardFrom);
      case 'roleChanged':
        if (effect.role !== 'master') {
          // Mastership is gone: nothing still batched will be shipped by this site.
          for (const waiter of this.#shipWaiters.splice(0)) waiter.shipped({ ok: false, to: [] });
        }
        this.emit('roleChanged', { role: effect.role, generation: effect.generation, master: effect.master });
        return;
      case 'acked':
        this.emit('acked', { site: effect.site, lsn: effect.lsn, level: effect.level });
        return;
      case 'holdElection':
        this.emit('holdElection', { reason: effect.reason });
        return;
      case 'joinFailure':
        this.emit('joinFailure', { reason: effect.reason });
        return;
      case 'newSite':
        this.emit('newSite', { site: effect.site });
        return;
      default:
        effect satisfies never;
    }
  }

  async #takeSnapshot(requestId: number): Promise<void> {
    const lsn = this.#log.nextLsn;
    const data = this.#stateMachine.snapshot();
    // The client's log will start at `lsn`: what the snapshot stands for must be durable here first.
    await this.#log.logFlush({ sync: 'on' });
    this.#core.step({ type: 'snapshotTaken', requestId, lsn, data });
  }

  async #restore(lsn: number, snapshot: Uint8Array, discardFrom: number): Promise<void> {
    // Records we hold past the last one shared with the master are not in its snapshot: they are
    // rolled back by the init, and reported like any rollback.
    const from = Math.max(discardFrom, this.#log.firstLsn);
    const journal = from < this.#log.nextLsn ? await this.#journal(from) : undefined;
    await this.#log.reset(
      lsn,
      snapshot,
      this.#core.history.generationAt(lsn - 1),
      this.#core.history.entries.filter((entry) => entry.lsn < lsn),
    );
    this.#stateMachine.restore(snapshot);
    this.#appliedLsn = lsn;
    this.#resolveAppliedWaiters();
    if (journal !== undefined && journal.records > 0) {
      this.#reportRolledBack(journal.transactions);
      this.emit('rollback', { toLsn: from, ...journal });
    }
    this.emit('restored', { lsn });
  }

  #afterAppend(): void {
    const mode = this.#log.durability;
    // Synchronously: a failed write throws here, inside the effect, and stops the replica (fail-stop).
    if (mode === 'write' || mode === 'delayed') this.#log.writeOut();
    this.#core.step({ type: 'durable', writtenLsn: this.#log.writtenLsn, durableLsn: this.#log.durableLsn });
  }

  #reportDurable(): Promise<void> {
    return this.#inTurn(() => {
      this.#core.step({
        type: 'durable',
        writtenLsn: this.#log.writtenLsn,
        durableLsn: this.#log.durableLsn,
      });
      return this.#execute();
    });
  }

  /** A `send` effect. Its outcome matters to nobody: a message that cannot go is a message lost. */
  #deliver(message: Message, to: SiteId | 'broadcast', flags: number): void {
    const bytes = encodeOrUndefined(message);
    if (bytes !== undefined) this.#handOver(bytes, to, flags);
  }

  /**
   * Hands a frame to the application's `send`: whether it went, at once when `send` answered at once
   * (the usual case, and no promise is made then), else as a promise. A throw or a rejection counts as
   * not sent.
   */
  #handOver(bytes: Buffer, to: SiteId | 'broadcast', flags: number): boolean | Promise<boolean> {
    let sent: Promise<boolean> | boolean;
    try {
      sent = this.#send(bytes, to, flags);
    } catch {
      return false;
    }
    if (isThenable(sent)) return Promise.resolve(sent).then(Boolean, () => false);
    return Boolean(sent);
  }

  #ship(effect: Extract<ReplicaEffect, { type: 'ship' }>): void {
    const to = effect.to;
    // Encoded once for every recipient; a message that cannot be encoded counts as sent to nobody.
    const bytes = to.length === 0 ? undefined : (effect.frame ?? encodeOrUndefined(effect.message));
    let ok = bytes !== undefined;
    let later: Promise<boolean>[] | undefined;
    if (bytes !== undefined) {
      for (const site of to) {
        const sent = this.#handOver(bytes, site, effect.flags);
        if (sent instanceof Promise) {
          later ??= [];
          later.push(sent);
        } else if (!sent) {
          ok = false;
        }
      }
    }
    const waiters = this.#shipWaiters;
    let done = 0;
    while (done < waiters.length && waiters[done]!.endLsn <= effect.endLsn) done++;
    if (done === 0) return;
    const shipped = waiters.splice(0, done);
    if (later === undefined) {
      const outcome: ShipOutcome = { ok, to };
      for (const waiter of shipped) waiter.shipped(outcome);
      return;
    }
    void Promise.all(later).then((results) => {
      const outcome: ShipOutcome = { ok: ok && results.every(Boolean), to };
      for (const waiter of shipped) waiter.shipped(outcome);
    });
  }

  #scheduleBulkFlush(): void {
    if (this.#bulkFlushScheduled) return;
    this.#bulkFlushScheduled = true;
    this.#deferShip(() => {
      this.#bulkFlushScheduled = false;
      if (this.#closed) return;
      this.#background(() => {
        this.#core.step({ type: 'flushBulk' });
        return this.#execute();
      });
    });
  }

  #readLog(requestId: number, fromLsn: number, toLsn: number, maxBytes: number): void {
    let bytes: Buffer;
    try {
      bytes = this.#log.readEncoded(fromLsn, toLsn, maxBytes);
    } catch {
      this.#core.step({ type: 'logReadFailed', requestId, firstLsn: this.#log.firstLsn });
      return;
    }
    this.#core.step({ type: 'logRead', requestId, bytes, fromLsn });
  }

  /** Whether the record at `lsn` became durable at this site's ack level. */
  async #awaitOwnLevel(lsn: number): Promise<boolean> {
    if (this.#core.ackLevel !== 'flushed' || this.#log.durableLsn > lsn) return true;
    try {
      await this.#log.waitDurable(lsn);
      return true;
    } catch {
      return false; // rolled back, or the log failed: it never became durable (and was never acked)
    }
  }

  #armTimer(): void {
    const deadline = this.#core.nextDeadline();
    if (deadline === this.#timerAt) return;
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerAt = deadline;
    if (deadline === undefined || this.#closed) return;
    this.#timer = this.#clock.setTimeout(
      () => {
        this.#timer = undefined;
        this.#timerAt = undefined;
        if (this.#closed) return;
        this.#background(() => {
          this.#core.step({ type: 'tick', now: this.#clock.now() });
          return this.#execute();
        });
      },
      Math.max(0, deadline - this.#clock.now()),
    );
  }

  // ---- the state machine ----

  #apply(txn: AppliedTransaction): void {
    this.#stateMachine.apply(txn.readFromLsn === undefined ? txn : this.#readTransaction(txn));
    this.#appliedLsn = txn.endLsn;
    this.emit('applied', txn);
    this.#resolveAppliedWaiters();
  }

  /** A transaction too large to hold in memory until its commit: read its data records back. */
  #readTransaction(txn: AppliedTransaction): AppliedTransaction {
    const payloads: Uint8Array[] = [];
    let lsn = txn.readFromLsn!;
    while (lsn < txn.commitLsn) {
      const bytes = this.#log.readEncoded(lsn, txn.commitLsn, 1024 * 1024);
      if (bytes.length === 0) break;
      forEachRecord(bytes, (record) => {
        if (record.type === RecordType.data && record.txnId === txn.txnId) payloads.push(record.payload);
      });
      lsn += bytes.length;
    }
    return { ...txn, payloads, readFromLsn: undefined };
  }

  #appliedOutcome(token: CommitToken): WaitAppliedOutcome | undefined {
    if (this.#appliedLsn <= token.lsn) return undefined;
    return this.#core.history.generationAt(token.lsn) === token.generation ? 'applied' : 'rolledBack';
  }

  #resolveAppliedWaiters(): void {
    if (this.#appliedWaiters.length === 0) return;
    const waiting: AppliedWaiter[] = [];
    for (const waiter of this.#appliedWaiters) {
      const outcome = this.#appliedOutcome(waiter.token);
      if (outcome === undefined) waiting.push(waiter);
      else waiter.resolve(outcome);
    }
    this.#appliedWaiters = waiting;
  }

  /** Rollback: journal what goes, cut the log, and rebuild the state machine up to the cut. */
  async #rollback(toLsn: number): Promise<void> {
    const journal = await this.#journal(toLsn);
    await this.#log.truncate(toLsn);
    this.#rebuildStateMachine();
    this.#reportRolledBack(journal.transactions);
    this.emit('rollback', { toLsn, ...journal });
  }

  /** Waiters for commits a rollback (or an init) removed learn it now, not when the log grows back. */
  #reportRolledBack(transactions: readonly RolledBackTransaction[]): void {
    if (this.#appliedWaiters.length === 0 || transactions.length === 0) return;
    const gone = new Set(transactions.map((txn) => `${txn.generation}:${txn.commitLsn}`));
    this.#appliedWaiters = this.#appliedWaiters.filter((waiter) => {
      if (!gone.has(`${waiter.token.generation}:${waiter.token.lsn}`)) return true;
      waiter.resolve('rolledBack');
      return false;
    });
  }

  /** The rollback journal: every record from `fromLsn` on, with the committed transactions among them. */
  async #journal(fromLsn: number): Promise<Omit<RollbackEvent, 'toLsn'>> {
    const transactions: RolledBackTransaction[] = [];
    const open = new Map<number, Uint8Array[]>();
    let records = 0;
    let firstRemoved: RollbackEvent['firstRemoved'];
    for await (const record of this.#log.read(fromLsn)) {
      records++;
      firstRemoved ??= { lsn: record.lsn, generation: record.generation };
      if (record.type === RecordType.data) {
        const payloads = open.get(record.txnId) ?? [];
        payloads.push(Uint8Array.prototype.slice.call(record.payload));
        open.set(record.txnId, payloads);
      } else if (record.type === RecordType.commit) {
        transactions.push({
          txnId: record.txnId,
          generation: record.generation,
          commitLsn: record.lsn,
          payloads: open.get(record.txnId) ?? [],
        });
        open.delete(record.txnId);
      }
    }
    return { transactions, records, firstRemoved };
  }

  /** Rebuilds the state machine from the stored snapshot (or empty) and the log after it. */
  #rebuildStateMachine(): void {
    this.#appliedLsn = this.#replayLog().appliedLsn;
  }

  /**
   * Restores the state machine from the stored snapshot (or the empty state) and applies every committed
   * transaction of the log after it, in order. Returns what the core needs to know about the log.
   */
  #replayLog(): ReplayResult {
    const stored = this.#log.loadSnapshot();
    this.#stateMachine.restore(stored?.data);
    const replay = this.#replayInto(stored?.lsn ?? this.#log.firstLsn);
    if (stored !== undefined) replay.history = mergeHistories(stored.history, replay.history);
    return replay;
  }

  /**
   * Stores a snapshot of the state machine at the last applied transaction and removes the log segments
   * wholly before it. Clients that need records from before it get an internal init. Returns the log's
   * new first LSN and the segments removed.
   */
  trimLog(): Promise<{
    readonly snapshotLsn: number;
    readonly removed: readonly string[];
    readonly firstLsn: number;
  }> {
    return this.#inTurn(async () => {
      const lsn = this.#appliedLsn;
      const data = this.#stateMachine.snapshot();
      await this.#log.saveSnapshot(
        lsn,
        this.#core.history.generationAt(lsn - 1),
        data,
        this.#core.history.entries.filter((entry) => entry.lsn < lsn),
      );
      const { removed, firstLsn } = this.#log.removeSegmentsBefore(lsn);
      this.#core.noteLogTrimmed(lsn);
      return { snapshotLsn: lsn, removed, firstLsn };
    });
  }

  #replayInto(applyFromLsn: number): ReplayResult {
    const history: HistoryEntry[] = [];
    const open = new Map<number, { lsn: number; payload: Uint8Array }[]>();
    let appliedLsn = applyFromLsn;
    let lastCommit: { lsn: number; endLsn: number } | undefined;
    let lsn = this.#log.firstLsn;
    const end = this.#log.nextLsn;
    while (lsn < end) {
      const bytes = this.#log.readEncoded(lsn, end, 1024 * 1024);
      if (bytes.length === 0) break;
      forEachRecord(bytes, (record) => {
        if (history.length === 0 || history.at(-1)!.generation !== record.generation) {
          history.push({ generation: record.generation, lsn: record.lsn });
        }
        if (record.type === RecordType.data) {
          const payloads = open.get(record.txnId) ?? [];
          payloads.push({ lsn: record.lsn, payload: record.payload });
          open.set(record.txnId, payloads);
        } else if (record.type === RecordType.commit) {
          const endLsn = record.lsn + record.size;
          lastCommit = { lsn: record.lsn, endLsn };
          if (record.lsn < applyFromLsn) {
            open.delete(record.txnId); // already in the snapshot
            return;
          }
          this.#stateMachine.apply({
            txnId: record.txnId,
            generation: record.generation,
            commitLsn: record.lsn,
            endLsn,
            payloads: (open.get(record.txnId) ?? []).map((entry) => entry.payload),
          });
          open.delete(record.txnId);
          appliedLsn = endLsn;
        } else if (record.type === RecordType.abort) {
          open.delete(record.txnId);
        }
      });
      lsn += bytes.length;
    }
    return {
      appliedLsn,
      floorLsn: applyFromLsn,
      history,
      lastCommit,
      openTransactions: [...open].map(([txnId, payloads]) => ({ txnId, payloads })),
    };
  }
}

/**
 * The history stored with a snapshot (exact starts of the generations below it) merged with the one
 * read from the log (whose first entry may be a trimmed segment's start, not a generation's): per
 * generation the earliest start wins.
 */
function mergeHistories(stored: readonly HistoryEntry[], scanned: readonly HistoryEntry[]): HistoryEntry[] {
  const merged: HistoryEntry[] = [];
  for (const entry of [...stored, ...scanned].sort((a, b) => a.lsn - b.lsn)) {
    const last = merged.at(-1);
    if (last !== undefined && last.generation >= entry.generation) continue;
    merged.push(entry);
  }
  return merged;
}

interface ReplayResult {
  appliedLsn: number;
  /** The snapshot's LSN (or the log's first): nothing below it can be served or rolled back. */
  floorLsn: number;
  history: HistoryEntry[];
  lastCommit: { lsn: number; endLsn: number } | undefined;
  openTransactions: { txnId: number; payloads: { lsn: number; payload: Uint8Array }[] }[];
}

/** The frame of `message`, or undefined if it cannot be encoded (a bug upstream: it is not sent). */
function encodeOrUndefined(message: Message): Buffer | undefined {
  try {
    return encodeMessage(message);
  } catch {
    return undefined;
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as PromiseLike<unknown> | null)?.then === 'function';
}

function parseTokenOrThrow(text: string): CommitToken {
  const token = parseToken(text);
  if (token === undefined) throw new InvalidStateError(`not a commit token: ${JSON.stringify(text)}`);
  return token;
}

interface EncodedRecordView {
  readonly lsn: number;
  readonly size: number;
  readonly generation: number;
  readonly type: number;
  readonly txnId: number;
  readonly payload: Uint8Array;
}

/** Walks whole encoded records (already checked by the log or the wire decoder). */
function forEachRecord(bytes: Buffer, visit: (record: EncodedRecordView) => void): void {
  let offset = 0;
  while (offset < bytes.length) {
    const size = bytes.readUInt32LE(offset + 4);
    visit({
      lsn: bytes.readUInt32LE(offset + 8) + bytes.readUInt32LE(offset + 12) * 0x1_0000_0000,
      size,
      generation: bytes.readUInt32LE(offset + 16),
      type: bytes[offset + 20]!,
      txnId: bytes.readUInt32LE(offset + 24) + bytes.readUInt32LE(offset + 28) * 0x1_0000_0000,
      payload: bytes.subarray(offset + 32, offset + size),
    });
    offset += size;
  }
}
