/**
 * The replication manager over the in-memory network, on virtual time: receipts for every policy with
 * clients stopped, slowed and disconnected; ack timeouts; fail fast; durability debt; unknown outcomes;
 * asynchronous replication; a power failure right after a perm failure.
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  type AckPolicy,
  type CommitReceipt,
  ConfigError,
  createReplicationManager,
  encodeKvOperation,
  InvalidStateError,
  KvStateMachine,
  type ManagerEvents,
  type ManagerOptions,
  MemoryStorage,
  NotMasterError,
  openLog,
  type ReplicationManager,
} from '../../src/index.js';
import { MemoryNetwork, VirtualClock } from '../../src/testing/index.js';

type Durability = 'none' | 'write' | 'fsync';

interface Cluster {
  clock: VirtualClock;
  network: MemoryNetwork;
  managers: Map<string, ReplicationManager>;
  storages: Map<string, MemoryStorage>;
  kvs: Map<string, KvStateMachine>;
}

const open: ReplicationManager[] = [];
afterEach(async () => {
  for (const manager of open.splice(0)) await manager.close();
});

/** Lets promise chains run, moving virtual time forward `ms` a millisecond at a time. */
async function run(clock: VirtualClock, ms: number): Promise<void> {
  for (let step = 0; step < ms; step++) {
    clock.advance(1);
    await new Promise((resolve) => setImmediate(resolve));
  }
  await new Promise((resolve) => setImmediate(resolve));
}

/** Resolves `promise` while virtual time runs (at most `budgetMs`). */
async function during<T>(clock: VirtualClock, promise: Promise<T>, budgetMs = 5_000): Promise<T> {
  let settled = false;
  const result = promise.finally(() => {
    settled = true;
  });
  result.catch(() => undefined); // the caller handles the rejection; this only keeps it from being "unhandled"
  for (let step = 0; step < budgetMs && !settled; step++) await run(clock, 1);
  return result;
}

async function makeCluster(
  sites: { id: string; priority?: number; view?: boolean; durability?: Durability }[],
  options: Partial<ManagerOptions> = {},
): Promise<Cluster> {
  const clock = new VirtualClock(0);
  const network = new MemoryNetwork({ clock, delayMs: 1 });
  const cluster: Cluster = { clock, network, managers: new Map(), storages: new Map(), kvs: new Map() };
  for (const site of sites) {
    const storage = new MemoryStorage(site.id);
    const kv = new KvStateMachine();
    const manager = await createReplicationManager({
      siteId: site.id,
      sites: sites.map(({ id, priority, view }) => ({ id, priority: priority ?? 1, view: view ?? false })),
      storage,
      durability: site.durability ?? 'fsync',
      transport: network.createTransport(site.id),
      stateMachine: kv,
      clock,
      heartbeatIntervalMs: 50,
      masterTimeoutMs: 300,
      ...options,
    });
    open.push(manager);
    cluster.managers.set(site.id, manager);
    cluster.storages.set(site.id, storage);
    cluster.kvs.set(site.id, kv);
  }
  await run(clock, 5);
  await cluster.managers.get(sites[0]!.id)!.becomeMaster(1);
  // Clients sync with the new master.
  await run(clock, 30);
  return cluster;
}

const put = (key: string, value = 'v') => [encodeKvOperation({ op: 'put', key, value: Buffer.from(value) })];

/** The receipts `manager.commit` gives, forwarded writes it commits for clients included. */
function receiptsOf(manager: ReplicationManager): Promise<CommitReceipt>[] {
  const receipts: Promise<CommitReceipt>[] = [];
  const commit = manager.commit.bind(manager);
  manager.commit = (payloads, options) => {
    const receipt = commit(payloads, options);
    receipts.push(receipt);
    return receipt;
  };
  return receipts;
}

