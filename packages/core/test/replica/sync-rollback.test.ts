/**
 * Sync and rollback after a failover: a client whose log diverged rolls back exactly to the last
 * record it shares with the new master; a client whose log is a prefix is never rolled back; a stale
 * (delayed or duplicated) syncVerify of the master's current generation never causes a rollback.
 */
import { describe, expect, it } from 'vitest';
import { RecordType, SendFlags } from '../../src/index.js';
import { Cluster, drive, logMessage, message, ofType, readyClient, sendsOf, stateTexts } from './harness.js';

/** A master `A` of generation 1 with the other sites synced to it. */
function startCluster(ids: string[]): Cluster {
  const cluster = new Cluster(ids);
  for (const id of ids) cluster.add(id);
  cluster.step('A', { type: 'becomeMaster', generation: 1 });
  for (let i = 0; i < ids.length; i++) {
    for (let j = i + 1; j < ids.length; j++) cluster.connect(ids[i]!, ids[j]!);
  }
  cluster.run();
  for (const id of ids.slice(1)) {
    expect(cluster.site(id).core.syncState).toBe('ready');
    expect(cluster.site('A').core.peerProgress().get(id)?.synced).toBe(true);
  }
  return cluster;
}

describe('rollback after a failover', () => {
  it('an old master whose log diverged rolls back exactly to the last common record and re-syncs', () => {
    const cluster = startCluster(['A', 'B']);
    const [a, b] = [cluster.site('A'), cluster.site('B')];
    const t1 = cluster.propose('A', ['t1']);
    cluster.run();
    expect(stateTexts(b)).toEqual(['t1']);
    expect(b.log.bytes).toEqual(a.log.bytes);

    // A is cut off and writes t2 that B never sees; B becomes master of generation 2 and writes t3.
    cluster.cut('A', 'B');
    cluster.propose('A', ['t2']);
    cluster.step('B', { type: 'becomeMaster', generation: 2 });
    const t3 = cluster.propose('B', ['t3']);
    cluster.run();
    expect(b.core.history.entries).toEqual([
      { generation: 1, lsn: 1 },
      { generation: 2, lsn: t1.endLsn },
    ]);
    expect(a.core.nextLsn).toBeGreaterThan(t1.endLsn);

    // The link heals: both announce themselves; A learns of generation 2.
    cluster.connect('A', 'B');
    cluster.run();
    const fromB = cluster.resultsAt('A').filter((delivery) => delivery.message.type === 'newMaster');
    expect(fromB[0]?.result).toEqual({ code: 'DUPMASTER' });
    expect(a.core.role).toBe('client');
    expect(a.core.master).toBe('B');
    expect(a.effectsOf('truncate')).toEqual([{ type: 'truncate', toLsn: t1.endLsn }]);
    // Re-synced: identical logs, t2 gone, t3 applied, and acknowledged to the new master.
    expect(a.log.bytes).toEqual(b.log.bytes);
    expect(stateTexts(a)).toEqual(['t1', 't3']);
    expect(a.core.syncState).toBe('ready');
    expect(b.effectsOf('acked').at(-1)).toMatchObject({ site: 'A', lsn: t3.commitLsn });
    expect(b.core.peerProgress().get('A')?.synced).toBe(true);
    // And it now receives live records.
    cluster.propose('B', ['t4']);
    cluster.run();
    expect(stateTexts(a)).toEqual(['t1', 't3', 't4']);
  });

  it('a client that received more than the new master rolls back to the new master’s end of the old generation', () => {
    const cluster = startCluster(['A', 'B', 'C']);
    const [b, c] = [cluster.site('B'), cluster.site('C')];
    const t1 = cluster.propose('A', ['t1']);
    cluster.run();
    cluster.cut('A', 'B');
    cluster.propose('A', ['t2']); // reaches C only
    cluster.run();
    expect(stateTexts(c)).toEqual(['t1', 't2']);
    expect(stateTexts(b)).toEqual(['t1']);

    cluster.cut('A', 'C'); // A is gone
    cluster.step('B', { type: 'becomeMaster', generation: 2 });
    cluster.run();
    expect(c.effectsOf('truncate')).toEqual([{ type: 'truncate', toLsn: t1.endLsn }]);
    cluster.propose('B', ['t3']);
    cluster.run();
    expect(c.log.bytes).toEqual(b.log.bytes);
    expect(stateTexts(c)).toEqual(['t1', 't3']);
    expect(c.core.history.entries).toEqual(b.core.history.entries);
  });

  it('a client whose log is a prefix of the new master’s is not rolled back', () => {
    const cluster = startCluster(['A', 'B', 'C']);
    const [b, c] = [cluster.site('B'), cluster.site('C')];
    cluster.propose('A', ['t1']);
    cluster.run();
    cluster.cut('A', 'C');
    cluster.propose('A', ['t2']); // reaches B only
    cluster.run();
    cluster.cut('A', 'B');
    cluster.step('B', { type: 'becomeMaster', generation: 2 });
    cluster.run();
    cluster.propose('B', ['t3']);
    cluster.run();
    expect(c.effectsOf('truncate')).toEqual([]);
    expect(c.log.bytes).toEqual(b.log.bytes);
    expect(stateTexts(c)).toEqual(['t1', 't2', 't3']);
    expect(c.core.master).toBe('B');
  });

  it('a client with nothing in common with a master whose log starts at the beginning rolls back to the start', () => {
    // Two sites that each started a group on their own (generation 1 and 2) meet.
    const cluster = new Cluster(['A', 'B']);
    const [a, b] = [cluster.add('A'), cluster.add('B')];
    cluster.cut('A', 'B');
    cluster.step('A', { type: 'becomeMaster', generation: 1 });
    cluster.propose('A', ['only on A']);
    cluster.step('B', { type: 'becomeMaster', generation: 2 });
    cluster.propose('B', ['on B']);
    cluster.run();
    cluster.connect('A', 'B');
    cluster.run();
    expect(a.effectsOf('truncate')).toEqual([{ type: 'truncate', toLsn: 1 }]);
    expect(a.log.bytes).toEqual(b.log.bytes);
    expect(stateTexts(a)).toEqual(['on B']);
  });
});

