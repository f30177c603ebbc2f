/**
 * The replication manager: what most applications use. Ackord provides `send` itself over a
 * `Transport`, waits for acknowledgements by policy, and tells the caller exactly what became of each
 * commit in a receipt: acknowledged (`perm: true`), not acknowledged in time or not possible now
 * (`perm: false`, the master's log flushed instead, `permFailed` fired), or unknown (mastership was
 * lost while waiting — neither a success nor a failure).
 *
 * It is a shell around `BaseReplica` (which owns the log and the pure core): acks arrive as `acked`
 * events, the policy math is the pure `evaluatePolicy`, and every timer goes through the injected clock.
 */

import type { ElectionExplanation, ElectionStats } from '@ackord/election';
import { EventEmitter } from 'eventemitter3';
import { type BaseCommitResult, BaseReplica, type RollbackEvent } from '../base/base-replica.js';
import { type Clock, systemClock, type TimerHandle } from '../clock.js';
import { AckordError, InvalidStateError, TransferError } from '../errors.js';
import type { StoredElectionState } from '../log/election-state-file.js';
import { type DurabilityLevel, type LogStats, openLog, type WriteAheadLog } from '../log/log.js';
import { type Logger, silentLogger } from '../logger.js';
import { ACK_LEVEL_RANK, type AckLevel, type Role, type SiteId } from '../replica/types.js';
import type { SendOutcome, Transport } from '../transport.js';
import { decodeFrame } from '../wire/decode.js';
import { encodeMessage } from '../wire/encode.js';
import type { ForwardedAck, ForwardMessage, ForwardResultMessage } from '../wire/messages.js';
import { MessageType, NOT_MASTER_RESULT } from '../wire/messages.js';
import { DurabilityDebt } from './debt.js';
import { ElectionDriver } from './election-driver.js';
import {
  MAX_ACK_TIMEOUT_MS,
  MAX_GROUP_SITES,
  type ManagerOptions,
  parseManagerOptions,
  type ResolvedManagerOptions,
} from './options.js';
import { type AckPolicy, evaluatePolicy, type GroupSite, type PolicyVerdict } from './policy.js';
import { AckDeadlines, type Expiring, type WaitingCommit, WaitingCommits } from './waiting-commits.js';

/** Commit receipts: the outcome of every commit, spelled out. */
export interface AckReceived {
  readonly site: SiteId;
  readonly level: AckLevel;
  /** From the commit's start to the ack that covered it. */
  readonly latencyMs: number;
}

export type CommitOutcome =
  /** The policy was met: `perm: true`. */
  | 'acknowledged'
  /** The policy was not met in time, could not be met with the sites reachable now, or (all_available) was met but not by a quorum: `perm: false`. */
  | 'permFailed'
  /** This site stopped being master while the commit waited: it may or may not survive. */
  | 'unknown';

export interface CommitReceipt {
  readonly txnId: number;
  readonly lsn: number;
  readonly generation: number;
  readonly policy: AckPolicy;
  readonly outcome: CommitOutcome;
  /** true: durable by the policy; false: not (the master's log was flushed); undefined: unknown. */
  readonly perm: boolean | undefined;
  /** Why not perm: the ack timeout ran out, the policy was impossible at once, or the quorum rule failed. */
  readonly reason: 'timeout' | 'unreachable' | 'notQuorum' | 'lostMastership' | undefined;
  readonly ackedBy: readonly AckReceived[];
  /** Acks the policy still needed when the commit was reported (0 when met). */
  readonly needed: number;
  /** The sites whose acks counted for the policy and had not arrived (who was needed). */
  readonly missing: readonly SiteId[];
  /** The master flushed its own log because the commit was not perm (or a send failed). */
  readonly localFlushForced: boolean;
  /**
   * How durable the commit was on this master when the receipt was made: `flushed` survives power loss
   * here; `written` a process crash; `buffered` nothing yet. With a weak policy (or none) this is all
   * the durability a commit has until acks arrive.
   */
  readonly localLevel: DurabilityLevel;
  readonly elapsedMs: number;
  /** Read-your-writes: `waitApplied(token)` on any site. */
  readonly token: string;
  /** Set when a client forwarded the write: the master that committed it. */
  readonly forwardedTo?: SiteId;
}

export interface ManagerCommitOptions {
  /**
   * On a client: send the write to the master, which commits it and answers with the outcome
   * (write forwarding). Without it a client's commit throws NotMasterError.
   */
  readonly forward?: boolean;
  /** Travels with a forwarded write. */
  readonly policy?: AckPolicy;
  /**
   * Travels with a forwarded write, in whole milliseconds (a fraction is rounded up); a forwarded one
   * must be 0 to MAX_ACK_TIMEOUT_MS, or the commit throws InvalidStateError.
   */
  readonly ackTimeoutMs?: number;
  /** Only acks at this level or above count. A forwarded write counts the master's own minimum. */
  readonly minAckLevel?: AckLevel;
  /** Stops waiting for acks (the commit itself is not undone: clients may hold it). */
  readonly signal?: AbortSignal;
}

export interface PermFailedEvent {
  readonly lsn: number;
  readonly generation: number;
  readonly policy: AckPolicy;
  readonly reason: 'timeout' | 'unreachable' | 'notQuorum';
  readonly ackedBy: readonly AckReceived[];
  readonly needed: number;
  /** The sites whose acks counted for the policy and had not arrived. */
  readonly missing: readonly SiteId[];
}

export interface ManagerEvents {
  /** This site became master. */
  master: [{ generation: number }];
  /** This site became a client (of `master`, if known). */
  client: [{ generation: number; master: SiteId | undefined }];
  /** A (new) master is known. */
  newMaster: [{ generation: number; master: SiteId }];
  permFailed: [PermFailedEvent];
  /** Commits that had failed their policy are now covered by it. */
  durabilityRestored: [{ lsn: number; generation: number; restored: number }];
  connectEstablished: [{ site: SiteId }];
  connectBroken: [{ site: SiteId }];
  /** Asynchronous replication: a configured replica is not reachable; writes go on without it. */
  replicaUnreachable: [{ site: SiteId }];
  rollback: [RollbackEvent];
  restored: [{ lsn: number }];
  joinFailure: [{ reason: string }];
  holdElection: [{ reason: string }];
  /** This site won an election (elections on): who ran, who voted, who was missing, why it won. */
  elected: [ElectionExplanation];
  /** An election (or, `preVote: true`, a pre-vote) started here. */
  electionStarted: [{ electionGeneration: number; reason: string; preVote: boolean }];
  /** An election ended without a winner here; it will be retried. */
  electionFailed: [{ electionGeneration: number; reason: string }];
  /** This master stepped down on its own (check-quorum, transfer). */
  steppedDown: [{ reason: string }];
  fatal: [Error];
}