/** A master's receipt as its client sees it once forwarded: no txnId, its own elapsedMs, forwardedTo. */
function asForwarded(receipt: CommitReceipt): Partial<CommitReceipt> {
  const { txnId: _txnId, elapsedMs: _elapsedMs, ...rest } = receipt;
  return rest;
}

function events<K extends keyof ManagerEvents>(manager: ReplicationManager, name: K): ManagerEvents[K][0][] {
  const seen: ManagerEvents[K][0][] = [];
  manager.on(name, ((event: ManagerEvents[K][0]) => seen.push(event)) as never);
  return seen;
}

describe('replication manager receipts', () => {
  it('acknowledges a quorum commit with the acks that met it', async () => {
    const { clock, managers } = await makeCluster([{ id: 'a' }, { id: 'b' }, { id: 'c' }]);
    const receipt = await during(clock, managers.get('a')!.commit(put('x')));
    expect(receipt).toMatchObject({
      outcome: 'acknowledged',
      perm: true,
      policy: 'quorum',
      needed: 0,
      localFlushForced: false,
    });
    expect(receipt.ackedBy.length).toBeGreaterThanOrEqual(1);
    expect(receipt.ackedBy.every((ack) => ack.level === 'flushed' && ack.latencyMs >= 0)).toBe(true);
    expect(receipt.token).toMatch(/^1:\d+$/);
    expect(await during(clock, managers.get('b')!.waitApplied(receipt.token))).toBe('applied');
  });

  it('reports every policy with all clients up', async () => {
    const { clock, managers } = await makeCluster([{ id: 'a' }, { id: 'b' }, { id: 'c', priority: 0 }]);
    const policies: AckPolicy[] = ['none', 'one', 'one_peer', 'quorum', 'all', 'all_peers', 'all_available'];
    for (const policy of policies) {
      const receipt = await during(clock, managers.get('a')!.commit(put(policy), { policy }));
      expect(receipt.policy).toBe(policy);
      expect(receipt.perm, policy).toBe(true);
    }
  });

  it('times out `all` when a client is paused, flushes the master log, fires permFailed; quorum still succeeds', async () => {
    const { clock, network, managers } = await makeCluster(
      [{ id: 'a', durability: 'write' }, { id: 'b' }, { id: 'c' }],
      { ackTimeoutMs: 200 },
    );
    const master = managers.get('a')!;
    const failed = events(master, 'permFailed');
    network.pause('c');
    const all = await during(clock, master.commit(put('x'), { policy: 'all' }));
    expect(all).toMatchObject({
      outcome: 'permFailed',
      perm: false,
      reason: 'timeout',
      needed: 1,
      localFlushForced: true,
    });
    expect(all.elapsedMs).toBeGreaterThanOrEqual(200);
    expect(all.ackedBy.map((ack) => ack.site)).toEqual(['b']);
    expect(master.log.durableLsn).toBeGreaterThan(all.lsn);
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({
      lsn: all.lsn,
      policy: 'all',
      reason: 'timeout',
      needed: 1,
      missing: ['c'],
    });
    expect(all.missing).toEqual(['c']);
    expect(master.stats().durabilityDebt.commits).toBe(1);

    const quorum = await during(clock, master.commit(put('y')));
    expect(quorum.perm).toBe(true);
    network.resume('c');
  });

  it('reports every policy with one client slowed past the ack timeout', async () => {
    const { clock, network, managers } = await makeCluster([{ id: 'a' }, { id: 'b' }, { id: 'c' }], {
      ackTimeoutMs: 100,
    });
    const master = managers.get('a')!;
    network.setDelay('a', 'c', 300); // c's acks arrive after the deadline
    const expected: Record<AckPolicy, boolean> = {
      none: true,
      one: true,
      one_peer: true,
      quorum: true,
      all: false,
      all_peers: false,
      all_available: true, // waits for c (connected) until the timeout, then judges by the quorum rule: b acked
    };
    for (const policy of Object.keys(expected) as AckPolicy[]) {
      const receipt = await during(clock, master.commit(put(policy), { policy }));
      expect(receipt.perm, policy).toBe(expected[policy]);
      if (!expected[policy]) expect(receipt.reason, policy).toBe('timeout');
      if (policy === 'all_available') expect(receipt.elapsedMs, policy).toBeGreaterThanOrEqual(100); // it waited for c
    }
  });

  it('pays the durability debt when the late client catches up', async () => {
    const { clock, network, managers } = await makeCluster([{ id: 'a' }, { id: 'b' }, { id: 'c' }], {
      ackTimeoutMs: 100,
    });
    const master = managers.get('a')!;
    const restored = events(master, 'durabilityRestored');
    network.pause('c');
    const receipt = await during(clock, master.commit(put('x'), { policy: 'all' }));
    expect(receipt.perm).toBe(false);
    expect(master.stats().durabilityDebt).toEqual({ commits: 1, oldestLsn: receipt.lsn, abandoned: 0 });
    network.resume('c');
    await run(clock, 100);
    expect(restored).toHaveLength(1);
    expect(restored[0]).toMatchObject({ lsn: receipt.lsn, restored: 1 });
    expect(master.stats().durabilityDebt.commits).toBe(0);
  });

  it('fails fast when the sites reachable now cannot meet the policy', async () => {
    const { clock, network, managers } = await makeCluster([{ id: 'a' }, { id: 'b' }, { id: 'c' }], {
      ackTimeoutMs: 10_000,
    });
    const master = managers.get('a')!;
    network.cut('a', 'c');
    await run(clock, 2);
    const all = await during(clock, master.commit(put('x'), { policy: 'all' }));
    expect(all).toMatchObject({ outcome: 'permFailed', reason: 'unreachable' });
    expect(all.elapsedMs).toBeLessThan(100);
    network.cut('a', 'b');
    await run(clock, 2);
    const quorum = await during(clock, master.commit(put('y')));
    expect(quorum).toMatchObject({ outcome: 'permFailed', reason: 'unreachable', perm: false });
  });

  it('counts only flushed acks when minAckLevel is flushed', async () => {
    const { clock, managers } = await makeCluster(
      [{ id: 'a' }, { id: 'b', durability: 'write' }, { id: 'c', durability: 'write' }],
      { ackTimeoutMs: 100 },
    );
    const master = managers.get('a')!;
    const any = await during(clock, master.commit(put('x')));
    expect(any.perm).toBe(true);
    expect(any.ackedBy[0]!.level).toBe('written');
    const flushedOnly = await during(clock, master.commit(put('y'), { minAckLevel: 'flushed' }));
    expect(flushedOnly).toMatchObject({ perm: false, reason: 'timeout' });
  });

  it('reports the outcome as unknown when mastership is lost while waiting', async () => {
    const { clock, network, managers } = await makeCluster([{ id: 'a' }, { id: 'b' }, { id: 'c' }], {
      ackTimeoutMs: 5_000,
    });
    const master = managers.get('a')!;
    network.pause('b');
    network.pause('c');
    const waiting = master.commit(put('x'), { policy: 'quorum' });
    await run(clock, 20);
    await master.becomeClient();
    const receipt = await during(clock, waiting);
    expect(receipt).toMatchObject({ outcome: 'unknown', perm: undefined, reason: 'lostMastership' });
    expect(master.stats().permUnknown).toBe(1);
  });

  it('stops waiting on abort', async () => {
    const { clock, network, managers } = await makeCluster([{ id: 'a' }, { id: 'b' }], {
      ackTimeoutMs: 5_000,
      twoSiteStrict: false,
    });
    network.pause('b');
    const controller = new AbortController();
    const waiting = managers.get('a')!.commit(put('x'), { signal: controller.signal });
    await run(clock, 10);
    controller.abort();
    await expect(during(clock, waiting)).rejects.toThrow(/abort/i);
  });

  it('refuses commits on a client with NotMasterError naming the master', async () => {
    const { managers } = await makeCluster([{ id: 'a' }, { id: 'b' }]);
    const error = await managers
      .get('b')!
      .commit(put('x'))
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(NotMasterError);
    expect((error as NotMasterError).master).toBe('a');
    expect((error as NotMasterError).code).toBe('ERR_ACKORD_NOT_MASTER');
  });

  it('forwards a client write to the master when asked, and reports what the master decided', async () => {
    const { clock, network, managers, kvs } = await makeCluster([{ id: 'a' }, { id: 'b' }, { id: 'c' }], {
      ackTimeoutMs: 100,
    });
    const client = managers.get('b')!;
    const receipt = await during(clock, client.commit(put('fw', 'forwarded'), { forward: true }));
    expect(receipt).toMatchObject({
      outcome: 'acknowledged',
      perm: true,
      forwardedTo: 'a',
      policy: 'quorum',
    });
    expect(await during(clock, client.waitApplied(receipt.token))).toBe('applied');
    await run(clock, 20);
    expect(Buffer.from(kvs.get('c')!.get('fw')!).toString()).toBe('forwarded');

    // The master's own verdict travels back: `all` with c paused times out there.
    network.pause('c');
    const failed = await during(clock, client.commit(put('fw2'), { forward: true, policy: 'all' }));
    expect(failed).toMatchObject({ outcome: 'permFailed', perm: false, forwardedTo: 'a', policy: 'all' });
    network.resume('c');

    // No answer (the master cut off): the outcome is unknown, never a failure.
    network.cut('a', 'b');
    await run(clock, 2);
    const lost = await during(clock, client.commit(put('fw3'), { forward: true }), 5_000);
    expect(lost).toMatchObject({ outcome: 'unknown', perm: undefined });
  });

  it("gives a forwarded write the master's whole receipt: acks with their levels, needed, missing, local level", async () => {
    const { clock, managers } = await makeCluster(
      [{ id: 'a' }, { id: 'b', durability: 'write' }, { id: 'c' }],
      { ackTimeoutMs: 100 },
    );
    const masterReceipts = receiptsOf(managers.get('a')!);
    const client = managers.get('b')!;
    // quorum: b's ack (written: b does not fsync) meets it before c's (flushed) arrives.
    const quorum = await during(
      clock,
      client.commit(put('fw', 'quorum'), { forward: true, policy: 'quorum' }),
    );
    expect(quorum).toMatchObject({
      outcome: 'acknowledged',
      perm: true,
      policy: 'quorum',
      reason: undefined,
      needed: 0,
      missing: ['c'], // as on the master: the counting site whose ack had not arrived
      localFlushForced: false,
      localLevel: 'flushed', // the master fsyncs: not the 'buffered' placeholder
      forwardedTo: 'a',
    });
    expect(quorum.ackedBy).toEqual([{ site: 'b', level: 'written', latencyMs: expect.any(Number) }]);
    expect(quorum.ackedBy[0]!.latencyMs).toBeGreaterThan(0);
    // `all`: every client's ack, each at its own level, nobody missing.
    const all = await during(clock, client.commit(put('fw', 'all'), { forward: true, policy: 'all' }));
    expect(all).toMatchObject({
      outcome: 'acknowledged',
      policy: 'all',
      reason: undefined,
      needed: 0,
      missing: [],
    });
    expect(
      all.ackedBy.map(({ site, level }) => ({ site, level })).sort((x, y) => x.site.localeCompare(y.site)),
    ).toEqual([
      { site: 'b', level: 'written' },
      { site: 'c', level: 'flushed' },
    ]);
    // Field for field the master's receipts (latencies travel in whole microseconds: exact here).
    expect(masterReceipts).toHaveLength(2);
    for (const [index, receipt] of [quorum, all].entries()) {
      const atMaster = await masterReceipts[index]!;
      expect(receipt).toEqual({
        ...asForwarded(atMaster),
        txnId: 0,
        elapsedMs: receipt.elapsedMs,
        forwardedTo: 'a',
      });
      expect(receipt.elapsedMs).toBeGreaterThanOrEqual(atMaster.elapsedMs);
    }
  });

  it('forwards the ack timeout: `all` with a site paused fails after the forwarded 50 ms, not the default', async () => {
    const { clock, network, managers } = await makeCluster(
      [{ id: 'a', durability: 'write' }, { id: 'b' }, { id: 'c' }],
      { ackTimeoutMs: 4_000 },
    );
    const master = managers.get('a')!;
    const failed = events(master, 'permFailed');
    const masterReceipts = receiptsOf(master);
    network.pause('c');
    const startedAt = clock.now();
    const receipt = await during(
      clock,
      managers.get('b')!.commit(put('fw', 'short'), { forward: true, policy: 'all', ackTimeoutMs: 50 }),
    );
    const tookMs = clock.now() - startedAt;
    expect(receipt).toMatchObject({
      outcome: 'permFailed',
      perm: false,
      policy: 'all',
      reason: 'timeout',
      needed: 1,
      missing: ['c'],
      localFlushForced: true,
      localLevel: 'flushed',
      forwardedTo: 'a',
    });
    expect(receipt.ackedBy.map((ack) => ack.site)).toEqual(['b']);
    // The master waited the forwarded 50 ms; with its default (4 s) the client would have given up
    // at 2 × 4 s + 1 s with an unknown outcome.
    expect(tookMs).toBeGreaterThanOrEqual(50);
    expect(tookMs).toBeLessThan(200);
    expect(receipt.elapsedMs).toBeLessThan(200);
    const atMaster = await masterReceipts[0]!;
    expect(atMaster.elapsedMs).toBeGreaterThanOrEqual(50);
    expect(atMaster.elapsedMs).toBeLessThan(100);
    expect(receipt).toEqual({
      ...asForwarded(atMaster),
      txnId: 0,
      elapsedMs: receipt.elapsedMs,
      forwardedTo: 'a',
    });
    expect(failed).toHaveLength(1); // on the master only
    network.resume('c');
  });

  it('reports the policy the master committed under: its own (asynchronous replication: none)', async () => {
    const { clock, managers } = await makeCluster([{ id: 'a' }, { id: 'b' }], {
      replication: { mode: 'async', maxRecords: 1, maxDelayMs: 10 },
    });
    const receipt = await during(clock, managers.get('b')!.commit(put('fw'), { forward: true }));
    expect(receipt).toMatchObject({ outcome: 'acknowledged', policy: 'none', forwardedTo: 'a' });
  });

  it('refuses to forward an ack timeout the wire cannot carry, before sending anything', async () => {
    const { clock, managers } = await makeCluster([{ id: 'a' }, { id: 'b' }, { id: 'c' }]);
    const client = managers.get('b')!;
    const sent = client.stats().framesSent;
    for (const ackTimeoutMs of [-1, 600_001, Number.NaN, Number.POSITIVE_INFINITY]) {
      await expect(client.commit(put('x'), { forward: true, ackTimeoutMs })).rejects.toThrow(
        InvalidStateError,
      );
    }
    expect(client.stats().framesSent).toBe(sent);
    // A fraction of a millisecond is rounded up, and the write goes through.
    const receipt = await during(clock, client.commit(put('y'), { forward: true, ackTimeoutMs: 99.5 }));
    expect(receipt.outcome).toBe('acknowledged');
  });

  it('keeps a perm-failed commit through a power failure of the master', async () => {
    const { clock, network, managers, storages } = await makeCluster(
      [{ id: 'a', durability: 'none' }, { id: 'b' }, { id: 'c' }],
      {
        ackTimeoutMs: 50,
      },
    );
    network.pause('b');
    network.pause('c');
    const receipt = await during(clock, managers.get('a')!.commit(put('kept', 'yes')));
    expect(receipt.perm).toBe(false);
    expect(receipt.localFlushForced).toBe(true);
    const afterPowerLoss = storages.get('a')!.crash({ kind: 'power' });
    const log = await openLog(afterPowerLoss, { durability: 'none' });
    expect(log.nextLsn).toBeGreaterThan(receipt.lsn);
    const records = [];
    for await (const record of log.read()) records.push(record);
    expect(records.some((record) => record.lsn === receipt.lsn)).toBe(true);
    await log.close();
  });

  it('reports HOLDELECTION on a client whose master goes silent', async () => {
    const { clock, network, managers } = await makeCluster([{ id: 'a' }, { id: 'b' }]);
    const holds = events(managers.get('b')!, 'holdElection');
    network.pause('a');
    await run(clock, 500);
    expect(holds.length).toBe(1);
    expect(holds[0]!.reason).toMatch(/silent/);
    network.resume('a');
  });

  it('keeps stats in the spirit of repmgr_stat', async () => {
    const { clock, managers } = await makeCluster([{ id: 'a' }, { id: 'b' }, { id: 'c' }]);
    const master = managers.get('a')!;
    for (let index = 0; index < 5; index++) await during(clock, master.commit(put(`k${index}`)));
    const stats = master.stats();
    expect(stats).toMatchObject({
      role: 'master',
      generation: 1,
      commits: 5,
      permAcknowledged: 5,
      permFailures: 0,
    });
    expect(stats.connected.sort()).toEqual(['b', 'c']);
    expect(stats.acks.map((ack) => ack.site).sort()).toEqual(['b', 'c']);
    expect(stats.framesSent).toBeGreaterThan(0);
    expect(stats.log.commits).toBeGreaterThanOrEqual(5);
  });
});

