/**
 * The simulator's checkers. They watch every send, ack, apply, rollback, crash and failover, and compare
 * what the sites do with what the protocol promises:
 *
 * - P8  an ack (or ISPERM) claims a level only once the site's log is durable at that level;
 * - P7  a rollback cuts exactly at the last record shared with the master, never removing a commit that
 *       a majority acknowledged as flushed;
 * - P10 after a crash the log recovers, and everything that was durable (power loss) or written
 *       (process crash) is still there, byte for byte;
 * - P12 a transaction is applied whole, exactly as the master proposed it;
 * - P13 two logs that share a record (same generation at the same LSN) are identical up to it;
 * - P4  at most one live master per generation;
 * - P2  (manager runs) every receipt's perm decision matches the acks that had arrived when it was made,
 *       and a perm failure returns only once the master's log holds the commit durably;
 * - P3  (manager runs) a commit reported perm: true that is later lost was reported lost: a rollback
 *       journal lists it (no silent loss);
 * - P1/P6 (as far as scripted failovers go) a new master holds every majority-acknowledged commit, and
 *       once faults heal every live site converges on the same log and state.
 */
import {
  type AckPolicy,
  type AppliedTransaction,
  type BaseCommitResult,
  type CommitReceipt,
  decodeFrame,
  evaluatePolicy,
  type PermFailedEvent,
  type ProcessResult,
  type RollbackEvent,
} from '@ackord/core';
import type { SimSite } from './site.js';

export interface Violation {
  readonly property: string;
  readonly message: string;
}

interface CrashCapture {
  readonly firstLsn: number;
  readonly endLsn: number;
  readonly bytes: Buffer;
  readonly kind: 'power' | 'process';
}

/** Reads the log's encoded records in [fromLsn, toLsn). */
function readRange(site: SimSite, fromLsn: number, toLsn: number): Buffer {
  const parts: Buffer[] = [];
  let lsn = fromLsn;
  while (lsn < toLsn) {
    const chunk = site.log.readEncoded(lsn, toLsn, 256 * 1024);
    if (chunk.length === 0) break;
    parts.push(chunk);
    lsn += chunk.length;
  }
  return Buffer.concat(parts);
}

function tokenKey(generation: number, lsn: number): string {
  return `${generation}:${lsn}`;
}

export class Oracle {
  readonly violations: Violation[] = [];
  readonly #note: (line: string) => void;
  /** What masters proposed: token → payloads. */
  readonly #proposed = new Map<string, Buffer[]>();
  /** Commits acknowledged as flushed by a majority (master included): token → commit LSN. */
  readonly #committed = new Map<string, { generation: number; lsn: number }>();
  /** Per master incarnation (site + generation): each client's largest flushed ack. */
  readonly #flushedAcks = new Map<string, Map<string, number>>();
  /** Commits of the current masters still short of a majority: per "site:generation", their LSNs. */
  readonly #pending = new Map<string, number[]>();
  readonly #crashes = new Map<string, CrashCapture>();
  /** Per master incarnation ("site:generation") and client: when its cumulative ack rose, to what. */
  readonly #ackTimeline = new Map<string, Map<string, { at: number; lsn: number }[]>>();
  /** Receipts with perm: true (manager runs): token → policy and the master's own durability then. */
  readonly #acknowledged = new Map<string, { policy: AckPolicy; localLevel: string; master: string }>();
  /** Commits some rollback journal reported as rolled back. */
  readonly #rolledBack = new Set<string>();
  readonly #now: () => number;
  /** Election runs: the configured group with priorities (undefined: scripted failovers, all electable). */
  readonly #group: readonly { readonly id: string; readonly priority: number }[] | undefined;
  /** Election runs: which site became master of each generation, and when (P4, P5). */
  readonly #electedAt = new Map<number, { site: string; at: number }>();
  /** Election runs: each site's stored election generation when it crashed (P4 across restarts). */
  readonly #storedElection = new Map<string, number>();
  /**
   * Election runs: each site's generation (what it reports, and the floor below which it ignores
   * masters) when it crashed, unless its log had failed (P4 across restarts: a learned generation is
   * stored before it is reported).
   */
  readonly #reportedGeneration = new Map<string, number>();

  readonly #sites: ReadonlyMap<string, SimSite>;

  constructor(
    sites: ReadonlyMap<string, SimSite>,
    note: (line: string) => void,
    now: () => number,
    group?: readonly { readonly id: string; readonly priority: number }[],
  ) {
    this.#sites = sites;
    this.#note = note;
    this.#now = now;
    this.#group = group;
  }

