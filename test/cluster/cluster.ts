/**
 * A chaos run's cluster: the network (relay, or namespaces), the `kv node` processes, and a poller that
 * reads every site's `/status` a few times a second and keeps what the checkers need — every site's own
 * (role, generation, master) claims as they change, the election explanations the sites report, and
 * which site the clients should write to.
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { HttpClient } from './http.js';
import type { Network } from './network.js';
import { KvSite, type SiteConfig, type UnexpectedExit } from './sites.js';

export const POLL_INTERVAL_MS = 150;
const POLL_TIMEOUT_MS = 1_000;

export interface Claim {
  readonly atMs: number;
  readonly site: string;
  readonly role: string;
  readonly generation: number;
  readonly master: string | null;
  readonly lsn: number;
  readonly appliedLsn: number;
  /** The site's start count: a restart (or a wipe) begins a new series. */
  readonly start: number;
}

export interface Explanation {
  readonly electionGeneration: number;
  readonly winner: string;
  readonly candidates: readonly {
    site: string;
    dataGeneration: number;
    lastLsn: number;
    electable: boolean;
  }[];
  readonly votes: readonly { voter: string; candidate: string }[];
  readonly startedAt: number;
  readonly endedAt: number;
}

export interface SiteStatus {
  readonly id: string;
  readonly role: string;
  readonly generation: number;
  readonly master: { id: string; http: string | null } | null;
  readonly lsn: number;
  readonly appliedLsn: number;
  readonly lastCommitLsn: number;
  readonly durableLsn: number;
  readonly lastElection: Explanation | null;
  readonly readLease: boolean;
}

export class ChaosCluster {
  readonly ids: readonly string[];
  readonly sites: ReadonlyMap<string, KvSite>;
  readonly network: Network;
  readonly http = new HttpClient();
  readonly startedAt = performance.now();
  readonly claims: Claim[] = [];
  readonly explanations = new Map<string, Explanation>();
  readonly unexpectedExits: UnexpectedExit[] = [];
  readonly latest = new Map<string, SiteStatus & { atMs: number }>();
  /** Wipes: the site and the time; its generation may start from 0 again. */
  readonly wipes: { site: string; atMs: number }[] = [];
  #hint: string | undefined;
  #hintGeneration = -1;
  #poller: NodeJS.Timeout | undefined;
  readonly #polling = new Set<string>();
  readonly #lastClaim = new Map<string, Claim>();

  private constructor(ids: readonly string[], network: Network, sites: Map<string, KvSite>) {
    this.ids = ids;
    this.network = network;
    this.sites = sites;
  }

  static async create(options: {
    ids: readonly string[];
    network: Network;
    dir: string;
    config: SiteConfig;
  }): Promise<ChaosCluster> {
    const dataRoot = path.join(options.dir, 'data');
    const logDir = path.join(options.dir, 'logs');
    await mkdir(dataRoot, { recursive: true });
    await mkdir(logDir, { recursive: true });
    const sites = new Map<string, KvSite>();
    let cluster: ChaosCluster | undefined;
    for (const id of options.ids) {
      sites.set(
        id,
        new KvSite({
          id,
          ids: options.ids,
          dataRoot,
          logDir,
          network: options.network,
          config: options.config,
          onUnexpectedExit: (exit) => cluster?.unexpectedExits.push(exit),
        }),
      );
    }
    cluster = new ChaosCluster(options.ids, options.network, sites);
    return cluster;
  }

  /** Milliseconds since the run began. */
  now(): number {
    return performance.now() - this.startedAt;
  }

  site(id: string): KvSite {
    const site = this.sites.get(id);
    if (site === undefined) throw new Error(`no site ${id}`);
    return site;
  }

  async startAll(): Promise<void> {
    await Promise.all([...this.sites.values()].map((site) => site.start(this.startedAt)));
  }

