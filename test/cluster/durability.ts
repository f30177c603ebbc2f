/**
 * P9 with real processes: each durability mode keeps its promise after kill -9. One four-site cluster,
 * one mode per site (`write`, `fsync`, `dsync`, `delayed:100`), under load. Each site in turn — the
 * master first, then the others — is killed with SIGKILL mid-workload and restarted cut off from the
 * others (the relay stalls its links: nothing can catch it up or roll it back), and its recovered log is
 * read through its read-your-writes tokens: everything it claimed since it last started must be there —
 * as a client, every commit it acknowledged at level `written` or `flushed`; as master, every write it
 * answered while its own log had it `written` or `flushed`. Then the links heal, the cluster converges,
 * and every write acknowledged under quorum/all must be on every site. A process crash keeps everything
 * written to the OS, so no mode may lose anything.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { checkFinalState, mapLimit, maxUnavailableMs } from './checks.js';
import { ChaosCluster } from './cluster.js';
import { History, isAcked, type Operation } from './history.js';
import { linkName } from './network.js';
import { killAllTracked } from './processes.js';
import { type ChaosSummary, createNetwork, SITE_IDS, waitConverged } from './run.js';
import { Workload } from './workload.js';

export const DURABILITY_MODES = ['write', 'fsync', 'dsync', 'delayed:100'] as const;
const DURABLE_LEVELS = new Set(['written', 'flushed']);
const LOAD_MS = 1_500;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export interface DurabilityReport {
  readonly lines: string[];
  readonly findings: string[];
  readonly ok: boolean;
  readonly dir: string;
  readonly summary: ChaosSummary;
}

export async function runDurabilityModes(options: {
  seed: number;
  transport: 'tcp' | 'ws';
  electionTimeoutMs: number;
  log: (line: string) => void;
  keep: boolean;
}): Promise<DurabilityReport> {
  const dir = await mkdtemp(path.join(tmpdir(), `ackord-durability-${options.seed}-`));
  const ids = SITE_IDS.slice(0, DURABILITY_MODES.length);
  const modeOf = new Map(ids.map((id, index) => [id, DURABILITY_MODES[index]!]));
  const lines: string[] = [];
  const findings: string[] = [];
  const history = new History();
  let cluster: ChaosCluster | undefined;
  let workload: Workload | undefined;
  let lost = 0;
  let unavailable = 0;
  try {
    const network = await createNetwork(options.seed, 'relay', ids, dir);
    cluster = await ChaosCluster.create({
      ids,
      network,
      dir,
      config: {
        transport: options.transport,
        electionTimeoutMs: options.electionTimeoutMs,
        ackTimeoutMs: 1_000,
        durability: 'fsync',
        durabilityBySite: modeOf,
        logLevel: 'info',
      },
    });
    const run = cluster;
    const log = (line: string) => options.log(`[durability ${(run.now() / 1000).toFixed(1)}s] ${line}`);
    await cluster.startAll();
    const first = await waitConverged(cluster, 45_000);
    if ('error' in first) throw new Error(`the cluster never came up: ${first.error}`);
    cluster.startPolling();
    workload = new Workload(cluster, history, {
      clients: 3,
      activeKeys: 8,
      opsPerKey: 24,
      readFraction: 0,
      forwardFraction: 0,
      policies: ['all', 'quorum'],
      ackTimeoutMs: 1_000,
      requestTimeoutMs: 3_000,
      seed: options.seed,
    });
    const workloadStart = cluster.now();
    workload.start();
    const order = [first.master, ...ids.filter((id) => id !== first.master)];
    for (const id of order) {
      await sleep(LOAD_MS);
      const role = cluster.currentMaster() === id ? 'master' : 'client';
      const result = await crashAndInspect(cluster, history, id, log);
      lost += result.lost;
      findings.push(...result.findings);
      lines.push(
        `durability=${modeOf.get(id)}: kill -9 ${role} ${id} mid-workload: claims=${result.claims} (acks ${result.acks}, answers ${result.answers}) lost=${result.lost}`,
      );
      log(lines.at(-1)!);
    }
    await sleep(LOAD_MS);
    await workload.stop();
    const workloadEnd = cluster.now();
    cluster.stopPolling();
    unavailable = maxUnavailableMs(history.operations, workloadStart, workloadEnd);
    const converged = await waitConverged(cluster, 45_000);
    if ('error' in converged) findings.push(converged.error);
    else {
      const final = await checkFinalState(
        cluster.http,
        history,
        workload.usedKeys,
        { master: converged.master, urls: new Map(ids.map((id) => [id, cluster!.site(id).url])) },
        new Map([...converged.statuses].map(([id, status]) => [id, status.lsn])),
        cluster.now(),
      );
      const lostAcked = new Set(final.lost.map((entry) => entry.operation.id)).size;
      lost += lostAcked;
      for (const check of final.results) if (!check.ok) findings.push(...check.findings);
      lines.push(
        `durability: every site converged; acknowledged writes (quorum/all) ${history.operations.filter(isAcked).length}, lost ${lostAcked}`,
      );
    }
    for (const exit of cluster.unexpectedExits)
      findings.push(`${exit.site} exited on its own (${exit.code ?? exit.signal})`);
  } catch (error) {
    findings.push((error as Error).stack ?? String(error));
  } finally {
    await workload?.stop().catch(() => undefined);
    await cluster?.close().catch(() => undefined);
    await killAllTracked();
  }
  const counts = history.counts();
  return {
    lines,
    findings,
    ok: findings.length === 0 && lost === 0,
    dir,
    summary: {
      ops: counts.ops - history.operations.filter((operation) => operation.client === -1).length,
      acked: counts.acked,
      lost,
      indeterminate: counts.indeterminate,
      elections: new Set(
        cluster?.claims.filter((claim) => claim.role === 'master').map((claim) => claim.generation),
      ).size,
      maxUnavailableMs: unavailable,
    },
  };
}

/** What `id` said its own log held, since it last started: acks at written/flushed, and master answers. */
function claimsOf(
  history: History,
  id: string,
  sinceMs: number,
): { acks: Operation[]; answers: Operation[] } {
  const acks: Operation[] = [];
  const answers: Operation[] = [];
  for (const operation of history.operations) {
    const receipt = operation.receipt;
    if (operation.kind !== 'write' || receipt === undefined || operation.invokeMs < sinceMs) continue;
    if (receipt.ackedBy?.some((ack) => ack.site === id && DURABLE_LEVELS.has(ack.level)))
      acks.push(operation);
    else if (
      operation.site === id &&
      !operation.forward &&
      (operation.status === 200 || operation.status === 202) &&
      DURABLE_LEVELS.has(receipt.localLevel ?? '')
    )
      answers.push(operation);
  }
  return { acks, answers };
}