describe('the rollbackPastCommon test mutation (a must-fail control of the simulator)', () => {
  it('really rolls back past the common record', () => {
    const cluster = new Cluster(['A', 'B']);
    const a = cluster.add('A', { config: { testMutations: { rollbackPastCommon: true } } });
    cluster.add('B');
    cluster.step('A', { type: 'becomeMaster', generation: 1 });
    cluster.connect('A', 'B');
    cluster.run();
    const t1 = cluster.propose('A', ['t1']);
    cluster.run();
    cluster.cut('A', 'B');
    cluster.propose('A', ['t2']);
    cluster.step('B', { type: 'becomeMaster', generation: 2 });
    cluster.run();
    cluster.connect('A', 'B');
    cluster.run();
    const cuts = a.effectsOf('truncate').map((truncate) => truncate.toLsn);
    expect(cuts[0]).toBeLessThan(t1.endLsn);
  });
});

describe('stale syncVerify', () => {
  it('a delayed syncVerify describing an older end of the current generation causes no rollback', () => {
    const cluster = startCluster(['A', 'C']);
    const c = cluster.site('C');
    // The syncVerify C got when it joined describes A's log as it was then: one record.
    const stale = cluster.deliveries.find((delivery) => delivery.message.type === 'syncVerify');
    expect(stale?.message).toMatchObject({
      generation: 1,
      nextLsn: 37,
      history: [{ generation: 1, lsn: 1 }],
    });
    cluster.propose('A', ['t1']);
    cluster.propose('A', ['t2']);
    cluster.run();
    const before = Buffer.from(c.log.bytes);

    // A re-announces itself (it lost track of C): C re-syncs, and the old answer arrives first.
    cluster.step('A', { type: 'peerUp', site: 'C' });
    cluster.deliver(cluster.queue.shift()!);
    expect(c.core.syncState).toBe('syncing');
    const result = cluster.deliver({ from: 'A', to: 'C', message: stale!.message });
    expect(result?.code).not.toBe('IGNORE');
    cluster.run();
    expect(c.effectsOf('truncate')).toEqual([]);
    expect(c.log.bytes).toEqual(before);
    expect(stateTexts(c)).toEqual(['t1', 't2']);
    expect(c.core.syncState).toBe('ready');
    // And it still follows the live stream.
    cluster.propose('A', ['t3']);
    cluster.run();
    expect(stateTexts(c)).toEqual(['t1', 't2', 't3']);
  });

  it('a stale syncVerify of generation 2 never rolls back generation-2 records (unit)', () => {
    const { core, master } = readyClient({}, 2);
    const t1 = master.txn(2, ['a']);
    const t2 = master.txn(2, ['b']);
    core.step(message('M', logMessage(2, 2, Buffer.concat([t1.bytes, t2.bytes]))));
    core.step(message('M', { type: 'newMaster', generation: 2, nextLsn: t2.endLsn })); // re-sync
    core.takeEffects();
    expect(core.syncState).toBe('syncing');
    const { result, effects } = drive(
      core,
      message('M', {
        type: 'syncVerify',
        generation: 2,
        firstLsn: 1,
        nextLsn: t1.firstLsn, // only the new-generation record: long ago
        history: [{ generation: 2, lsn: 1 }],
      }),
    );
    expect(result).toEqual({ code: 'OK' });
    expect(ofType(effects, 'truncate')).toEqual([]);
    expect(core.nextLsn).toBe(t2.endLsn);
    expect(core.syncState).toBe('ready');
  });

  it('a duplicated syncVerify arriving while in sync is IGNOREd and changes nothing', () => {
    const { core, master } = readyClient();
    const t1 = master.txn(1, ['a']);
    core.step(message('M', logMessage(1, 1, t1.bytes)));
    core.takeEffects();
    const { result, effects } = drive(
      core,
      message('M', { type: 'syncVerify', generation: 1, firstLsn: 1, nextLsn: 37, history: [] }),
    );
    expect(result.code).toBe('IGNORE');
    expect(effects).toEqual([]);
    expect(core.nextLsn).toBe(t1.endLsn);
  });

  it('a syncVerify of a previous generation is IGNOREd even while syncing', () => {
    const { core, master } = readyClient({}, 2);
    const t1 = master.txn(2, ['a']);
    core.step(message('M', logMessage(2, 2, t1.bytes)));
    core.step(message('M', { type: 'newMaster', generation: 2, nextLsn: t1.endLsn }));
    core.takeEffects();
    const { result, effects } = drive(
      core,
      message('M', { type: 'syncVerify', generation: 1, firstLsn: 1, nextLsn: 1, history: [] }),
    );
    expect(result.code).toBe('IGNORE');
    expect(ofType(effects, 'truncate')).toEqual([]);
  });
});

