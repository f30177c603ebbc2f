import { describe, expect, it } from 'vitest';
import {
  InvalidLsnError,
  InvalidStateError,
  LOG_START_LSN,
  type LogRecord,
  openLog,
  RecordType,
} from '../../src/index.js';
import { MemoryStorage } from '../../src/testing/index.js';
import { bytes, commitTexts, readAll, segmentFiles } from './unit-helpers.js';

describe('Transaction', () => {
  it('refuses append, commit and abort once committed (InvalidStateError)', async () => {
    const log = await openLog(new MemoryStorage());
    const txn = log.begin();
    expect(txn.state).toBe('open');
    txn.append(bytes('a'));
    const result = await txn.commit();
    expect(txn.state).toBe('committed');
    expect(result.txnId).toBe(txn.id);
    const end = log.nextLsn;
    expect(() => txn.append(bytes('b'))).toThrow(InvalidStateError);
    await expect(txn.commit()).rejects.toBeInstanceOf(InvalidStateError);
    expect(() => txn.abort()).toThrow(InvalidStateError);
    expect(log.nextLsn).toBe(end);
    await log.close();
  });

  it('refuses append and commit once aborted', async () => {
    const log = await openLog(new MemoryStorage());
    const txn = log.begin();
    txn.abort();
    expect(txn.state).toBe('aborted');
    expect(() => txn.append(bytes('b'))).toThrow(InvalidStateError);
    await expect(txn.commit()).rejects.toBeInstanceOf(InvalidStateError);
    expect(log.nextLsn).toBe(LOG_START_LSN);
    await log.close();
  });

  it('abort writes an abort record only when the transaction wrote something', async () => {
    const log = await openLog(new MemoryStorage());
    const empty = log.begin();
    expect(empty.abort()).toBeUndefined();
    expect(log.nextLsn).toBe(LOG_START_LSN);

    const txn = log.begin();
    const first = txn.append(bytes('undo me'));
    const abortLsn = txn.abort();
    expect(abortLsn).toBe(first + 32 + 7);
    const records = await readAll(log);
    expect(records.map((r) => [r.type, r.txnId])).toEqual([
      [RecordType.data, txn.id],
      [RecordType.abort, txn.id],
    ]);
    expect(records[1]!.lsn).toBe(abortLsn);
    expect(records[1]!.payload.length).toBe(0);
    await log.close();
  });

  it('a commit record carries the record count; an empty commit is allowed; txn ids increase', async () => {
    const log = await openLog(new MemoryStorage());
    const a = log.begin();
    const b = log.begin();
    expect(b.id).toBe(a.id + 1);
    a.append(bytes('1'));
    a.append(bytes('2'));
    const ra = await a.commit();
    const rb = await b.commit();
    const records = await readAll(log);
    const commits = records.filter((r) => r.type === RecordType.commit);
    expect(commits.map((r) => (r.payload as Buffer).readUInt32LE(0))).toEqual([2, 0]);
    expect(commits.map((r) => r.lsn)).toEqual([ra.lsn, rb.lsn]);
    expect(rb.endLsn).toBe(log.nextLsn);
    expect(a.firstLsn).toBe(LOG_START_LSN);
    expect(b.firstLsn).toBeUndefined();
    await log.close();
  });
});

