/**
 * One chaos run: start the sites (through the relay, or in namespaces), run the workload while the
 * seeded faults strike, heal everything, let the cluster recover and converge, then check the history
 * and the final state. Returns the summary and every check's result; the caller prints them.
 */
import { appendFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  type CheckResult,
  checkFinalState,
  checkGenerationsMonotonic,
  checkLinearizable,
  checkNoStaleAcks,
  checkOneMasterPerGeneration,
  checkWipedVotes,
  type LostWrite,
  maxUnavailableMs,
} from './checks.js';
import { ChaosCluster, type SiteStatus } from './cluster.js';
import { DEFAULT_FAULTS, type FaultKind, FaultRunner } from './faults.js';
import { History, isAcked } from './history.js';
import { type Network, RelayNetwork } from './network.js';
import { killAllTracked } from './processes.js';
import { RelayClient } from './relay-client.js';
import { Workload } from './workload.js';

export interface ChaosOptions {
  readonly seed: number;
  readonly sites: number;
  readonly transport: 'tcp' | 'ws';
  /** Length of the fault phase. */
  readonly durationMs: number;
  readonly net: 'relay' | 'netns';
  readonly clients: number;
  readonly electionTimeoutMs: number;
  readonly ackTimeoutMs: number;
  readonly durability: string;
  readonly faults: readonly FaultKind[];
  /** Keep the run directory even when every check passed. */
  readonly keep: boolean;
  /** Where run directories go (default: the system's temporary directory). */
  readonly baseDir?: string;
  readonly log: (line: string) => void;
  readonly extraSiteFlags?: readonly string[];
  /** The sites' --log-level (default info). */
  readonly siteLogLevel?: string;
}

export const DEFAULT_OPTIONS = {
  sites: 3,
  transport: 'tcp',
  durationMs: 60_000,
  net: 'relay',
  electionTimeoutMs: 1_000,
  ackTimeoutMs: 1_000,
  durability: 'fsync',
  faults: DEFAULT_FAULTS,
  keep: false,
} as const;

export interface ChaosSummary {
  readonly ops: number;
  readonly acked: number;
  readonly lost: number;
  readonly indeterminate: number;
  readonly elections: number;
  readonly maxUnavailableMs: number;
}

export interface ChaosReport {
  readonly summary: ChaosSummary;
  readonly checks: readonly CheckResult[];
  readonly ok: boolean;
  readonly dir: string;
  readonly kept: boolean;
  readonly network: string;
  readonly details: readonly string[];
}

