/**
 * The master side of ReplicaCore: taking mastership, proposing, shipping (bulk on and off), acks.
 */
import { describe, expect, it } from 'vitest';
import {
  encodeMessage,
  InvalidStateError,
  RecordTooLargeError,
  RecordType,
  ReplicaCore,
  type ReplicaCoreConfig,
  SendFlags,
} from '../../src/index.js';
import {
  bulk,
  coreConfig,
  decodeRecords,
  drive,
  GENERATION_RECORD_BYTES,
  LogBuilder,
  message,
  ofType,
  sendsOf,
  text,
} from './harness.js';

const BULK_OFF = bulk({ enabled: false });
const payloads = (...texts: string[]): Buffer[] => texts.map((value) => Buffer.from(value, 'utf8'));

/** A master of `generation` with peer B in sync (it claimed to hold the whole log) and C connected only. */
function masterWithPeers(overrides: Partial<ReplicaCoreConfig> = {}, generation = 1): ReplicaCore {
  const core = new ReplicaCore(coreConfig('M', { peers: ['B', 'C', 'D'], ...overrides }));
  core.step({ type: 'becomeMaster', generation });
  core.step({ type: 'peerUp', site: 'C' });
  core.step(
    message('B', {
      type: 'syncRequest',
      generation,
      lastLsn: core.nextLsn,
      lastGeneration: generation,
      nextLsn: core.nextLsn,
    }),
  );
  core.takeEffects();
  const progress = core.peerProgress();
  if (!progress.get('B')?.synced || progress.get('C')?.synced || !progress.get('C')?.connected) {
    throw new Error('masterWithPeers: unexpected peer states');
  }
  return core;
}

describe('becomeMaster', () => {
  it('appends a new-generation record, flushes it, reports the role and announces itself', () => {
    const core = new ReplicaCore(coreConfig('M', { peers: ['B'] }));
    const { result, effects } = drive(core, { type: 'becomeMaster', generation: 3 });
    expect(result).toEqual({ code: 'OK' });
    expect(effects.map((effect) => effect.type)).toEqual(['append', 'flush', 'roleChanged', 'send']);
    const [append] = ofType(effects, 'append');
    expect(append).toMatchObject({ firstLsn: 1, endLsn: 1 + GENERATION_RECORD_BYTES });
    const [record] = decodeRecords(append!.bytes);
    expect(record).toMatchObject({ lsn: 1, generation: 3, type: RecordType.newGeneration });
    expect(Buffer.from(record!.payload).readUInt32LE(0)).toBe(3);
    expect(ofType(effects, 'flush')).toEqual([{ type: 'flush', lsn: 1 + GENERATION_RECORD_BYTES }]);
    expect(ofType(effects, 'roleChanged')).toEqual([
      { type: 'roleChanged', role: 'master', generation: 3, master: 'M' },
    ]);
    expect(ofType(effects, 'send')).toEqual([
      {
        type: 'send',
        to: 'broadcast',
        message: { type: 'newMaster', generation: 3, nextLsn: 1 + GENERATION_RECORD_BYTES },
        flags: 0,
      },
    ]);
    expect(core.role).toBe('master');
    expect(core.master).toBe('M');
    expect(core.history.entries).toEqual([{ generation: 3, lsn: 1 }]);
  });

  it('continues an existing log at its end, in a generation above the one in the log', () => {
    const log = new LogBuilder();
    log.newGeneration(4);
    const txn = log.txn(4, ['a']);
    const core = new ReplicaCore(coreConfig('M', { log: log.position() }));
    expect(core.generation).toBe(4);
    expect(() => core.step({ type: 'becomeMaster', generation: 4 })).toThrow(InvalidStateError);
    const { effects } = drive(core, { type: 'becomeMaster', generation: 6 });
    const [append] = ofType(effects, 'append');
    expect(append?.firstLsn).toBe(txn.endLsn);
    expect(decodeRecords(append!.bytes)[0]).toMatchObject({ lsn: txn.endLsn, generation: 6 });
    expect(core.history.entries).toEqual([
      { generation: 4, lsn: 1 },
      { generation: 6, lsn: txn.endLsn },
    ]);
  });

  it('with bulk off ships the new-generation record at once, to nobody yet, without PERMANENT', () => {
    const core = new ReplicaCore(coreConfig('M', { peers: ['B'], bulk: BULK_OFF }));
    const { effects } = drive(core, { type: 'becomeMaster', generation: 1 });
    const ships = ofType(effects, 'ship');
    expect(ships).toHaveLength(1);
    expect(ships[0]).toMatchObject({
      to: [],
      flags: 0,
      message: { flags: 0, prevLsn: 0, prevGeneration: 0 },
    });
  });

  it('a payload over maxPayloadBytes is refused and changes nothing', () => {
    const core = new ReplicaCore(coreConfig('M', { maxPayloadBytes: 16 }));
    core.step({ type: 'becomeMaster', generation: 1 });
    core.takeEffects();
    const before = core.nextLsn;
    expect(() => core.propose(payloads('ok', 'x'.repeat(17)))).toThrow(RecordTooLargeError);
    expect(core.takeEffects()).toEqual([]);
    expect(core.nextLsn).toBe(before);
    expect(core.propose(payloads('x'.repeat(16))).txnId).toBe(1);
  });

  it('propose is refused unless master', () => {
    const core = new ReplicaCore(coreConfig('C'));
    expect(() => core.propose(payloads('x'))).toThrow(InvalidStateError);
  });
});

