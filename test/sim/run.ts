/**
 * One simulator run: N sites in one process on virtual time, the production log and replica over an
 * in-memory disk and a simulated network, every choice drawn from one seed. A safety phase with faults
 * (loss, duplication, reordering, corruption, partitions, crashes with torn writes, scripted failovers)
 * is checked after every step; then faults heal and the cluster must converge within a budget.
 */
import { createHash } from 'node:crypto';
import { ACK_POLICIES, type BaseReplica, decodeFrame, encodeKvOperation } from '@ackord/core';
import { VirtualClock } from '@ackord/core/testing';
import { IoDeferringClock } from './io-deferring-clock.js';
import { Oracle, type Violation } from './oracle.js';
import { Prng } from './prng.js';
import { drawElectionScenario, drawScenario, type Scenario } from './scenario.js';
import { Scheduler } from './scheduler.js';
import { SimSite, type SiteSettings } from './site.js';
import { SkewedClock } from './skewed-clock.js';

export type MutantName = 'ack-before-flush' | 'rollback-past-common' | 'elect-without-uptodate-check';
export const MUTANTS: readonly MutantName[] = [
  'ack-before-flush',
  'rollback-past-common',
  'elect-without-uptodate-check',
];

export interface RunOptions {
  readonly seed: number;
  readonly mutant?: MutantName;
  /** The group elects its masters (packages/election) instead of scripted failovers. */
  readonly elections?: boolean;
  /** Keep the transcript lines (for `pnpm sim --seed S`). */
  readonly keepTranscript?: boolean;
}

export interface RunResult {
  readonly seed: number;
  readonly scenario: Scenario;
  readonly violations: readonly Violation[];
  readonly traceHash: string;
  readonly transcript: readonly string[];
  readonly stats: {
    readonly events: number;
    readonly commits: number;
    readonly committedByMajority: number;
    readonly crashes: number;
    readonly failovers: number;
    readonly rollbacks: number;
    readonly inits: number;
    readonly virtualMs: number;
    /** Election runs: elections won, and virtual ms from the heal to the first acknowledged commit. */
    readonly elections: number;
    readonly recoveryMs: number | undefined;
    /** Election runs: for each crash of the master, virtual ms until a new master was elected. */
    readonly failoverMs: readonly number[];
    /** Election runs: after convergence, master killed → first quorum commit acknowledged (virtual ms). */
    readonly cleanFailoverMs: number | undefined;
  };
}

type SimEvent =
  | { kind: 'deliver'; from: string; to: string; incarnation: number; bytes: Uint8Array }
  | { kind: 'commit' }
  | { kind: 'crash' }
  | { kind: 'restart'; site: string }
  | { kind: 'partition' }
  | { kind: 'heal' }
  | { kind: 'failover' }
  | { kind: 'trim' }
  | { kind: 'jump' }
  | { kind: 'check' };

/** Upper bound on events of one run: a livelock becomes a reported violation, not a hang. */
const MAX_EVENTS = 400_000;
const CHECK_EVERY_MS = 250;

export async function runSeed(options: RunOptions): Promise<RunResult> {
  const sim = new Simulation(options);
  return sim.run();
}

class Simulation {
  readonly #options: RunOptions;
  readonly #rng: Prng;
  readonly #scenario: Scenario;
  readonly #clock = new VirtualClock(0);
  readonly #scheduler = new Scheduler<SimEvent>();
  readonly #sites = new Map<string, SimSite>();
  readonly #oracle: Oracle;
  readonly #hash = createHash('sha256');
  readonly #transcript: string[] = [];
  /** Pairs that cannot talk: "a|b" with a < b. */
  readonly #cut = new Set<string>();
  #faultsOn = true;
  #maxGeneration = 0;
  #commitCounter = 0;
  #events = 0;
  #crashes = 0;
  #failovers = 0;
  #rollbacks = 0;
  #inits = 0;
  #elections = 0;
  #healedAt: number | undefined;
  #masterCrashedAt: number | undefined;
  #cleanFailoverMs: number | undefined;
  readonly #failoverMs: number[] = [];
  #recoveredAt: number | undefined;
  readonly #siteClocks = new Map<string, SkewedClock>();

