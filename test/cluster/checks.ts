/**
 * The checkers of a chaos run. Pure ones take the history and the recorded claims (and are what the
 * must-fail controls feed with synthetic histories); `checkFinalState` asks the converged cluster.
 *
 * - lost writes (P1): every write acknowledged (`200`, `perm: true`) under quorum/all/all_peers is in the
 *   final master's log — its read-your-writes token resolves as applied, not rolled back — and in every
 *   other site's; and every site holds the same value and commit LSN for every key;
 * - linearizability per key (a register; lease reads, acked and indeterminate writes, and a final read
 *   of every key on the converged master);
 * - at most one master per generation in the sites' own reports (P4), and every client that follows a
 *   master at a generation names that one; generations never go back on a site (a wipe starts anew);
 * - a site that started empty (wiped) never voted in an election where a candidate had records (it must
 *   re-sync first);
 * - a paused master stepped down once continued (P5; faults.ts records it).
 */
import type { Claim, Explanation } from './cluster.js';
import { type History, isAcked, type Operation } from './history.js';
import type { HttpClient } from './http.js';
import { checkRegister, type RegisterOp } from './linearizability.js';

export interface CheckResult {
  readonly name: string;
  readonly ok: boolean;
  /** One line per finding (empty when ok). */
  readonly findings: readonly string[];
  /** A short summary for the run's output. */
  readonly summary: string;
}

const MAX_FINDINGS = 20;

function result(name: string, findings: string[], summary: string): CheckResult {
  return { name, ok: findings.length === 0, findings: findings.slice(0, MAX_FINDINGS), summary };
}

/** P4: at most one site claims mastership of any generation. */
export function checkOneMasterPerGeneration(claims: readonly Claim[]): CheckResult {
  const masters = new Map<number, Set<string>>();
  for (const claim of claims) {
    if (claim.role !== 'master') continue;
    const set = masters.get(claim.generation) ?? new Set<string>();
    masters.set(claim.generation, set);
    set.add(claim.site);
  }
  const findings: string[] = [];
  for (const [generation, sites] of masters) {
    if (sites.size > 1) findings.push(`generation ${generation} has masters ${[...sites].join(', ')}`);
  }
  // A client following a master at a generation must name the one that claims it.
  for (const claim of claims) {
    if (claim.role !== 'client' || claim.master === null) continue;
    const claimed = masters.get(claim.generation);
    if (claimed !== undefined && !claimed.has(claim.master)) {
      findings.push(
        `${claim.site} at ${(claim.atMs / 1000).toFixed(1)}s follows ${claim.master} at generation ${claim.generation}, claimed by ${[...claimed].join(', ')}`,
      );
    }
  }
  return result('one-master-per-generation', findings, `${masters.size} master generations`);
}

/**
 * P5: no write is acknowledged by a stale master. A write invoked after a site was seen claiming
 * mastership of a newer generation cannot be acknowledged under an older one: the new master's voters
 * (a majority) were fenced off the old generation before it existed, and any ack quorum of the old
 * master would have to include one of them.
 */
export function checkNoStaleAcks(operations: readonly Operation[], claims: readonly Claim[]): CheckResult {
  const masters = claims
    .filter((claim) => claim.role === 'master')
    .map((claim) => ({ atMs: claim.atMs, generation: claim.generation, site: claim.site }))
    .sort((a, b) => a.atMs - b.atMs);
  const findings: string[] = [];
  let checked = 0;
  for (const operation of operations) {
    if (!isAcked(operation)) continue;
    checked++;
    const generation = operation.receipt!.generation;
    const newer = masters.find((claim) => claim.atMs < operation.invokeMs && claim.generation > generation);
    if (newer !== undefined)
      findings.push(
        `${operation.key}=${operation.value} acknowledged at generation ${generation} (${operation.site}), invoked at ${(operation.invokeMs / 1000).toFixed(2)}s after ${newer.site} was seen master of generation ${newer.generation} at ${(newer.atMs / 1000).toFixed(2)}s`,
      );
  }
  return result('no-acks-from-a-stale-master', findings, `${checked} acknowledged writes`);
}