describe('propose', () => {
  it('appends data records and a commit, applies the transaction and returns its LSNs and token', () => {
    const core = masterWithPeers();
    const start = core.nextLsn;
    const proposed = core.propose(payloads('alpha', 'beta'));
    const effects = core.takeEffects();
    const [append] = ofType(effects, 'append');
    const records = decodeRecords(append!.bytes);
    expect(records.map((record) => [record.type, record.txnId, record.generation])).toEqual([
      [RecordType.data, proposed.txnId, 1],
      [RecordType.data, proposed.txnId, 1],
      [RecordType.commit, proposed.txnId, 1],
    ]);
    expect(records.slice(0, 2).map((record) => text(record.payload))).toEqual(['alpha', 'beta']);
    expect(proposed).toMatchObject({
      generation: 1,
      firstLsn: start,
      commitLsn: records[2]!.lsn,
      endLsn: start + append!.bytes.length,
      token: { generation: 1, lsn: records[2]!.lsn },
    });
    expect(append).toMatchObject({ firstLsn: start, endLsn: proposed.endLsn });
    const [apply] = ofType(effects, 'apply');
    expect(apply!.txn).toMatchObject({
      txnId: proposed.txnId,
      generation: 1,
      commitLsn: proposed.commitLsn,
      endLsn: proposed.endLsn,
    });
    expect(apply!.txn.payloads.map(text)).toEqual(['alpha', 'beta']);
    expect(core.nextLsn).toBe(proposed.endLsn);
    // Transaction ids keep increasing.
    expect(core.propose(payloads('gamma')).txnId).toBe(proposed.txnId + 1);
  });

  it('with bulk off: one ship per proposal, to the synced peers only, PERMANENT', () => {
    const core = masterWithPeers({ bulk: BULK_OFF });
    const first = core.propose(payloads('one'));
    const firstEffects = core.takeEffects();
    const second = core.propose(payloads('two'));
    const secondEffects = core.takeEffects();
    for (const [proposed, effects] of [
      [first, firstEffects],
      [second, secondEffects],
    ] as const) {
      const ships = ofType(effects, 'ship');
      expect(ships).toHaveLength(1);
      const ship = ships[0]!;
      expect(ship.to).toEqual(['B']);
      expect(ship.flags).toBe(SendFlags.PERMANENT);
      expect(ship.message).toMatchObject({
        type: 'log',
        generation: 1,
        flags: SendFlags.PERMANENT,
        prevLsn: proposed.firstLsn - 1,
        prevGeneration: 1,
      });
      expect(decodeRecords(ship.message.records).at(-1)).toMatchObject({
        lsn: proposed.commitLsn,
        type: RecordType.commit,
      });
      // Nothing goes to C (connected, not synced) or D (not connected) by other means either.
      expect(ofType(effects, 'send')).toEqual([]);
    }
  });

  it('with bulk on: nothing is shipped until flushBulk, then one PERMANENT message with everything', () => {
    const core = masterWithPeers();
    const startLsn = 1; // the new-generation record is still in the bulk buffer
    const first = core.propose(payloads('one'));
    const second = core.propose(payloads('two'));
    expect(ofType(core.takeEffects(), 'ship')).toEqual([]);
    const { effects } = drive(core, { type: 'flushBulk' });
    const ships = ofType(effects, 'ship');
    expect(ships).toHaveLength(1);
    expect(ships[0]).toMatchObject({ to: ['B'], flags: SendFlags.PERMANENT, endLsn: second.endLsn });
    expect(ships[0]!.message).toMatchObject({ prevLsn: 0, prevGeneration: 0 });
    const records = decodeRecords(ships[0]!.message.records);
    expect(records[0]).toMatchObject({ lsn: startLsn, type: RecordType.newGeneration });
    expect(records.filter((record) => record.type === RecordType.commit).map((record) => record.lsn)).toEqual(
      [first.commitLsn, second.commitLsn],
    );
    // The frame was built around the batch (no copy of the records) and is exactly the message, encoded.
    const frame = ships[0]!.frame!;
    expect(frame.buffer).toBe(ships[0]!.message.records.buffer);
    expect(frame.equals(encodeMessage(ships[0]!.message))).toBe(true);
    // Flushed: a second flushBulk has nothing to send.
    expect(ofType(drive(core, { type: 'flushBulk' }).effects, 'ship')).toEqual([]);
  });

  it('with bulk on: flushBulk ships nothing while the buffer holds no commit', () => {
    const core = masterWithPeers();
    expect(ofType(drive(core, { type: 'flushBulk' }).effects, 'ship')).toEqual([]);
  });

  it('with bulk on: reaching bulk.maxBytes ships at once', () => {
    const core = masterWithPeers({ bulk: bulk({ enabled: true, maxBytes: 300, maxDelayMs: 1000 }) });
    core.propose(payloads('x'.repeat(100))); // 36 + 132 + 36 = 204 bytes buffered
    expect(ofType(core.takeEffects(), 'ship')).toEqual([]);
    const proposed = core.propose(payloads('y'.repeat(100))); // 372 ≥ 300
    const ships = ofType(core.takeEffects(), 'ship');
    expect(ships).toHaveLength(1);
    expect(ships[0]).toMatchObject({ to: ['B'], flags: SendFlags.PERMANENT, endLsn: proposed.endLsn });
    expect(decodeRecords(ships[0]!.message.records).at(-1)?.lsn).toBe(proposed.commitLsn);
  });

  it('with bulk on: reaching bulk.maxRecords ships at once', () => {
    const core = masterWithPeers({ bulk: bulk({ enabled: true, maxRecords: 5, maxDelayMs: 1000 }) });
    core.propose(payloads('a')); // 1 (new generation) + 2 records
    expect(ofType(core.takeEffects(), 'ship')).toEqual([]);
    const proposed = core.propose(payloads('b')); // 5 records
    const ships = ofType(core.takeEffects(), 'ship');
    expect(ships).toHaveLength(1);
    expect(decodeRecords(ships[0]!.message.records)).toHaveLength(5);
    expect(ships[0]).toMatchObject({ flags: SendFlags.PERMANENT, endLsn: proposed.endLsn });
    // The count starts over after a ship.
    core.propose(payloads('c', 'd')); // 3 records
    expect(ofType(core.takeEffects(), 'ship')).toEqual([]);
  });

  it('with bulk on: flushBulk with force ships a buffer without a commit', () => {
    const core = masterWithPeers();
    const { effects } = drive(core, { type: 'flushBulk', force: true });
    const ships = ofType(effects, 'ship');
    expect(ships).toHaveLength(1);
    expect(ships[0]).toMatchObject({ to: ['B'], flags: 0, endLsn: core.nextLsn });
    expect(decodeRecords(ships[0]!.message.records).map((record) => record.type)).toEqual([
      RecordType.newGeneration,
    ]);
  });

  it('with bulk on: a tick bulk.maxDelayMs after the first buffered record ships; PERMANENT iff a commit is in it', () => {
    const core = new ReplicaCore(
      coreConfig('M', {
        peers: ['B'],
        now: 100,
        bulk: bulk({ enabled: true, maxDelayMs: 5 }),
        heartbeatIntervalMs: 10_000,
      }),
    );
    core.step({ type: 'becomeMaster', generation: 1 });
    core.step(
      message('B', { type: 'syncRequest', generation: 1, lastLsn: 37, lastGeneration: 1, nextLsn: 37 }),
    );
    core.takeEffects();
    expect(core.nextDeadline()).toBe(105);
    expect(ofType(drive(core, { type: 'tick', now: 104 }).effects, 'ship')).toEqual([]);
    const generationOnly = ofType(drive(core, { type: 'tick', now: 105 }).effects, 'ship');
    expect(generationOnly).toHaveLength(1);
    expect(generationOnly[0]).toMatchObject({ flags: 0, message: { flags: 0 } });
    expect(decodeRecords(generationOnly[0]!.message.records).map((record) => record.type)).toEqual([
      RecordType.newGeneration,
    ]);

    core.step({ type: 'tick', now: 200 });
    core.propose(payloads('late'));
    expect(ofType(core.takeEffects(), 'ship')).toEqual([]);
    expect(core.nextDeadline()).toBe(205);
    expect(ofType(drive(core, { type: 'tick', now: 204 }).effects, 'ship')).toEqual([]);
    const withCommit = ofType(drive(core, { type: 'tick', now: 205 }).effects, 'ship');
    expect(withCommit).toHaveLength(1);
    expect(withCommit[0]).toMatchObject({
      flags: SendFlags.PERMANENT,
      message: { flags: SendFlags.PERMANENT, prevGeneration: 1, prevLsn: 36 },
    });
  });
});

