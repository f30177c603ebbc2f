/**
 * The client side of ReplicaCore: appending what continues the log, applying whole transactions on
 * their commit record, acking only once durable at the claimed level, and the result codes.
 */
import { describe, expect, it } from 'vitest';
import { type AckLevel, ReplicaCore, SendFlags } from '../../src/index.js';
import {
  coreConfig,
  drive,
  LogBuilder,
  logMessage,
  message,
  ofType,
  readyClient,
  sendsOf,
  text,
} from './harness.js';

describe('records from the master', () => {
  it('appends records at its log end and applies a transaction only when its commit record arrives', () => {
    const { core, master } = readyClient();
    const first = master.data(1, 7, 'x');
    const second = master.data(1, 7, 'y');
    const commit = master.commit(1, 7, 2);

    const part1 = drive(core, message('M', logMessage(1, 1, Buffer.concat([first.bytes, second.bytes]))));
    expect(part1.result).toEqual({ code: 'OK' });
    expect(part1.effects.map((effect) => effect.type)).toEqual(['append']);
    expect(part1.effects[0]).toMatchObject({ firstLsn: first.firstLsn, endLsn: second.endLsn });

    // The first half again (a duplicate) must not be held twice.
    const duplicate = drive(core, message('M', logMessage(1, 1, first.bytes)));
    expect(duplicate.result.code).toBe('IGNORE');
    expect(duplicate.effects).toEqual([]);

    const part2 = drive(core, message('M', logMessage(1, 1, commit.bytes)));
    expect(part2.result).toEqual({ code: 'ISPERM', lsn: commit.firstLsn });
    const applies = ofType(part2.effects, 'apply');
    expect(applies).toHaveLength(1);
    expect(applies[0]!.txn).toMatchObject({
      txnId: 7,
      generation: 1,
      commitLsn: commit.firstLsn,
      endLsn: commit.endLsn,
    });
    expect(applies[0]!.txn.payloads.map(text)).toEqual(['x', 'y']);
    expect(core.nextLsn).toBe(commit.endLsn);

    // The whole transaction again: nothing is applied a second time.
    const again = drive(
      core,
      message('M', logMessage(1, 1, Buffer.concat([first.bytes, second.bytes, commit.bytes]))),
    );
    expect(again.result.code).toBe('IGNORE');
    expect(again.effects).toEqual([]);
  });

  it('an aborted transaction is never applied, and its data does not leak into a later one', () => {
    const { core, master } = readyClient();
    const data = master.data(1, 3, 'doomed');
    const abort = master.abort(1, 3);
    const txn = master.txn(1, ['kept'], 4);
    const { effects } = drive(
      core,
      message('M', logMessage(1, 1, Buffer.concat([data.bytes, abort.bytes, txn.bytes]))),
    );
    const applies = ofType(effects, 'apply');
    expect(applies.map((apply) => apply.txn.txnId)).toEqual([4]);
    expect(applies[0]!.txn.payloads.map(text)).toEqual(['kept']);
    expect(core.nextLsn).toBe(txn.endLsn);
  });

  it('ISPERM carries the last commit LSN of a batch holding several transactions', () => {
    const { core, master } = readyClient();
    const t1 = master.txn(1, ['a']);
    const t2 = master.txn(1, ['b', 'c']);
    const { result, effects } = drive(
      core,
      message('M', logMessage(1, 1, Buffer.concat([t1.bytes, t2.bytes]))),
    );
    expect(result).toEqual({ code: 'ISPERM', lsn: t2.commitLsn });
    expect(ofType(effects, 'apply').map((apply) => apply.txn.commitLsn)).toEqual([
      t1.commitLsn,
      t2.commitLsn,
    ]);
  });

  it('a batch that partly repeats what it holds appends and applies only the new part', () => {
    const { core, master } = readyClient();
    const t1 = master.txn(1, ['a']);
    const t2 = master.txn(1, ['b']);
    core.step(message('M', logMessage(1, 1, t1.bytes)));
    core.takeEffects();
    const { result, effects } = drive(
      core,
      message('M', logMessage(1, 1, Buffer.concat([t1.bytes, t2.bytes]))),
    );
    expect(result).toEqual({ code: 'ISPERM', lsn: t2.commitLsn });
    expect(ofType(effects, 'append')).toEqual([
      { type: 'append', bytes: t2.bytes, firstLsn: t2.firstLsn, endLsn: t2.endLsn },
    ]);
    expect(ofType(effects, 'apply').map((apply) => apply.txn.commitLsn)).toEqual([t2.commitLsn]);
  });

  it('a duplicate is IGNOREd and changes nothing', () => {
    const { core, master } = readyClient();
    const t1 = master.txn(1, ['a']);
    core.step(message('M', logMessage(1, 1, t1.bytes)));
    core.step({ type: 'durable', writtenLsn: t1.endLsn, durableLsn: t1.endLsn });
    core.takeEffects();
    const before = { nextLsn: core.nextLsn, acked: core.ackedLsn, deadline: core.nextDeadline() };
    const { result, effects } = drive(core, message('M', logMessage(1, 1, t1.bytes)));
    expect(result.code).toBe('IGNORE');
    expect(effects).toEqual([]);
    expect({ nextLsn: core.nextLsn, acked: core.ackedLsn, deadline: core.nextDeadline() }).toEqual(before);
  });

  it('records of an older generation are IGNOREd and change nothing', () => {
    const { core, master } = readyClient({}, 2);
    const old = master.txn(1, ['old']);
    // (A record of generation 1 after one of 2 cannot be in a real log; the core must not even look.)
    const { result, effects } = drive(core, message('M', logMessage(1, 1, old.bytes)));
    expect(result.code).toBe('IGNORE');
    expect(effects).toEqual([]);
    expect(core.nextLsn).toBe(old.firstLsn);
    expect(core.generation).toBe(2);
  });

  it('records that do not continue its log (another generation before them) are not appended: it re-syncs', () => {
    const { core, master } = readyClient();
    const t1 = master.txn(1, ['a']);
    // Claims the record before is of generation 2, but ours is of generation 1.
    const { result, effects } = drive(core, message('M', logMessage(1, 2, t1.bytes)));
    expect(result.code).toBe('IGNORE');
    expect(ofType(effects, 'append')).toEqual([]);
    expect(sendsOf(effects, 'syncRequest')).toHaveLength(1);
    expect(core.syncState).toBe('syncing');
  });

  it('takes no records before it has verified its log against the master', () => {
    const core = new ReplicaCore(coreConfig('C', { peers: ['M'] }));
    core.step(message('M', { type: 'newMaster', generation: 1, nextLsn: 37 }));
    core.takeEffects();
    expect(core.syncState).toBe('syncing');
    const log = new LogBuilder();
    const generation = log.newGeneration(1);
    const { result, effects } = drive(core, message('M', logMessage(1, 0, generation.bytes)));
    expect(result.code).toBe('IGNORE');
    expect(effects).toEqual([]);
    expect(core.nextLsn).toBe(1);
  });
});

