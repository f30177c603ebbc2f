import { describe, expect, it } from 'vitest';
import { ReplicaCore } from '../../src/index.js';
import {
  Cluster,
  coreConfig,
  drive,
  LogBuilder,
  logMessage,
  message,
  ofType,
  readyClient,
  sendsOf,
  stateTexts,
} from './harness.js';

describe('regressions (bugs the core tests found; each failed before its fix)', () => {
  it('1: with bulk off, a ship effect carries the endLsn of the batch it holds', () => {
    const core = new ReplicaCore(
      coreConfig('M', { peers: ['B'], bulk: { enabled: false, maxBytes: 1 << 20, maxDelayMs: 1 } }),
    );
    core.step({ type: 'becomeMaster', generation: 1 });
    const _gen = ofType(core.takeEffects(), 'ship')[0]!;
    const proposed = core.propose([Buffer.from('x')]);
    const ship = ofType(core.takeEffects(), 'ship')[0]!;
    expect(ship.endLsn).toBe(proposed.endLsn);
  });

  it('2: filling a gap returns ISPERM for the largest commit now held (drained ones included)', () => {
    const { core, master } = readyClient();
    const t1 = master.txn(1, ['a']);
    const t2 = master.txn(1, ['b']);
    expect(core.step(message('M', logMessage(1, 1, t2.bytes)))).toMatchObject({
      code: 'NOTPERM',
      lsn: t2.commitLsn,
    });
    const result = core.step(message('M', logMessage(1, 1, t1.bytes)));
    expect(result).toEqual({ code: 'ISPERM', lsn: t2.commitLsn });
  });

  it('2b: a commit-less batch filling the gap returns OK though a held commit became permanent', () => {
    const { core, master } = readyClient({ ackLevel: 'received' });
    const data = master.data(1, 5, 'd');
    const t2 = master.txn(1, ['b']);
    core.step(message('M', logMessage(1, 1, t2.bytes)));
    core.takeEffects();
    const { result, effects } = drive(core, message('M', logMessage(1, 1, data.bytes)));
    expect(result).toEqual({ code: 'ISPERM', lsn: t2.commitLsn });
    expect(sendsOf(effects, 'ack').map((ack) => ack.message.lsn)).toEqual([t2.commitLsn]);
  });

  it('3: a second init (answer to a retried syncRequest) arriving after the client synced does not wipe its log', () => {
    const built = new LogBuilder();
    built.newGeneration(1);
    for (let i = 0; i < 20; i++) built.txn(1, [`v${i}`]);
    const cluster = new Cluster(['M', 'C']);
    const m = cluster.add('M', { log: built });
    const c = cluster.add('C');
    const trimmedTo = m.log.records()[10 * 2 + 1]!.lsn; // some record boundary
    m.log.trimBefore(trimmedTo);
    m.core.noteLogTrimmed(trimmedTo);
    cluster.step('M', { type: 'becomeMaster', generation: 2 });
    cluster.connect('M', 'C');
    // C's syncRequest is retried (the snapshot is slow): two syncRequests reach M.
    cluster.run();
    const syncRequest = cluster.deliveries.find((d) => d.message.type === 'syncRequest' && d.to === 'M')!;
    // First init processed; C synced; live records flow and are acked.
    cluster.propose('M', ['after init 1']);
    cluster.propose('M', ['after init 2']);
    cluster.run();
    const _acked = m.effectsOf('acked').at(-1)!;
    const before = Buffer.from(c.log.bytes);
    // The retried syncRequest (sent before the first init arrived) reaches M late: M snapshots again.
    cluster.deliver({
      from: 'C',
      to: 'M',
      message: { ...syncRequest.message, ...({ nextLsn: 1, lastLsn: 1 } as object) } as never,
    });
    // M answers with a second init (taken now). Deliver it to C while C has records past nothing...
    const _init2 = cluster.queue.find((e) => e.message.type === 'init');
    cluster.run();
    expect(c.effectsOf('restore')).toHaveLength(1);
    expect(c.log.bytes).toEqual(before);
  });

  it('3b (unit): an init arriving while in sync is IGNOREd', () => {
    const { core, master } = readyClient({ ackLevel: 'received' });
    const t1 = master.txn(1, ['a']);
    core.step(message('M', logMessage(1, 1, t1.bytes)));
    const acks = sendsOf(core.takeEffects(), 'ack');
    expect(acks.map((a) => a.message.lsn)).toEqual([t1.commitLsn]);
    const { result, effects } = drive(
      core,
      message('M', {
        type: 'init',
        generation: 1,
        snapshotLsn: 37,
        history: [{ generation: 1, lsn: 1 }],
        snapshot: Buffer.from('old'),
      }),
    );
    expect(result.code).toBe('IGNORE');
    expect(ofType(effects, 'restore')).toEqual([]);
  });

  it('4: a commit that becomes durable while the client re-syncs is still acknowledged', () => {
    const { core, master } = readyClient({ ackLevel: 'flushed' });
    const t1 = master.txn(1, ['a']);
    core.step(message('M', logMessage(1, 1, t1.bytes)));
    core.takeEffects();
    // The master re-announces itself (it saw us disconnect and come back): we re-sync.
    core.step(message('M', { type: 'newMaster', generation: 1, nextLsn: t1.endLsn }));
    core.takeEffects();
    expect(core.syncState).toBe('syncing');
    // The flush of t1 completes meanwhile.
    const during = drive(core, { type: 'durable', writtenLsn: t1.endLsn, durableLsn: t1.endLsn });
    // The master's answer: we are in sync.
    const after = drive(
      core,
      message('M', {
        type: 'syncVerify',
        generation: 1,
        firstLsn: 1,
        nextLsn: t1.endLsn,
        history: master.history,
      }),
    );
    const acks = [...sendsOf(during.effects, 'ack'), ...sendsOf(after.effects, 'ack')];
    expect(acks.map((a) => a.message.lsn)).toEqual([t1.commitLsn]);
  });

  it('5: an undisturbed catch-up sends the log once, without client re-requests', () => {
    const built = new LogBuilder();
    built.newGeneration(1);
    for (let i = 0; i < 60; i++) built.txn(1, [`v${`${i}`.padStart(14, '0')}`]);
    const cluster = new Cluster(['M', 'C']);
    const config = { catchUpChunkBytes: 300, catchUpWindowBytes: 1000 };
    const m = cluster.add('M', { log: built, config });
    cluster.add('C', { config });
    cluster.step('M', { type: 'becomeMaster', generation: 2 });
    cluster.connect('M', 'C');
    cluster.run();
    const toC = cluster.deliveries.filter((d) => d.to === 'C' && d.message.type === 'log');
    const sent = toC.reduce((sum, d) => sum + (d.message.type === 'log' ? d.message.records.length : 0), 0);
    const requests = cluster.deliveries.filter((d) => d.message.type === 'logRequest').length;
    expect(requests).toBe(0);
    expect(sent).toBe(m.log.nextLsn - 1);
  });

  it('6: a master hearing records of a lower generation re-announces itself', () => {
    const core = new ReplicaCore(coreConfig('A', { peers: ['B'] }));
    core.step({ type: 'becomeMaster', generation: 3 });
    core.step(message('B', { type: 'masterRequest', generation: 0 }));
    core.takeEffects();
    const log = new LogBuilder(500);
    const { result, effects } = drive(core, message('B', logMessage(2, 2, log.txn(2, ['x']).bytes)));
    expect(result.code).toBe('IGNORE');
    expect(sendsOf(effects, 'newMaster')).toHaveLength(1);
  });

  it('7: a view far behind is caught up and then receives live ships', () => {
    const built = new LogBuilder();
    built.newGeneration(1);
    for (let i = 0; i < 60; i++) built.txn(1, [`v${`${i}`.padStart(14, '0')}`]);
    const cluster = new Cluster(['M', 'V']);
    const config = { catchUpChunkBytes: 300, catchUpWindowBytes: 1000 };
    const m = cluster.add('M', { log: built, config });
    const v = cluster.add('V', { config: { ...config, view: true } });
    cluster.step('M', { type: 'becomeMaster', generation: 2 });
    cluster.connect('M', 'V');
    cluster.run();
    for (let t = 10; t <= 5000; t += 10) cluster.tickTo(t);
    const live = cluster.propose('M', ['live']);
    const ship = m.effectsOf('ship').find((s) => s.endLsn === live.endLsn)!;
    cluster.run();
    expect(ship.to).toEqual(['V']);
    expect(stateTexts(v).at(-1)).toBe('live');
  });
});