  constructor(options: RunOptions) {
    this.#options = options;
    this.#rng = new Prng(options.seed);
    const elections = options.elections === true || options.mutant === 'elect-without-uptodate-check';
    this.#scenario = elections ? drawElectionScenario(this.#rng) : drawScenario(this.#rng);
    const ids = this.#scenario.sites.map((site) => site.id);
    const mutations =
      options.mutant === 'ack-before-flush'
        ? { ackBeforeFlush: true }
        : options.mutant === 'rollback-past-common'
          ? { rollbackPastCommon: true }
          : undefined;
    const group = this.#scenario.sites.map(({ id, priority }) => ({ id, priority }));
    this.#oracle = new Oracle(
      this.#sites,
      (line) => this.#note(line),
      () => this.#clock.now(),
      elections ? group : undefined,
    );
    const electionScenario = this.#scenario.elections;
    this.#scenario.sites.forEach(({ id, durability }, index) => {
      let clock: SkewedClock | VirtualClock = this.#clock;
      let election: SiteSettings['election'];
      if (electionScenario !== undefined) {
        const skewed = new SkewedClock(this.#clock, electionScenario.clockRates[index]!);
        this.#siteClocks.set(id, skewed);
        clock = skewed;
        const random = new Prng(this.#rng.nextUint32());
        election = {
          electionTimeoutMs: electionScenario.electionTimeoutMs,
          random: () => random.next(),
          electWithoutUpToDateCheck: options.mutant === 'elect-without-uptodate-check',
        };
      }
      const site = new SimSite(
        id,
        durability,
        ids.filter((other) => other !== id),
        new IoDeferringClock(clock),
        {
          send: (from, message, target, flags) => this.#send(from, message, target, flags),
          attach: (attached, replica) => this.#attach(attached, replica),
          attachManager: (attached, manager) => {
            manager.on('permFailed', (event) => this.#oracle.onPermFailed(attached, event));
          },
        },
        {
          bulk: this.#scenario.bulk,
          batching: this.#scenario.batching,
          mutations,
          // The must-fail controls break the core under the base API; manager runs need no mutant.
          manager: this.#scenario.manager && mutations === undefined,
          ackTimeoutMs: this.#scenario.ackTimeoutMs,
          group,
          ...(election === undefined ? {} : { election }),
        },
      );
      this.#sites.set(id, site);
    });
  }