describe('acknowledgements', () => {
  const levels: { level: AckLevel; flush: boolean }[] = [
    { level: 'flushed', flush: true },
    { level: 'written', flush: false },
    { level: 'received', flush: false },
  ];

  it.each(levels)('at level $level the ack waits for exactly what the level claims', ({ level, flush }) => {
    const { core, master } = readyClient({ ackLevel: level });
    const start = core.nextLsn;
    const t1 = master.txn(1, ['a']);
    const { result, effects } = drive(core, message('M', logMessage(1, 1, t1.bytes)));
    expect(result).toEqual({ code: 'ISPERM', lsn: t1.commitLsn });
    expect(ofType(effects, 'flush')).toEqual(flush ? [{ type: 'flush', lsn: t1.endLsn }] : []);
    const expectedAck = {
      type: 'send',
      to: 'M',
      message: { type: 'ack', generation: 1, lsn: t1.commitLsn, level, nextLsn: t1.endLsn },
      flags: 0,
    };
    if (level === 'received') {
      expect(sendsOf(effects, 'ack')).toEqual([expectedAck]);
      expect(core.ackedLsn).toBe(t1.commitLsn);
      return;
    }
    expect(sendsOf(effects, 'ack')).toEqual([]);
    expect(core.ackedLsn).toBe(0);
    // One byte short of the commit's end, at the level that counts: no ack.
    const short =
      level === 'flushed'
        ? { writtenLsn: t1.endLsn, durableLsn: t1.endLsn - 1 }
        : { writtenLsn: t1.endLsn - 1, durableLsn: start };
    expect(drive(core, { type: 'durable', ...short }).effects).toEqual([]);
    const full =
      level === 'flushed'
        ? { writtenLsn: t1.endLsn, durableLsn: t1.endLsn }
        : { writtenLsn: t1.endLsn, durableLsn: start };
    expect(drive(core, { type: 'durable', ...full }).effects).toEqual([expectedAck]);
    expect(core.ackedLsn).toBe(t1.commitLsn);
    // Reported again: no second ack.
    expect(drive(core, { type: 'durable', ...full }).effects).toEqual([]);
  });

  it('at level received the ack follows the append at once, ahead of the applies of the batch', () => {
    const { core, master } = readyClient({ ackLevel: 'received' });
    const t1 = master.txn(1, ['a']);
    const t2 = master.txn(1, ['b', 'c']);
    const { effects } = drive(core, message('M', logMessage(1, 1, Buffer.concat([t1.bytes, t2.bytes]))));
    const kinds = effects.map((effect) =>
      effect.type === 'send' ? `send:${effect.message.type}` : effect.type,
    );
    expect(kinds).toEqual(['append', 'send:ack', 'apply', 'apply']);
    expect(sendsOf(effects, 'ack')[0]!.message.lsn).toBe(t2.commitLsn);
    // A batch that completes no transaction: nothing to ack, nothing moved.
    const t3 = master.txn(1, ['d']);
    const dataOnly = t3.bytes.subarray(0, t3.commitLsn - t3.firstLsn);
    expect(
      drive(core, message('M', logMessage(1, 1, dataOnly))).effects.map((effect) => effect.type),
    ).toEqual(['append']);
  });

  it('at level flushed the applies do not wait for the flush, and the ack waits for it', () => {
    const { core, master } = readyClient({ ackLevel: 'flushed' });
    const t1 = master.txn(1, ['a']);
    const { effects } = drive(core, message('M', logMessage(1, 1, t1.bytes)));
    expect(effects.map((effect) => effect.type)).toEqual(['append', 'apply', 'flush']);
  });

  it('acks commits one by one as the durable LSN passes each of them', () => {
    const { core, master } = readyClient();
    const t1 = master.txn(1, ['a']);
    const t2 = master.txn(1, ['b']);
    core.step(message('M', logMessage(1, 1, Buffer.concat([t1.bytes, t2.bytes]))));
    core.takeEffects();
    const acks = (lsn: number) =>
      sendsOf(drive(core, { type: 'durable', writtenLsn: lsn, durableLsn: lsn }).effects, 'ack').map(
        (send) => send.message.lsn,
      );
    expect(acks(t1.commitLsn)).toEqual([]); // the commit record itself is not yet durable
    expect(acks(t1.endLsn)).toEqual([t1.commitLsn]);
    expect(acks(t2.endLsn - 1)).toEqual([]);
    expect(acks(t2.endLsn)).toEqual([t2.commitLsn]);
  });

  it('a durable report past its log end claims nothing for records that arrive later', () => {
    const { core, master } = readyClient();
    core.step({ type: 'durable', writtenLsn: 10_000, durableLsn: 10_000 });
    const t1 = master.txn(1, ['a']);
    const { effects } = drive(core, message('M', logMessage(1, 1, t1.bytes)));
    expect(sendsOf(effects, 'ack')).toEqual([]);
    expect(core.durableLsn).toBeLessThan(t1.endLsn);
  });

  it('the ackBeforeFlush test mutation (a must-fail control of the simulator) really acks early', () => {
    const { core, master } = readyClient({ testMutations: { ackBeforeFlush: true } });
    const t1 = master.txn(1, ['a']);
    const { effects } = drive(core, message('M', logMessage(1, 1, t1.bytes)));
    expect(sendsOf(effects, 'ack').map((send) => send.message)).toEqual([
      { type: 'ack', generation: 1, lsn: t1.commitLsn, level: 'flushed', nextLsn: t1.endLsn },
    ]);
  });

  it.each(['received', 'flushed'] as const)(
    'a view never acks, it only reports progress (level %s)',
    (level) => {
      const { core, master } = readyClient({ view: true, ackLevel: level });
      const t1 = master.txn(1, ['a']);
      const { result, effects } = drive(core, message('M', logMessage(1, 1, t1.bytes)));
      expect(result).toEqual({ code: 'ISPERM', lsn: t1.commitLsn });
      expect(ofType(effects, 'apply')).toHaveLength(1);
      const later = drive(core, { type: 'durable', writtenLsn: t1.endLsn, durableLsn: t1.endLsn });
      // It only reports progress (an ack of LSN 0, which acknowledges nothing) so the master can pace it.
      const acks = sendsOf([...effects, ...later.effects], 'ack');
      expect(acks.length).toBeGreaterThan(0);
      expect(acks.every((ack) => ack.message.lsn === 0 && ack.message.nextLsn === t1.endLsn)).toBe(true);
    },
  );
});