  /** Computed on use: the sites are added after the oracle is made. */
  get #majority(): number {
    return Math.floor(this.#sites.size / 2) + 1;
  }

  /**
   * Whether the holders of a commit (sites with it durable, the master included) make it "committed":
   * scripted runs, a majority of the group; election runs, enough electable sites to meet every winning
   * coalition (a strict majority of the E electable sites), i.e. E − ⌊E/2⌋ of them.
   */
  #isCommitted(holders: readonly string[]): boolean {
    if (this.#group === undefined) return holders.length >= this.#majority;
    const electable = new Set(this.#group.filter((site) => site.priority > 0).map((site) => site.id));
    const needed = electable.size - (Math.floor(electable.size / 2) + 1) + 1;
    return holders.filter((id) => electable.has(id)).length >= needed;
  }

  get committedCount(): number {
    return this.#committed.size;
  }

  violation(property: string, message: string): void {
    this.violations.push({ property, message });
    this.#note(`VIOLATION ${property}: ${message}`);
  }

  // ---- P8: acks claim only what is durable ----

  onSend(sender: SimSite, bytes: Uint8Array): void {
    if (!sender.alive) return;
    const decoded = decodeFrame(bytes);
    if (!decoded.ok || decoded.message.type !== 'ack') return;
    const { lsn, level } = decoded.message;
    const log = sender.log;
    const reached =
      level === 'flushed'
        ? log.durableLsn
        : level === 'written'
          ? Math.max(log.writtenLsn, log.durableLsn)
          : log.nextLsn;
    if (reached <= lsn) {
      this.violation(
        'P8',
        `${sender.id} acked LSN ${lsn} as ${level} but its log is ${level} only below ${reached}`,
      );
    }
  }

  onResult(site: SimSite, result: ProcessResult): void {
    if (result.code !== 'ISPERM' || !site.alive) return;
    const replica = site.replica!;
    if (
      replica.core.ackLevel === 'flushed' &&
      site.log.durableLsn <= result.lsn &&
      site.log.nextLsn > result.lsn
    ) {
      this.violation(
        'P8',
        `${site.id} returned ISPERM(${result.lsn}) before flushing it (durable below ${site.log.durableLsn})`,
      );
    }
  }

  // ---- P12: whole transactions, as proposed ----

  onApplied(site: SimSite, txn: AppliedTransaction): void {
    const key = tokenKey(txn.generation, txn.commitLsn);
    const payloads = txn.payloads.map((payload) => Buffer.from(payload));
    if (site.replica?.role === 'master' && !this.#proposed.has(key)) {
      this.#proposed.set(key, payloads);
      const pendingKey = `${site.id}:${txn.generation}`;
      const pending = this.#pending.get(pendingKey) ?? [];
      pending.push(txn.commitLsn);
      this.#pending.set(pendingKey, pending);
      return;
    }
    const proposed = this.#proposed.get(key);
    if (proposed === undefined) {
      this.violation('P12', `${site.id} applied ${key}, which no master proposed`);
      return;
    }
    if (
      proposed.length !== payloads.length ||
      proposed.some((payload, index) => !payload.equals(payloads[index]!))
    ) {
      this.violation(
        'P12',
        `${site.id} applied ${key} with ${payloads.length} operations, proposed with ${proposed.length} (or different bytes)`,
      );
    }
  }

  // ---- majority acknowledgement (the oracle's notion of "acked") ----

  onAcked(master: SimSite, ack: { site: string; lsn: number; level: string }): void {
    if (!master.alive) return;
    const timelineKey = `${master.id}:${master.replica!.generation}`;
    const timeline = this.#ackTimeline.get(timelineKey) ?? new Map<string, { at: number; lsn: number }[]>();
    this.#ackTimeline.set(timelineKey, timeline);
    const steps = timeline.get(ack.site) ?? [];
    if (steps.length === 0 || steps.at(-1)!.lsn < ack.lsn) steps.push({ at: this.#now(), lsn: ack.lsn });
    timeline.set(ack.site, steps);
    if (ack.level !== 'flushed') return;
    const incarnation = `${master.id}:${master.replica!.generation}`;
    const acks = this.#flushedAcks.get(incarnation) ?? new Map<string, number>();
    acks.set(ack.site, Math.max(acks.get(ack.site) ?? 0, ack.lsn));
    this.#flushedAcks.set(incarnation, acks);
    this.#evaluate(master);
  }

  onCommitted(master: SimSite, _receipt: BaseCommitResult): void {
    if (master.alive) this.#evaluate(master);
  }

  #evaluate(master: SimSite): void {
    const replica = master.replica!;
    if (replica.role !== 'master') return;
    const generation = replica.generation;
    const incarnation = `${master.id}:${generation}`;
    const pending = this.#pending.get(incarnation);
    if (pending === undefined || pending.length === 0) return;
    const acks = this.#flushedAcks.get(incarnation) ?? new Map<string, number>();
    const remaining: number[] = [];
    for (const lsn of pending) {
      const holders = master.log.durableLsn > lsn ? [master.id] : [];
      for (const [site, acked] of acks) if (acked >= lsn) holders.push(site);
      if (this.#isCommitted(holders)) {
        this.#committed.set(tokenKey(generation, lsn), { generation, lsn });
        this.#note(
          `committed ${generation}:${lsn} (majority flushed: master durable ${master.log.durableLsn}, acks ${JSON.stringify([...acks])})`,
        );
      } else {
        remaining.push(lsn);
      }
    }
    this.#pending.set(incarnation, remaining);
  }

  // ---- P7: rollback exactly to the common point, never an acked commit ----

  onRollback(site: SimSite, event: RollbackEvent): void {
    for (const txn of event.transactions) this.#rolledBack.add(tokenKey(txn.generation, txn.commitLsn));
    for (const txn of event.transactions) {
      if (this.#committed.has(tokenKey(txn.generation, txn.commitLsn))) {
        this.violation(
          'P7',
          `${site.id} rolled back ${txn.generation}:${txn.commitLsn}, acknowledged by a majority`,
        );
      }
    }
    const masterId = site.replica?.master;
    const master = masterId === undefined ? undefined : this.#sites.get(masterId);
    if (master === undefined || !master.alive || event.firstRemoved === undefined) return;
    const masterHistory = master.replica!.core.history;
    if (
      event.toLsn < master.log.nextLsn &&
      masterHistory.generationAt(event.toLsn) === event.firstRemoved.generation
    ) {
      this.violation(
        'P7',
        `${site.id} rolled back to ${event.toLsn}, but its record there (generation ${event.firstRemoved.generation}) is also the master's: past the last common record`,
      );
    }
  }

  // ---- P2: perm decisions match the acks that had arrived ----

  /** Clients whose acks covering `lsn` had reached the master (this incarnation) before `time`. */
  #ackersBefore(
    master: SimSite,
    generation: number,
    lsn: number,
    time: number,
    inclusive: boolean,
  ): Set<string> {
    const timeline = this.#ackTimeline.get(`${master.id}:${generation}`);
    const ackers = new Set<string>();
    if (timeline === undefined) return ackers;
    for (const [site, steps] of timeline) {
      if (steps.some((step) => (inclusive ? step.at <= time : step.at < time) && step.lsn >= lsn))
        ackers.add(site);
    }
    return ackers;
  }

