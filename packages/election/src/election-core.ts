/**
 * The pure election core: Berkeley DB's two-phase election (VOTE1 broadcast, VOTE2 to the best
 * candidate) with Raft's safety rule (vote only for a log at least as up to date as yours), pre-vote,
 * check-quorum, master read leases and leader transfer.
 *
 * No I/O, timers, clock or randomness inside: time comes in with every call, randomness from the injected
 * `random`, the log position from the injected `logInfo`, and everything the site must do comes out as
 * effects (`drainEffects`). The driver (the manager) persists, sends and changes roles; the simulator
 * drives the same core from a seed.
 *
 * Invariants this file keeps (TESTPLAN P4–P6):
 * - a site votes at most once per election generation, and the vote is durable before it is sent;
 * - a winner needs votes from a strict majority of the electable sites, so one generation has at most one
 *   master, and its generation is above every earlier master's (each voter of the earlier one is at an
 *   election generation at least that high and only joins higher ones);
 * - a client that heard from its master within the lease timeout neither votes nor grants a pre-vote, so
 *   a master's read lease, measured from when it sent the ping, is never overlapped by a newer master;
 * - a generation the site learns is persisted (once per new generation) before the call that told the
 *   core about it returns, so the site never goes back to an older one across a restart (P4);
 * - a site that started with no election record and an empty log stays unrecorded across restarts until
 *   it votes, learned generations notwithstanding (the stored state says so).
 */
import { isElectable, isVoter, votesToWin } from './quorum.js';
import { compareCandidates, compareIgnoringLogs, explainWin, isEmptyLog, isUpToDate } from './ranking.js';
import type {
  CandidateInfo,
  ElectionConfig,
  ElectionControlMessage,
  ElectionEffect,
  ElectionExplanation,
  ElectionMessage,
  ElectionSite,
  LogInfo,
  PersistentElectionState,
  Refusal,
  SiteId,
  Vote1Message,
  Vote2Message,
} from './types.js';

const NOBODY: ReadonlySet<SiteId> = new Set();

export type ElectionPhase = 'idle' | 'preVote' | 'vote1' | 'voted';
export type ElectionRole = 'master' | 'client' | 'none';

/** Retries back off up to this many election timeouts (with full jitter). */
export const MAX_BACKOFF_ELECTION_TIMEOUTS = 2;

export interface ElectionCoreOptions {
  readonly config: ElectionConfig;
  /** The local log as elections compare it; read whenever the core needs it. */
  readonly logInfo: () => LogInfo;
  /**
   * The sites this one has a live connection to now. Phase 1 stops waiting once every connected voter's
   * VOTE1 is in (a dead master's VOTE1 never comes; waiting the full `vote1WaitMs` for it is waste).
   * Default: nobody is known to be connected, so phase 1 waits `vote1WaitMs` for absent voters.
   */
  readonly connected?: () => ReadonlySet<SiteId>;
  /** Uniform in [0, 1). The manager passes the platform generator; the simulator a seeded one. */
  readonly random: () => number;
}

export interface ElectionStats {
  readonly electionGeneration: number;
  readonly votedFor: SiteId | undefined;
  readonly phase: ElectionPhase;
  readonly role: ElectionRole;
  readonly master: SiteId | undefined;
  /** On a master: until when (its clock) it may serve linearizable reads; undefined: no lease. */
  readonly leaseValidUntil: number | undefined;
  readonly electionsStarted: number;
  readonly electionsWon: number;
  readonly electionsFailed: number;
  readonly lastElection: ElectionExplanation | undefined;
  readonly lastRefusal: Refusal | undefined;
}

export class ElectionCore {
  readonly siteId: SiteId;
  readonly #config: ElectionConfig;
  readonly #logInfo: () => LogInfo;
  readonly #random: () => number;
  readonly #connected: () => ReadonlySet<SiteId>;
  readonly #self: ElectionSite;
  readonly #sites: ReadonlyMap<SiteId, ElectionSite>;
  readonly #voterCount: number;
  /** Electable votes a winner needs (a strict majority of electable sites unless nvotes says less). */
  readonly #electableNeeded: number;
  /**
   * Whether the other sites could elect a master without this one. If not (a strict two-site group, a
   * lone electable site), this site as master never needs to step down or to hold a lease: nobody
   * else can become master while it is one, since it never votes while master.
   */
  readonly #othersCanElect: boolean;
  #effects: ElectionEffect[] = [];

