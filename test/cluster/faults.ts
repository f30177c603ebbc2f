/**
 * The fault schedule of a chaos run, drawn from the run's seed: which fault comes next, its shape and
 * its duration. Which site is master when a fault strikes depends on timing, so a seed replays the same
 * sequence of decisions, not the same interleaving.
 *
 * Faults (one at a time, each healed before the next):
 * - `kill-master`, `kill-random`: kill -9 under load, restart on the same data directory after a while;
 *   `kill-minority` (5 sites): two at once, the master among them half the time;
 * - `pause-master`: SIGSTOP the master for 2–20 election timeouts, then SIGCONT; it must step down (or
 *   still be the newest master) within a few election timeouts, and its stale writes must not count;
 * - `wipe-restart`: kill -9 a site, delete its data directory, restart it (it must not vote until it has
 *   re-synced); `wipe-then-kill-master`: the same, then the master dies before the wiped site caught up;
 * - partitions (stalled or reset links): `isolate-master`, `majority-minority`, `bridge` (two sides
 *   joined only through one site), `one-way` (the master's outbound links);
 * - `delay`: latency and jitter on random links; `flaky`: connections cut again and again (loss).
 */
import { Prng } from '../sim/prng.js';
import type { ChaosCluster } from './cluster.js';
import { linkName, type PartitionMode } from './network.js';