describe('asynchronous replication', () => {
  it('writes go on with every replica down, and an out-of-band event says so', async () => {
    const { clock, network, managers } = await makeCluster([{ id: 'a' }, { id: 'b' }, { id: 'c' }], {
      replication: { mode: 'async', maxRecords: 1000, maxDelayMs: 1000 },
    });
    const master = managers.get('a')!;
    const unreachable = events(master, 'replicaUnreachable');
    network.cut('a', 'b');
    network.cut('a', 'c');
    for (let index = 0; index < 10; index++) {
      const receipt = await during(clock, master.commit(put(`k${index}`)), 50);
      expect(receipt.perm).toBe(true);
      expect(receipt.elapsedMs).toBeLessThan(50);
    }
    expect(unreachable.map((event) => event.site).sort()).toEqual(['b', 'c']);
  });

  it('ships the queue when it reaches N records, after T ms, and on sync()', async () => {
    const { clock, managers, kvs } = await makeCluster([{ id: 'a' }, { id: 'b' }], {
      replication: { mode: 'async', maxRecords: 10, maxDelayMs: 200 },
    });
    const master = managers.get('a')!;
    const client = kvs.get('b')!;
    // 4 transactions = 8 records: below N, younger than T: nothing shipped yet.
    for (let index = 0; index < 4; index++) await during(clock, master.commit(put(`n${index}`)), 20);
    await run(clock, 20);
    expect(client.size).toBe(0);
    // The 5th makes 10 records: shipped at once.
    await during(clock, master.commit(put('n4')), 20);
    await run(clock, 10);
    expect(client.size).toBe(5);
    // One more waits for T.
    await during(clock, master.commit(put('t')), 20);
    await run(clock, 50);
    expect(client.size).toBe(5);
    await run(clock, 200);
    expect(client.size).toBe(6);
    // sync() ships at once.
    await during(clock, master.commit(put('s')), 20);
    await during(clock, master.sync(), 20);
    await run(clock, 10);
    expect(client.size).toBe(7);
  });
});