describe('result codes', () => {
  it('NOTPERM names the missing range when a PERMANENT batch arrives after a gap; nothing is appended', () => {
    const { core, master } = readyClient();
    const t1 = master.txn(1, ['a']);
    const t2 = master.txn(1, ['b']);
    const { result, effects } = drive(core, message('M', logMessage(1, 1, t2.bytes)));
    expect(result).toEqual({
      code: 'NOTPERM',
      lsn: t2.commitLsn,
      missingFrom: t1.firstLsn,
      missingTo: t2.firstLsn,
    });
    expect(ofType(effects, 'append')).toEqual([]);
    expect(ofType(effects, 'apply')).toEqual([]);
    expect(sendsOf(effects, 'ack')).toEqual([]);
    expect(core.nextLsn).toBe(t1.firstLsn);
  });

  it('a batch without a commit after a gap is held: OK, nothing appended', () => {
    const { core, master } = readyClient();
    master.txn(1, ['a']);
    const data = master.data(1, 9, 'later');
    const { result, effects } = drive(core, message('M', logMessage(1, 1, data.bytes)));
    expect(result).toEqual({ code: 'OK' });
    expect(ofType(effects, 'append')).toEqual([]);
    expect(core.gapBufferedBytes).toBe(data.bytes.length);
  });

  it('filling the gap appends the held records in order and applies each transaction once', () => {
    const { core, master } = readyClient({ ackLevel: 'received' });
    const t1 = master.txn(1, ['a']);
    const t2 = master.txn(1, ['b']);
    const t3 = master.txn(1, ['c']);
    expect(core.step(message('M', logMessage(1, 1, t3.bytes))).code).toBe('NOTPERM');
    expect(core.step(message('M', logMessage(1, 1, t2.bytes))).code).toBe('NOTPERM');
    core.takeEffects();
    const { result, effects } = drive(core, message('M', logMessage(1, 1, t1.bytes)));
    expect(result.code).toBe('ISPERM');
    expect(ofType(effects, 'append').map((append) => append.firstLsn)).toEqual([
      t1.firstLsn,
      t2.firstLsn,
      t3.firstLsn,
    ]);
    expect(ofType(effects, 'apply').map((apply) => apply.txn.payloads.map(text))).toEqual([
      ['a'],
      ['b'],
      ['c'],
    ]);
    // At level `received` the ack covers the last commit appended.
    expect(sendsOf(effects, 'ack').at(-1)?.message.lsn).toBe(t3.commitLsn);
    expect(core.nextLsn).toBe(t3.endLsn);
    expect(core.gapBufferedBytes).toBe(0);
    expect(core.nextDeadline()).toBeUndefined();
  });

  it('a transaction whose commit arrives before its data (after a gap) is applied once, whole', () => {
    const { core, master } = readyClient();
    const data = master.data(1, 5, 'first');
    const data2 = master.data(1, 5, 'second');
    const commit = master.commit(1, 5, 2);
    expect(core.step(message('M', logMessage(1, 1, commit.bytes))).code).toBe('NOTPERM');
    expect(ofType(core.takeEffects(), 'apply')).toEqual([]);
    core.step(message('M', logMessage(1, 1, Buffer.concat([data.bytes, data2.bytes]))));
    const applies = ofType(core.takeEffects(), 'apply');
    expect(applies).toHaveLength(1);
    expect(applies[0]!.txn.payloads.map(text)).toEqual(['first', 'second']);
  });

  it('NEWSITE on the first message from a site, with a newSite effect; not on later ones', () => {
    const core = new ReplicaCore(coreConfig('C', { peers: ['M', 'B'] }));
    const first = drive(core, message('M', { type: 'newMaster', generation: 1, nextLsn: 37 }));
    expect(first.result).toEqual({ code: 'NEWSITE', site: 'M' });
    expect(first.effects[0]).toEqual({ type: 'newSite', site: 'M' });
    // It still did what the message asked: it follows M now.
    expect(core.master).toBe('M');
    expect(sendsOf(first.effects, 'syncRequest')).toHaveLength(1);
    const second = drive(core, message('M', { type: 'heartbeat', generation: 1, nextLsn: 37, permLsn: 0 }));
    expect(second.result).toEqual({ code: 'OK' });
    expect(ofType(second.effects, 'newSite')).toEqual([]);
    // Another site, even one whose message is ignored, is new once.
    const other = drive(core, message('B', { type: 'heartbeat', generation: 0, nextLsn: 1, permLsn: 0 }));
    expect(other.result).toEqual({ code: 'NEWSITE', site: 'B' });
    expect(
      drive(core, message('B', { type: 'heartbeat', generation: 0, nextLsn: 1, permLsn: 0 })).result.code,
    ).toBe('IGNORE');
  });

  it('a log message from a master it has not synced with makes it sync first, taking nothing', () => {
    const { core, master } = readyClient();
    const t1 = master.txn(2, ['from a new master']);
    core.step(message('N', { type: 'masterRequest', generation: 0 })); // N is known
    core.takeEffects();
    const { result, effects } = drive(core, message('N', logMessage(2, 1, t1.bytes, SendFlags.PERMANENT)));
    expect(result.code).toBe('IGNORE');
    expect(ofType(effects, 'append')).toEqual([]);
    expect(core.master).toBe('N');
    expect(core.generation).toBe(2);
    expect(sendsOf(effects, 'syncRequest').map((send) => send.to)).toEqual(['N']);
  });
});