  async run(): Promise<RunResult> {
    const scenario = this.#scenario;
    this.#note(
      `scenario ${scenario.elections ? `elections(et=${scenario.elections.electionTimeoutMs})` : scenario.manager && this.#options.mutant === undefined ? 'manager' : 'base'} sites=${scenario.sites.map((s) => `${s.id}:${s.durability}${s.priority === 1 ? '' : `:p${s.priority}`}`).join(',')} bulk=${scenario.bulk} batching=${scenario.batching} loss=${scenario.lossRate} dup=${scenario.duplicateRate} corrupt=${scenario.corruptRate} delay=${scenario.minDelayMs}-${scenario.maxDelayMs}`,
    );
    for (const site of this.#sites.values()) await site.start();
    for (const site of this.#sites.values()) for (const peer of site.peers) await site.peerUp(peer);
    if (scenario.elections === undefined) {
      await this.#failover('initial');
      this.#scheduleNext('failover', scenario.failoverEveryMs);
    } else {
      this.#scheduleNext('failover', scenario.elections.transferEveryMs);
      this.#scheduleNext('jump', scenario.elections.clockJumpEveryMs);
    }
    this.#scheduleNext('commit', scenario.commitEveryMs);
    this.#scheduleNext('crash', scenario.crashEveryMs);
    this.#scheduleNext('partition', scenario.partitionEveryMs);
    this.#scheduleNext('trim', scenario.trimEveryMs);
    this.#scheduler.schedule(CHECK_EVERY_MS, { kind: 'check' });

    await this.#runUntil(scenario.safetyMs);
    await this.#heal();
    const converged = await this.#runLiveness(scenario.safetyMs + scenario.livenessBudgetMs);
    if (converged) this.#oracle.checkConverged(this.#liveSites());
    else {
      const states = this.#liveSites().map(
        (site) =>
          `${site.id}:${site.replica!.role}/${site.replica!.core.syncState} gen=${site.replica!.generation} master=${site.replica!.master ?? '-'} next=${site.log.nextLsn} applied=${site.replica!.appliedLsn}`,
      );
      this.#oracle.violation(
        'P14',
        `no convergence within the liveness budget after faults healed: ${states.join('; ')}`,
      );
    }
    for (const site of this.#sites.values()) if (site.alive) await site.close();

    return {
      seed: this.#options.seed,
      scenario,
      violations: this.#oracle.violations,
      traceHash: this.#hash.digest('hex').slice(0, 16),
      transcript: this.#transcript,
      stats: {
        events: this.#events,
        commits: this.#commitCounter,
        committedByMajority: this.#oracle.committedCount,
        crashes: this.#crashes,
        failovers: this.#failovers,
        rollbacks: this.#rollbacks,
        inits: this.#inits,
        virtualMs: this.#clock.now(),
        elections: this.#elections,
        failoverMs: this.#failoverMs,
        cleanFailoverMs: this.#cleanFailoverMs,
        recoveryMs:
          this.#recoveredAt === undefined || this.#healedAt === undefined
            ? undefined
            : Math.round(this.#recoveredAt - this.#healedAt),
      },
    };
  }

  #note(line: string): void {
    const stamped = `${String(this.#clock.now()).padStart(6)} ${line}`;
    this.#hash.update(stamped);
    this.#hash.update('\n');
    if (this.#options.keepTranscript) this.#transcript.push(stamped);
  }

  #liveSites(): SimSite[] {
    return [...this.#sites.values()].filter((site) => site.alive);
  }

  #connected(a: string, b: string): boolean {
    return !this.#cut.has(a < b ? `${a}|${b}` : `${b}|${a}`);
  }

