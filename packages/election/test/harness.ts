/**
 * A tiny deterministic world for the pure election core: N cores, a message queue with per-link cuts,
 * virtual time, persisted state per site, and the replica's part played by the harness (a winner
 * announces itself to every site it can reach, like the replica's newMaster broadcast).
 */
import {
  type ElectionConfig,
  ElectionCore,
  type ElectionExplanation,
  type ElectionMessage,
  type LogInfo,
  type PersistentElectionState,
} from '../src/index.js';

export interface SiteSpec {
  readonly id: string;
  readonly priority?: number;
  readonly view?: boolean;
  readonly log?: LogInfo;
  /**
   * Start with no election record although the log holds records (a site wiped and then re-synced in
   * part, or a group that ran without elections). Default: a site with records in its log has taken
   * part in the group's elections before (recorded); one with an empty log has not.
   */
  readonly unrecorded?: boolean;
}

interface Envelope {
  readonly from: string;
  readonly to: string;
  readonly message: ElectionMessage;
  readonly at: number;
}

/** A seeded generator (mulberry32) so every test replays. */
export function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class World {
  now = 0;
  readonly cores = new Map<string, ElectionCore>();
  readonly logs = new Map<string, LogInfo>();
  readonly persisted = new Map<string, PersistentElectionState>();
  /** Every persist effect performed, in order. */
  readonly persists: { site: string; state: PersistentElectionState; at: number }[] = [];
  readonly generation = new Map<string, number>();
  readonly masterOf = new Map<string, string | undefined>();
  readonly masters: { site: string; generation: number; at: number }[] = [];
  readonly elected: ElectionExplanation[] = [];
  readonly stepDowns: { site: string; reason: string }[] = [];
  readonly fences = new Map<string, number>();
  readonly down = new Set<string>();
  readonly cut = new Set<string>();
  #queue: Envelope[] = [];
  readonly config: Omit<ElectionConfig, 'siteId' | 'sites'>;
  readonly specs: readonly SiteSpec[];
  readonly #random: () => number;
  readonly delayMs: number;

  constructor(
    specs: readonly SiteSpec[],
    config: Partial<Omit<ElectionConfig, 'siteId' | 'sites'>> = {},
    options: { seed?: number; delayMs?: number } = {},
  ) {
    this.specs = specs;
    this.#random = seeded(options.seed ?? 1);
    this.delayMs = options.delayMs ?? 1;
    const electable = specs.filter((s) => (s.priority ?? 1) > 0 && !s.view).length;
    this.config = {
      electionTimeoutMs: 1000,
      pingIntervalMs: 100,
      fullElectionTimeoutMs: 2000,
      vote1WaitMs: 20,
      leaseTimeoutMs: 500,
      clockSkewFactor: 0.1,
      twoSiteStrict: true,
      nvotes: electable === 2 && config.twoSiteStrict === false ? 1 : Math.floor(electable / 2) + 1,
      preVote: true,
      checkQuorum: true,
      ...config,
    };
    for (const spec of specs) {
      this.logs.set(spec.id, spec.log ?? { dataGeneration: 0, lastLsn: 0 });
      if (spec.log !== undefined && spec.log.lastLsn > 0 && spec.unrecorded !== true) {
        const generation = spec.log.dataGeneration;
        this.persisted.set(spec.id, { electionGeneration: generation, votedFor: undefined, generation });
      }
      this.start(spec.id);
    }
  }

  /** (Re)starts a site's core from its persisted state, as a restart after a crash would. */
  start(id: string): ElectionCore {
    const core = new ElectionCore({
      config: {
        ...this.config,
        siteId: id,
        sites: this.specs.map((s) => ({ id: s.id, priority: s.priority ?? 1, view: s.view ?? false })),
      },
      logInfo: () => this.logs.get(id)!,
      random: this.#random,
    });
    this.cores.set(id, core);
    this.down.delete(id);
    this.masterOf.set(id, undefined);
    const persisted = this.persisted.get(id) ?? { electionGeneration: 0, votedFor: undefined };
    // The replica restarts at its log's generation or the stored learned one, whichever is higher (the
    // manager's driver does the same), unless a test kept it alive.
    core.start(
      this.now,
      persisted,
      this.generation.get(id) ?? Math.max(this.logs.get(id)!.dataGeneration, persisted.generation ?? 0),
    );
    core.roleChanged('client', undefined, this.generation.get(id) ?? 0, this.now);
    this.#flush(id);
    return core;
  }

  crash(id: string): void {
    this.down.add(id);
    this.#queue = this.#queue.filter((envelope) => envelope.to !== id && envelope.from !== id);
  }

  /** Cuts (or heals) the link between two sites in both directions. */
  setCut(a: string, b: string, cut: boolean): void {
    for (const key of [`${a}>${b}`, `${b}>${a}`]) {
      if (cut) this.cut.add(key);
      else this.cut.delete(key);
    }
  }

  isolate(id: string, isolated = true): void {
    for (const spec of this.specs) if (spec.id !== id) this.setCut(id, spec.id, isolated);
  }

  canReach(from: string, to: string): boolean {
    return !this.down.has(from) && !this.down.has(to) && !this.cut.has(`${from}>${to}`);
  }

  currentMasters(): string[] {
    return this.specs.map((s) => s.id).filter((id) => !this.down.has(id) && this.masterOf.get(id) === id);
  }

  /** Runs virtual time forward, a millisecond at a time, delivering messages and ticking every core. */
  run(ms: number, until?: () => boolean): void {
    for (let step = 0; step < ms; step++) {
      this.now++;
      const due = this.#queue.filter((envelope) => envelope.at <= this.now);
      this.#queue = this.#queue.filter((envelope) => envelope.at > this.now);
      for (const envelope of due) this.#deliver(envelope);
      for (const [id, core] of this.cores) {
        if (this.down.has(id)) continue;
        core.tick(this.now);
        this.#flush(id);
      }
      if (until?.()) return;
    }
  }

  runUntilMaster(ms = 20_000): string | undefined {
    this.run(ms, () => this.currentMasters().length > 0);
    return this.currentMasters()[0];
  }

  #deliver(envelope: Envelope): void {
    if (!this.canReach(envelope.from, envelope.to)) return;
    const core = this.cores.get(envelope.to)!;
    core.receive(envelope.from, envelope.message, this.now);
    this.#flush(envelope.to);
  }

  #send(from: string, to: string | 'broadcast', message: ElectionMessage): void {
    const targets = to === 'broadcast' ? this.specs.map((s) => s.id).filter((id) => id !== from) : [to];
    for (const target of targets) {
      if (this.canReach(from, target))
        this.#queue.push({ from, to: target, message, at: this.now + this.delayMs });
    }
  }

  #flush(id: string): void {
    const core = this.cores.get(id)!;
    for (let effects = core.drainEffects(); effects.length > 0; effects = core.drainEffects()) {
      for (const effect of effects) {
        switch (effect.type) {
          case 'persist':
            this.persisted.set(id, effect.state);
            this.persists.push({ site: id, state: effect.state, at: this.now });
            core.persisted(effect.state, this.now);
            break;
          case 'send':
            this.#send(id, effect.to, effect.message);
            break;
          case 'fence':
            this.fences.set(id, Math.max(this.fences.get(id) ?? 0, effect.generation));
            break;
          case 'becomeMaster':
            this.#becomeMaster(id, effect.generation, effect.explanation);
            break;
          case 'stepDown':
            this.stepDowns.push({ site: id, reason: effect.reason });
            this.masterOf.set(id, undefined);
            core.roleChanged('client', undefined, this.generation.get(id) ?? 0, this.now);
            break;
          case 'electionStarted':
          case 'electionFailed':
            break;
        }
      }
    }
  }

  #becomeMaster(id: string, generation: number, explanation: ElectionExplanation): void {
    this.generation.set(id, generation);
    this.masterOf.set(id, id);
    this.masters.push({ site: id, generation, at: this.now });
    this.elected.push(explanation);
    this.cores.get(id)!.roleChanged('master', id, generation, this.now);
    // The replica's newMaster broadcast: reachable sites of a lower generation follow the winner.
    for (const spec of this.specs) {
      if (spec.id === id || !this.canReach(id, spec.id)) continue;
      if ((this.generation.get(spec.id) ?? 0) >= generation) continue;
      if ((this.fences.get(spec.id) ?? 0) > generation) continue;
      const wasMaster = this.masterOf.get(spec.id) === spec.id;
      this.generation.set(spec.id, generation);
      this.masterOf.set(spec.id, id);
      if (wasMaster) this.stepDowns.push({ site: spec.id, reason: 'dupmaster' });
      this.cores.get(spec.id)!.roleChanged('client', id, generation, this.now);
      this.#flush(spec.id);
    }
  }
}