describe('configuration', () => {
  it('rejects a bad configuration with one ConfigError listing readable issues', async () => {
    const network = new MemoryNetwork();
    const error = await createReplicationManager({
      siteId: 'a',
      sites: [{ id: 'b' }, { id: 'b' }],
      storage: new MemoryStorage('a'),
      transport: network.createTransport('a'),
      stateMachine: new KvStateMachine(),
      ackPolicy: 'most' as never,
      ackTimeoutMs: -1,
      batching: 'always' as never,
    }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as ConfigError).message;
    expect(message).toMatch(/ackPolicy/);
    expect(message).toMatch(/ackTimeoutMs/);
    expect(message).toMatch(/batching/);
    expect((error as ConfigError).issues.length).toBeGreaterThanOrEqual(3);

    const crossField = await createReplicationManager({
      siteId: 'a',
      sites: [{ id: 'b' }, { id: 'b' }],
      storage: new MemoryStorage('a'),
      transport: network.createTransport('a'),
      stateMachine: new KvStateMachine(),
    }).catch((caught: unknown) => caught);
    expect(crossField).toBeInstanceOf(ConfigError);
    expect((crossField as ConfigError).message).toMatch(/unique/);
    expect((crossField as ConfigError).message).toMatch(/must include this site/);

    // A lone surrogate cannot travel as UTF-8: refused here, not by the wire encoder at the first election.
    const surrogate = await createReplicationManager({
      siteId: 'a',
      sites: [{ id: 'a' }, { id: 'b\uD800' }],
      storage: new MemoryStorage('a'),
      transport: network.createTransport('a'),
      stateMachine: new KvStateMachine(),
    }).catch((caught: unknown) => caught);
    expect(surrogate).toBeInstanceOf(ConfigError);
    expect((surrogate as ConfigError).message).toMatch(/lone surrogate/);
  });
});