export function summaryLine(summary: ChaosSummary): string {
  return `ops=${summary.ops} acked=${summary.acked} lost=${summary.lost} indeterminate=${summary.indeterminate} elections=${summary.elections} max-unavailable-ms=${summary.maxUnavailableMs}`;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export const SITE_IDS = ['a', 'b', 'c', 'd', 'e', 'f', 'g'];
const CONVERGE_TIMEOUT_MS = 45_000;
const RECOVERY_TIMEOUT_MS = 30_000;

export async function createNetwork(
  seed: number,
  net: 'relay' | 'netns',
  ids: readonly string[],
  dir: string,
): Promise<Network> {
  const relay = await RelayClient.start(seed);
  try {
    if (net === 'netns') {
      const { NetnsNetwork } = await import('./netns.js');
      return await NetnsNetwork.create(relay, ids, dir);
    }
    return await RelayNetwork.create(relay, ids);
  } catch (error) {
    await relay.close();
    throw error;
  }
}

/** Until every site is up, agrees on one master and holds its whole log, applied (two polls in a row). */
export async function waitConverged(
  cluster: ChaosCluster,
  timeoutMs: number,
): Promise<{ master: string; statuses: Map<string, SiteStatus> } | { error: string }> {
  const deadline = cluster.now() + timeoutMs;
  let stable = 0;
  let why = 'no poll yet';
  while (cluster.now() < deadline) {
    const statuses = await cluster.pollAll();
    const masters = [...statuses.values()].filter((status) => status.role === 'master');
    if (statuses.size < cluster.ids.length) why = `only ${[...statuses.keys()].join(', ')} answered`;
    else if (masters.length !== 1) why = `${masters.length} sites say they are master`;
    else {
      const master = masters[0]!;
      const behind = [...statuses.values()].filter(
        (status) =>
          status.master?.id !== master.id ||
          status.lsn !== master.lsn ||
          status.appliedLsn !== master.appliedLsn,
      );
      if (behind.length === 0) {
        if (++stable >= 2) return { master: master.id, statuses };
        await sleep(200);
        continue;
      }
      why = `master ${master.id} at ${master.lsn}; ${behind.map((status) => `${status.id} follows ${status.master?.id ?? 'nobody'} at ${status.lsn}/${status.appliedLsn}`).join(', ')}`;
    }
    stable = 0;
    await sleep(200);
  }
  return { error: `not converged in ${timeoutMs} ms: ${why}` };
}

export async function runChaos(options: ChaosOptions): Promise<ChaosReport> {
  const ids = SITE_IDS.slice(0, options.sites);
  const dir = await mkdtemp(path.join(options.baseDir ?? tmpdir(), `ackord-chaos-${options.seed}-`));
  const faultLog = path.join(dir, 'faults.log');
  const log = (line: string) => {
    appendFileSync(faultLog, `${line}\n`);
    options.log(line);
  };
  const details: string[] = [];
  let cluster: ChaosCluster | undefined;
  let workload: Workload | undefined;
  const history = new History();
  const checks: CheckResult[] = [];
  const lost: LostWrite[] = [];
  let networkDescription = '';
  try {
    const network = await createNetwork(options.seed, options.net, ids, dir);
    networkDescription = network.description;
    cluster = await ChaosCluster.create({
      ids,
      network,
      dir,
      config: {
        transport: options.transport,
        electionTimeoutMs: options.electionTimeoutMs,
        ackTimeoutMs: options.ackTimeoutMs,
        durability: options.durability,
        logLevel: options.siteLogLevel ?? 'info',
        ...(options.extraSiteFlags === undefined ? {} : { extraFlags: options.extraSiteFlags }),
      },
    });
    log(
      `chaos seed=${options.seed} sites=${ids.length} transport=${options.transport} faults=${(options.durationMs / 1000).toFixed(0)}s net=${network.kind} dir=${dir}`,
    );
    await cluster.startAll();
    const first = await waitConverged(cluster, CONVERGE_TIMEOUT_MS);
    if ('error' in first) throw new Error(`the cluster never came up: ${first.error}`);
    log(`master ${first.master} elected; workload and faults start`);
    cluster.startPolling();

    workload = new Workload(cluster, history, {
      clients: options.clients,
      activeKeys: 6,
      opsPerKey: 24,
      readFraction: 0.2,
      forwardFraction: 0.1,
      policies: ['quorum', 'quorum', 'quorum', 'all', 'all_peers'],
      ackTimeoutMs: options.ackTimeoutMs,
      requestTimeoutMs: options.ackTimeoutMs + 2_000,
      seed: options.seed,
    });
    const workloadStart = cluster.now();
    workload.start();
    const faults = new FaultRunner(cluster, {
      seed: options.seed,
      electionTimeoutMs: options.electionTimeoutMs,
      kinds: options.faults,
      log,
    });
    await sleep(1_500);
    await faults.run(workloadStart + options.durationMs);
    await faults.healAll();
    const healedAt = cluster.now();
    log('every fault healed; waiting for the cluster to recover');
    // P14: after the heal, a write must be acknowledged again; keep the load on a little longer.
    const recoverDeadline = healedAt + RECOVERY_TIMEOUT_MS;
    let recoveredAt: number | undefined;
    while (cluster.now() < recoverDeadline) {
      const firstAck = history.operations.find(
        (operation) => isAcked(operation) && operation.invokeMs >= healedAt,
      );
      if (firstAck !== undefined) {
        recoveredAt = firstAck.completeMs;
        break;
      }
      await sleep(50);
    }
    await sleep(2_000);
    await workload.stop();
    const workloadEnd = cluster.now();
    cluster.stopPolling();
    const recovery =
      recoveredAt === undefined
        ? `no write acknowledged within ${RECOVERY_TIMEOUT_MS} ms of the heal`
        : `first acknowledged write ${Math.round(recoveredAt - healedAt)} ms after the heal`;
    checks.push({
      name: 'recovers-after-heal',
      ok: recoveredAt !== undefined,
      findings: recoveredAt === undefined ? [recovery] : [],
      summary: recovery,
    });

    const converged = await waitConverged(cluster, CONVERGE_TIMEOUT_MS);
    if ('error' in converged) {
      checks.push({ name: 'converges', ok: false, findings: [converged.error], summary: converged.error });
      // Every site's whole /status (stats included), for whoever looks into why.
      const statuses = await cluster.pollAll();
      writeFileSync(
        path.join(dir, 'final-status.json'),
        JSON.stringify(Object.fromEntries(statuses), null, 1),
      );
    } else {
      checks.push({ name: 'converges', ok: true, findings: [], summary: `master ${converged.master}` });
      const urls = new Map(ids.map((id) => [id, cluster!.site(id).url]));
      const logEnd = new Map([...converged.statuses].map(([id, status]) => [id, status.lsn]));
      const final = await checkFinalState(
        cluster.http,
        history,
        workload.usedKeys,
        { master: converged.master, urls },
        logEnd,
        cluster.now(),
      );
      checks.push(...final.results);
      lost.push(...final.lost);
    }
    checks.push(checkLinearizable(history.operations));
    checks.push(checkOneMasterPerGeneration(cluster.claims));
    checks.push(checkNoStaleAcks(history.operations, cluster.claims));
    checks.push(checkGenerationsMonotonic(cluster.claims, cluster.wipes));
    checks.push(checkWipedVotes(cluster.explanations.values()));
    const stale = faults.stepDowns.filter((check) => check.verdict === 'violation');
    checks.push({
      name: 'paused-master-steps-down',
      ok: stale.length === 0,
      findings: stale.map((check) => `${check.site} paused ${check.pausedForMs} ms: ${check.detail}`),
      summary: `${faults.stepDowns.length} pauses`,
    });
    checks.push({
      name: 'no-site-crashed',
      ok: cluster.unexpectedExits.length === 0,
      findings: cluster.unexpectedExits.map(
        (exit) =>
          `${exit.site} exited on its own (${exit.code ?? exit.signal}) at ${(exit.atMs / 1000).toFixed(1)}s`,
      ),
      summary: `${cluster.unexpectedExits.length} unexpected exits`,
    });
    checks.push({
      name: 'no-server-errors',
      ok: workload.problems.serverErrors.length === 0,
      findings: workload.problems.serverErrors.slice(0, 20),
      summary: `${workload.problems.serverErrors.length} 500s`,
    });
    checks.push({
      name: 'no-bad-requests',
      ok: workload.problems.badRequests.length === 0,
      findings: workload.problems.badRequests.slice(0, 20),
      summary: `${workload.problems.badRequests.length} unexpected refusals`,
    });

    const counts = history.counts();
    const summary: ChaosSummary = {
      ops: counts.ops - history.operations.filter((operation) => operation.client === -1).length,
      acked: counts.acked,
      // Acknowledged writes missing from any site, one count per write.
      lost: new Set(lost.map((entry) => entry.operation.id)).size,
      indeterminate: counts.indeterminate,
      // Master generations seen: in the sites' own claims, or in an election explanation a site reported
      // (a master that lived between two polls).
      elections: new Set([
        ...cluster.claims.filter((claim) => claim.role === 'master').map((claim) => claim.generation),
        ...[...cluster.explanations.values()].map((explanation) => explanation.electionGeneration),
      ]).size,
      maxUnavailableMs: maxUnavailableMs(
        history.operations,
        history.operations.find(isAcked)?.completeMs ?? workloadStart,
        workloadEnd,
      ),
    };
    details.push(
      `faults: ${[...faults.counts].map(([kind, count]) => `${kind}×${count}`).join(' ')}`,
      `operations: ${counts.ops} (${counts.reads} reads, ${counts.failed} failed/refused); ${recovery}`,
    );
    return finish(summary);
  } catch (error) {
    checks.push({
      name: 'run',
      ok: false,
      findings: [(error as Error).stack ?? String(error)],
      summary: (error as Error).message,
    });
    const counts = history.counts();
    return finish({
      ops: counts.ops,
      acked: counts.acked,
      lost: 0,
      indeterminate: counts.indeterminate,
      elections: 0,
      maxUnavailableMs: 0,
    });
  } finally {
    await workload?.stop().catch(() => undefined);
    await cluster?.close().catch(() => undefined);
    await killAllTracked();
  }

  async function finish(summary: ChaosSummary): Promise<ChaosReport> {
    const ok = checks.every((check) => check.ok);
    const kept = !ok || options.keep;
    if (kept) {
      writeFileSync(
        path.join(dir, 'history.jsonl'),
        history.operations.map((operation) => JSON.stringify(operation)).join('\n'),
      );
      writeFileSync(
        path.join(dir, 'claims.jsonl'),
        (cluster?.claims ?? []).map((claim) => JSON.stringify(claim)).join('\n'),
      );
      writeFileSync(
        path.join(dir, 'elections.json'),
        JSON.stringify([...(cluster?.explanations.values() ?? [])], null, 1),
      );
    }
    return { summary, checks, ok, dir, kept, network: networkDescription, details };
  }
}

/** Removes a run directory (after a passing run). */
export async function removeRunDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}