  #now = 0;
  #started = false;
  #egen = 0;
  #votedFor: SiteId | undefined;
  #role: ElectionRole = 'none';
  #master: SiteId | undefined;
  #generation = 0;
  /** The highest generation in a `persist` effect emitted (or in the stored state at start). */
  #recordedGeneration = 0;
  #hadMaster = false;
  /**
   * Started with no election record: a new site, or one whose data directory was wiped. While its log
   * is also empty it votes only in a brand-new group (everyone present and empty). Its first vote (or
   * win) ends it. Learned generations are persisted with `unrecorded: true` while it lasts, so a wiped
   * site that learned a generation and crashed before re-syncing is still unrecorded after the restart
   * (a stored generation alone would make it look recorded and let it vote with an empty log). With
   * records in its log it still does not vote until it has caught up (`#catchUpLsn`): a log re-synced
   * only in part may lack commits it acknowledged before it was wiped.
   */
  #unrecorded = false;
  /**
   * An unrecorded site's catch-up target: the end of its master's log in the first ping it heard from
   * that master. Every commit this site acknowledged before it was wiped, if the group acknowledged it,
   * is in the log of every master elected since, so below that end. Once this site's log reaches it,
   * the site is recorded (stored at once) and votes again. Reset when the master changes: a new master
   * may have rolled back records past which the old end lay.
   */
  #catchUpLsn: number | undefined;

  // Client side: when the master was last heard, and when this site suspects it (randomised).
  #lastHeardFromMaster = 0;
  #leaseBlockUntil = 0;
  #masterTimeoutMs = 0;
  #nextAttemptAt = 0;
  #attempts = 0;
  /** The master released its lease for a transfer: a vote no longer breaks a promise. */
  #released = false;
  #transferTarget: SiteId | undefined;
  /** A transfer's preference lasts one election timeout: a stale one must not split later votes. */
  #transferUntil = 0;

  // An election in progress.
  #phase: ElectionPhase = 'idle';
  #phaseDeadline = 0;
  #startedAt = 0;
  #full = false;
  #transfer = false;
  #tiebreaker = 0;
  #majorityAt: number | undefined;
  readonly #preVoteGrants = new Set<SiteId>();
  readonly #preVoteDenials = new Set<SiteId>();
  #preVoteEgen = 0;
  readonly #vote1s = new Map<SiteId, CandidateInfo>();
  readonly #votes = new Map<SiteId, SiteId>();
  #pendingVote: { readonly egen: number; readonly candidate: SiteId } | undefined;
  #pendingWin: { readonly egen: number } | undefined;

  // Master side.
  #masterSince = 0;
  #nextPingAt = 0;
  readonly #pongs = new Map<SiteId, number>();

  #electionsStarted = 0;
  #electionsWon = 0;
  #electionsFailed = 0;
  #lastElection: ElectionExplanation | undefined;
  #lastRefusal: Refusal | undefined;

  constructor(options: ElectionCoreOptions) {
    const { config } = options;
    this.#config = config;
    this.siteId = config.siteId;
    this.#logInfo = options.logInfo;
    this.#random = options.random;
    this.#connected = options.connected ?? (() => NOBODY);
    this.#sites = new Map(config.sites.map((site) => [site.id, site]));
    const self = this.#sites.get(config.siteId);
    if (self === undefined) throw new RangeError(`site ${config.siteId} is not in the configured group`);
    this.#self = self;
    this.#voterCount = config.sites.filter(isVoter).length;
    const electable = config.sites.filter(isElectable).length;
    this.#electableNeeded = Math.min(votesToWin(electable, config.twoSiteStrict), config.nvotes);
    this.#othersCanElect = electable - (isElectable(self) ? 1 : 0) >= this.#electableNeeded;
    if (config.leaseTimeoutMs >= config.electionTimeoutMs)
      throw new RangeError('leaseTimeoutMs must be below electionTimeoutMs');
  }

  /** Returns and clears the effects produced since the last call. */
  drainEffects(): ElectionEffect[] {
    const effects = this.#effects;
    this.#effects = [];
    return effects;
  }

  get phase(): ElectionPhase {
    return this.#phase;
  }
  get electionGeneration(): number {
    return this.#egen;
  }

  /**
   * Starts the core from what was persisted. `generation` is the replica's now: at least the stored
   * `persisted.generation` (the driver starts the replica there). A restarted site holds off voting for
   * one lease timeout.
   */
  start(now: number, persisted: PersistentElectionState, generation: number): void {
    this.#now = now;
    this.#started = true;
    this.#generation = Math.max(this.#generation, generation, persisted.generation ?? 0);
    this.#egen = Math.max(persisted.electionGeneration, this.#generation);
    this.#votedFor = persisted.electionGeneration === this.#egen ? persisted.votedFor : undefined;
    // No record at all (a new or wiped site), or a record of learned generations only, kept since it was.
    this.#unrecorded = persisted.electionGeneration === 0 || persisted.unrecorded === true;
    this.#recordedGeneration = persisted.generation ?? 0;
    // A generation above the stored one (learned before this start, or only in the log: an older stored
    // state has none) is recorded now, so whatever the site reports from here on is on disk.
    this.#recordGeneration();
    // It may have granted a lease just before it stopped: keep that promise.
    this.#leaseBlockUntil = now + this.#config.leaseTimeoutMs;
    this.#lastHeardFromMaster = now;
    this.#masterTimeoutMs = this.#randomTimeout();
    // A lone voter has nobody to wait for. Others first listen for a master about a lease long (the
    // replica asks for one at start, and a live one answers within a round trip; this site may not vote
    // before its own lease promise ends anyway).
    this.#nextAttemptAt =
      this.#voterCount === 1 ? now : now + this.#config.leaseTimeoutMs * (1 + this.#random());
  }

