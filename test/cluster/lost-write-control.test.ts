/**
 * Must-fail control for the lost-write checker, on real processes: a write the cluster really rolls
 * back, recorded in the history as if it had been acknowledged under `quorum` (a site that lies about
 * its acks would produce exactly that), must be counted lost on every site, and its key must fail the
 * linearizability check — while the writes that were truly acknowledged are all found.
 *
 * How: the master is cut off by the relay, takes a write with `ack=none` (it answers 200 alone), the
 * others elect a new master and write on; when the partition heals, the old master rolls its write back.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkFinalState, checkLinearizable } from './checks.js';
import { ChaosCluster } from './cluster.js';
import { History, type Operation } from './history.js';
import { linkName } from './network.js';
import { killAllTracked } from './processes.js';
import { createNetwork, waitConverged } from './run.js';

const ELECTION_TIMEOUT_MS = 1_000;

afterAll(async () => {
  await killAllTracked();
});

async function put(
  cluster: ChaosCluster,
  history: History,
  site: string,
  key: string,
  value: string,
  policy: string,
): Promise<Operation> {
  const operation = history.invoke({
    client: 0,
    kind: 'write',
    key,
    value,
    site,
    policy,
    invokeMs: cluster.now(),
  });
  const result = await cluster.http.send(`${cluster.site(site).url}/kv/${key}?ack=${policy}`, {
    method: 'PUT',
    body: value,
    timeoutMs: 10_000,
  });
  if (!result.ok) throw new Error(`PUT ${key} on ${site}: ${result.kind} ${result.message}`);
  expect(result.answer.status, result.answer.body.toString()).toBe(200);
  const body = JSON.parse(result.answer.body.toString()) as {
    lsn: number;
    generation: number;
    token: string;
  };
  history.complete(operation, cluster.now(), 'ok', {
    status: 200,
    receipt: { lsn: body.lsn, generation: body.generation, perm: true, policy, token: body.token },
  });
  return operation;
}

describe('must-fail control: a rolled-back write presented as acknowledged', () => {
  it('is counted lost on every site, and its key is not linearizable', { timeout: 60_000 }, async () => {
    const ids = ['a', 'b', 'c'];
    const dir = await mkdtemp(path.join(tmpdir(), 'ackord-chaos-control-'));
    const network = await createNetwork(7, 'relay', ids, dir);
    const cluster = await ChaosCluster.create({
      ids,
      network,
      dir,
      config: {
        transport: 'tcp',
        electionTimeoutMs: ELECTION_TIMEOUT_MS,
        ackTimeoutMs: 1_000,
        durability: 'fsync',
        logLevel: 'info',
      },
    });
    let passed = false;
    try {
      await cluster.startAll();
      const first = await waitConverged(cluster, 30_000);
      if ('error' in first) throw new Error(first.error);
      const history = new History();
      const before = await put(cluster, history, first.master, 'before', 'v0', 'quorum');

      // Cut the master off; it still takes a write with ack=none.
      const old = first.master;
      const others = ids.filter((id) => id !== old);
      await network.partition(
        new Set(others.flatMap((id) => [linkName(old, id), linkName(id, old)])),
        'stall',
      );
      const doomed = await put(cluster, history, old, 'doomed', 'rolled-back', 'none');
      // The lie under test: the history says quorum.
      doomed.receipt = { ...doomed.receipt!, policy: 'quorum' };

      // The others elect a new master and write on.
      let next: string | undefined;
      const deadline = Date.now() + 20_000;
      while (next === undefined && Date.now() < deadline) {
        const statuses = await cluster.pollAll();
        next = others.find((id) => statuses.get(id)?.role === 'master');
        if (next === undefined) await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(next, 'a new master among the majority').toBeDefined();
      const after = await put(cluster, history, next!, 'after', 'v1', 'quorum');

      await network.partition(new Set(), 'stall');
      const converged = await waitConverged(cluster, 30_000);
      if ('error' in converged) throw new Error(converged.error);
      const final = await checkFinalState(
        cluster.http,
        history,
        ['before', 'doomed', 'after'],
        { master: converged.master, urls: new Map(ids.map((id) => [id, cluster.site(id).url])) },
        new Map([...converged.statuses].map(([id, status]) => [id, status.lsn])),
        cluster.now(),
      );
      const lostIds = new Set(final.lost.map((entry) => entry.operation.id));
      expect([...lostIds]).toEqual([doomed.id]);
      expect(new Set(final.lost.map((entry) => entry.site))).toEqual(new Set(ids));
      expect(final.results.find((check) => check.name === 'acked-writes-survive')?.ok).toBe(false);
      expect(lostIds.has(before.id) || lostIds.has(after.id)).toBe(false);
      const linearizable = checkLinearizable(history.operations);
      expect(linearizable.ok).toBe(false);
      expect(linearizable.findings.join('\n')).toContain('key doomed');
      passed = true;
    } finally {
      await cluster.close();
      if (passed) await rm(dir, { recursive: true, force: true });
    }
  });
});