describe('generations', () => {
  it('startGeneration stamps every later record and persists', async () => {
    const storage = new MemoryStorage();
    const log = await openLog(storage);
    await commitTexts(log, ['g0']);
    const markerLsn = log.startGeneration(4);
    expect(log.generation).toBe(4);
    await commitTexts(log, ['g4']);
    const records = await readAll(log);
    const marker = records.find((r) => r.lsn === markerLsn)!;
    expect(marker).toMatchObject({ type: RecordType.newGeneration, generation: 4, txnId: 0 });
    expect((marker.payload as Buffer).readUInt32LE(0)).toBe(4);
    expect(records.filter((r) => r.lsn < markerLsn).every((r) => r.generation === 0)).toBe(true);
    expect(records.filter((r) => r.lsn >= markerLsn).every((r) => r.generation === 4)).toBe(true);
    await log.close();
    const reopened = await openLog(storage);
    expect(reopened.generation).toBe(4);
    expect(() => reopened.startGeneration(4)).toThrow(InvalidStateError);
    await reopened.close();
  });

  it('refuses to go back, to stay, or a non-integer, and leaves the log as it was', async () => {
    const log = await openLog(new MemoryStorage());
    log.startGeneration(2);
    const end = log.nextLsn;
    for (const generation of [2, 1, 0, -1, 2.5, Number.NaN]) {
      expect(() => log.startGeneration(generation), String(generation)).toThrow(InvalidStateError);
    }
    expect(log.generation).toBe(2);
    expect(log.nextLsn).toBe(end);
    await log.close();
  });

  it('refuses a generation that does not fit the record field, and the log stays usable', async () => {
    const log = await openLog(new MemoryStorage());
    expect(() => log.startGeneration(2 ** 32)).toThrow(InvalidStateError);
    expect(log.generation).toBe(0);
    expect(log.nextLsn).toBe(LOG_START_LSN);
    const result = await commitTexts(log, ['still fine']);
    expect(result.level).toBe('flushed');
    log.startGeneration(2 ** 32 - 1);
    await commitTexts(log, ['top']);
    expect((await readAll(log)).at(-1)!.generation).toBe(2 ** 32 - 1);
    await log.close();
  });
});

describe('appendReplicated', () => {
  it('requires lsn === nextLsn (InvalidLsnError otherwise)', async () => {
    const log = await openLog(new MemoryStorage());
    const record = { generation: 1, type: RecordType.data, txnId: 5, payload: bytes('r') } as const;
    for (const lsn of [LOG_START_LSN + 1, LOG_START_LSN - 1, 1000]) {
      const error = (() => {
        try {
          log.appendReplicated({ ...record, lsn });
        } catch (e) {
          return e;
        }
      })();
      expect(error).toBeInstanceOf(InvalidLsnError);
      expect((error as InvalidLsnError).lsn).toBe(lsn);
    }
    expect(log.nextLsn).toBe(LOG_START_LSN);
    expect(log.generation).toBe(0);
    expect(log.appendReplicated({ ...record, lsn: LOG_START_LSN })).toBe(LOG_START_LSN);
    await log.close();
  });

  it('a replica fed the master’s records holds byte-identical segments and adopts ids and generation', async () => {
    const masterStorage = new MemoryStorage('master');
    const master = await openLog(masterStorage, { segmentBytes: 4096 });
    master.startGeneration(3);
    for (let i = 0; i < 30; i++) await commitTexts(master, [`m${i}-${'v'.repeat(200)}`]);
    const aborted = master.begin();
    aborted.append(bytes('aborted'));
    aborted.abort();
    const checkpointLsn = await master.checkpoint(bytes('cp'));
    const records: LogRecord[] = (await readAll(master)).map((r) => ({ ...r }));

    const replicaStorage = new MemoryStorage('replica');
    const replica = await openLog(replicaStorage, { segmentBytes: 4096 });
    for (const record of records) expect(replica.appendReplicated(record)).toBe(record.lsn);
    await replica.logFlush();
    expect(replica.nextLsn).toBe(master.nextLsn);
    expect(replica.generation).toBe(3);
    expect(replica.lastCheckpointLsn).toBe(checkpointLsn);
    expect(replica.stats().commits).toBe(master.stats().commits);
    expect(replica.begin().id).toBe(aborted.id + 1);

    const names = segmentFiles(masterStorage.list());
    expect(segmentFiles(replicaStorage.list())).toEqual(names);
    for (const name of names) {
      expect(replicaStorage.fileBytes(name)!.equals(masterStorage.fileBytes(name)!), name).toBe(true);
    }
    await master.close();
    await replica.close();
  });
});