  // ---- inputs ----

  tick(now: number): void {
    this.#now = Math.max(this.#now, now);
    if (!this.#started) return;
    if (this.#role === 'master') {
      this.#masterTick();
      return;
    }
    switch (this.#phase) {
      case 'idle':
        if (this.#now >= this.#suspectAt()) this.#callElection(this.#suspicionReason());
        return;
      case 'vote1':
        this.#maybeDecide();
        if (this.#phase === 'vote1' && this.#now >= this.#phaseDeadline) this.#fail('phase 1 timed out');
        return;
      case 'preVote':
      case 'voted':
        if (this.#now >= this.#phaseDeadline)
          this.#fail(this.#phase === 'preVote' ? 'pre-vote did not reach a majority' : 'no winner in time');
        return;
    }
  }

  /** The replica's role changed (elections, announcements, DUPMASTER). */
  roleChanged(role: ElectionRole, master: SiteId | undefined, generation: number, now: number): void {
    this.#now = Math.max(this.#now, now);
    this.#generation = Math.max(this.#generation, generation);
    if (this.#generation > this.#egen) {
      this.#egen = this.#generation;
      this.#votedFor = undefined;
    }
    // Before start() the stored state is not known yet: start() records what was learned meanwhile.
    if (this.#started) this.#recordGeneration();
    const previousMaster = this.#master;
    this.#role = role;
    this.#master = master;
    if (master !== previousMaster) this.#catchUpLsn = undefined;
    if (master !== undefined) {
      this.#hadMaster = true;
      this.#released = false;
      this.#transferTarget = undefined;
      this.#attempts = 0;
      this.#endElection();
    }
    if (role === 'master') {
      this.#masterSince = this.#now;
      this.#nextPingAt = this.#now;
      this.#pongs.clear();
      return;
    }
    if (master !== undefined) {
      this.#heardFromMaster();
      return;
    }
    if (previousMaster !== undefined && this.#phase === 'idle') {
      // The master is gone (stepped down, or we did): look for one soon, not a whole timeout later.
      this.#nextAttemptAt = this.#now + this.#random() * this.#config.electionTimeoutMs;
    }
  }

  /** The connection to `site` broke. Losing the master's connection shortens the wait to its lease. */
  peerDown(site: SiteId, now: number): void {
    this.#now = Math.max(this.#now, now);
    if (site === this.#master && this.#role === 'client') {
      this.#nextAttemptAt = Math.min(
        this.#nextAttemptAt,
        this.#lastHeardFromMaster +
          this.#config.leaseTimeoutMs +
          this.#random() * this.#config.pingIntervalMs,
      );
    }
  }

  /** The replica asked for an election (HOLDELECTION: a duplicate master, a vote it saw). */
  holdElection(reason: string, now: number): void {
    this.#now = Math.max(this.#now, now);
    if (this.#role === 'master' || this.#phase !== 'idle') return;
    this.#nextAttemptAt = Math.min(this.#nextAttemptAt, this.#now);
    this.#pendingReason = reason;
  }
  #pendingReason: string | undefined;

  /** The state from a `persist` effect is durable. */
  persisted(state: PersistentElectionState, now: number): void {
    this.#now = Math.max(this.#now, now);
    // A vote or a win ends the unrecorded state; a learned generation stored as unrecorded does not.
    if (state.electionGeneration > 0 && state.unrecorded !== true) this.#unrecorded = false;
    const vote = this.#pendingVote;
    if (
      vote !== undefined &&
      state.electionGeneration === vote.egen &&
      state.votedFor === vote.candidate &&
      this.#egen === vote.egen
    ) {
      this.#pendingVote = undefined;
      if (vote.candidate === this.siteId) this.#recordVote(this.siteId);
      else this.#send(vote.candidate, this.#vote2(vote.candidate));
    }
    const win = this.#pendingWin;
    if (win !== undefined && state.electionGeneration >= win.egen && this.#egen === win.egen) {
      this.#pendingWin = undefined;
      this.#win();
    }
  }

  /**
   * Hands mastership to `target` (which the driver has already caught up): every site learns the lease
   * is released and that `target` is preferred among equally up-to-date logs; this master steps down.
   */
  transfer(target: SiteId, now: number): void {
    this.#now = Math.max(this.#now, now);
    if (this.#role !== 'master') throw new RangeError(`site ${this.siteId} is not master`);
    const site = this.#sites.get(target);
    if (site === undefined || target === this.siteId || !isElectable(site))
      throw new RangeError(`cannot transfer mastership to ${target}: not an electable peer`);
    this.#effects.push({
      type: 'send',
      to: 'broadcast',
      message: this.#control('transfer', { site: target }),
    });
    this.#transferTarget = target;
    this.#transferUntil = this.#now + this.#config.electionTimeoutMs;
    this.#effects.push({ type: 'stepDown', reason: `transferring mastership to ${target}` });
  }

  receive(from: SiteId, message: ElectionMessage, now: number): void {
    this.#now = Math.max(this.#now, now);
    if (!this.#started || from === this.siteId) return;
    const sender = this.#sites.get(from);
    if (sender === undefined || sender.view) return;
    switch (message.type) {
      case 'vote1': {
        this.#onVote1(from, sender, message);
        return;
      }
      case 'vote2': {
        this.#onVote2(from, message);
        return;
      }
      case 'election': {
        this.#onControl(from, sender, message);
        return;
      }
    }
  }

  /** On a master: whether it may serve a linearizable read now (its read lease is live). */
  hasReadLease(now: number): boolean {
    const until = this.#leaseValidUntil();
    return until !== undefined && now < until;
  }

  stats(): ElectionStats {
    return {
      electionGeneration: this.#egen,
      votedFor: this.#votedFor,
      phase: this.#phase,
      role: this.#role,
      master: this.#master,
      leaseValidUntil: this.#leaseValidUntil(),
      electionsStarted: this.#electionsStarted,
      electionsWon: this.#electionsWon,
      electionsFailed: this.#electionsFailed,
      lastElection: this.#lastElection,
      lastRefusal: this.#lastRefusal,
    };
  }

  // ---- master ----

  #masterTick(): void {
    const config = this.#config;
    if (this.#now >= this.#nextPingAt) {
      this.#nextPingAt = this.#now + config.pingIntervalMs;
      // With the end of this master's log: an unrecorded (wiped) client catches up to it before it votes.
      const log = this.#logInfo();
      this.#send(
        'broadcast',
        this.#control('ping', {
          time: Math.floor(this.#now),
          dataGeneration: log.dataGeneration,
          lastLsn: log.lastLsn,
        }),
      );
    }
    if (!config.checkQuorum || !this.#othersCanElect) return;
    if (this.#now - this.#masterSince < config.electionTimeoutMs) return;
    const since = this.#now - config.electionTimeoutMs;
    let live = isElectable(this.#self) ? 1 : 0;
    for (const [site, time] of this.#pongs) if (time >= since && isElectable(this.#sites.get(site)!)) live++;
    if (live < this.#electableNeeded) {
      this.#masterSince = this.#now; // one step-down per loss
      this.#effects.push({
        type: 'stepDown',
        reason: `check-quorum: heard from ${live} of the ${this.#electableNeeded} electable sites needed within ${config.electionTimeoutMs} ms`,
      });
    }
  }

  #leaseValidUntil(): number | undefined {
    if (this.#role !== 'master') return undefined;
    if (!this.#othersCanElect) return this.#now + this.#config.leaseTimeoutMs;
    const peersNeeded = this.#electableNeeded - (isElectable(this.#self) ? 1 : 0);
    const times: number[] = [];
    for (const [site, time] of this.#pongs) if (isElectable(this.#sites.get(site)!)) times.push(time);
    if (peersNeeded > 0 && times.length < peersNeeded) return undefined;
    times.sort((a, b) => b - a);
    // A lone site in a one-site group needs nobody: its lease is its mastership.
    const start = peersNeeded === 0 ? this.#now : times[peersNeeded - 1]!;
    return start + this.#config.leaseTimeoutMs * (1 - this.#config.clockSkewFactor);
  }

  // ---- client: when to call an election ----

  #heardFromMaster(): void {
    this.#lastHeardFromMaster = this.#now;
    this.#nextAttemptAt = this.#now + this.#masterTimeoutMs;
  }

  #suspectAt(): number {
    return this.#nextAttemptAt;
  }

  #suspicionReason(): string {
    const pending = this.#pendingReason;
    this.#pendingReason = undefined;
    if (pending !== undefined) return pending;
    if (this.#master === undefined) return this.#hadMaster ? 'no master' : 'no master since start';
    return `master ${this.#master} silent for ${Math.round(this.#now - this.#lastHeardFromMaster)} ms`;
  }

  #leaseLive(): boolean {
    if (this.#released) return this.#now < this.#leaseBlockUntil;
    const fromMaster =
      this.#master !== undefined ? this.#lastHeardFromMaster + this.#config.leaseTimeoutMs : 0;
    return this.#now < Math.max(fromMaster, this.#leaseBlockUntil);
  }

  #callElection(reason: string): void {
    this.#masterTimeoutMs = this.#randomTimeout();
    if (!isElectable(this.#self)) {
      // Priority-0 sites and views never call elections; they join those others call.
      this.#nextAttemptAt = this.#now + this.#masterTimeoutMs;
      return;
    }
    if (this.#config.preVote) this.#startPreVote(reason);
    else this.#startElection(reason, false);
  }

  #startPreVote(reason: string): void {
    this.#phase = 'preVote';
    this.#phaseDeadline = this.#now + this.#config.electionTimeoutMs;
    this.#preVoteGrants.clear();
    this.#preVoteDenials.clear();
    this.#preVoteGrants.add(this.siteId);
    this.#preVoteEgen = this.#egen;
    this.#pendingReason = reason;
    this.#effects.push({
      type: 'electionStarted',
      electionGeneration: this.#egen + 1,
      reason,
      preVote: true,
    });
    const log = this.#logInfo();
    this.#send(
      'broadcast',
      this.#control('preVote', {
        electionGeneration: this.#egen + 1,
        dataGeneration: log.dataGeneration,
        lastLsn: log.lastLsn,
      }),
    );
    this.#maybeEndPreVote();
  }

  #maybeEndPreVote(): void {
    let electable = 0;
    for (const site of this.#preVoteGrants) if (isElectable(this.#sites.get(site)!)) electable++;
    if (electable >= this.#electableNeeded && this.#preVoteGrants.size >= this.#config.nvotes) {
      const reason = this.#pendingReason ?? 'pre-vote passed';
      this.#pendingReason = undefined;
      this.#startElection(reason, false);
    }
  }

  // ---- phase 1 ----

  #startElection(reason: string, transfer: boolean): void {
    const egen = Math.max(this.#egen, this.#preVoteEgen, this.#generation) + 1;
    this.#enterElection(egen, transfer);
    this.#electionsStarted++;
    this.#effects.push({ type: 'electionStarted', electionGeneration: egen, reason, preVote: false });
    this.#broadcastVote1();
    this.#maybeDecide();
  }

  #enterElection(egen: number, transfer: boolean): void {
    this.#egen = egen;
    this.#votedFor = undefined;
    this.#pendingVote = undefined;
    this.#pendingWin = undefined;
    this.#phase = 'vote1';
    this.#startedAt = this.#now;
    this.#full = !this.#hadMaster;
    this.#transfer = transfer;
    this.#majorityAt = undefined;
    this.#vote1s.clear();
    this.#votes.clear();
    this.#tiebreaker = Math.floor(this.#random() * 0x1_0000_0000);
    this.#effects.push({ type: 'fence', generation: egen });
    const wait = this.#full ? this.#config.fullElectionTimeoutMs : 0;
    this.#phaseDeadline = this.#now + wait + this.#config.electionTimeoutMs;
    const log = this.#logInfo();
    this.#vote1s.set(this.siteId, {
      site: this.siteId,
      dataGeneration: log.dataGeneration,
      lastLsn: log.lastLsn,
      priority: this.#self.priority,
      tiebreaker: this.#tiebreaker,
      electable: isElectable(this.#self),
    });
  }

  #broadcastVote1(): void {
    const own = this.#vote1s.get(this.siteId)!;
    const message: Vote1Message = {
      type: 'vote1',
      generation: this.#generation,
      electionGeneration: this.#egen,
      dataGeneration: own.dataGeneration,
      lastLsn: own.lastLsn,
      priority: own.priority,
      tiebreaker: own.tiebreaker,
      nsites: this.#config.sites.length,
      nvotes: this.#config.nvotes,
    };
    this.#send('broadcast', message);
  }

  #onVote1(from: SiteId, sender: ElectionSite, message: Vote1Message): void {
    const egen = message.electionGeneration;
    if (egen <= this.#generation || egen < this.#egen) {
      this.#refuse('staleGeneration');
      return;
    }
    const info: CandidateInfo = {
      site: from,
      dataGeneration: message.dataGeneration,
      lastLsn: message.lastLsn,
      priority: sender.priority,
      tiebreaker: message.tiebreaker,
      electable: isElectable(sender),
    };
    const inElection = this.#phase === 'vote1' || this.#phase === 'voted';
    if (egen === this.#egen && inElection) {
      this.#vote1s.set(from, info);
      if (this.#phase === 'vote1') this.#maybeDecide();
      return;
    }
    if (egen === this.#egen && this.#votedFor !== undefined) {
      this.#refuse('alreadyVoted');
      return;
    }
    const refusal = this.#joinRefusal();
    if (refusal !== undefined) {
      this.#refuse(refusal);
      return;
    }
    this.#enterElection(egen, this.#transferTarget === from && this.#now < this.#transferUntil);
    this.#effects.push({
      type: 'electionStarted',
      electionGeneration: egen,
      reason: `vote1 from ${from}`,
      preVote: false,
    });
    this.#vote1s.set(from, info);
    this.#broadcastVote1();
    this.#maybeDecide();
  }

  /** Why this site would not take part in an election now (undefined: it would). */
  #joinRefusal(): Refusal | undefined {
    if (this.#self.view) return 'view';
    if (this.#role === 'master') return 'isMaster';
    if (this.#leaseLive()) return 'leaseLive';
    return undefined;
  }

  // ---- phase 2 ----

  #maybeDecide(): void {
    if (this.#phase !== 'vote1') return;
    let seen = 0;
    let electableSeen = 0;
    for (const info of this.#vote1s.values()) {
      seen++;
      if (info.electable) electableSeen++;
    }
    const everyone = seen >= this.#voterCount;
    if (!everyone) {
      if (electableSeen < this.#electableNeeded || seen < this.#config.nvotes) return;
      this.#majorityAt ??= this.#now;
      const waitUntil = this.#full
        ? this.#startedAt + this.#config.fullElectionTimeoutMs
        : this.#majorityAt + this.#config.vote1WaitMs;
      if (this.#now < waitUntil && (this.#full || !this.#allConnectedVoted())) return;
    }
    this.#decide(everyone);
  }

  /** Whether every voter this site is connected to has sent its VOTE1 (so waiting longer is pointless). */
  #allConnectedVoted(): boolean {
    const connected = this.#connected();
    if (connected.size === 0) return false;
    for (const site of connected) {
      const known = this.#sites.get(site);
      if (known !== undefined && isVoter(known) && !this.#vote1s.has(site)) return false;
    }
    return true;
  }

  #decide(everyone: boolean): void {
    this.#phase = 'voted';
    const mine = this.#logInfo();
    this.#recordIfCaughtUp();
    if (this.#unrecorded && isEmptyLog(mine)) {
      // No election record and an empty log: maybe wiped (see #unrecorded). It votes only when the
      // whole group is present and every log is empty (a new group).
      const allEmpty = isEmptyLog(mine) && [...this.#vote1s.values()].every((info) => isEmptyLog(info));
      if (!everyone || !allEmpty) {
        this.#refuse('emptyLog');
        return;
      }
    } else if (this.#unrecorded && !everyone) {
      // Records in its log, but maybe re-synced only in part (or no master heard since it started: no
      // target known). With every voter present the best log of all wins whatever this site holds, so
      // it may vote then (a group that ran without elections and turns them on starts this way);
      // otherwise a missing site may be the one that held what this log lacks.
      this.#refuse('notCaughtUp');
      return;
    }
    const check = !this.#config.mutations?.electWithoutUpToDateCheck;
    const candidates = [...this.#vote1s.values()]
      .filter((info) => info.electable && (!check || isUpToDate(info, mine)))
      .sort(check ? compareCandidates : compareIgnoringLogs);
    let choice = candidates[0];
    if (choice === undefined) {
      this.#refuse('notUpToDate');
      return;
    }
    const blessed =
      this.#now < this.#transferUntil
        ? candidates.find((info) => info.site === this.#transferTarget)
        : undefined;
    if (blessed !== undefined && isUpToDate(blessed, choice)) choice = blessed;
    this.#votedFor = choice.site;
    this.#pendingVote = { egen: this.#egen, candidate: choice.site };
    this.#persist({
      electionGeneration: this.#egen,
      votedFor: choice.site,
      generation: this.#generation,
      unrecorded: false,
    });
  }

  #vote2(candidate: SiteId): Vote2Message {
    return { type: 'vote2', generation: this.#generation, electionGeneration: this.#egen, candidate };
  }

  #onVote2(from: SiteId, message: Vote2Message): void {
    if (message.candidate !== this.siteId || message.electionGeneration !== this.#egen) return;
    if (this.#phase !== 'vote1' && this.#phase !== 'voted') return;
    this.#votes.set(from, this.siteId);
    this.#maybeWin();
  }

  #recordVote(voter: SiteId): void {
    this.#votes.set(voter, this.siteId);
    this.#maybeWin();
  }

  #maybeWin(): void {
    if (this.#pendingWin !== undefined || this.#role === 'master' || !isElectable(this.#self)) return;
    let electable = 0;
    for (const voter of this.#votes.keys()) if (isElectable(this.#sites.get(voter)!)) electable++;
    if (electable < this.#electableNeeded || this.#votes.size < this.#config.nvotes) return;
    // Persist the election generation before taking it as the data generation: a restart must never
    // start an election at or below a generation this site was master of. It is stored as the learned
    // generation too (nobody else can be master of it: this site holds a majority of its votes), so
    // becoming master costs no second write.
    this.#pendingWin = { egen: this.#egen };
    this.#persist({
      electionGeneration: this.#egen,
      votedFor: this.#votedFor,
      generation: Math.max(this.#generation, this.#egen),
      unrecorded: false,
    });
  }

  #win(): void {
    this.#electionsWon++;
    const candidates = [...this.#vote1s.values()].sort(compareCandidates);
    const self = this.#vote1s.get(this.siteId)!;
    const missing = this.#config.sites
      .filter((site) => isVoter(site) && !this.#vote1s.has(site.id))
      .map((site) => site.id);
    const explanation: ElectionExplanation = {
      electionGeneration: this.#egen,
      winner: this.siteId,
      candidates,
      votes: [...this.#votes].map(([voter, candidate]) => ({ voter, candidate })),
      votesNeeded: this.#electableNeeded,
      missing,
      reason: this.#transfer
        ? `mastership transferred here; its log is as up to date as any candidate's (generation ${self.dataGeneration}, LSN ${self.lastLsn})`
        : explainWin(self, candidates),
      full: this.#full,
      transfer: this.#transfer,
      startedAt: this.#startedAt,
      endedAt: this.#now,
    };
    this.#lastElection = explanation;
    this.#phase = 'idle';
    this.#effects.push({ type: 'becomeMaster', generation: this.#egen, explanation });
  }

  // ---- control messages ----

  #onControl(from: SiteId, sender: ElectionSite, message: ElectionControlMessage): void {
    switch (message.kind) {
      case 'preVote': {
        if (this.#role === 'master' && message.electionGeneration - 1 > this.#generation) {
          // The asker joined an election above our generation (one that failed): it is fenced off us
          // and can never follow us again. Step down so the group elects above its generation.
          this.#effects.push({
            type: 'stepDown',
            reason: `${from} is at election generation ${message.electionGeneration - 1}, above ours (${this.#generation}): it cannot follow us`,
          });
        }
        const refusal = this.#preVoteRefusal(sender, message);
        if (refusal !== undefined) this.#lastRefusal = refusal;
        this.#send(
          from,
          this.#control('preVoteReply', { granted: refusal === undefined, electionGeneration: this.#egen }),
        );
        return;
      }
      case 'preVoteReply':
        if (this.#phase !== 'preVote') return;
        this.#preVoteEgen = Math.max(this.#preVoteEgen, message.electionGeneration);
        if (message.granted) {
          this.#preVoteGrants.add(from);
          this.#maybeEndPreVote();
        } else {
          this.#preVoteDenials.add(from);
          if (!this.#preVoteCanPass()) this.#fail('pre-vote refused by too many sites');
        }
        return;
      case 'ping':
        // Only a ping proves the master is still master (a site that stepped down still sends other
        // traffic). Answer only our own master of our own generation: a pong to a stale master would
        // help it keep a lease (or a quorum) it no longer has.
        if (this.#role === 'client' && from === this.#master && message.generation === this.#generation) {
          this.#heardFromMaster();
          this.#send(from, this.#control('pong', { time: message.time }));
          if (this.#unrecorded) {
            this.#catchUpLsn ??= message.lastLsn;
            this.#recordIfCaughtUp();
          }
        }
        return;
      case 'pong':
        if (this.#role === 'master' && message.generation === this.#generation)
          this.#pongs.set(from, Math.max(this.#pongs.get(from) ?? 0, message.time));
        return;
      case 'transfer':
        if (from !== this.#master || message.generation < this.#generation) return;
        this.#released = true;
        this.#leaseBlockUntil = 0;
        this.#transferTarget = message.site;
        this.#transferUntil = this.#now + this.#config.electionTimeoutMs;
        if (message.site === this.siteId && isElectable(this.#self)) {
          this.#endElection();
          this.#startElection(`mastership transferred from ${from}`, true);
        }
        return;
    }
  }

  /** Whether the grants in plus the electable sites yet to answer can still reach a majority. */
  #preVoteCanPass(): boolean {
    let possible = 0;
    for (const site of this.#config.sites)
      if (isElectable(site) && !this.#preVoteDenials.has(site.id)) possible++;
    return possible >= this.#electableNeeded;
  }

  #preVoteRefusal(sender: ElectionSite, message: ElectionControlMessage): Refusal | undefined {
    if (this.#self.view) return 'view';
    if (!isElectable(sender)) return 'notElectable';
    if (message.electionGeneration <= this.#generation) return 'staleGeneration';
    if (this.#role === 'master') return 'isMaster';
    if (this.#leaseLive()) return 'leaseLive';
    const check = !this.#config.mutations?.electWithoutUpToDateCheck;
    if (check && !isUpToDate(message, this.#logInfo())) return 'notUpToDate';
    return undefined;
  }

  // ---- helpers ----

  /**
   * An attempt ended without a master. A refused pre-vote costs nothing (no generation was bumped): try
   * again after about half a lease, when the refusers' promises may have run out. A failed election
   * (split vote, a majority unreachable) backs off with full jitter, up to
   * MAX_BACKOFF_ELECTION_TIMEOUTS election timeouts, so simultaneous candidates drift apart.
   */
  #fail(reason: string): void {
    const preVote = this.#phase === 'preVote';
    const egen = preVote ? this.#egen + 1 : this.#egen;
    this.#electionsFailed++;
    this.#effects.push({ type: 'electionFailed', electionGeneration: egen, reason });
    this.#endElection();
    if (preVote) {
      this.#nextAttemptAt = this.#now + this.#config.leaseTimeoutMs * (0.25 + 0.5 * this.#random());
      return;
    }
    this.#attempts++;
    const cap = Math.min(2 ** (this.#attempts - 1), MAX_BACKOFF_ELECTION_TIMEOUTS);
    const timeout = this.#config.electionTimeoutMs;
    // The site every VOTE1 it saw ranks first retries first: the others join its election and, seeing
    // the same candidates, vote alike — fewer split votes in a row than with plain jitter.
    const best = this.#bestSeen === this.siteId;
    this.#nextAttemptAt = best
      ? this.#now + this.#random() * 0.25 * timeout
      : this.#now + (0.25 + this.#random() * cap) * timeout;
  }

  /** The top-ranked electable candidate among the VOTE1s of the current (or last) election. */
  get #bestSeen(): SiteId | undefined {
    let best: CandidateInfo | undefined;
    for (const info of this.#vote1s.values())
      if (info.electable && (best === undefined || compareCandidates(info, best) < 0)) best = info;
    return best?.site;
  }

  #endElection(): void {
    this.#phase = 'idle';
    this.#preVoteGrants.clear();
    this.#pendingWin = undefined;
  }

  /**
   * Makes the replica's generation durable if it is above every generation recorded so far: once per
   * newly learned generation (the replica reports a role change only when something changed, and
   * commits never do), so never on the commit path. The driver writes it synchronously, before the
   * call that taught the core returns: before the replica performs its next effect (the sync request
   * to the new master) and before the site's event handlers and status readers run again. After a
   * restart the site starts at it, never below.
   */
  #recordGeneration(): void {
    if (this.#generation <= this.#recordedGeneration) return;
    this.#persist({
      electionGeneration: this.#egen,
      votedFor: this.#votedFor,
      generation: this.#generation,
      unrecorded: this.#unrecorded,
    });
  }

  /**
   * An unrecorded site whose log reached its catch-up target holds everything it may once have
   * acknowledged: it is recorded from now on, on disk at once (a restart must not make it wait for a
   * master again). Once per wipe, never on the commit path.
   */
  #recordIfCaughtUp(): void {
    if (!this.#unrecorded || this.#catchUpLsn === undefined) return;
    if (this.#logInfo().lastLsn < this.#catchUpLsn) return;
    this.#unrecorded = false;
    this.#catchUpLsn = undefined;
    this.#persist({
      electionGeneration: this.#egen,
      votedFor: this.#votedFor,
      generation: this.#generation,
      unrecorded: false,
    });
  }

  #persist(state: Required<PersistentElectionState>): void {
    this.#recordedGeneration = Math.max(this.#recordedGeneration, state.generation);
    this.#effects.push({ type: 'persist', state });
  }

  #refuse(refusal: Refusal): void {
    this.#lastRefusal = refusal;
  }

  #randomTimeout(): number {
    return this.#config.electionTimeoutMs * (1 + this.#random());
  }

  #send(to: SiteId | 'broadcast', message: ElectionMessage): void {
    this.#effects.push({ type: 'send', to, message });
  }

  #control(
    kind: ElectionControlMessage['kind'],
    fields: Partial<Omit<ElectionControlMessage, 'type' | 'kind' | 'generation'>>,
  ): ElectionControlMessage {
    return {
      type: 'election',
      generation: this.#generation,
      electionGeneration: fields.electionGeneration ?? this.#egen,
      kind,
      granted: fields.granted ?? false,
      dataGeneration: fields.dataGeneration ?? 0,
      lastLsn: fields.lastLsn ?? 0,
      time: fields.time ?? 0,
      site: fields.site ?? '',
    };
  }
}