export interface ManagerStats {
  readonly siteId: SiteId;
  readonly role: Role;
  readonly generation: number;
  readonly master: SiteId | undefined;
  readonly commits: number;
  readonly permAcknowledged: number;
  readonly permFailures: number;
  readonly permUnknown: number;
  readonly waitingCommits: number;
  /** Under-replicated commits of this term; `abandoned`: those of earlier terms, no longer tracked. */
  readonly durabilityDebt: {
    readonly commits: number;
    readonly oldestLsn: number | undefined;
    readonly abandoned: number;
  };
  readonly acks: readonly {
    readonly site: SiteId;
    readonly lsn: number;
    readonly level: AckLevel;
    readonly ageMs: number;
  }[];
  readonly connected: readonly SiteId[];
  /** Elections on: the election core's state and the last election this site won. */
  readonly election: ElectionStats | undefined;
  readonly framesSent: number;
  readonly framesReceived: number;
  readonly bytesSent: number;
  readonly bytesReceived: number;
  readonly sendsRefused: Readonly<Record<Exclude<SendOutcome, 'queued'>, number>>;
  readonly appliedLsn: number;
  readonly gapBufferedBytes: number;
  readonly log: LogStats;
}

/** The commit was made on a site that is not master. */
export class NotMasterError extends AckordError {
  readonly master: SiteId | undefined;
  constructor(siteId: SiteId, master: SiteId | undefined) {
    super(
      'ERR_ACKORD_NOT_MASTER',
      `site ${siteId} is not master${master === undefined ? '' : ` (the master is ${master})`}`,
    );
    this.master = master;
  }
}

interface PendingCommit extends WaitingCommit, Expiring {
  readonly lsn: number;
  readonly policy: AckPolicy;
  readonly minRank: number;
  readonly startedAt: number;
  /** The queue it waits in (threshold policies); undefined for all_available. */
  queue: WaitingCommits<PendingCommit> | undefined;
  readonly finish: (
    outcome: CommitOutcome,
    reason: CommitReceipt['reason'],
    verdict: ReceiptVerdict | undefined,
  ) => void;
}

/** The waiting commits of one threshold policy and minimum ack level, with the two checks an ack runs on them. */
interface PolicyQueue {
  readonly queue: WaitingCommits<PendingCommit>;
  readonly satisfied: (lsn: number) => boolean;
  readonly settle: (pending: PendingCommit) => void;
}

/** What a receipt reports of the policy's verdict. */
type ReceiptVerdict = Pick<PolicyVerdict, 'needed' | 'missing'>;

/** A commit made locally and not yet reported. */
interface CommitInFlight {
  readonly local: BaseCommitResult;
  readonly policy: AckPolicy;
  readonly minRank: number;
  readonly startedAt: number;
}

/**
 * A threshold policy for this group with this master: met when at least `required` of the `counting`
 * sites acked. Derived once from `evaluatePolicy` (its verdict with no acks), so the policy math stays
 * in one place; every policy but `all_available` has one.
 */
interface ThresholdPlan {
  readonly counting: readonly SiteId[];
  readonly required: number;
  /**
   * Met verdicts by which counting sites are missing (bit i: counting[i]), made once each and shared by
   * every receipt that reports them (receipts only read them). Only for up to 31 counting sites.
   */
  readonly metVerdicts: Map<number, ReceiptVerdict>;
}

/** Past this many counting sites a met verdict is built per receipt instead of looked up. */
const MET_VERDICT_CACHE_MAX_SITES = 31;

/** At most this many forwarded writes wait for their master's answer at once, per client. */
export const MAX_FORWARDS_IN_FLIGHT = 1024;

const U32_MAX = 0xffff_ffff;

interface PendingForward {
  readonly master: SiteId;
  readonly finish: (answer: ForwardResultMessage | undefined) => void;
}

interface SiteAck {
  lsn: number;
  level: AckLevel;
  at: number;
}

function ackLevelOf(durability: ResolvedManagerOptions['durability']): AckLevel {
  if (durability === 'none') return 'received';
  if (durability === 'fsync' || durability === 'dsync') return 'flushed';
  return 'written';
}

export class ReplicationManager extends EventEmitter<ManagerEvents> implements AsyncDisposable {
  readonly siteId: SiteId;
  readonly #options: ResolvedManagerOptions;
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #transport: Transport;
  readonly #base: BaseReplica;
  readonly #group: readonly GroupSite[];
  readonly #async: boolean;
  readonly #acks = new Map<SiteId, SiteAck>();
  /** Every commit waiting for acks. */
  readonly #pending = new Set<PendingCommit>();
  /** The waiting commits of threshold policies, by policy and minimum ack level, in LSN order. */
  /** Keyed by policy and minimum ack rank: `${policy}/${minRank}` (built only when a queue is made). */
  readonly #waiting = new Map<string, PolicyQueue>();
  /** The queue the last threshold commit went to: commits mostly share one policy and level. */
  /** While an ack settles its run of waiting commits: when it arrived (see #onAck). */
  #ackInstant: number | undefined;
  #lastQueue: { policy: AckPolicy; minRank: number; queue: WaitingCommits<PendingCommit> } | undefined;
  /** The waiting commits under `all_available` (judged one by one: its wait depends on who is connected). */
  readonly #pendingAllAvailable = new Set<PendingCommit>();
  readonly #plans = new Map<AckPolicy, ThresholdPlan | undefined>();
  readonly #deadlines: AckDeadlines<PendingCommit>;
  readonly #debt = new DurabilityDebt();
  #debtAbandoned = 0;
  readonly #forwards = new Map<number, PendingForward>();
  #nextForwardId = 1;
  #watchdog: TimerHandle | undefined;
  readonly #election: ElectionDriver | undefined;
  #lastHeardFromMaster = 0;
  #masterSilenceReported = false;
  #closed = false;
  /** A mastership transfer is under way: new commits are refused until it ends. */
  #transferring: SiteId | undefined;
  #commits = 0;
  #permAcknowledged = 0;
  #permFailures = 0;
  #permUnknown = 0;
  #framesSent = 0;
  #framesReceived = 0;
  #bytesSent = 0;
  #bytesReceived = 0;
  readonly #refused = { peerDown: 0, backpressure: 0, tooLarge: 0 };