/**
 * kill -9 `id` under load, restart it with every link to it stalled, and ask it, by token, for every
 * write it claimed: `200` (applied here) is kept, `409` (not this record at that LSN) or a log that ends
 * before it is lost.
 */
async function crashAndInspect(
  cluster: ChaosCluster,
  history: History,
  id: string,
  log: (line: string) => void,
): Promise<{ claims: number; acks: number; answers: number; lost: number; findings: string[] }> {
  const site = cluster.site(id);
  const since = site.readyAtMs;
  const blocked = new Set(
    cluster.ids
      .filter((other) => other !== id)
      .flatMap((other) => [linkName(id, other), linkName(other, id)]),
  );
  await site.kill();
  await cluster.network.partition(blocked, 'stall');
  const findings: string[] = [];
  let lostCount = 0;
  let claims = { acks: [] as Operation[], answers: [] as Operation[] };
  try {
    await site.start(cluster.startedAt);
    // Read after the restart: a receipt naming an ack the site sent before it died may arrive late.
    await sleep(500);
    claims = claimsOf(history, id, since);
    const all = [...claims.acks, ...claims.answers];
    const statuses = await mapLimit(all, 16, async (operation) => {
      const answer = await cluster.http.send(
        `${site.url}/kv/${encodeURIComponent(operation.key)}?token=${operation.receipt!.token}&timeoutMs=0`,
        { timeoutMs: 5_000 },
      );
      return answer.ok ? String(answer.answer.status) : answer.kind;
    });
    all.forEach((operation, index) => {
      const status = statuses[index];
      if (status === '200' || status === '404') return;
      lostCount++;
      if (findings.length < 10)
        findings.push(
          `${id} (${status === '504' ? 'its log ends before it' : status === '409' ? 'another record at that LSN' : `answer ${status}`}): lost ${operation.receipt!.token} ${operation.key}=${operation.value} after kill -9`,
        );
    });
    log(`${id}: restarted alone; ${all.length} claims, ${lostCount} missing`);
  } finally {
    await cluster.network.partition(new Set(), 'stall');
  }
  return {
    claims: claims.acks.length + claims.answers.length,
    acks: claims.acks.length,
    answers: claims.answers.length,
    lost: lostCount,
    findings,
  };
}