/** Generations never go back on a site, across restarts too (a wiped site starts anew). */
export function checkGenerationsMonotonic(
  claims: readonly Claim[],
  wipes: readonly { site: string; atMs: number }[],
): CheckResult {
  const findings: string[] = [];
  const highest = new Map<string, number>();
  const sorted = [...claims].sort((a, b) => a.atMs - b.atMs);
  const pendingWipes = [...wipes].sort((a, b) => a.atMs - b.atMs);
  for (const claim of sorted) {
    while (pendingWipes.length > 0 && pendingWipes[0]!.atMs <= claim.atMs)
      highest.delete(pendingWipes.shift()!.site);
    const before = highest.get(claim.site) ?? 0;
    if (claim.generation < before)
      findings.push(
        `${claim.site} went from generation ${before} back to ${claim.generation} at ${(claim.atMs / 1000).toFixed(1)}s`,
      );
    highest.set(claim.site, Math.max(before, claim.generation));
  }
  return result('generations-monotonic', findings, `${claims.length} status changes`);
}

/** A site with an empty log must not vote while another candidate has records (it may have been wiped). */
export function checkWipedVotes(explanations: Iterable<Explanation>): CheckResult {
  const findings: string[] = [];
  let count = 0;
  for (const explanation of explanations) {
    count++;
    const anyRecords = explanation.candidates.some((candidate) => candidate.lastLsn > 0);
    if (!anyRecords) continue;
    for (const vote of explanation.votes) {
      const candidate = explanation.candidates.find((entry) => entry.site === vote.voter);
      if (candidate !== undefined && candidate.lastLsn === 0)
        findings.push(
          `election ${explanation.electionGeneration}: ${vote.voter} voted for ${vote.candidate} with an empty log`,
        );
    }
  }
  return result('empty-log-sites-do-not-vote', findings, `${count} election explanations`);
}

/** Linearizability of every key's history (a register). */
export function checkLinearizable(
  operations: readonly Operation[],
  stepBudget?: number,
): CheckResult & { unknown: number } {
  const byKey = new Map<string, RegisterOp[]>();
  for (const operation of operations) {
    if (operation.outcome === 'fail') continue;
    if (operation.kind === 'read' && operation.outcome !== 'ok') continue;
    const ops = byKey.get(operation.key) ?? [];
    byKey.set(operation.key, ops);
    ops.push({
      id: operation.id,
      kind: operation.kind,
      value: operation.value,
      invokeMs: operation.invokeMs,
      completeMs: operation.outcome === 'info' ? Number.POSITIVE_INFINITY : operation.completeMs,
    });
  }
  const findings: string[] = [];
  let unknown = 0;
  let longest = 0;
  for (const [key, ops] of byKey) {
    longest = Math.max(longest, ops.length);
    const verdict = checkRegister(ops, null, stepBudget);
    if (verdict.verdict === 'unknown') unknown++;
    if (verdict.verdict === 'violation')
      findings.push(`key ${key}: not linearizable (${ops.length} operations)`);
  }
  return {
    ...result(
      'linearizable',
      findings,
      `${byKey.size} keys, longest history ${longest}${unknown > 0 ? `, ${unknown} undecided (search budget)` : ''}`,
    ),
    unknown,
  };
}

/** The longest stretch (ms) within [fromMs, toMs] in which no write was acknowledged. */
export function maxUnavailableMs(operations: readonly Operation[], fromMs: number, toMs: number): number {
  const acks = operations
    .filter(
      (operation) => isAcked(operation) && operation.completeMs >= fromMs && operation.completeMs <= toMs,
    )
    .map((operation) => operation.completeMs)
    .sort((a, b) => a - b);
  let previous = fromMs;
  let longest = 0;
  for (const at of acks) {
    longest = Math.max(longest, at - previous);
    previous = at;
  }
  return Math.round(Math.max(longest, toMs - previous));
}

export interface FinalState {
  readonly master: string;
  readonly urls: ReadonlyMap<string, string>;
}

export interface LostWrite {
  readonly operation: Operation;
  readonly site: string;
  readonly why: string;
}

export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const index = next++;
        results[index] = await fn(items[index]!);
      }
    }),
  );
  return results;
}

/**
 * Asks the converged cluster: every acknowledged write's token on every site (`409 rolled_back`, or a
 * log that ends before it, is a lost write), then every key on every site against the master (value and
 * commit LSN). Appends a final read of every key on the master to the history (for linearizability).
 */