describe('propose with bulk on: records encoded straight into the batch buffer', () => {
  /**
   * Proposes the same transactions on a bulk-on and a bulk-off master. The bulk-off master shipped its
   * new-generation record at once (before this looks); the bulk-on one batched it (it holds no commit),
   * so it leads the first batch: `shippedOn` is every batch after it.
   */
  function proposeOnBoth(transactions: readonly (readonly Buffer[])[], maxBytes = 1024 * 1024) {
    const on = masterWithPeers({ bulk: bulk({ enabled: true, maxBytes }) });
    const off = masterWithPeers({ bulk: BULK_OFF });
    const appendsOn: Uint8Array[] = [];
    const copiesOn: Buffer[] = [];
    const shipsOn: Uint8Array[] = [];
    const appendsOff: Uint8Array[] = [];
    const shipsOff: Uint8Array[] = [];
    for (const payloadList of transactions) {
      expect(on.propose(payloadList)).toEqual(off.propose(payloadList));
      for (const effect of on.takeEffects()) {
        if (effect.type === 'append') {
          appendsOn.push(effect.bytes);
          copiesOn.push(Buffer.from(effect.bytes)); // what a log copies when it performs the effect
        }
        if (effect.type === 'ship') shipsOn.push(effect.message.records);
      }
      for (const effect of off.takeEffects()) {
        if (effect.type === 'append') appendsOff.push(effect.bytes);
        if (effect.type === 'ship') shipsOff.push(effect.message.records);
      }
    }
    on.step({ type: 'flushBulk' });
    for (const effect of ofType(on.takeEffects(), 'ship')) shipsOn.push(effect.message.records);
    expect(decodeRecords(shipsOn[0]!)[0]?.type).toBe(RecordType.newGeneration);
    const all = Buffer.concat(shipsOn.map((bytes) => Buffer.from(bytes)));
    return {
      appendsOn,
      copiesOn,
      shipsOn,
      shippedOn: all.subarray(GENERATION_RECORD_BYTES),
      appendsOff: appendsOff.map((bytes) => Buffer.from(bytes)),
      shippedOff: Buffer.concat(shipsOff.map((bytes) => Buffer.from(bytes))),
    };
  }

  it('appends and ships exactly the bytes a bulk-off master does, across buffer growth', () => {
    // Sizes that overrun the first 4 KiB buffer and then the next ones, including one transaction larger
    // than any buffer so far, so the batch buffer is replaced while earlier views are still held.
    const transactions = [
      ...Array.from({ length: 40 }, (_, index) => payloads(`t${index}`.padEnd(100 + index, '.'))),
      [Buffer.alloc(20_000, 7), Buffer.alloc(3, 8)],
      ...Array.from({ length: 30 }, (_, index) => payloads(`u${index}`, 'v'.repeat(index * 50))),
    ];
    const { appendsOn, copiesOn, shipsOn, shippedOn, appendsOff, shippedOff } = proposeOnBoth(transactions);
    expect(appendsOn.map((bytes) => Buffer.from(bytes))).toEqual(appendsOff);
    // A view handed out in an append effect never changes afterwards (later records, growth, the flush).
    expect(appendsOn.map((bytes) => Buffer.from(bytes))).toEqual(copiesOn);
    expect(shipsOn).toHaveLength(1);
    expect(shippedOn).toEqual(shippedOff);
    const records = transactions.reduce((sum, txn) => sum + txn.length + 1, 0);
    expect(decodeRecords(shipsOn[0]!)).toHaveLength(1 + records);
  });

  it('proposals made back to back reach the log as one append, with the bytes of one append each', () => {
    const transactions = [
      ...Array.from({ length: 30 }, (_, index) => payloads(`t${index}`.padEnd(100 + index * 7, '.'))),
      // Larger than the buffer so far: the batch buffer grows, and its bytes start a new append.
      [Buffer.alloc(20_000, 7)],
      ...Array.from({ length: 10 }, (_, index) => payloads(`u${index}`, 'v'.repeat(index * 30))),
    ];
    const on = masterWithPeers({ bulk: bulk({ enabled: true }) });
    const off = masterWithPeers({ bulk: BULK_OFF });
    for (const payloadList of transactions.slice(0, 20)) {
      on.propose(payloadList);
      off.propose(payloadList);
    }
    // Something else emitted between two proposals (a heartbeat answer here) ends the joined append.
    on.step({ type: 'peerUp', site: 'D' });
    off.step({ type: 'peerUp', site: 'D' });
    const resumedAt = on.nextLsn;
    for (const payloadList of transactions.slice(20)) {
      on.propose(payloadList);
      off.propose(payloadList);
    }
    const effectsOn = on.takeEffects();
    const appendsOn = ofType(effectsOn, 'append');
    const appendsOff = ofType(off.takeEffects(), 'append');
    // Joined but for the interruption and each growth of the batch buffer (a few doublings from 4 KiB).
    expect(appendsOn.length).toBeGreaterThanOrEqual(3);
    expect(appendsOn.length).toBeLessThanOrEqual(6);
    expect(appendsOn.some((effect) => effect.firstLsn === resumedAt)).toBe(true);
    expect(appendsOff).toHaveLength(transactions.length);
    expect(Buffer.concat(appendsOn.map((effect) => effect.bytes))).toEqual(
      Buffer.concat(appendsOff.map((effect) => effect.bytes)),
    );
    for (const effect of appendsOn) expect(effect.endLsn - effect.firstLsn).toBe(effect.bytes.length);
    expect(appendsOn[1]!.firstLsn).toBe(appendsOn[0]!.endLsn);
    expect(appendsOn[2]!.firstLsn).toBe(appendsOn[1]!.endLsn);
    // Each append comes before the applies of the transactions it holds, and the applies keep their order.
    const order = effectsOn.filter((effect) => effect.type === 'append' || effect.type === 'apply');
    let appendedTo = 0;
    let lastCommit = 0;
    for (const effect of order) {
      if (effect.type === 'append') appendedTo = effect.endLsn;
      else {
        expect(effect.txn.endLsn).toBeLessThanOrEqual(appendedTo);
        expect(effect.txn.commitLsn).toBeGreaterThan(lastCommit);
        lastCommit = effect.txn.commitLsn;
      }
    }
    expect(ofType(effectsOn, 'apply')).toHaveLength(transactions.length);
  });

  it('a batch that reaches bulk.maxBytes ships, and later batches never write over it', () => {
    const transactions = Array.from({ length: 12 }, (_, index) => payloads('x'.repeat(200 + index)));
    const { appendsOn, copiesOn, shipsOn, shippedOn, shippedOff } = proposeOnBoth(transactions, 1000);
    expect(shipsOn.length).toBeGreaterThan(2);
    expect(shippedOn).toEqual(shippedOff);
    expect(appendsOn.map((bytes) => Buffer.from(bytes))).toEqual(copiesOn);
    // Each batch is its own memory, and a batch held since it shipped still reads as it did then.
    expect(new Set(shipsOn.map((bytes) => bytes.buffer)).size).toBe(shipsOn.length);
    const on = masterWithPeers({ bulk: bulk({ enabled: true, maxBytes: 1000 }) });
    const held: Uint8Array[] = [];
    const copies: Buffer[] = [];
    for (const payloadList of transactions) {
      on.propose(payloadList);
      for (const ship of ofType(on.takeEffects(), 'ship')) {
        held.push(ship.message.records);
        copies.push(Buffer.from(ship.message.records));
      }
    }
    expect(held.length).toBeGreaterThan(2);
    expect(held.map((bytes) => Buffer.from(bytes))).toEqual(copies);
  });

  it('the new-generation record leads the first batch, ahead of the first transaction', () => {
    const core = new ReplicaCore(coreConfig('M', { peers: ['B'], bulk: bulk({ enabled: true }) }));
    core.step({ type: 'becomeMaster', generation: 2 });
    core.step(
      message('B', { type: 'syncRequest', generation: 2, lastLsn: 1, lastGeneration: 0, nextLsn: 1 }),
    );
    core.takeEffects();
    core.propose(payloads('a'));
    core.step({ type: 'flushBulk' });
    const ships = ofType(core.takeEffects(), 'ship');
    expect(ships).toHaveLength(1);
    const records = decodeRecords(ships[0]!.message.records);
    expect(records.map((record) => record.type)).toEqual([
      RecordType.newGeneration,
      RecordType.data,
      RecordType.commit,
    ]);
    expect(records[0]).toMatchObject({ lsn: 1, generation: 2 });
    expect(records[1]).toMatchObject({ lsn: 1 + GENERATION_RECORD_BYTES, generation: 2 });
  });
});