  /** An independent model of the policies for the simulator's groups (every site electable, no views). */
  #policyMet(policy: AckPolicy, ackers: number, master?: string, ackerIds?: ReadonlySet<string>): boolean {
    if (this.#group !== undefined && master !== undefined && ackerIds !== undefined) {
      // Election runs have priority-0 sites: the policy module's own math (tested on its own) decides.
      const sites = this.#group.map(({ id, priority }) => ({ id, priority, view: false }));
      return evaluatePolicy({
        policy,
        master,
        sites,
        connected: new Set(sites.map((site) => site.id)),
        acked: ackerIds,
        twoSiteStrict: true,
      }).perm;
    }
    const clients = this.#sites.size - 1;
    const quorumPeers = this.#sites.size === 2 ? 0 : Math.floor((this.#sites.size - 1) / 2);
    switch (policy) {
      case 'none':
        return true;
      case 'one':
      case 'one_peer':
        return ackers >= 1;
      case 'quorum':
      case 'all_available':
        return ackers >= Math.min(quorumPeers, clients);
      case 'all':
      case 'all_peers':
        return ackers >= clients;
    }
  }

  onReceipt(master: SimSite, receipt: CommitReceipt, startedAt: number, timeoutMs: number): void {
    const key = tokenKey(receipt.generation, receipt.lsn);
    if (receipt.outcome === 'acknowledged') {
      this.#acknowledged.set(key, {
        policy: receipt.policy,
        localLevel: receipt.localLevel,
        master: master.id,
      });
      const ackers = this.#ackersBefore(master, receipt.generation, receipt.lsn, this.#now(), true);
      if (!this.#policyMet(receipt.policy, ackers.size, master.id, ackers)) {
        this.violation(
          'P2',
          `${master.id} reported ${key} perm under ${receipt.policy} with ${ackers.size} acks received`,
        );
      }
      this.#checkStaleMaster(master, receipt, startedAt);
      return;
    }
    if (receipt.outcome !== 'permFailed') return;
    if (master.alive && master.log.durableLsn <= receipt.lsn && master.log.nextLsn > receipt.lsn) {
      this.violation(
        'P2',
        `${master.id} returned a perm failure for ${key} before its own log held it durably`,
      );
    }
    if (receipt.reason === 'timeout') {
      const ackers = this.#ackersBefore(
        master,
        receipt.generation,
        receipt.lsn,
        startedAt + timeoutMs,
        false,
      );
      if (
        receipt.policy !== 'all_available' &&
        this.#policyMet(receipt.policy, ackers.size, master.id, ackers)
      ) {
        this.violation(
          'P2',
          `${master.id} timed out ${key} under ${receipt.policy} though ${ackers.size} acks had arrived before the deadline`,
        );
      }
    }
  }

  /**
   * P5: a master whose generation was superseded before a commit started cannot make that commit durable
   * under a policy that promises survival (the newer master's voters are fenced off it).
   */
  #checkStaleMaster(master: SimSite, receipt: CommitReceipt, startedAt: number): void {
    if (receipt.policy !== 'quorum' && receipt.policy !== 'all' && receipt.policy !== 'all_peers') return;
    for (const [generation, { site, at }] of this.#electedAt) {
      if (generation > receipt.generation && at < startedAt) {
        this.violation(
          'P5',
          `${master.id} (generation ${receipt.generation}) reported ${receipt.generation}:${receipt.lsn} perm under ${receipt.policy}, started after ${site} became master of generation ${generation}`,
        );
        return;
      }
    }
  }

  /** Election runs: a site became master. P4: one per generation, ever; P6: it holds every committed record. */
  onElected(master: SimSite, generation: number): void {
    const previous = this.#electedAt.get(generation);
    if (previous !== undefined && previous.site !== master.id) {
      this.violation(
        'P4',
        `${previous.site} and ${master.id} were both elected master of generation ${generation}`,
      );
    }
    if (previous === undefined) this.#electedAt.set(generation, { site: master.id, at: this.#now() });
    this.onFailover(master, []);
  }

  onPermFailed(master: SimSite, event: PermFailedEvent): void {
    this.#note(
      `${master.id} permFailed ${event.generation}:${event.lsn} ${event.policy} ${event.reason} needed ${event.needed}`,
    );
  }

  // ---- P10: recovery keeps what was durable ----

  beforeCrash(site: SimSite, kind: 'power' | 'process'): void {
    const log = site.log;
    if (this.#group !== undefined) {
      this.#storedElection.set(site.id, log.loadElectionState().electionGeneration);
      if (site.replica !== undefined && log.failure === undefined)
        this.#reportedGeneration.set(site.id, site.replica.generation);
    }
    const endLsn = kind === 'power' ? log.durableLsn : Math.max(log.writtenLsn, log.durableLsn);
    this.#crashes.set(site.id, {
      firstLsn: log.firstLsn,
      endLsn,
      bytes: readRange(site, log.firstLsn, endLsn),
      kind,
    });
  }

  afterRestart(site: SimSite): void {
    const reported = this.#reportedGeneration.get(site.id);
    this.#reportedGeneration.delete(site.id);
    const restarted = site.replica?.generation ?? 0;
    if (reported !== undefined && restarted < reported)
      this.violation(
        'P4',
        `${site.id}'s generation went back from ${reported} to ${restarted} across a crash`,
      );
    const stored = this.#storedElection.get(site.id);
    if (stored !== undefined) {
      const now = site.log.loadElectionState().electionGeneration;
      if (now < stored)
        this.violation(
          'P4',
          `${site.id}'s election generation went back from ${stored} to ${now} across a crash`,
        );
    }
    const capture = this.#crashes.get(site.id);
    this.#crashes.delete(site.id);
    if (capture === undefined) return;
    const log = site.log;
    if (log.firstLsn !== capture.firstLsn || log.nextLsn < capture.endLsn) {
      this.violation(
        'P10',
        `${site.id} lost records after a ${capture.kind} crash: log [${log.firstLsn}, ${log.nextLsn}) was durable to ${capture.endLsn}`,
      );
      return;
    }
    const now = readRange(site, capture.firstLsn, capture.endLsn);
    if (!now.equals(capture.bytes))
      this.violation(
        'P10',
        `${site.id}'s log changed below ${capture.endLsn} across a ${capture.kind} crash`,
      );
  }

  // ---- P1/P6 under scripted failover ----

  onFailover(master: SimSite, _component: readonly SimSite[]): void {
    const history = master.replica!.core.history;
    for (const { generation, lsn } of this.#committed.values()) {
      if (lsn < master.replica!.core.firstLsn) continue; // in its snapshot, no longer in its log
      if (lsn >= master.log.nextLsn || history.generationAt(lsn) !== generation) {
        this.violation(
          'P6',
          `new master ${master.id} lacks ${generation}:${lsn}, acknowledged by a majority`,
        );
      }
    }
  }

  // ---- after every step: P4 ----

  checkStep(live: readonly SimSite[]): void {
    const masters = new Map<number, string>();
    for (const site of live) {
      const replica = site.replica!;
      if (replica.role !== 'master') continue;
      const other = masters.get(replica.generation);
      if (other !== undefined)
        this.violation('P4', `${other} and ${site.id} are both master of generation ${replica.generation}`);
      masters.set(replica.generation, site.id);
    }
  }

  // ---- periodically: P13 ----

  checkLogs(live: readonly SimSite[]): void {
    for (let i = 0; i < live.length; i++) {
      for (let j = i + 1; j < live.length; j++) {
        const a = live[i]!;
        const b = live[j]!;
        const common = a.replica!.core.history.commonEnd(
          a.log.nextLsn,
          b.replica!.core.history.entries,
          b.log.nextLsn,
          1,
        );
        if (common === undefined) continue;
        const from = Math.max(a.log.firstLsn, b.log.firstLsn);
        if (common <= from) continue;
        if (!readRange(a, from, common).equals(readRange(b, from, common))) {
          this.violation(
            'P13',
            `${a.id} and ${b.id} share generations up to ${common} but their logs differ below it`,
          );
        }
      }
    }
  }

  // ---- liveness ----

  converged(live: readonly SimSite[]): boolean {
    const master = live.find((site) => site.replica!.role === 'master');
    if (master === undefined) return false;
    return live.every(
      (site) =>
        site.log.nextLsn === master.log.nextLsn &&
        site.replica!.appliedLsn >= master.replica!.appliedLsn &&
        (site === master || (site.replica!.core.syncState === 'ready' && site.replica!.master === master.id)),
    );
  }

  checkConverged(live: readonly SimSite[]): void {
    const master = live.find((site) => site.replica!.role === 'master')!;
    const from = Math.max(...live.map((site) => site.log.firstLsn));
    const reference = readRange(master, from, master.log.nextLsn);
    const state = JSON.stringify(
      [...master.kv.entries()].map(([key, value]) => [key, Buffer.from(value).toString()]).sort(),
    );
    for (const site of live) {
      if (!readRange(site, from, site.log.nextLsn).equals(reference))
        this.violation('P13', `${site.id}'s log differs from the master's after convergence`);
      const siteState = JSON.stringify(
        [...site.kv.entries()].map(([key, value]) => [key, Buffer.from(value).toString()]).sort(),
      );
      if (siteState !== state)
        this.violation('P12', `${site.id}'s state differs from the master's after convergence`);
    }
    const history = master.replica!.core.history;
    // P3: an acknowledged commit that is gone was reported gone (a rollback journal listed it).
    const lostByPolicy = new Map<AckPolicy, number>();
    for (const [key, { policy, localLevel, master: committer }] of this.#acknowledged) {
      const [generation, lsn] = key.split(':').map(Number) as [number, number];
      if (lsn < master.replica!.core.firstLsn) continue;
      if (lsn < master.log.nextLsn && history.generationAt(lsn) === generation) continue;
      lostByPolicy.set(policy, (lostByPolicy.get(policy) ?? 0) + 1);
      if (this.#rolledBack.has(key)) continue;
      // A commit the receipt said was not flushed anywhere (its master's log not flushed, no flushed
      // ack) may be lost to a power failure without more notice: the receipt was that notice.
      const acks = this.#flushedAcks.get(`${committer}:${generation}`);
      const flushedAck = acks !== undefined && [...acks.values()].some((acked) => acked >= lsn);
      if (localLevel !== 'flushed' && !flushedAck) continue;
      this.violation(
        'P3',
        `acknowledged commit ${key} (${policy}, local ${localLevel}) was lost without a rollback report`,
      );
    }
    if (lostByPolicy.size > 0)
      this.#note(`lost (reported) acknowledged commits by policy: ${JSON.stringify([...lostByPolicy])}`);
    for (const { generation, lsn } of this.#committed.values()) {
      if (lsn < master.replica!.core.firstLsn) continue;
      if (lsn >= master.log.nextLsn || history.generationAt(lsn) !== generation) {
        this.violation('P1', `acknowledged commit ${generation}:${lsn} is not in the final log`);
      }
    }
  }
}