describe('syncRequest at the master', () => {
  it('answers with its history and streams the rest when the client’s log agrees', () => {
    const cluster = startCluster(['A', 'C']);
    const a = cluster.site('A');
    const t1 = cluster.propose('A', ['t1']);
    const { effects } = drive(
      a.core,
      message('C', { type: 'syncRequest', generation: 1, lastLsn: 37, lastGeneration: 1, nextLsn: 37 }),
    );
    expect(sendsOf(effects, 'syncVerify')).toEqual([
      {
        type: 'send',
        to: 'C',
        message: {
          type: 'syncVerify',
          generation: 1,
          firstLsn: 1,
          nextLsn: t1.endLsn,
          history: [{ generation: 1, lsn: 1 }],
        },
        flags: 0,
      },
    ]);
    expect(ofType(effects, 'readLog')).toEqual([expect.objectContaining({ fromLsn: 37, toLsn: t1.endLsn })]);
    expect(a.core.peerProgress().get('C')?.synced).toBe(false);
  });

  it('only verifies (no stream) when the client’s last record is of another generation', () => {
    const cluster = startCluster(['A', 'C']);
    const a = cluster.site('A');
    cluster.propose('A', ['t1']);
    const { effects } = drive(
      a.core,
      message('C', { type: 'syncRequest', generation: 1, lastLsn: 80, lastGeneration: 7, nextLsn: 80 }),
    );
    expect(sendsOf(effects, 'syncVerify')).toHaveLength(1);
    expect(ofType(effects, 'readLog')).toEqual([]);
  });

  it('catch-up answers are REREQUEST log messages, PERMANENT iff they hold a commit', () => {
    const cluster = startCluster(['A', 'C']);
    const logs = cluster.deliveries.filter(
      (delivery) => delivery.to === 'C' && delivery.message.type === 'log',
    );
    expect(logs).toHaveLength(1);
    expect(logs[0]!.message).toMatchObject({ flags: SendFlags.REREQUEST });
    cluster.cut('A', 'C');
    cluster.propose('A', ['t1']);
    cluster.run(); // the live ship is lost
    expect(stateTexts(cluster.site('C'))).toEqual([]);
    cluster.connect('A', 'C'); // A re-announces itself; C re-syncs and is caught up
    cluster.run();
    const later = cluster.deliveries
      .filter((delivery) => delivery.to === 'C' && delivery.message.type === 'log')
      .slice(1)
      .map((delivery) => delivery.message);
    expect(
      later.some((body) => body.type === 'log' && body.flags === (SendFlags.REREQUEST | SendFlags.PERMANENT)),
    ).toBe(true);
    expect(stateTexts(cluster.site('C'))).toEqual(['t1']);
    expect(
      cluster
        .site('C')
        .log.records()
        .map((record) => record.type),
    ).toEqual([RecordType.newGeneration, RecordType.data, RecordType.commit]);
  });
});