  startPolling(): void {
    if (this.#poller !== undefined) return;
    this.#poller = setInterval(() => {
      for (const site of this.sites.values()) void this.pollSite(site);
    }, POLL_INTERVAL_MS);
  }

  stopPolling(): void {
    clearInterval(this.#poller);
    this.#poller = undefined;
  }

  /** Reads one site's /status (skipped while the previous read of it is still out). */
  async pollSite(site: KvSite): Promise<SiteStatus | undefined> {
    if (site.state !== 'up' || this.#polling.has(site.id)) return undefined;
    this.#polling.add(site.id);
    const start = site.starts;
    try {
      const body = (await this.http.json(`${site.url}/status`, POLL_TIMEOUT_MS)) as SiteStatus | undefined;
      if (body === undefined || site.starts !== start) return undefined;
      this.#note(site.id, body, start);
      return body;
    } finally {
      this.#polling.delete(site.id);
    }
  }

  #note(id: string, status: SiteStatus, start: number): void {
    const atMs = this.now();
    this.latest.set(id, { ...status, atMs });
    const claim: Claim = {
      atMs,
      site: id,
      role: status.role,
      generation: status.generation,
      master: status.master?.id ?? null,
      lsn: status.lsn,
      appliedLsn: status.appliedLsn,
      start,
    };
    const last = this.#lastClaim.get(id);
    if (
      last === undefined ||
      last.role !== claim.role ||
      last.generation !== claim.generation ||
      last.master !== claim.master ||
      last.start !== claim.start
    ) {
      this.claims.push(claim);
      this.#lastClaim.set(id, claim);
    }
    if (status.role === 'master') this.noteMaster(id, status.generation);
    const explanation = status.lastElection;
    if (explanation !== null && explanation !== undefined) {
      const name = `${explanation.electionGeneration}:${explanation.winner}`;
      const known = this.explanations.get(name);
      // The winner's own copy lists every vote; a peer's copy is the same explanation, announced.
      if (known === undefined || explanation.votes.length > known.votes.length)
        this.explanations.set(name, explanation);
    }
  }

  /** A site that says it is master (a status, or a 421 naming it): clients write there. */
  noteMaster(id: string, generation: number): void {
    if (generation >= this.#hintGeneration) {
      this.#hint = id;
      this.#hintGeneration = generation;
    }
  }

  /** A 421's hint carries no generation: trusted when it is the only news. */
  noteMasterHint(id: string): void {
    this.#hint = id;
  }

  /** The site the clients believe is master (undefined: no idea). */
  masterHint(): string | undefined {
    const hint = this.#hint;
    if (hint === undefined) return undefined;
    const site = this.sites.get(hint);
    return site !== undefined && site.state !== 'down' ? hint : undefined;
  }

  /** The master as the latest statuses show it: the up site claiming master at the highest generation. */
  currentMaster(): string | undefined {
    let best: { id: string; generation: number } | undefined;
    for (const [id, status] of this.latest) {
      if (this.site(id).state !== 'up' || status.role !== 'master') continue;
      if (best === undefined || status.generation > best.generation)
        best = { id, generation: status.generation };
    }
    return best?.id;
  }

  /** Polls every site now; resolves with the statuses that answered. */
  async pollAll(): Promise<Map<string, SiteStatus>> {
    const answers = await Promise.all(
      [...this.sites.values()].map(async (site) => {
        if (site.state !== 'up') return undefined;
        const body = (await this.http.json(`${site.url}/status`, POLL_TIMEOUT_MS)) as SiteStatus | undefined;
        if (body !== undefined) this.#note(site.id, body, site.starts);
        return body === undefined ? undefined : ([site.id, body] as const);
      }),
    );
    return new Map(answers.filter((answer) => answer !== undefined));
  }

  async close(): Promise<void> {
    this.stopPolling();
    await Promise.all([...this.sites.values()].map((site) => site.kill()));
    this.http.close();
    await this.network.close();
  }
}