  #scheduleNext(kind: 'commit' | 'crash' | 'partition' | 'failover' | 'trim' | 'jump', meanMs: number): void {
    const delay = Math.max(1, Math.round(-Math.log(1 - this.#rng.next()) * meanMs));
    this.#scheduler.schedule(this.#clock.now() + delay, { kind } as SimEvent);
  }

  // ---- the network ----

  #send(from: string, message: Uint8Array, target: string | 'broadcast', flags: number): boolean {
    const sender = this.#sites.get(from)!;
    this.#oracle.onSend(sender, message);
    const targets = target === 'broadcast' ? sender.peers : [target];
    let reachable = false;
    for (const to of targets) {
      const receiver = this.#sites.get(to);
      if (receiver === undefined || !receiver.alive || !this.#connected(from, to)) continue;
      reachable = true;
      const copies = this.#faultsOn && this.#rng.chance(this.#scenario.duplicateRate) ? 2 : 1;
      for (let copy = 0; copy < copies; copy++) {
        if (this.#faultsOn && this.#rng.chance(this.#scenario.lossRate)) continue;
        let bytes = message;
        if (this.#faultsOn && this.#rng.chance(this.#scenario.corruptRate)) {
          bytes = Uint8Array.from(message);
          bytes[this.#rng.int(0, bytes.length - 1)]! ^= 1 << this.#rng.int(0, 7);
        }
        const delay = this.#rng.int(
          this.#scenario.minDelayMs,
          this.#faultsOn ? this.#scenario.maxDelayMs : 2,
        );
        this.#scheduler.schedule(this.#clock.now() + delay, {
          kind: 'deliver',
          from,
          to,
          incarnation: receiver.incarnation,
          bytes,
        });
      }
    }
    void flags;
    return reachable;
  }

  #attach(site: SimSite, replica: BaseReplica): void {
    replica.on('applied', (txn) => this.#oracle.onApplied(site, txn));
    replica.on('acked', (ack) => this.#oracle.onAcked(site, ack));
    replica.on('rollback', (event) => {
      this.#rollbacks++;
      this.#note(
        `${site.id} rollback to ${event.toLsn} removing ${event.records} records, ${event.transactions.length} commits`,
      );
      this.#oracle.onRollback(site, event);
    });
    replica.on('restored', (event) => {
      this.#inits++;
      this.#note(`${site.id} internal init from a snapshot at ${event.lsn}`);
    });
    replica.on('roleChanged', (change) => {
      this.#note(`${site.id} role ${change.role} gen ${change.generation} master ${change.master ?? '-'}`);
      if (change.role === 'master' && this.#scenario.elections !== undefined) {
        this.#elections++;
        if (this.#masterCrashedAt !== undefined) {
          this.#failoverMs.push(Math.round(this.#clock.now() - this.#masterCrashedAt));
          this.#masterCrashedAt = undefined;
        }
        this.#oracle.onElected(site, change.generation);
      }
    });
    replica.on('fatal', (error) => this.#oracle.violation('fatal', `${site.id}: ${error.message}`));
  }

  #currentMaster(): SimSite | undefined {
    let best: SimSite | undefined;
    for (const site of this.#liveSites()) {
      if (site.replica!.role !== 'master') continue;
      if (best === undefined || site.replica!.generation > best.replica!.generation) best = site;
    }
    return best;
  }

  // ---- the event loop ----

  async #runUntil(endMs: number): Promise<void> {
    for (;;) {
      const eventAt = this.#scheduler.nextAt;
      const timerAt = this.#clock.nextTimerAt;
      const next = Math.min(eventAt ?? Number.POSITIVE_INFINITY, timerAt ?? Number.POSITIVE_INFINITY);
      if (next > endMs || this.#events >= MAX_EVENTS) {
        if (this.#events >= MAX_EVENTS) this.#oracle.violation('budget', `more than ${MAX_EVENTS} events`);
        if (this.#clock.now() < endMs) this.#clock.advance(endMs - this.#clock.now());
        await settle();
        return;
      }
      // advance(0) still fires timers due now.
      this.#clock.advance(Math.max(0, next - this.#clock.now()));
      await settle();
      if (eventAt !== undefined && eventAt <= this.#clock.now()) {
        const { event } = this.#scheduler.pop()!;
        this.#events++;
        await this.#handle(event, endMs);
        await settle();
      }
      this.#oracle.checkStep(this.#liveSites());
    }
  }

  async #handle(event: SimEvent, endMs: number): Promise<void> {
    switch (event.kind) {
      case 'deliver': {
        const site = this.#sites.get(event.to)!;
        if (!site.alive || site.incarnation !== event.incarnation || !this.#connected(event.from, event.to))
          return;
        const decoded = decodeFrame(event.bytes);
        this.#note(
          `${event.from}->${event.to} ${decoded.ok ? decoded.message.type : `bad:${decoded.error.reason} (${decoded.error.message})`}`,
        );
        if (
          process.env.SIM_DEBUG &&
          decoded.ok &&
          (decoded.message.type === 'vote1' || decoded.message.type === 'vote2')
        )
          console.log(this.#clock.now(), event.from, '->', event.to, JSON.stringify(decoded.message));
        try {
          const result = await site.deliver(event.bytes, event.from);
          this.#oracle.onResult(site, result);
        } catch (error) {
          this.#oracle.violation(
            'fatal',
            `${site.id} failed processing a message: ${(error as Error).stack}`,
          );
        }
        return;
      }
      case 'commit':
        this.#commit();
        if (this.#faultsOn) this.#scheduleNext('commit', this.#scenario.commitEveryMs);
        return;
      case 'crash':
        if (this.#faultsOn) {
          await this.#crashOne();
          this.#scheduleNext('crash', this.#scenario.crashEveryMs);
        }
        return;
      case 'restart':
        await this.#restart(event.site);
        return;
      case 'partition':
        if (this.#faultsOn) {
          await this.#partition();
          this.#scheduleNext('partition', this.#scenario.partitionEveryMs);
        }
        return;
      case 'heal':
        await this.#healPartitions();
        return;
      case 'failover':
        if (this.#faultsOn) {
          if (this.#scenario.elections === undefined) {
            await this.#failover('scripted');
            this.#scheduleNext('failover', this.#scenario.failoverEveryMs);
          } else {
            this.#transfer();
            this.#scheduleNext('failover', this.#scenario.elections.transferEveryMs);
          }
        }
        return;
      case 'jump':
        if (this.#faultsOn && this.#scenario.elections !== undefined) {
          const id = this.#rng.pick([...this.#siteClocks.keys()]);
          const ms = this.#rng.int(1, 3 * this.#scenario.elections.electionTimeoutMs);
          this.#siteClocks.get(id)!.jump(ms);
          this.#note(`${id} clock jumps ${ms} ms forward`);
          this.#scheduleNext('jump', this.#scenario.elections.clockJumpEveryMs);
        }
        return;
      case 'trim':
        if (this.#faultsOn) {
          await this.#trim();
          this.#scheduleNext('trim', this.#scenario.trimEveryMs);
        }
        return;
      case 'check':
        this.#oracle.checkLogs(this.#liveSites());
        if (this.#clock.now() + CHECK_EVERY_MS <= endMs || this.#faultsOn) {
          this.#scheduler.schedule(this.#clock.now() + CHECK_EVERY_MS, { kind: 'check' });
        }
        return;
    }
  }

  /** Elections on: the master is asked to hand over to a random electable peer. */
  #transfer(): void {
    const master = this.#currentMaster();
    if (master === undefined) return;
    const targets = this.#scenario.sites.filter((s) => s.id !== master.id && s.priority > 0);
    if (targets.length === 0) return;
    const target = this.#rng.pick(targets).id;
    this.#note(`${master.id} transfer to ${target}`);
    master.transferMastership(target).then(
      () => this.#note(`${master.id} transfer to ${target} done`),
      (error: Error) => this.#note(`${master.id} transfer to ${target} failed: ${error.message}`),
    );
  }

  /** Where a commit goes: the newest master, or (election runs, sometimes) any site that thinks it is one. */
  #commitTarget(): SimSite | undefined {
    const share = this.#scenario.elections?.staleCommitShare ?? 0;
    if (share > 0 && this.#rng.chance(share)) {
      const masters = this.#liveSites().filter((site) => site.replica!.role === 'master');
      return masters.length === 0 ? undefined : this.#rng.pick(masters);
    }
    return this.#currentMaster();
  }