describe('acks', () => {
  function masterWithCommits(): { core: ReplicaCore; commits: number[] } {
    const core = masterWithPeers({ bulk: BULK_OFF }, 2);
    const commits = [
      core.propose(payloads('a')),
      core.propose(payloads('b')),
      core.propose(payloads('c')),
    ].map((proposed) => proposed.commitLsn);
    core.takeEffects();
    return { core, commits };
  }
  const ack = (generation: number, lsn: number, level: 'received' | 'written' | 'flushed' = 'flushed') =>
    message('B', { type: 'ack', generation, lsn, level, nextLsn: lsn + 40 });

  it('reports each new acknowledged LSN as an acked effect, cumulatively', () => {
    const { core, commits } = masterWithCommits();
    const [c1, c2, c3] = commits as [number, number, number];
    expect(drive(core, ack(2, c1))).toEqual({
      result: { code: 'OK' },
      effects: [{ type: 'acked', site: 'B', lsn: c1, level: 'flushed' }],
    });
    // An ack covers every commit up to its LSN: c3 directly, skipping c2.
    expect(drive(core, ack(2, c3)).effects).toEqual([
      { type: 'acked', site: 'B', lsn: c3, level: 'flushed' },
    ]);
    // A late (reordered) ack for c2 and a repeat of c3 change nothing.
    expect(drive(core, ack(2, c2)).effects).toEqual([]);
    expect(drive(core, ack(2, c3)).effects).toEqual([]);
    expect(core.peerProgress().get('B')).toMatchObject({ ackedLsn: c3, ackLevel: 'flushed' });
  });

  it('reports the same LSN again when it is acknowledged at another level', () => {
    const { core, commits } = masterWithCommits();
    const c1 = commits[0]!;
    expect(drive(core, ack(2, c1, 'written')).effects).toEqual([
      { type: 'acked', site: 'B', lsn: c1, level: 'written' },
    ]);
    expect(drive(core, ack(2, c1, 'flushed')).effects).toEqual([
      { type: 'acked', site: 'B', lsn: c1, level: 'flushed' },
    ]);
  });

  it('ignores an ack of an older or a newer generation', () => {
    const { core, commits } = masterWithCommits();
    const c3 = commits[2]!;
    for (const generation of [1, 3]) {
      const { result, effects } = drive(core, ack(generation, c3));
      expect(result.code).toBe('IGNORE');
      expect(effects).toEqual([]);
    }
    expect(core.peerProgress().get('B')?.ackedLsn).toBe(0);
  });

  it('forgets the acks of the previous generation when it becomes master again', () => {
    const { core, commits } = masterWithCommits();
    core.step(ack(2, commits[2]!));
    core.step(message('X', { type: 'newMaster', generation: 2, nextLsn: 1 })); // DUPMASTER: steps down
    core.step({ type: 'becomeMaster', generation: 5 });
    core.takeEffects();
    expect(core.peerProgress().get('B')).toMatchObject({ ackedLsn: 0, synced: false });
    // An ack from before (generation 2) no longer counts.
    expect(drive(core, ack(2, commits[2]!)).result.code).toBe('IGNORE');
  });

  it('a client ignores acks', () => {
    const core = new ReplicaCore(coreConfig('C'));
    core.step(message('B', { type: 'masterRequest', generation: 0 }));
    expect(drive(core, ack(0, 100)).result.code).toBe('IGNORE');
  });
});

describe('masterRequest', () => {
  it('a master answers with newMaster; a client stays silent', () => {
    const core = masterWithPeers();
    const { effects } = drive(core, message('D', { type: 'masterRequest', generation: 0 }));
    expect(sendsOf(effects, 'newMaster')).toEqual([
      {
        type: 'send',
        to: 'D',
        message: { type: 'newMaster', generation: 1, nextLsn: core.nextLsn },
        flags: 0,
      },
    ]);
    const client = new ReplicaCore(coreConfig('C'));
    expect(
      ofType(drive(client, message('D', { type: 'masterRequest', generation: 0 })).effects, 'send'),
    ).toEqual([]);
  });
});