describe('files and logging', () => {
  it('runs on a real data directory and logs through a pino-compatible logger with site bindings', async () => {
    const fs = await import('node:fs');
    const os = await import('node:os');
    const path = await import('node:path');
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'ackord-manager-'));
    const lines: {
      bindings: Record<string, string | number>;
      object: object;
      message: string | undefined;
    }[] = [];
    const makeLogger = (bindings: Record<string, string | number>) => {
      const write = (object: object, message?: string) => lines.push({ bindings, object, message });
      const logger = {
        debug: write,
        info: write,
        warn: write,
        error: write,
        child: (more: Record<string, string | number>) => makeLogger({ ...bindings, ...more }),
      };
      return logger;
    };
    const network = new MemoryNetwork();
    const sites = [{ id: 'a' }, { id: 'b' }];
    try {
      const managers = await Promise.all(
        sites.map(({ id }) =>
          createReplicationManager({
            siteId: id,
            sites,
            dir: path.join(root, id),
            transport: network.createTransport(id),
            stateMachine: new KvStateMachine(),
            logger: makeLogger({ app: 'test' }),
            twoSiteStrict: false,
          }),
        ),
      );
      open.push(...managers);
      await managers[0]!.becomeMaster();
      let receipt = await managers[0]!.commit(put('x'));
      for (let attempt = 0; attempt < 100 && !receipt.perm; attempt++) {
        await new Promise((resolve) => setTimeout(resolve, 10));
        receipt = await managers[0]!.commit(put('x'));
      }
      expect(receipt.perm).toBe(true);
      expect(fs.readdirSync(path.join(root, 'a')).some((name) => name.endsWith('.wal'))).toBe(true);
      expect(
        lines.some(
          (line) =>
            line.bindings.site === 'a' &&
            line.bindings.component === 'manager' &&
            line.bindings.app === 'test',
        ),
      ).toBe(true);
      expect(lines.some((line) => line.message === 'became master')).toBe(true);
    } finally {
      for (const manager of open.splice(0)) await manager.close();
      fs.rmSync(root, { recursive: true, force: true });
    }
  });
});