export async function checkFinalState(
  http: HttpClient,
  history: History,
  keys: Iterable<string>,
  final: FinalState,
  logEnd: ReadonlyMap<string, number>,
  atMs: number,
): Promise<{ lost: LostWrite[]; lostOnMaster: number; results: CheckResult[] }> {
  const acked = history.operations.filter(isAcked);
  const lost: LostWrite[] = [];
  const errors: string[] = [];
  for (const [site, url] of final.urls) {
    const end = logEnd.get(site) ?? 0;
    await mapLimit(acked, 16, async (operation) => {
      const receipt = operation.receipt!;
      if (receipt.lsn >= end) {
        lost.push({ operation, site, why: `its log ends at ${end}, before LSN ${receipt.lsn}` });
        return;
      }
      const answer = await http.send(
        `${url}/kv/${encodeURIComponent(operation.key)}?token=${receipt.token}&timeoutMs=5000`,
        { timeoutMs: 10_000 },
      );
      if (!answer.ok) errors.push(`${site}: token ${receipt.token}: ${answer.kind} ${answer.message}`);
      else if (answer.answer.status === 409)
        lost.push({ operation, site, why: `token ${receipt.token} rolled back` });
      else if (answer.answer.status !== 200 && answer.answer.status !== 404)
        errors.push(
          `${site}: token ${receipt.token} → ${answer.answer.status} ${answer.answer.body.toString().slice(0, 200)}`,
        );
    });
  }
  const lostOnMaster = lost.filter((entry) => entry.site === final.master).length;
  const lostFindings = lost.map(
    (entry) =>
      `${entry.site}: lost ${entry.operation.key}=${entry.operation.value} (client ${entry.operation.client}, acked ${entry.operation.receipt!.policy} at ${(entry.operation.completeMs / 1000).toFixed(2)}s by ${entry.operation.site}): ${entry.why}`,
  );

  // Every site holds what the master holds.
  const keyList = [...keys].sort();
  const masterUrl = final.urls.get(final.master)!;
  const divergent: string[] = [];
  const masterValues = await mapLimit(keyList, 16, async (key) => {
    const answer = await http.send(`${masterUrl}/kv/${encodeURIComponent(key)}`, { timeoutMs: 10_000 });
    if (!answer.ok) {
      errors.push(`${final.master}: GET ${key}: ${answer.kind}`);
      return undefined;
    }
    const value =
      answer.answer.status === 200
        ? answer.answer.body.toString('utf8')
        : answer.answer.status === 404
          ? null
          : undefined;
    if (value === undefined) errors.push(`${final.master}: GET ${key} → ${answer.answer.status}`);
    return { value, lsn: answer.answer.headers['x-ackord-lsn'] ?? null };
  });
  keyList.forEach((key, index) => {
    const seen = masterValues[index];
    if (seen?.value === undefined) return;
    const read = history.invoke({
      client: -1,
      kind: 'read',
      key,
      value: null,
      site: final.master,
      invokeMs: atMs,
    });
    history.complete(read, atMs, 'ok', { status: seen.value === null ? 404 : 200, value: seen.value });
  });
  for (const [site, url] of final.urls) {
    if (site === final.master) continue;
    await mapLimit(keyList, 16, async (key) => {
      const index = keyList.indexOf(key);
      const expected = masterValues[index];
      if (expected === undefined) return;
      const answer = await http.send(`${url}/kv/${encodeURIComponent(key)}`, { timeoutMs: 10_000 });
      if (!answer.ok) {
        errors.push(`${site}: GET ${key}: ${answer.kind}`);
        return;
      }
      const value =
        answer.answer.status === 200
          ? answer.answer.body.toString('utf8')
          : answer.answer.status === 404
            ? null
            : undefined;
      const lsn = answer.answer.headers['x-ackord-lsn'] ?? null;
      if (value !== expected.value || lsn !== expected.lsn)
        divergent.push(
          `${site}: ${key}=${JSON.stringify(value)}@${lsn}, master ${final.master} has ${JSON.stringify(expected.value)}@${expected.lsn}`,
        );
    });
  }
  return {
    lost,
    lostOnMaster,
    results: [
      result(
        'acked-writes-survive',
        lostFindings,
        `${acked.length} acknowledged writes checked on ${final.urls.size} sites`,
      ),
      result('sites-agree', divergent, `${keyList.length} keys compared`),
      result('final-reads-answer', errors, `${errors.length} errors`),
    ],
  };
}