  #commit(policyOverride?: (typeof ACK_POLICIES)[number]): void {
    const master = this.#commitTarget();
    if (master === undefined) return;
    const count = this.#rng.int(1, 3);
    const payloads = [];
    for (let index = 0; index < count; index++) {
      const n = ++this.#commitCounter;
      payloads.push(
        encodeKvOperation({ op: 'put', key: `k${this.#rng.int(0, 50)}`, value: Buffer.from(`v${n}`) }),
      );
    }
    const policy = policyOverride ?? this.#rng.pick(ACK_POLICIES);
    const startedAt = this.#clock.now();
    master.commit(payloads, policy).then(
      (receipt) => {
        if (receipt === undefined) return;
        this.#oracle.onReceipt(master, receipt, startedAt, this.#scenario.ackTimeoutMs);
        if (this.#healedAt !== undefined && this.#recoveredAt === undefined && receipt.perm === true)
          this.#recoveredAt = this.#clock.now();
      },
      () => undefined, // stepped down or crashed mid-commit: the outcome is unknown, not a failure
    );
  }

  /** A site snapshots its state machine and drops the log below it; clients behind it need internal init. */
  async #trim(): Promise<void> {
    const live = this.#liveSites();
    if (live.length === 0) return;
    const site = this.#rng.pick(live);
    try {
      const trimmed = await site.replica!.trimLog();
      this.#note(`${site.id} trim at ${trimmed.snapshotLsn}, log starts at ${trimmed.firstLsn}`);
    } catch (error) {
      this.#note(`${site.id} trim refused: ${(error as Error).message}`);
    }
  }

  async #crashOne(): Promise<void> {
    const live = this.#liveSites();
    if (live.length === 0) return;
    const site = this.#rng.pick(live);
    const kind = this.#rng.chance(0.5) ? 'power' : 'process';
    this.#crashes++;
    if (
      this.#scenario.elections !== undefined &&
      site.replica?.role === 'master' &&
      site === this.#currentMaster()
    )
      this.#masterCrashedAt ??= this.#clock.now();
    this.#oracle.beforeCrash(site, kind);
    const tear = this.#rng.next();
    this.#note(`${site.id} crash ${kind}`);
    await site.crash(kind, (unsynced) => Math.floor(unsynced * tear));
    for (const peer of site.peers) {
      const other = this.#sites.get(peer)!;
      if (other.alive) await other.peerDown(site.id);
    }
    this.#scheduler.schedule(this.#clock.now() + this.#rng.int(20, 400), { kind: 'restart', site: site.id });
  }

  async #restart(id: string): Promise<void> {
    const site = this.#sites.get(id)!;
    if (site.alive) return;
    this.#note(`${id} restart`);
    try {
      await site.start();
    } catch (error) {
      this.#oracle.violation('P10', `${id} failed to recover its log: ${(error as Error).message}`);
      return;
    }
    this.#oracle.afterRestart(site);
    for (const peer of site.peers) {
      const other = this.#sites.get(peer)!;
      if (!other.alive || !this.#connected(id, peer)) continue;
      await other.peerUp(id);
      await site.peerUp(peer);
    }
  }

  async #partition(): Promise<void> {
    const ids = [...this.#sites.keys()];
    if (ids.length < 2) return;
    const a = this.#rng.pick(ids);
    const b = this.#rng.pick(ids.filter((id) => id !== a));
    const key = a < b ? `${a}|${b}` : `${b}|${a}`;
    if (this.#cut.has(key)) return;
    this.#cut.add(key);
    this.#note(`partition ${a}|${b}`);
    for (const [x, y] of [
      [a, b],
      [b, a],
    ] as const) {
      const site = this.#sites.get(x)!;
      if (site.alive) await site.peerDown(y);
    }
    this.#scheduler.schedule(this.#clock.now() + this.#rng.int(50, 1000), { kind: 'heal' });
  }

  async #healPartitions(): Promise<void> {
    const cut = [...this.#cut];
    this.#cut.clear();
    for (const key of cut) {
      const [a, b] = key.split('|') as [string, string];
      this.#note(`heal ${a}|${b}`);
      for (const [x, y] of [
        [a, b],
        [b, a],
      ] as const) {
        const site = this.#sites.get(x)!;
        if (site.alive && this.#sites.get(y)!.alive) await site.peerUp(y);
      }
    }
  }

  /**
   * A scripted failover, standing in for an election until elections land: among the live sites that
   * can reach a majority, the most up-to-date (last record's generation, then log end) becomes master
   * with a new generation. The old master is demoted half the time; otherwise it must step down when it
   * hears of the newer generation.
   */
  async #failover(reason: string): Promise<void> {
    const majority = Math.floor(this.#sites.size / 2) + 1;
    const live = this.#liveSites();
    const candidates = live.filter(
      (site) => live.filter((other) => this.#connected(site.id, other.id)).length >= majority,
    );
    if (candidates.length === 0) return;
    const group = candidates[0]!;
    const component = live.filter((other) => this.#connected(group.id, other.id));
    let best: SimSite | undefined;
    for (const site of component) {
      const log = site.log;
      const rank = [site.replica!.core.history.generationAt(log.nextLsn - 1), log.nextLsn];
      if (best === undefined) {
        best = site;
        continue;
      }
      const bestRank = [best.replica!.core.history.generationAt(best.log.nextLsn - 1), best.log.nextLsn];
      if (rank[0]! > bestRank[0]! || (rank[0] === bestRank[0] && rank[1]! > bestRank[1]!)) best = site;
    }
    if (best === undefined) return;
    const old = this.#currentMaster();
    if (old === best && reason !== 'initial') return;
    this.#maxGeneration = Math.max(this.#maxGeneration, ...live.map((site) => site.replica!.generation)) + 1;
    this.#failovers++;
    this.#note(`failover (${reason}) -> ${best.id} gen ${this.#maxGeneration}`);
    this.#oracle.onFailover(best, component);
    if (old !== undefined && old !== best && this.#rng.chance(0.5)) await old.becomeClient();
    await best.becomeMaster(this.#maxGeneration);
  }

  async #heal(): Promise<void> {
    this.#faultsOn = false;
    this.#healedAt = this.#clock.now();
    this.#note('faults off: heal everything');
    await this.#healPartitions();
    for (const site of this.#sites.values()) if (!site.alive) await this.#restart(site.id);
    await settle();
  }

  async #runLiveness(endMs: number): Promise<boolean> {
    if (this.#scenario.elections !== undefined) return this.#runElectionLiveness(endMs);
    const master = this.#currentMaster();
    const masters = this.#liveSites().filter((site) => site.replica!.role === 'master');
    if (master === undefined || masters.length > 1) await this.#failover('liveness');
    // A few more commits after the heal, so every site has something new to catch up on.
    for (let index = 0; index < 5; index++) {
      this.#commit();
      await this.#runUntil(this.#clock.now() + 20);
    }
    while (this.#clock.now() < endMs) {
      await this.#runUntil(Math.min(endMs, this.#clock.now() + 100));
      if (this.#oracle.converged(this.#liveSites())) return true;
      const current = this.#currentMaster();
      if (current === undefined) await this.#failover('liveness');
    }
    return false;
  }

  /**
   * Elections on, faults healed: nobody appoints a master. Commits are offered every 20 ms (quorum) until
   * one is acknowledged — the recovery time P14 reports — then every live site must converge.
   */
  async #runElectionLiveness(endMs: number): Promise<boolean> {
    while (this.#clock.now() < endMs && this.#recoveredAt === undefined) {
      this.#commit('quorum');
      await this.#runUntil(Math.min(endMs, this.#clock.now() + 20));
    }
    if (!(await this.#untilConverged(endMs))) return false;
    await this.#cleanFailover(endMs);
    return this.#untilConverged(endMs);
  }

  async #untilConverged(endMs: number): Promise<boolean> {
    while (this.#clock.now() < endMs) {
      await this.#runUntil(Math.min(endMs, this.#clock.now() + 100));
      const masters = this.#liveSites().filter((site) => site.replica!.role === 'master');
      if (masters.length === 1 && this.#oracle.converged(this.#liveSites())) return true;
    }
    return false;
  }

  /**
   * P14 without other faults: the converged group's master is killed (a process crash); how long until
   * a new master acknowledged a quorum commit? Only where the rest can elect without it.
   */
  async #cleanFailover(endMs: number): Promise<void> {
    const master = this.#currentMaster();
    if (master === undefined) return;
    const electable = this.#scenario.sites.filter((site) => site.priority > 0);
    const others = electable.filter((site) => site.id !== master.id).length;
    if (others < Math.floor(electable.length / 2) + 1) return;
    const crashedAt = this.#clock.now();
    this.#note(`clean failover: ${master.id} crash process`);
    this.#oracle.beforeCrash(master, 'process');
    await master.crash('process', () => 0);
    for (const peer of master.peers) {
      const other = this.#sites.get(peer)!;
      if (other.alive) await other.peerDown(master.id);
    }
    let acknowledgedAt: number | undefined;
    while (this.#clock.now() < endMs && acknowledgedAt === undefined) {
      const target = this.#currentMaster();
      if (target !== undefined && target !== master) {
        target
          .commit([encodeKvOperation({ op: 'put', key: 'failover', value: Buffer.from('x') })], 'quorum')
          .then(
            (receipt) => {
              if (receipt?.perm === true) acknowledgedAt ??= this.#clock.now();
            },
            () => undefined,
          );
      }
      await this.#runUntil(Math.min(endMs, this.#clock.now() + 10));
    }
    if (acknowledgedAt !== undefined) this.#cleanFailoverMs = Math.round(acknowledgedAt - crashedAt);
    else this.#oracle.violation('P14', `no acknowledged commit after the master ${master.id} crashed`);
    await this.#restart(master.id);
  }
}

/** Lets every promise chain of every site run to quiescence (there is no real I/O to wait for). */
function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
