/**
 * The manager with elections on, over the in-memory network on virtual time: a group elects its master
 * by itself, explains the election, re-elects when the master dies without losing an acknowledged
 * commit, transfers mastership on request, persists its vote, and refuses unsafe election settings.
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  ConfigError,
  createReplicationManager,
  type ElectionExplanation,
  encodeKvOperation,
  KvStateMachine,
  type ManagerOptions,
  MemoryStorage,
  NotMasterError,
  type ReplicationManager,
  TransferError,
} from '../../src/index.js';
import { MemoryNetwork, VirtualClock } from '../../src/testing/index.js';

const open: ReplicationManager[] = [];
afterEach(async () => {
  for (const manager of open.splice(0)) await manager.close();
});

async function run(clock: VirtualClock, ms: number): Promise<void> {
  for (let step = 0; step < ms; step++) {
    clock.advance(1);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

async function runUntil(clock: VirtualClock, condition: () => boolean, budgetMs = 20_000): Promise<boolean> {
  for (let step = 0; step < budgetMs && !condition(); step++) await run(clock, 1);
  return condition();
}

async function during<T>(clock: VirtualClock, promise: Promise<T>, budgetMs = 10_000): Promise<T> {
  let settled = false;
  const result = promise.finally(() => {
    settled = true;
  });
  result.catch(() => undefined);
  await runUntil(clock, () => settled, budgetMs);
  return result;
}

interface Group {
  clock: VirtualClock;
  network: MemoryNetwork;
  managers: Map<string, ReplicationManager>;
  storages: Map<string, MemoryStorage>;
  kvs: Map<string, KvStateMachine>;
  elected: ElectionExplanation[];
  start(id: string): Promise<ReplicationManager>;
}

const ELECTION = { electionTimeoutMs: 300, random: seededRandom(7) };

function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1_664_525) + 1_013_904_223) >>> 0;
    return state / 0x1_0000_0000;
  };
}

async function makeGroup(
  sites: { id: string; priority?: number }[],
  options: Partial<ManagerOptions> = {},
): Promise<Group> {
  const clock = new VirtualClock(0);
  const network = new MemoryNetwork({ clock, delayMs: 1 });
  const group: Group = {
    clock,
    network,
    managers: new Map(),
    storages: new Map(),
    kvs: new Map(),
    elected: [],
    async start(id) {
      const storage = group.storages.get(id) ?? new MemoryStorage(id);
      group.storages.set(id, storage);
      const kv = new KvStateMachine();
      const manager = await createReplicationManager({
        siteId: id,
        sites: sites.map((site) => ({ id: site.id, priority: site.priority ?? 1 })),
        storage,
        durability: 'fsync',
        transport: network.createTransport(id),
        stateMachine: kv,
        clock,
        heartbeatIntervalMs: 50,
        masterTimeoutMs: 300,
        election: ELECTION,
        ...options,
      });
      manager.on('elected', (explanation) => group.elected.push(explanation));
      open.push(manager);
      group.managers.set(id, manager);
      group.kvs.set(id, kv);
      return manager;
    },
  };
  for (const site of sites) await group.start(site.id);
  return group;
}

function masters(group: Group): string[] {
  return [...group.managers].filter(([, manager]) => manager.role === 'master').map(([id]) => id);
}

const put = (key: string, value: string) => [
  encodeKvOperation({ op: 'put', key, value: Buffer.from(value) }),
];

describe('replication manager with elections', () => {
  it('elects a master by itself, explains why, and commits through it', async () => {
    const group = await makeGroup([{ id: 'a' }, { id: 'b' }, { id: 'c' }]);
    expect(await runUntil(group.clock, () => masters(group).length === 1 && group.elected.length === 1)).toBe(
      true,
    );
    const [master] = masters(group);
    const explanation = group.elected[0]!;
    expect(explanation.winner).toBe(master);
    expect(explanation.candidates).toHaveLength(3);
    expect(explanation.votesNeeded).toBe(2);
    const manager = group.managers.get(master!)!;
    expect(manager.stats().election).toMatchObject({ role: 'master', lastElection: { winner: master } });
    await runUntil(group.clock, () => [...group.managers.values()].every((m) => m.master === master));
    const receipt = await during(group.clock, manager.commit(put('k', 'v1')));
    expect(receipt).toMatchObject({ perm: true, outcome: 'acknowledged' });
    // Every voter's vote is durable in its ELECTION file.
    for (const storage of group.storages.values()) expect(storage.list()).toContain('ELECTION');
  });

  it('re-elects when the master dies, and the new master holds every acknowledged commit', async () => {
    const group = await makeGroup([{ id: 'a' }, { id: 'b' }, { id: 'c' }]);
    await runUntil(group.clock, () => masters(group).length === 1);
    const first = masters(group)[0]!;
    await runUntil(group.clock, () => [...group.managers.values()].every((m) => m.master === first));
    const acked: string[] = [];
    for (let index = 0; index < 20; index++) {
      const receipt = await during(
        group.clock,
        group.managers.get(first)!.commit(put(`k${index}`, `v${index}`)),
      );
      if (receipt.perm) acked.push(`k${index}`);
    }
    expect(acked).toHaveLength(20);
    const oldGeneration = group.managers.get(first)!.generation;
    // The master crashes: its process is gone, its connections drop.
    await group.managers.get(first)!.close();
    group.managers.delete(first);
    expect(await runUntil(group.clock, () => masters(group).length === 1, 10_000)).toBe(true);
    const second = masters(group)[0]!;
    expect(second).not.toBe(first);
    const newMaster = group.managers.get(second)!;
    expect(newMaster.generation).toBeGreaterThan(oldGeneration);
    for (const key of acked) expect(group.kvs.get(second)!.get(key)?.toString()).toBe(key.replace('k', 'v'));
    const receipt = await during(group.clock, newMaster.commit(put('after', 'x')));
    expect(receipt.perm).toBe(true);
  });

  it('a wiped site does not vote: it cannot help elect a site while the data holders are down', async () => {
    // A short full-election wait, so the restarted (empty) site decides rather than waits for everyone.
    const group = await makeGroup([{ id: 'a' }, { id: 'b' }, { id: 'c' }], {
      election: { ...ELECTION, fullElectionTimeoutMs: 20 },
    });
    await runUntil(group.clock, () => masters(group).length === 1);
    const first = masters(group)[0]!;
    await runUntil(group.clock, () => [...group.managers.values()].every((m) => m.master === first));
    await during(group.clock, group.managers.get(first)!.commit(put('k', 'v')));
    const [wiped, holder] = ['a', 'b', 'c'].filter((id) => id !== first) as [string, string];
    // The master dies; another site loses its whole data directory and starts empty.
    await group.managers.get(first)!.close();
    group.managers.delete(first);
    await group.managers.get(wiped)!.close();
    group.storages.set(wiped, new MemoryStorage(`${wiped}-wiped`));
    await group.start(wiped);
    await run(group.clock, 5_000);
    expect(masters(group)).toEqual([]);
    expect(group.managers.get(wiped)!.stats().election?.lastRefusal).toBe('emptyLog');
    // The old master returns: now a master is elected, and the wiped site re-syncs.
    await group.start(first);
    expect(await runUntil(group.clock, () => masters(group).length === 1, 10_000)).toBe(true);
    await runUntil(group.clock, () => group.kvs.get(wiped)!.get('k') !== undefined, 5_000);
    expect(group.kvs.get(wiped)!.get('k')?.toString()).toBe('v');
    expect(group.kvs.get(holder)!.get('k')?.toString()).toBe('v');
  });

  it('a generation a site learned survives a crash before any record of it arrived (P4), and the wiped site still does not vote', async () => {
    // The chaos finding (seed 2020): a wiped site learned the master's generation while re-syncing, was
    // killed before any record of that generation reached it, and came back reporting generation 0.
    const group = await makeGroup([{ id: 'a' }, { id: 'b' }, { id: 'c' }], {
      election: { ...ELECTION, fullElectionTimeoutMs: 20 },
    });
    await runUntil(group.clock, () => masters(group).length === 1);
    const first = masters(group)[0]!;
    await runUntil(group.clock, () => [...group.managers.values()].every((m) => m.master === first));
    await during(group.clock, group.managers.get(first)!.commit(put('k', 'v')));
    const generation = group.managers.get(first)!.generation;
    expect(generation).toBeGreaterThan(0);
    const [wiped] = ['a', 'b', 'c'].filter((id) => id !== first) as [string];
    await group.managers.get(wiped)!.close();
    const empty = new MemoryStorage(`${wiped}-wiped`);
    group.storages.set(wiped, empty);
    const resyncing = await group.start(wiped);
    // It learns the generation from the master's announcement; its sync request is still on the way.
    expect(await runUntil(group.clock, () => resyncing.generation === generation, 2_000)).toBe(true);
    expect(resyncing.log.nextLsn).toBe(1);
    // Power loss now: only what was synced survives. Cut off from the group, so it cannot relearn it.
    const image = empty.crash({ kind: 'power' });
    await resyncing.close();
    for (const other of ['a', 'b', 'c']) if (other !== wiped) group.network.cut(wiped, other);
    group.storages.set(wiped, image);
    const restarted = await group.start(wiped);
    expect(restarted.log.nextLsn).toBe(1);
    expect(restarted.generation).toBeGreaterThanOrEqual(generation);
    expect(restarted.stats().generation).toBeGreaterThanOrEqual(generation);
    await run(group.clock, 1_000);
    expect(restarted.generation).toBeGreaterThanOrEqual(generation);
    // The learned generation did not make it a recorded site: with the master gone it still refuses to
    // vote with an empty log, so the other site (which holds the commit) cannot be elected by it alone…
    await group.managers.get(first)!.close();
    group.managers.delete(first);
    for (const other of ['a', 'b', 'c']) if (other !== wiped) group.network.heal(wiped, other);
    await run(group.clock, 5_000);
    expect(masters(group)).toEqual([]);
    expect(restarted.stats().election?.lastRefusal).toBe('emptyLog');
    expect(restarted.generation).toBeGreaterThanOrEqual(generation);
    // …and once the old master is back, a master is elected above that generation and it re-syncs.
    await group.start(first);
    expect(await runUntil(group.clock, () => masters(group).length === 1, 10_000)).toBe(true);
    await runUntil(group.clock, () => group.kvs.get(wiped)!.get('k') !== undefined, 5_000);
    expect(group.kvs.get(wiped)!.get('k')?.toString()).toBe('v');
    expect(restarted.generation).toBeGreaterThan(generation);
  });

  it('two masters of one generation both step down, and the group elects one', async () => {
    const group = await makeGroup([{ id: 'a' }, { id: 'b' }, { id: 'c' }]);
    await runUntil(group.clock, () => masters(group).length === 1);
    const generation = group.managers.get(masters(group)[0]!)!.generation;
    // An operator error: two sites appointed master of the same new generation by hand.
    const [x, y] = ['a', 'b', 'c'];
    await Promise.all([
      group.managers
        .get(x!)!
        .becomeMaster(generation + 5)
        .catch(() => undefined),
      group.managers
        .get(y!)!
        .becomeMaster(generation + 5)
        .catch(() => undefined),
    ]);
    expect(
      await runUntil(group.clock, () => masters(group).length === 1 && group.elected.length >= 2, 15_000),
    ).toBe(true);
    await run(group.clock, 2_000);
    expect(masters(group)).toHaveLength(1);
    expect(group.managers.get(masters(group)[0]!)!.generation).toBeGreaterThan(generation + 5);
  });

  it('holds a read lease while a majority answers its pings, and loses it before anyone else can win', async () => {
    const group = await makeGroup([{ id: 'a' }, { id: 'b' }, { id: 'c' }]);
    await runUntil(group.clock, () => masters(group).length === 1);
    const first = masters(group)[0]!;
    const manager = group.managers.get(first)!;
    expect(await runUntil(group.clock, () => manager.hasReadLease(), 1_000)).toBe(true);
    for (const id of group.managers.keys())
      if (id !== first) expect(group.managers.get(id)!.hasReadLease()).toBe(false);
    // The master is cut off from both clients (its process keeps running).
    for (const id of ['a', 'b', 'c']) if (id !== first) group.network.cut(first, id);
    const cutAt = group.clock.now();
    await runUntil(group.clock, () => !manager.hasReadLease(), 2_000);
    const leaseLostAt = group.clock.now();
    expect(leaseLostAt - cutAt).toBeLessThanOrEqual(ELECTION.electionTimeoutMs / 2);
    expect(await runUntil(group.clock, () => masters(group).some((id) => id !== first), 10_000)).toBe(true);
    const newMasterAt = group.clock.now();
    expect(newMasterAt).toBeGreaterThan(leaseLostAt);
    // Check-quorum: the cut-off master steps down on its own.
    expect(await runUntil(group.clock, () => manager.role !== 'master', 5_000)).toBe(true);
  });

  it('transfers mastership to a chosen site, refusing commits meanwhile', async () => {
    const group = await makeGroup([{ id: 'a' }, { id: 'b' }, { id: 'c' }]);
    await runUntil(group.clock, () => masters(group).length === 1);
    const first = masters(group)[0]!;
    await runUntil(group.clock, () => [...group.managers.values()].every((m) => m.master === first));
    const manager = group.managers.get(first)!;
    await during(group.clock, manager.commit(put('before', '1')));
    const target = ['a', 'b', 'c'].find((id) => id !== first)!;
    const transfer = manager.transferMastership(target);
    await expect(manager.commit(put('during', '2'))).rejects.toBeInstanceOf(NotMasterError);
    await during(group.clock, transfer);
    expect(group.managers.get(target)!.role).toBe('master');
    expect(manager.role).toBe('client');
    expect(group.elected.at(-1)).toMatchObject({ winner: target, transfer: true });
    expect(group.kvs.get(target)!.get('before')?.toString()).toBe('1');
  });

  it('a transfer to a target that cannot catch up fails with TransferError and keeps the master', async () => {
    const group = await makeGroup([{ id: 'a' }, { id: 'b' }, { id: 'c' }]);
    await runUntil(group.clock, () => masters(group).length === 1);
    const first = masters(group)[0]!;
    await runUntil(group.clock, () => [...group.managers.values()].every((m) => m.master === first));
    const target = ['a', 'b', 'c'].find((id) => id !== first)!;
    group.network.pause(target);
    const manager = group.managers.get(first)!;
    await during(group.clock, manager.commit(put('x', '1'), { policy: 'one' }));
    const error = await during(group.clock, manager.transferMastership(target, { timeoutMs: 100 })).catch(
      (e) => e,
    );
    expect(error).toBeInstanceOf(TransferError);
    expect(error.stage).toBe('catchUp');
    expect(manager.role).toBe('master');
  });

  it('refuses an nvotes below a majority unless explicitly allowed', async () => {
    const clock = new VirtualClock(0);
    const network = new MemoryNetwork({ clock });
    const base = {
      siteId: 'a',
      sites: [{ id: 'a' }, { id: 'b' }, { id: 'c' }],
      storage: new MemoryStorage('a'),
      transport: network.createTransport('a'),
      stateMachine: new KvStateMachine(),
      clock,
    };
    await expect(createReplicationManager({ ...base, election: { nvotes: 1 } })).rejects.toThrow(ConfigError);
    await expect(createReplicationManager({ ...base, election: { nvotes: 1 } })).rejects.toThrow(
      /allowUnsafeNvotes/,
    );
    await expect(
      createReplicationManager({ ...base, election: { electionTimeoutMs: 100, leaseTimeoutMs: 100 } }),
    ).rejects.toThrow(/leaseTimeoutMs/);
    const manager = await createReplicationManager({
      ...base,
      election: { nvotes: 1, allowUnsafeNvotes: true },
    });
    open.push(manager);
    expect(manager.stats().election?.electionGeneration).toBe(0);
  });
});