  /** Validates the options, opens (and recovers) the log, and starts the transport. */
  static async open(options: ManagerOptions): Promise<ReplicationManager> {
    const resolved = parseManagerOptions(options);
    const clock = resolved.clock ?? systemClock;
    const log = await openLog(resolved.storage ?? resolved.dir!, {
      durability: resolved.durability as never,
      clusterId: resolved.clusterId,
      clock,
      groupCommit: resolved.batching,
    });
    let election: StoredElectionState | undefined;
    try {
      // Elections on: read before the replica starts, which starts at the stored generation (see there).
      election = resolved.election === undefined ? undefined : log.loadElectionState();
    } catch (error) {
      await log.close();
      throw error;
    }
    const manager = new ReplicationManager(resolved, log, clock, election);
    try {
      await manager.#start();
    } catch (error) {
      await manager.close();
      throw error;
    }
    return manager;
  }

  private constructor(
    options: ResolvedManagerOptions,
    log: WriteAheadLog,
    clock: Clock,
    storedElection: StoredElectionState | undefined,
  ) {
    super();
    this.#options = options;
    this.siteId = options.siteId;
    this.#clock = clock;
    this.#logger = (options.logger ?? silentLogger).child({ site: options.siteId, component: 'manager' });
    this.#transport = options.transport;
    this.#group = options.sites;
    this.#async = options.replication !== 'sync';
    this.#deadlines = new AckDeadlines(clock, (pending) => this.#expired(pending));
    const self = options.sites.find((site) => site.id === options.siteId)!;
    const replication = options.replication;
    this.#base = BaseReplica.open({
      siteId: options.siteId,
      peers: options.sites.filter((site) => site.id !== options.siteId).map((site) => site.id),
      log,
      stateMachine: options.stateMachine,
      send: (frame, target) => this.#send(frame, target),
      clock,
      ackLevel: ackLevelOf(options.durability),
      view: self.view,
      autoInit: options.autoInit,
      // The highest generation this site learned before it stopped, which the election driver wrote
      // before the site reported it: the replica starts there, so its generation (manager.generation,
      // the status a site reports, the floor below which it ignores masters) never goes back across a
      // restart, even with no record of that generation in the log (a wiped site killed while
      // re-syncing). Fencing the replica at it would not do: a fence refuses older masters but leaves
      // the reported generation at the log's.
      generation: storedElection?.generation,
      heartbeatIntervalMs: options.heartbeatIntervalMs,
      bulk:
        replication === 'sync'
          ? { enabled: true, shipOnCommit: true, shipAt: options.batching }
          : {
              enabled: true,
              shipOnCommit: false,
              maxRecords: replication.maxRecords,
              maxDelayMs: replication.maxDelayMs,
            },
    });
    if (options.election !== undefined) {
      this.#election = new ElectionDriver({
        stored: storedElection ?? log.loadElectionState(),
        siteId: options.siteId,
        sites: options.sites,
        settings: options.election,
        base: this.#base,
        log,
        clock,
        logger: (options.logger ?? silentLogger).child({ site: options.siteId, component: 'election' }),
        send: (frame, target) => this.#send(frame, target),
        connected: () => this.#transport.connectedPeers(),
        events: {
          elected: (explanation) => this.emit('elected', explanation),
          electionStarted: (event) => this.emit('electionStarted', event),
          electionFailed: (event) => this.emit('electionFailed', event),
          steppedDown: (event) => this.emit('steppedDown', event),
        },
      });
      if (options.election.unsafeNvotes) {
        this.#logger.warn(
          { nvotes: options.election.nvotes },
          'election.nvotes is below a majority of the electable sites: acknowledged commits can be lost',
        );
      }
    }
    this.#wireEvents();
  }

  get role(): Role {
    return this.#base.role;
  }
  get generation(): number {
    return this.#base.generation;
  }
  get master(): SiteId | undefined {
    return this.#base.master;
  }
  get log(): WriteAheadLog {
    return this.#base.log;
  }
  /** The base replica under the manager (for observation; do not drive it directly). */
  get replica(): BaseReplica {
    return this.#base;
  }

  async #start(): Promise<void> {
    await this.#transport.start({
      frame: (from, frame) => this.#onFrame(from, frame),
      peerUp: (site) => this.#onPeerUp(site),
      peerDown: (site) => this.#onPeerDown(site),
    });
    await this.#base.becomeClient();
    this.#election?.start();
    this.#armWatchdog();
  }

  /** Makes this site master with a new generation (default: one above any seen). Elections call this. */
  async becomeMaster(generation: number = this.#base.generation + 1): Promise<void> {
    const self = this.#group.find((site) => site.id === this.siteId)!;
    if (self.view || self.priority === 0) {
      throw new InvalidStateError(
        `site ${this.siteId} cannot be master (${self.view ? 'a view' : 'priority 0'})`,
      );
    }
    await this.#base.becomeMaster(generation);
  }

  async becomeClient(): Promise<void> {
    await this.#base.becomeClient();
  }

  /**
   * Commits a transaction (one data record per payload) on the master and waits for acknowledgements by
   * policy. Resolves to a receipt whatever happens to the acks; rejects only when this site is not master
   * (`NotMasterError`), the log failed, or `signal` aborted the wait.
   */
  commit(payloads: readonly Uint8Array[], options: ManagerCommitOptions = {}): Promise<CommitReceipt> {
    try {
      options.signal?.throwIfAborted();
      if (this.#transferring !== undefined) throw new NotMasterError(this.siteId, this.#transferring);
      if (this.#base.role !== 'master') {
        const master = this.#base.master;
        if (options.forward && master !== undefined && master !== this.siteId)
          return this.#forward(master, payloads, options);
        throw new NotMasterError(this.siteId, master);
      }
    } catch (error) {
      return Promise.reject(error);
    }
    const policy: AckPolicy = this.#async ? 'none' : (options.policy ?? this.#options.ackPolicy);
    const timeoutMs = options.ackTimeoutMs ?? this.#options.ackTimeoutMs;
    const minRank = ACK_LEVEL_RANK[options.minAckLevel ?? this.#options.minAckLevel];
    const startedAt = this.#clock.now();
    this.#commits++;
    // One promise for the caller, resolved with the receipt by whichever comes first (at once, the acks,
    // the ack timeout, a peer going down, lost mastership) or rejected (the log failed, the signal
    // aborted): no async function and no second promise for it to adopt, on a path taken per commit.
    return new Promise<CommitReceipt>((resolve, reject) => {
      this.#base.commit(payloads).then((local) => {
        try {
          this.#afterLocalCommit(
            { local, policy, minRank, startedAt },
            timeoutMs,
            options.signal,
            resolve,
            reject,
          );
        } catch (error) {
          reject(error);
        }
      }, reject);
    });
  }

  /** The commit is in the log and on its way to the clients: report it now, or wait for its acks. */
  #afterLocalCommit(
    commit: CommitInFlight,
    timeoutMs: number,
    signal: AbortSignal | undefined,
    resolve: (receipt: CommitReceipt | Promise<CommitReceipt>) => void,
    reject: (error: unknown) => void,
  ): void {
    const { local, policy, minRank, startedAt } = commit;
    if (this.#closed) {
      // Closed while the commit was on its way out: nobody can judge its acks any more.
      this.#permUnknown++;
      resolve({
        txnId: local.txnId,
        lsn: local.lsn,
        generation: local.generation,
        policy,
        token: local.token,
        outcome: 'unknown',
        perm: undefined,
        reason: 'lostMastership',
        ackedBy: [],
        needed: 0,
        missing: [],
        localFlushForced: local.localFlushForced,
        localLevel: 'buffered',
        elapsedMs: this.#clock.now() - startedAt,
      });
      return;
    }
    if (this.#base.role !== 'master' || this.#base.generation !== local.generation) {
      resolve(this.#settle(commit, 'unknown', 'lostMastership', undefined));
      return;
    }
    // `none` waits for nothing; a threshold policy is judged without building a verdict (see #satisfied).
    const plan = this.#planOf(policy);
    if (plan !== undefined && this.#satisfied(plan, local.lsn, minRank)) {
      resolve(this.#settle(commit, 'acknowledged', undefined, this.#metVerdict(plan, local.lsn, minRank)));
      return;
    }
    if (plan === undefined || !this.#possible(plan, local.lsn, minRank)) {
      const first = this.#evaluate(local.lsn, policy, minRank);
      if (first.satisfied) {
        resolve(
          this.#settle(
            commit,
            first.perm ? 'acknowledged' : 'permFailed',
            first.perm ? undefined : 'notQuorum',
            first,
          ),
        );
        return;
      }
      if (!first.possible) {
        resolve(this.#settle(commit, 'permFailed', 'unreachable', first));
        return;
      }
    }

    // Wait: the acks, the ack timeout (AckDeadlines), a peer going down (fail fast), lost mastership, or
    // the abort signal (rejected).
    let onAbort: (() => void) | undefined;
    const pending: PendingCommit = {
      lsn: local.lsn,
      policy,
      minRank,
      startedAt,
      deadline: startedAt + timeoutMs,
      done: false,
      queue: undefined,
      finish: (outcome, reason, verdict) => {
        if (pending.done) return;
        pending.done = true;
        this.#forget(pending);
        if (onAbort !== undefined) signal!.removeEventListener('abort', onAbort);
        // Called from ack, timer and peer handlers: a failure belongs to this commit, not to them.
        try {
          resolve(this.#settle(commit, outcome, reason, verdict));
        } catch (error) {
          reject(error);
        }
      },
    };
    if (signal !== undefined) {
      onAbort = () => {
        if (pending.done) return;
        pending.done = true;
        this.#forget(pending);
        reject(signal.reason);
      };
      signal.addEventListener('abort', onAbort, { once: true });
    }
    this.#pending.add(pending);
    this.#deadlines.add(pending);
    if (plan === undefined) this.#pendingAllAvailable.add(pending);
    else {
      pending.queue = this.#queueOf(policy, minRank);
      pending.queue.add(pending);
    }
  }

  /** The ack timeout of a waiting commit ran out. */
  #expired(pending: PendingCommit): void {
    const verdict = this.#evaluate(pending.lsn, pending.policy, pending.minRank);
    // all_available stops waiting at the timeout and judges durability by the quorum rule.
    if (pending.policy === 'all_available' && verdict.perm)
      pending.finish('acknowledged', undefined, verdict);
    else pending.finish('permFailed', 'timeout', verdict);
  }

  /** Reports a commit: counts it, and for a perm failure flushes the log first and records the debt. */
  #settle(
    commit: CommitInFlight,
    outcome: CommitOutcome,
    reason: CommitReceipt['reason'],
    verdict: ReceiptVerdict | undefined,
  ): CommitReceipt | Promise<CommitReceipt> {
    if (outcome === 'acknowledged') {
      this.#permAcknowledged++;
      return this.#receipt(commit, outcome, reason, verdict, commit.local.localFlushForced);
    }
    if (outcome === 'unknown') {
      this.#permUnknown++;
      return this.#receipt(commit, outcome, reason, verdict, commit.local.localFlushForced);
    }
    return this.#settlePermFailed(commit, reason, verdict);
  }

  async #settlePermFailed(
    commit: CommitInFlight,
    reason: CommitReceipt['reason'],
    verdict: ReceiptVerdict | undefined,
  ): Promise<CommitReceipt> {
    const { local, policy, minRank, startedAt } = commit;
    this.#permFailures++;
    let localFlushForced = local.localFlushForced;
    if (this.log.durableLsn <= local.lsn) {
      localFlushForced = true;
      await this.log.logFlush({ sync: 'on' });
    }
    this.#debt.add(local.lsn, local.generation, policy, minRank);
    const event: PermFailedEvent = {
      lsn: local.lsn,
      generation: local.generation,
      policy,
      reason: reason as PermFailedEvent['reason'],
      ackedBy: this.#ackedBy(local.lsn, minRank, startedAt),
      needed: verdict?.needed ?? 0,
      missing: verdict?.missing ?? [],
    };
    this.#logger.warn(
      { lsn: local.lsn, policy, reason, needed: event.needed },
      'commit not durable by its ack policy',
    );
    this.emit('permFailed', event);
    return this.#receipt(commit, 'permFailed', reason, verdict, localFlushForced);
  }

  /** One literal with every field, always in this order: a receipt per commit stays cheap to make. */
  #receipt(
    commit: CommitInFlight,
    outcome: CommitOutcome,
    reason: CommitReceipt['reason'],
    verdict: ReceiptVerdict | undefined,
    localFlushForced: boolean,
  ): CommitReceipt {
    const { local, minRank, startedAt } = commit;
    return {
      txnId: local.txnId,
      lsn: local.lsn,
      generation: local.generation,
      policy: commit.policy,
      token: local.token,
      outcome,
      perm: outcome === 'unknown' ? undefined : outcome === 'acknowledged',
      reason,
      ackedBy: this.#ackedBy(local.lsn, minRank, startedAt),
      needed: verdict?.needed ?? 0,
      missing: verdict?.missing ?? [],
      localFlushForced,
      localLevel: this.#localLevel(local.lsn),
      elapsedMs: (this.#ackInstant ?? this.#clock.now()) - startedAt,
    };
  }

  /**
   * Write forwarding, client side: the master commits the write under the policy and ack timeout asked
   * for and answers with its receipt. No answer within twice the ack timeout (plus a second) reports the
   * outcome as unknown: the write may or may not have been committed.
   */
  async #forward(
    master: SiteId,
    payloads: readonly Uint8Array[],
    options: ManagerCommitOptions,
  ): Promise<CommitReceipt> {
    if (this.#forwards.size >= MAX_FORWARDS_IN_FLIGHT) {
      throw new InvalidStateError(`${MAX_FORWARDS_IN_FLIGHT} forwarded writes already wait for an answer`);
    }
    let ackTimeoutMs = options.ackTimeoutMs;
    if (ackTimeoutMs !== undefined) {
      // The wire carries whole milliseconds: a fraction waits the rest of that millisecond.
      if (!(ackTimeoutMs >= 0 && ackTimeoutMs <= MAX_ACK_TIMEOUT_MS)) {
        throw new InvalidStateError(
          `ackTimeoutMs ${ackTimeoutMs} cannot be forwarded: 0 to ${MAX_ACK_TIMEOUT_MS} ms`,
        );
      }
      ackTimeoutMs = Math.ceil(ackTimeoutMs);
    }
    const startedAt = this.#clock.now();
    const requestId = this.#nextForwardId++;
    // Encoded first: a value it refuses (a bad policy) rejects before anything waits for an answer.
    const frame = encodeMessage({
      type: 'forward',
      generation: this.#base.generation,
      requestId,
      policy: options.policy,
      ackTimeoutMs,
      payloads,
    });
    const waitMs = 2 * (ackTimeoutMs ?? this.#options.ackTimeoutMs) + 1000;
    const answer = await new Promise<ForwardResultMessage | undefined>((resolve, reject) => {
      const signal = options.signal;
      const timer = this.#clock.setTimeout(() => pending.finish(undefined), waitMs, { keepAlive: true });
      const onAbort = () => {
        this.#forwards.delete(requestId);
        this.#clock.clearTimeout(timer);
        reject(signal!.reason);
      };
      const pending: PendingForward = {
        master,
        finish: (result) => {
          this.#forwards.delete(requestId);
          this.#clock.clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
          resolve(result);
        },
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#forwards.set(requestId, pending);
      if (!this.#send(frame, master)) pending.finish(undefined);
    });
    if (answer?.outcome === 'notMaster') throw new NotMasterError(this.siteId, undefined);
    const elapsedMs = this.#clock.now() - startedAt;
    if (answer === undefined) {
      return {
        txnId: 0,
        lsn: 0,
        generation: 0,
        policy: options.policy ?? this.#options.ackPolicy,
        outcome: 'unknown',
        perm: undefined,
        reason: 'lostMastership',
        ackedBy: [],
        needed: 0,
        missing: [],
        localFlushForced: false,
        localLevel: 'buffered', // unknown here: no answer came
        elapsedMs,
        token: '',
        forwardedTo: master,
      };
    }
    const outcome = answer.outcome;
    return {
      txnId: 0,
      lsn: answer.lsn,
      generation: answer.commitGeneration,
      policy: answer.policy ?? options.policy ?? this.#options.ackPolicy,
      outcome,
      perm: outcome === 'unknown' ? undefined : outcome === 'acknowledged',
      reason: answer.reason,
      ackedBy: answer.ackedBy.map((ack) => ({
        site: ack.site,
        level: ack.level,
        latencyMs: ack.latencyUs / 1000,
      })),
      needed: answer.needed,
      missing: answer.missing,
      localFlushForced: answer.localFlushForced,
      localLevel: answer.localLevel,
      elapsedMs,
      token: `${answer.commitGeneration}:${answer.lsn}`,
      forwardedTo: master,
    };
  }

  /** Write forwarding, master side: commit for the client and answer with the receipt. */
  async #onForwarded(from: SiteId, message: ForwardMessage | ForwardResultMessage): Promise<void> {
    if (message.type === 'forwardResult') {
      const pending = this.#forwards.get(message.requestId);
      if (pending !== undefined && pending.master === from) pending.finish(message);
      return;
    }
    const answer = (receipt: CommitReceipt | undefined) =>
      this.#send(encodeMessage(this.#forwardResult(message.requestId, receipt)), from);
    if (this.#base.role !== 'master') {
      answer(undefined);
      return;
    }
    try {
      const receipt = await this.commit(message.payloads, {
        ...(message.policy === undefined ? {} : { policy: message.policy }),
        ...(message.ackTimeoutMs === undefined ? {} : { ackTimeoutMs: message.ackTimeoutMs }),
      });
      answer(receipt);
    } catch (error) {
      if (error instanceof NotMasterError) answer(undefined);
      // Otherwise (the log failed) no answer: the client reports the outcome as unknown.
    }
  }

  /**
   * The `forwardResult` carrying `receipt` (undefined: `notMaster`). Made to encode whatever the
   * receipt holds: only the group's sites (≤ MAX_GROUP_SITES, ids checked by the options), latencies
   * clamped to u32 microseconds.
   */
  #forwardResult(requestId: number, receipt: CommitReceipt | undefined): ForwardResultMessage {
    if (receipt === undefined) {
      return { type: 'forwardResult', generation: this.#base.generation, requestId, ...NOT_MASTER_RESULT };
    }
    const ackedBy: ForwardedAck[] = [];
    for (const ack of receipt.ackedBy) {
      if (ackedBy.length === MAX_GROUP_SITES) break;
      if (!this.#group.some((site) => site.id === ack.site)) continue;
      ackedBy.push({
        site: ack.site,
        level: ack.level,
        latencyUs: Math.min(U32_MAX, Math.max(0, Math.round(ack.latencyMs * 1000))),
      });
    }
    return {
      type: 'forwardResult',
      generation: this.#base.generation,
      requestId,
      outcome: receipt.outcome,
      lsn: receipt.lsn,
      commitGeneration: receipt.generation,
      policy: receipt.policy,
      reason: receipt.reason,
      needed: Math.min(receipt.needed, MAX_GROUP_SITES),
      localFlushForced: receipt.localFlushForced,
      localLevel: receipt.localLevel,
      ackedBy,
      missing: receipt.missing.slice(0, MAX_GROUP_SITES),
    };
  }

  #localLevel(lsn: number): DurabilityLevel {
    const log = this.log;
    if (log.durableLsn > lsn) return 'flushed';
    return log.writtenLsn > lsn ? 'written' : 'buffered';
  }

  /**
   * Hands mastership to `target` (elections on): new commits are refused, the target is caught up to
   * this master's last commit, then it is elected at once (the group's leases are released). Resolves
   * when this site sees `target` as its master; rejects with `TransferError` when a stage times out
   * (default: one election timeout each) — mastership may then be anywhere, or nowhere until the next
   * election.
   */
  async transferMastership(
    target: SiteId,
    options: { readonly timeoutMs?: number; readonly signal?: AbortSignal } = {},
  ): Promise<void> {
    const election = this.#election;
    if (election === undefined) throw new InvalidStateError('transferMastership needs elections on');
    if (this.#base.role !== 'master') throw new NotMasterError(this.siteId, this.#base.master);
    const site = this.#group.find((entry) => entry.id === target);
    if (site === undefined || target === this.siteId || site.view || site.priority === 0)
      throw new InvalidStateError(`cannot transfer mastership to ${target}: not an electable peer`);
    if (this.#transferring !== undefined) throw new InvalidStateError('a transfer is already under way');
    const timeoutMs = options.timeoutMs ?? this.#options.election!.electionTimeoutMs;
    this.#transferring = target;
    try {
      const caughtUpTo = this.#base.core.lastCommitLsn;
      const caughtUp = await this.#waitFor(
        () => (this.#acks.get(target)?.lsn ?? 0) >= caughtUpTo,
        timeoutMs,
        options.signal,
      );
      if (!caughtUp) {
        throw new TransferError(
          target,
          'catchUp',
          `its ack is at ${this.#acks.get(target)?.lsn ?? 0}, the last commit at ${caughtUpTo}`,
        );
      }
      this.#logger.info({ target, lsn: caughtUpTo }, 'transferring mastership');
      election.transfer(target);
      const elected = await this.#waitFor(() => this.#base.master === target, timeoutMs, options.signal);
      if (!elected) throw new TransferError(target, 'election', `not master after ${timeoutMs} ms`);
    } finally {
      this.#transferring = undefined;
    }
  }

  /** Master only (elections on): whether a linearizable read may be served here now (the read lease). */
  hasReadLease(): boolean {
    return this.#base.role === 'master' && this.#election !== undefined && this.#election.hasReadLease();
  }

  /** Polls `condition` on the injected clock; false when `timeoutMs` passed first. */
  async #waitFor(
    condition: () => boolean,
    timeoutMs: number,
    signal: AbortSignal | undefined,
  ): Promise<boolean> {
    const deadline = this.#clock.now() + timeoutMs;
    while (!condition()) {
      signal?.throwIfAborted();
      if (this.#closed || this.#clock.now() >= deadline) return false;
      // keepAlive: someone awaits this (an idle process must not exit mid-transfer).
      await new Promise<void>((resolve) => this.#clock.setTimeout(resolve, 5, { keepAlive: true }));
    }
    return true;
  }

  /** Asynchronous replication: ships every queued record now. Synchronous: a no-op. */
  async sync(): Promise<void> {
    if (this.#base.role === 'master') await this.#base.ship();
  }

  waitApplied(token: string, options: { signal?: AbortSignal } = {}) {
    return this.#base.waitApplied(token, options);
  }

  stats(): ManagerStats {
    const now = this.#clock.now();
    return {
      siteId: this.siteId,
      role: this.#base.role,
      generation: this.#base.generation,
      master: this.#base.master,
      commits: this.#commits,
      permAcknowledged: this.#permAcknowledged,
      permFailures: this.#permFailures,
      permUnknown: this.#permUnknown,
      waitingCommits: this.#pending.size,
      durabilityDebt: {
        commits: this.#debt.size,
        oldestLsn: this.#debt.oldestLsn,
        abandoned: this.#debtAbandoned,
      },
      acks: [...this.#acks].map(([site, ack]) => ({
        site,
        lsn: ack.lsn,
        level: ack.level,
        ageMs: now - ack.at,
      })),
      connected: [...this.#transport.connectedPeers()],
      election: this.#election?.stats(),
      framesSent: this.#framesSent,
      framesReceived: this.#framesReceived,
      bytesSent: this.#bytesSent,
      bytesReceived: this.#bytesReceived,
      sendsRefused: { ...this.#refused },
      appliedLsn: this.#base.appliedLsn,
      gapBufferedBytes: this.#base.core.gapBufferedBytes,
      log: this.log.stats(),
    };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#watchdog !== undefined) this.#clock.clearTimeout(this.#watchdog);
    this.#election?.close();
    for (const pending of [...this.#pending]) pending.finish('unknown', 'lostMastership', undefined);
    for (const forward of [...this.#forwards.values()]) forward.finish(undefined);
    await this.#transport.close();
    await this.#base.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  // ---- transport ----

  #send(frame: Uint8Array, target: SiteId | 'broadcast'): boolean {
    const targets = target === 'broadcast' ? [...this.#transport.connectedPeers()] : [target];
    let queued = false;
    for (const to of targets) {
      const outcome = this.#transport.send(to, frame);
      if (outcome === 'queued') {
        queued = true;
        this.#framesSent++;
        this.#bytesSent += frame.length;
      } else {
        this.#refused[outcome]++;
      }
    }
    return queued;
  }

  #onFrame(from: SiteId, frame: Uint8Array): void {
    if (this.#closed) return;
    this.#framesReceived++;
    this.#bytesReceived += frame.length;
    if (from === this.#base.master) {
      this.#lastHeardFromMaster = this.#clock.now();
      this.#masterSilenceReported = false;
    }
    const election = this.#election;
    if (election !== undefined) {
      // Election traffic goes to the election core (the type byte is at offset 3 of the header).
      const type = frame.length > 3 ? frame[3] : undefined;
      if (type === MessageType.vote1 || type === MessageType.vote2 || type === MessageType.election) {
        const decoded = decodeFrame(frame);
        if (decoded.ok) {
          const message = decoded.message;
          if (message.type === 'vote1' || message.type === 'vote2' || message.type === 'election')
            election.receive(from, message);
        } else {
          this.#logger.warn({ peer: from, reason: decoded.error.message }, 'bad election frame');
        }
        return;
      }
    }
    // A failure inside is reported once, by the base replica's 'fatal' event.
    this.#base.processMessage(frame, from).catch(() => undefined);
  }

  #onPeerUp(site: SiteId): void {
    if (this.#closed) return;
    this.#logger.info({ peer: site }, 'connection established');
    this.emit('connectEstablished', { site });
    void this.#base.peerUp(site).catch(() => undefined);
  }

  #onPeerDown(site: SiteId): void {
    if (this.#closed) return;
    this.#logger.info({ peer: site }, 'connection broken');
    this.emit('connectBroken', { site });
    if (this.#async) this.emit('replicaUnreachable', { site });
    this.#election?.peerDown(site);
    void this.#base.peerDown(site).catch(() => undefined);
    // Fail fast for commits whose policy the sites still reachable can no longer meet.
    for (const pending of [...this.#pending]) {
      const verdict = this.#evaluate(pending.lsn, pending.policy, pending.minRank);
      if (!verdict.possible) pending.finish('permFailed', 'unreachable', verdict);
      // all_available waits only for connected clients: one leaving may be all it was waiting for.
      else if (verdict.satisfied) {
        pending.finish(
          verdict.perm ? 'acknowledged' : 'permFailed',
          verdict.perm ? undefined : 'notQuorum',
          verdict,
        );
      }
    }
  }

  // ---- acks and policies ----

  #wireEvents(): void {
    const base = this.#base;
    base.on('acked', ({ site, lsn, level }) => this.#onAck(site, lsn, level));
    base.on('roleChanged', ({ role, generation, master }) => {
      // First: a newly learned generation is written to the ELECTION file here (synchronously), before
      // the events below report it and before the replica performs its next effect.
      this.#election?.roleChanged(role, master, generation);
      this.#acks.clear();
      // Debt is paid by acks of the generation that incurred it; a new term can never pay it.
      this.#debtAbandoned += this.#debt.size;
      this.#debt.clear();
      if (role === 'master') {
        this.#logger.info({ generation }, 'became master');
        this.emit('master', { generation });
      } else {
        // Whatever was waiting for acks can no longer be decided here.
        for (const pending of [...this.#pending]) pending.finish('unknown', 'lostMastership', undefined);
        // Forwarded writes to a master we no longer follow: their outcome is unknown.
        for (const forward of [...this.#forwards.values()])
          if (forward.master !== master) forward.finish(undefined);
        this.#logger.info({ generation, master }, 'became client');
        this.emit('client', { generation, master });
        this.#lastHeardFromMaster = this.#clock.now();
        this.#masterSilenceReported = false;
        if (master !== undefined) this.emit('newMaster', { generation, master });
      }
    });
    base.on('rollback', (event) => {
      this.#logger.warn({ toLsn: event.toLsn, transactions: event.transactions.length }, 'rolled back');
      this.emit('rollback', event);
    });
    base.on('restored', (event) => this.emit('restored', event));
    base.on('forwarded', ({ from, message }) => void this.#onForwarded(from, message));
    base.on('joinFailure', (event) => this.emit('joinFailure', event));
    base.on('holdElection', (event) => {
      this.#election?.holdElection(event.reason);
      this.emit('holdElection', event);
    });
    base.on('fatal', (error) => {
      // Fail-stop (DESIGN §2): this site stops acknowledging and claiming durability. Dropping every
      // connection makes its peers see it gone (a master's clients then hold an election); what was
      // waiting for acks here can no longer be decided.
      this.#logger.error({ err: error.message }, 'fatal: the site stops');
      for (const pending of [...this.#pending]) pending.finish('unknown', 'lostMastership', undefined);
      void this.#transport.close().catch(() => undefined);
      this.emit('fatal', error);
    });
  }

  #onAck(site: SiteId, lsn: number, level: AckLevel): void {
    const now = this.#clock.now();
    const previous = this.#acks.get(site);
    if (previous === undefined) this.#acks.set(site, { lsn, level, at: now });
    else if (lsn > previous.lsn || level !== previous.level) {
      // Updated in place: an ack per frame from every client should not allocate.
      previous.lsn = lsn;
      previous.level = level;
      previous.at = now;
    }
    // The commits this ack settles are settled at one instant: their receipts read it, not the clock.
    this.#ackInstant = now;
    try {
      for (const waiting of this.#waiting.values())
        waiting.queue.settleFront(lsn, waiting.satisfied, waiting.settle);
    } finally {
      this.#ackInstant = undefined;
    }
    if (this.#pendingAllAvailable.size === 0 && this.#debt.size === 0) return;
    for (const pending of [...this.#pendingAllAvailable]) {
      if (pending.lsn > lsn) continue;
      const verdict = this.#evaluate(pending.lsn, pending.policy, pending.minRank);
      if (verdict.satisfied)
        pending.finish(
          verdict.perm ? 'acknowledged' : 'permFailed',
          verdict.perm ? undefined : 'notQuorum',
          verdict,
        );
    }
    if (this.#debt.size === 0) return;
    const restored = this.#debt.restore(
      (entry) =>
        entry.generation === this.#base.generation && this.#isPerm(entry.lsn, entry.policy, entry.minRank),
    );
    if (restored !== undefined) {
      this.#logger.info({ lsn: restored.lsn, restored: restored.count }, 'durability restored');
      this.emit('durabilityRestored', {
        lsn: restored.lsn,
        generation: this.#base.generation,
        restored: restored.count,
      });
    }
  }

  /** A waiting commit left by another path than an ack: out of the sets, and out of its queue's front. */
  #forget(pending: PendingCommit): void {
    this.#pending.delete(pending);
    this.#deadlines.settled();
    if (this.#pendingAllAvailable.delete(pending)) return;
    pending.queue?.dropDone();
  }

  #queueOf(policy: AckPolicy, minRank: number): WaitingCommits<PendingCommit> {
    const last = this.#lastQueue;
    if (last !== undefined && last.policy === policy && last.minRank === minRank) return last.queue;
    const queue = this.#queueByKey(policy, minRank);
    this.#lastQueue = { policy, minRank, queue };
    return queue;
  }

  #queueByKey(policy: AckPolicy, minRank: number): WaitingCommits<PendingCommit> {
    const key = `${policy}/${minRank}`;
    let waiting = this.#waiting.get(key);
    if (waiting === undefined) {
      const plan = this.#planOf(policy)!;
      waiting = {
        queue: new WaitingCommits(),
        satisfied: (lsn) => this.#satisfied(plan, lsn, minRank),
        settle: (pending) =>
          pending.finish('acknowledged', undefined, this.#metVerdict(plan, pending.lsn, minRank)),
      };
      this.#waiting.set(key, waiting);
    }
    return waiting.queue;
  }

  /** The policy as a threshold over the configured group with this site as master (undefined: all_available). */
  #planOf(policy: AckPolicy): ThresholdPlan | undefined {
    if (this.#plans.has(policy)) return this.#plans.get(policy);
    let plan: ThresholdPlan | undefined;
    if (policy !== 'all_available') {
      // With nothing acked, a threshold verdict needs exactly its threshold.
      const verdict = evaluatePolicy({
        policy,
        master: this.siteId,
        sites: this.#group,
        connected: new Set(this.#group.map((site) => site.id)),
        acked: new Set(),
        twoSiteStrict: this.#options.twoSiteStrict,
      });
      plan = { counting: verdict.counting, required: verdict.needed, metVerdicts: new Map() };
    }
    this.#plans.set(policy, plan);
    return plan;
  }

  /** How many of the plan's counting sites hold `lsn` at `minRank` or above. No allocation. */
  #ackCount(plan: ThresholdPlan, lsn: number, minRank: number): number {
    let acked = 0;
    for (const site of plan.counting) {
      const ack = this.#acks.get(site);
      if (ack !== undefined && ack.lsn >= lsn && ACK_LEVEL_RANK[ack.level] >= minRank) acked++;
    }
    return acked;
  }

  /** Exactly `evaluatePolicy(...).satisfied` for a threshold policy (and its `perm`). */
  #satisfied(plan: ThresholdPlan, lsn: number, minRank: number): boolean {
    return plan.required === 0 || this.#ackCount(plan, lsn, minRank) >= plan.required;
  }

  /** Exactly `evaluatePolicy(...).possible` for a threshold policy: acked or connected sites suffice. */
  #possible(plan: ThresholdPlan, lsn: number, minRank: number): boolean {
    const connected = this.#transport.connectedPeers();
    let reachable = 0;
    for (const site of plan.counting) {
      const ack = this.#acks.get(site);
      if (
        connected.has(site) ||
        (ack !== undefined && ack.lsn >= lsn && ACK_LEVEL_RANK[ack.level] >= minRank)
      )
        reachable++;
    }
    return reachable >= plan.required;
  }

  /** The receipt's view of a met threshold: nothing needed; who of the counting sites had not acked. */
  #metVerdict(plan: ThresholdPlan, lsn: number, minRank: number): ReceiptVerdict {
    const counting = plan.counting;
    if (counting.length === 0) return MET_BY_NOBODY;
    if (counting.length > MET_VERDICT_CACHE_MAX_SITES) return this.#buildMetVerdict(plan, lsn, minRank);
    let missingBits = 0;
    for (let index = 0; index < counting.length; index++) {
      const ack = this.#acks.get(counting[index]!);
      if (ack === undefined || ack.lsn < lsn || ACK_LEVEL_RANK[ack.level] < minRank)
        missingBits |= 1 << index;
    }
    if (missingBits === 0) return MET_BY_NOBODY;
    let verdict = plan.metVerdicts.get(missingBits);
    if (verdict === undefined) {
      const missing = Object.freeze(counting.filter((_, index) => (missingBits & (1 << index)) !== 0));
      verdict = Object.freeze({ needed: 0, missing });
      plan.metVerdicts.set(missingBits, verdict);
    }
    return verdict;
  }

  #buildMetVerdict(plan: ThresholdPlan, lsn: number, minRank: number): ReceiptVerdict {
    const missing: SiteId[] = [];
    for (const site of plan.counting) {
      const ack = this.#acks.get(site);
      if (ack === undefined || ack.lsn < lsn || ACK_LEVEL_RANK[ack.level] < minRank) missing.push(site);
    }
    return missing.length === 0 ? MET_BY_NOBODY : { needed: 0, missing };
  }

  #isPerm(lsn: number, policy: AckPolicy, minRank: number): boolean {
    const plan = this.#planOf(policy);
    return plan === undefined
      ? this.#evaluate(lsn, policy, minRank).perm
      : this.#satisfied(plan, lsn, minRank);
  }

  #evaluate(lsn: number, policy: AckPolicy, minRank: number): PolicyVerdict {
    const acked = new Set<SiteId>();
    for (const [site, ack] of this.#acks) {
      if (ack.lsn >= lsn && ACK_LEVEL_RANK[ack.level] >= minRank) acked.add(site);
    }
    const connected = new Set(this.#transport.connectedPeers());
    connected.add(this.siteId);
    return evaluatePolicy({
      policy,
      master: this.siteId,
      sites: this.#group,
      connected,
      acked,
      twoSiteStrict: this.#options.twoSiteStrict,
    });
  }

  #ackedBy(lsn: number, minRank: number, startedAt: number): AckReceived[] {
    // Counted first, so the array is made at its size (one per receipt: a grown array's spare room adds up).
    let count = 0;
    for (const ack of this.#acks.values())
      if (ack.lsn >= lsn && ACK_LEVEL_RANK[ack.level] >= minRank) count++;
    const acked = new Array<AckReceived>(count);
    let index = 0;
    for (const [site, ack] of this.#acks) {
      if (ack.lsn >= lsn && ACK_LEVEL_RANK[ack.level] >= minRank) {
        acked[index++] = { site, level: ack.level, latencyMs: Math.max(0, ack.at - startedAt) };
      }
    }
    return acked;
  }

  /** A client that hears nothing from its master for masterTimeoutMs reports HOLDELECTION (once per silence). */
  #armWatchdog(): void {
    this.#watchdog = this.#clock.setTimeout(() => {
      if (this.#closed) return;
      const now = this.#clock.now();
      if (
        this.#base.role === 'client' &&
        !this.#masterSilenceReported &&
        now - this.#lastHeardFromMaster > this.#options.masterTimeoutMs
      ) {
        this.#masterSilenceReported = true;
        const reason =
          this.#base.master === undefined
            ? 'no master known'
            : `master ${this.#base.master} silent for ${Math.round(now - this.#lastHeardFromMaster)} ms`;
        this.#logger.warn({ master: this.#base.master }, reason);
        this.emit('holdElection', { reason });
      }
      this.#armWatchdog();
    }, this.#options.heartbeatIntervalMs);
  }
}

/** A met verdict with nobody missing (shared: receipts only read it). */
const MET_BY_NOBODY: ReceiptVerdict = Object.freeze({
  needed: 0,
  missing: Object.freeze([]) as readonly SiteId[],
});

/** Opens a replication manager: see `ReplicationManager.open`. */
export function createReplicationManager(options: ManagerOptions): Promise<ReplicationManager> {
  return ReplicationManager.open(options);
}