export const FAULT_KINDS = [
  'kill-master',
  'kill-random',
  'kill-minority',
  'pause-master',
  'wipe-restart',
  'wipe-then-kill-master',
  'isolate-master',
  'majority-minority',
  'bridge',
  'one-way',
  'delay',
  'flaky',
  'wipe-holder',
  'wipe-lagging',
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

/**
 * Not in a run unless asked for (`--faults wipe-lagging`): with 5 sites it checks that wiped holders
 * re-synced in part do not vote (they wait to catch up to their master's log end: the election README),
 * and each one stops writes until the killed master is back, which would crowd out the other faults.
 */
export const OPT_IN_FAULTS: readonly FaultKind[] = ['wipe-lagging'];
export const DEFAULT_FAULTS: readonly FaultKind[] = FAULT_KINDS.filter(
  (kind) => !OPT_IN_FAULTS.includes(kind),
);

const WEIGHTS: Record<FaultKind, number> = {
  'kill-master': 3,
  'kill-random': 2,
  'kill-minority': 1,
  'pause-master': 3,
  'wipe-restart': 1,
  'wipe-then-kill-master': 1,
  'isolate-master': 2,
  'majority-minority': 2,
  bridge: 1,
  'one-way': 1,
  delay: 1,
  flaky: 1,
  'wipe-holder': 1,
  'wipe-lagging': 3,
};

/** Every run starts with these (in a seeded order), so even a short run has kill -9, SIGSTOP and a partition. */
const FIRST: readonly FaultKind[] = ['kill-master', 'pause-master', 'isolate-master', 'majority-minority'];

export interface StepDownCheck {
  readonly site: string;
  readonly pausedForMs: number;
  readonly generationBefore: number;
  /** ok: stepped down or still the newest master; violation: still master at an older generation. */
  readonly verdict: 'ok' | 'violation' | 'unknown';
  readonly detail: string;
}

export interface FaultOptions {
  readonly seed: number;
  readonly electionTimeoutMs: number;
  readonly kinds: readonly FaultKind[];
  readonly log: (line: string) => void;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export class FaultRunner {
  readonly stepDowns: StepDownCheck[] = [];
  readonly counts = new Map<FaultKind, number>();
  readonly #cluster: ChaosCluster;
  readonly #options: FaultOptions;
  /** The schedule: kinds, shapes, durations — drawn in the same order on every run of a seed. */
  readonly #prng: Prng;
  /** Choices that depend on timing (which site is up, how many cuts fit): kept off the schedule's stream. */
  readonly #runtime: Prng;
  readonly #kinds: FaultKind[];
  readonly #first: FaultKind[];
  #stopAt = 0;
  #fills = 0;

  constructor(cluster: ChaosCluster, options: FaultOptions) {
    this.#cluster = cluster;
    this.#options = options;
    this.#prng = new Prng(options.seed ^ 0x5eed);
    this.#runtime = new Prng(options.seed ^ 0x7a11);
    const minority = Math.floor((cluster.ids.length - 1) / 2);
    this.#kinds = options.kinds.filter((kind) => kind !== 'kill-minority' || minority >= 2);
    this.#first = shuffle(
      FIRST.filter((kind) => this.#kinds.includes(kind)),
      this.#prng,
    );
  }

  #log(line: string): void {
    this.#options.log(`[${(this.#cluster.now() / 1000).toFixed(1)}s] ${line}`);
    for (const site of this.#cluster.sites.values())
      site.note({ atMs: Math.round(this.#cluster.now()), fault: line });
  }

  #pickKind(): FaultKind {
    const total = this.#kinds.reduce((sum, kind) => sum + WEIGHTS[kind], 0);
    let draw = this.#prng.next() * total;
    for (const kind of this.#kinds) {
      draw -= WEIGHTS[kind];
      if (draw < 0) return kind;
    }
    return this.#kinds.at(-1)!;
  }

  /** Runs faults until `untilMs` (run time); each fault is healed before it returns. */
  async run(untilMs: number): Promise<void> {
    this.#stopAt = untilMs;
    if (this.#kinds.length === 0) {
      await sleep(Math.max(0, untilMs - this.#cluster.now()));
      return;
    }
    while (this.#cluster.now() < untilMs - 500) {
      const kind = this.#first.shift() ?? this.#pickKind();
      this.counts.set(kind, (this.counts.get(kind) ?? 0) + 1);
      await this.#run(kind);
      const gap = this.#prng.int(300, 2_000);
      await sleep(Math.min(gap, Math.max(0, untilMs - this.#cluster.now())));
    }
  }

  /** How long a fault may last: drawn, but never much past the end of the fault phase. */
  #duration(minMs: number, maxMs: number): number {
    const drawn = this.#prng.int(minMs, maxMs);
    const left = this.#stopAt - this.#cluster.now();
    return Math.round(Math.max(Math.min(drawn, left), Math.min(minMs, 500)));
  }

  #master(): string {
    return this.#cluster.currentMaster() ?? this.#runtime.pick(this.#upSites());
  }

  #upSites(): string[] {
    const up = this.#cluster.ids.filter((id) => this.#cluster.site(id).state === 'up');
    return up.length > 0 ? up : [...this.#cluster.ids];
  }

  async #restart(id: string): Promise<void> {
    const site = this.#cluster.site(id);
    if (site.state !== 'down') return;
    await site.start(this.#cluster.startedAt);
  }

  async #run(kind: FaultKind): Promise<void> {
    const cluster = this.#cluster;
    const et = this.#options.electionTimeoutMs;
    switch (kind) {
      case 'kill-master':
      case 'kill-random': {
        const victim = kind === 'kill-master' ? this.#master() : this.#runtime.pick(this.#upSites());
        const downMs = this.#duration(200, 4 * et);
        this.#log(`${kind}: kill -9 ${victim}; restart after ${downMs} ms`);
        await cluster.site(victim).kill();
        await sleep(downMs);
        await this.#restart(victim);
        return;
      }
      case 'kill-minority': {
        const master = this.#master();
        const others = shuffle(
          cluster.ids.filter((id) => id !== master),
          this.#prng,
        );
        const count = Math.floor((cluster.ids.length - 1) / 2);
        const victims = this.#prng.chance(0.5)
          ? [master, ...others.slice(0, count - 1)]
          : others.slice(0, count);
        const downMs = this.#duration(200, 4 * et);
        this.#log(`kill-minority: kill -9 ${victims.join(' ')}; restart after ${downMs} ms`);
        await Promise.all(victims.map((id) => cluster.site(id).kill()));
        await sleep(downMs);
        await Promise.all(victims.map((id) => this.#restart(id)));
        return;
      }
      case 'pause-master':
        return this.#pauseMaster();
      case 'wipe-restart': {
        const master = cluster.currentMaster();
        const candidates = cluster.ids.filter((id) => id !== master);
        const victim = this.#runtime.pick(candidates.length > 0 ? candidates : cluster.ids);
        this.#log(`wipe-restart: kill -9 ${victim}, wipe its data directory, restart`);
        await this.#wipe(victim);
        return;
      }
      case 'wipe-then-kill-master': {
        const master = this.#master();
        const victim = this.#runtime.pick(cluster.ids.filter((id) => id !== master));
        const gapMs = this.#prng.int(0, 1_500);
        const downMs = this.#duration(et, 5 * et);
        this.#log(
          `wipe-then-kill-master: wipe ${victim}, restart it, ${gapMs} ms later kill -9 master ${master} for ${downMs} ms`,
        );
        await this.#wipe(victim);
        await sleep(gapMs);
        await cluster.site(master).kill();
        await sleep(downMs);
        await this.#restart(master);
        return;
      }
      case 'isolate-master':
      case 'majority-minority':
      case 'bridge':
      case 'one-way':
        return this.#partition(kind);
      case 'delay': {
        const links = this.#someLinks();
        const delayMs = this.#prng.int(5, 150);
        const jitterMs = this.#prng.int(0, 100);
        const forMs = this.#duration(2 * et, 6 * et);
        this.#log(`delay: ${links.join(' ')} +${delayMs}±${jitterMs} ms for ${forMs} ms`);
        await cluster.network.relay.set(
          links.map((name) => ({ ...split(name), state: { delayMs, jitterMs } })),
        );
        await sleep(forMs);
        await cluster.network.relay.set(
          links.map((name) => ({ ...split(name), state: { delayMs: 0, jitterMs: 0 } })),
        );
        return;
      }
      case 'wipe-holder':
        return this.#wipeHolders(false);
      case 'wipe-lagging':
        return this.#wipeHolders(true);
      case 'flaky': {
        const forMs = this.#duration(2 * et, 6 * et);
        this.#log(`flaky: random connections cut for ${forMs} ms`);
        const until = cluster.now() + forMs;
        let cuts = 0;
        while (cluster.now() < until) {
          const [from, to] = shuffle([...cluster.ids], this.#runtime);
          cuts += await cluster.network.relay.cut(from!, to!);
          await sleep(this.#runtime.int(100, 800));
        }
        this.#log(`flaky: ${cuts} connections cut`);
        return;
      }
    }
  }

  async #wipe(victim: string): Promise<void> {
    const site = this.#cluster.site(victim);
    await site.kill();
    await site.wipe();
    this.#cluster.wipes.push({ site: victim, atMs: this.#cluster.now() });
    await site.start(this.#cluster.startedAt);
  }

  /**
   * Wiped sites and a lagging group. Some peers (`lagging`, ⌊(n−1)/2⌋ of them) are cut off while the
   * master and the others (`holders`) acknowledge writes; then holders are wiped and restarted with their
   * catch-up throttled, and the master is killed as soon as each wiped holder has some records (or after
   * 10 s without). `wipe-holder` wipes one holder: with 3 sites the wiped site must refuse to vote (the
   * lagging site lacks acknowledged writes: no master until the old one returns); with 5 the remaining
   * holder must win. `wipe-lagging` wipes every holder: with 5 sites a partly re-synced holder that voted
   * would elect a lagging site without writes it acknowledged before the wipe; it must refuse instead.
   */
  async #wipeHolders(all: boolean): Promise<void> {
    const kind = all ? 'wipe-lagging' : 'wipe-holder';
    const cluster = this.#cluster;
    const et = this.#options.electionTimeoutMs;
    const master = this.#master();
    const peers = shuffle(
      cluster.ids.filter((id) => id !== master),
      this.#prng,
    );
    const lagging = peers.slice(0, Math.floor((cluster.ids.length - 1) / 2));
    const holders = peers.slice(lagging.length);
    const wiped = all ? holders : holders.slice(0, 1);
    const isolate = new Set<string>();
    for (const site of lagging)
      for (const other of cluster.ids)
        if (other !== site) {
          isolate.add(linkName(site, other));
          isolate.add(linkName(other, site));
        }
    // Catch-up ships the log in chunks of a few hundred KiB: first grow the log well past one chunk, so a
    // holder can be caught with less of it than the lagging sites hold.
    const fill = 'x'.repeat(4096);
    let filled = 0;
    for (let index = 0; index < (all ? 200 : 0); index++) {
      const answer = await cluster.http.send(
        `${cluster.site(master).url}/kv/fill-${this.#fills++}?ack=all&timeoutMs=2000`,
        { method: 'PUT', body: fill, timeoutMs: 5_000 },
      );
      if (answer.ok && answer.answer.status === 200) filled++;
    }
    this.#log(
      `${kind}: ${all ? `${filled} fill writes of 4 KiB; ` : ''}${lagging.join(' ')} cut off; ${master} + ${holders.join(' ')} acknowledge; then ${wiped.join(' ')} wiped`,
    );
    await cluster.network.partition(isolate, 'stall');
    await sleep(this.#duration(2 * et, 3 * et));
    await cluster.network.relay.set(
      wiped.map((site) => ({ from: master, to: site, state: { rateBytesPerSec: 60_000 } })),
    );
    // One at a time, each until it has some records: the master keeps a majority of live peers meanwhile
    // (given an election timeout longer than a restart).
    const partial = new Map<string, number>();
    for (const site of wiped) {
      await cluster.site(site).kill();
      await cluster.site(site).wipe();
      cluster.wipes.push({ site, atMs: cluster.now() });
      await cluster.site(site).start(cluster.startedAt);
      const empty = (await cluster.pollSite(cluster.site(site)))?.lsn ?? 0;
      const deadline = cluster.now() + (all ? 10_000 : 3_000);
      while (cluster.now() < deadline && !partial.has(site)) {
        const lsn = (await cluster.pollSite(cluster.site(site)))?.lsn ?? 0;
        if (lsn > empty) partial.set(site, lsn);
        else await sleep(20);
      }
    }
    const lags = lagging.map((site) => `${site}@${cluster.latest.get(site)?.lsn ?? '?'}`).join(' ');
    this.#log(
      `${kind}: wiped sites re-synced ${[...partial].map(([site, lsn]) => `${site}@${lsn}`).join(' ') || 'nothing'} (lagging ${lags}); kill -9 master ${master}`,
    );
    await cluster.site(master).kill();
    await cluster.network.relay.set(
      wiped.map((site) => ({ from: master, to: site, state: { rateBytesPerSec: 0 } })),
    );
    await cluster.network.partition(new Set(), 'stall');
    await sleep(this.#duration(3 * et, 5 * et));
    await this.#restart(master);
  }

  async #pauseMaster(): Promise<void> {
    const cluster = this.#cluster;
    const et = this.#options.electionTimeoutMs;
    const factor = this.#prng.int(2, 20);
    const master = cluster.currentMaster();
    if (master === undefined) {
      this.#log('pause-master: no master known now; skipped');
      await sleep(et);
      return;
    }
    const generationBefore = cluster.latest.get(master)?.generation ?? 0;
    const pauseMs = Math.round(
      Math.max(2 * et, Math.min(factor * et, this.#stopAt - cluster.now() + 2 * et)),
    );
    this.#log(`pause-master: SIGSTOP ${master} (generation ${generationBefore}) for ${pauseMs} ms`);
    const site = cluster.site(master);
    site.pause();
    await sleep(pauseMs);
    site.resume();
    this.#log(`pause-master: SIGCONT ${master}`);
    this.stepDowns.push(await this.#checkStepDown(master, generationBefore, pauseMs));
  }

  /**
   * After SIGCONT the old master must not stay master of an older generation than one another site
   * claims: it must learn of the newer generation and step down within a few election timeouts.
   */
  async #checkStepDown(id: string, generationBefore: number, pausedForMs: number): Promise<StepDownCheck> {
    const cluster = this.#cluster;
    const deadline = cluster.now() + 5 * this.#options.electionTimeoutMs + 2_000;
    const site = cluster.site(id);
    let last = '';
    while (cluster.now() < deadline) {
      if (site.state !== 'up')
        return { site: id, pausedForMs, generationBefore, verdict: 'unknown', detail: 'not up' };
      const statuses = await cluster.pollAll();
      const own = statuses.get(id);
      if (own !== undefined) {
        const newest = Math.max(...[...statuses.values()].map((status) => status.generation));
        last = `role ${own.role} at generation ${own.generation}; newest generation seen ${newest}`;
        if (own.role !== 'master' || own.generation >= newest)
          return { site: id, pausedForMs, generationBefore, verdict: 'ok', detail: last };
      }
      await sleep(100);
    }
    return {
      site: id,
      pausedForMs,
      generationBefore,
      verdict: last === '' ? 'unknown' : 'violation',
      detail: last,
    };
  }

  async #partition(kind: 'isolate-master' | 'majority-minority' | 'bridge' | 'one-way'): Promise<void> {
    const cluster = this.#cluster;
    const ids = cluster.ids;
    const et = this.#options.electionTimeoutMs;
    const master = this.#master();
    const blocked = new Set<string>();
    const cutOff = (a: readonly string[], b: readonly string[]) => {
      for (const x of a)
        for (const y of b) {
          blocked.add(linkName(x, y));
          blocked.add(linkName(y, x));
        }
    };
    let shape: string;
    switch (kind) {
      case 'isolate-master': {
        const rest = ids.filter((id) => id !== master);
        cutOff([master], rest);
        shape = `${master} | ${rest.join(' ')}`;
        break;
      }
      case 'majority-minority': {
        const shuffled = shuffle([...ids], this.#prng);
        const minority = shuffled.slice(0, Math.floor((ids.length - 1) / 2));
        const majority = shuffled.slice(minority.length);
        cutOff(minority, majority);
        shape = `${minority.join(' ')} | ${majority.join(' ')}`;
        break;
      }
      case 'bridge': {
        const bridge = this.#prng.pick(ids);
        const rest = shuffle(
          ids.filter((id) => id !== bridge),
          this.#prng,
        );
        const left = rest.slice(0, Math.ceil(rest.length / 2));
        const right = rest.slice(left.length);
        cutOff(left, right);
        shape = `${left.join(' ')} - ${bridge} - ${right.join(' ')}`;
        break;
      }
      case 'one-way': {
        for (const id of ids) if (id !== master) blocked.add(linkName(master, id));
        shape = `${master} → others dropped`;
        break;
      }
    }
    const mode: PartitionMode = this.#prng.chance(0.7) ? 'stall' : 'reset';
    const forMs = this.#duration(2 * et, 8 * et);
    this.#log(`${kind}: ${shape} (${mode}) for ${forMs} ms`);
    await cluster.network.partition(blocked, mode);
    await sleep(forMs);
    await cluster.network.partition(new Set(), mode);
    this.#log(`${kind}: healed`);
  }

  #someLinks(): string[] {
    const ids = this.#cluster.ids;
    const links: string[] = [];
    for (const from of ids)
      for (const to of ids) if (from !== to && this.#prng.chance(0.5)) links.push(linkName(from, to));
    return links.length > 0 ? links : [linkName(ids[0]!, ids[1]!)];
  }

  /** Every fault undone: links open, paused sites continued, dead sites started. */
  async healAll(): Promise<void> {
    const cluster = this.#cluster;
    await cluster.network.partition(new Set(), 'stall');
    await cluster.network.relay.heal();
    for (const site of cluster.sites.values()) site.resume();
    await Promise.all(
      [...cluster.sites.values()].map((site) =>
        site.state === 'down' ? site.start(cluster.startedAt) : undefined,
      ),
    );
  }
}

function split(name: string): { from: string; to: string } {
  const [from, to] = name.split('>');
  return { from: from!, to: to! };
}

function shuffle<T>(items: T[], prng: Prng): T[] {
  for (let index = items.length - 1; index > 0; index--) {
    const other = prng.int(0, index);
    [items[index], items[other]] = [items[other]!, items[index]!];
  }
  return items;
}
