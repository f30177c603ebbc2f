import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  AckordError,
  ConfigError,
  LOG_START_LSN,
  LogClosedError,
  LogFailedError,
  LogLockedError,
  type LogOptions,
  openLog,
  parseLogOptions,
  RecordTooLargeError,
  RecordType,
  type WriteAheadLog,
} from '../../src/index.js';
import { MemoryStorage, VirtualClock } from '../../src/testing/index.js';
import { bytes, commitTexts, dataTexts, survivors, tempDirs, tick } from './unit-helpers.js';

const dirs = tempDirs();
afterEach(() => dirs.cleanup());

async function configError(options: unknown): Promise<ConfigError> {
  const error = await openLog(new MemoryStorage(), options as LogOptions).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(ConfigError);
  expect(error).toBeInstanceOf(AckordError);
  expect((error as ConfigError).code).toBe('ERR_ACKORD_CONFIG');
  return error as ConfigError;
}

describe('invalid options: ConfigError', () => {
  it('an unknown key', async () => {
    const error = await configError({ durabilty: 'fsync' });
    expect(error.issues.map((issue) => issue.code)).toContain('unrecognized_keys');
    expect(error.message).toMatch(/^invalid log options:\n {2}/);
    expect(error.message).toContain('durabilty');
  });

  it("durability 'sometimes', and delayed bounds", async () => {
    const error = await configError({ durability: 'sometimes' });
    expect(error.issues.length).toBeGreaterThan(0);
    expect(error.issues.every((issue) => issue.path[0] === 'durability')).toBe(true);
    expect(error.message).toContain('durability: ');
    await configError({ durability: 'delayed:0' });
    await configError({ durability: 'delayed:60001' });
    await configError({ durability: 'delayed:abc' });
    await configError({ durability: { mode: 'delayed', maxDelayMs: 0 } });
    await configError({ durability: { mode: 'delayed', maxDelayMs: 1.5 } });
    expect(parseLogOptions({ durability: 'delayed:60000' }).durability).toEqual({
      mode: 'delayed',
      maxDelayMs: 60000,
    });
  });

  it('segmentBytes 10', async () => {
    const error = await configError({ segmentBytes: 10 });
    expect(error.issues.map((issue) => issue.path.join('.'))).toEqual(['segmentBytes']);
    expect(error.message).toContain('segmentBytes: ');
  });

  it('maxPayloadBytes bigger than a segment', async () => {
    const error = await configError({ segmentBytes: 4096, maxPayloadBytes: 10_000 });
    expect(error.issues.map((issue) => issue.path.join('.'))).toContain('maxPayloadBytes');
    expect(error.message).toContain('maxPayloadBytes: a record (10032 bytes) must fit in a segment');
    const buffer = await configError({ bufferBytes: 8192, maxPayloadBytes: 10_000 });
    expect(buffer.issues.map((issue) => issue.path.join('.'))).toContain('bufferBytes');
  });

  it('lists every issue at once, one per line', async () => {
    const error = await configError({ durability: 'sometimes', segmentBytes: 10, clusterId: '', extra: 1 });
    const paths = new Set(error.issues.map((issue) => issue.path.join('.') || '(root)'));
    expect(paths.has('durability')).toBe(true);
    expect(paths.has('segmentBytes')).toBe(true);
    expect(paths.has('clusterId')).toBe(true);
    expect(error.message.split('\n').length).toBe(error.issues.length + 1);
  });

  it('a ConfigError touches no directory', async () => {
    const dir = path.join(dirs.make(), 'not-created');
    await expect(openLog(dir, { segmentBytes: 10 })).rejects.toBeInstanceOf(ConfigError);
    expect(fs.existsSync(dir)).toBe(false);
  });

  it('the defaults', () => {
    expect(parseLogOptions(undefined)).toMatchObject({
      durability: 'fsync',
      clusterId: 'ackord',
      segmentBytes: 64 * 1024 * 1024,
      maxPayloadBytes: 1024 * 1024,
      recovery: 'strict',
      syncIo: 'blocking',
      create: true,
    });
  });
});

describe('RecordTooLargeError', () => {
  it('refuses a payload over maxPayloadBytes and writes nothing', async () => {
    const storage = new MemoryStorage();
    const log = await openLog(storage, { maxPayloadBytes: 100 });
    const txn = log.begin();
    txn.append(bytes('ok'));
    const before = log.stats();
    const error = (() => {
      try {
        txn.append(Buffer.alloc(101));
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(RecordTooLargeError);
    expect(error).toMatchObject({ size: 101, max: 100, code: 'ERR_ACKORD_RECORD_TOO_LARGE' });
    expect(log.nextLsn).toBe(before.nextLsn);
    expect(log.stats().recordsAppended).toBe(before.recordsAppended);
    expect(log.stats().bufferedBytes).toBe(before.bufferedBytes);
    expect(txn.firstLsn).toBe(LOG_START_LSN);
    // The transaction and the log go on.
    txn.append(Buffer.alloc(100));
    await txn.commit();
    await expect(log.checkpoint(Buffer.alloc(101))).rejects.toBeInstanceOf(RecordTooLargeError);
    expect(log.lastCheckpointLsn).toBeUndefined();
    await log.close();
    const reopened = await openLog(storage, { maxPayloadBytes: 100 });
    expect(reopened.recovery.records).toBe(3);
    await reopened.close();
  });

  it('a refused replicated record changes nothing either', async () => {
    const log = await openLog(new MemoryStorage(), { maxPayloadBytes: 100 });
    const before = log.stats();
    for (const type of [RecordType.commit, RecordType.checkpoint, RecordType.data]) {
      expect(() =>
        log.appendReplicated({
          lsn: log.nextLsn,
          generation: 9,
          type,
          txnId: 77,
          payload: Buffer.alloc(101),
        }),
      ).toThrow(RecordTooLargeError);
    }
    expect(log.generation).toBe(0);
    expect(log.lastCheckpointLsn).toBeUndefined();
    expect(log.stats()).toEqual(before);
    expect(log.begin().id).toBe(1);
    await log.close();
  });
});

describe('fail-stop on I/O errors', () => {
  function expectFailed(log: WriteAheadLog, failure: LogFailedError, durableLsn: number): void {
    expect(log.failure).toBe(failure);
    expect(log.stats().failed).toBe(true);
    expect(log.durableLsn).toBe(durableLsn);
    expect(() => log.begin()).toThrow(failure);
    expect(() => log.startGeneration(5)).toThrow(failure);
    expect(() => log.removeSegmentsBefore(log.nextLsn)).toThrow(failure);
  }

  it('a write fault: the waiting commit and every later operation fail with LogFailedError', async () => {
    const storage = new MemoryStorage();
    const log = await openLog(storage, { durability: 'fsync' });
    await commitTexts(log, ['good']);
    const durable = log.durableLsn;
    const other = log.begin(); // begun before the failure
    other.append(bytes('pending'));
    const injected = Object.assign(new Error('EIO: disk on fire'), { code: 'EIO' });
    storage.injectFault({ op: 'write', error: injected });

    const error = await commitTexts(log, ['lost']).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LogFailedError);
    expect((error as LogFailedError).code).toBe('ERR_ACKORD_LOG_FAILED');
    expect((error as LogFailedError).cause).toBe(injected);
    const failure = error as LogFailedError;
    expectFailed(log, failure, durable);
    expect(() => other.append(bytes('x'))).toThrow(failure);
    await expect(other.commit()).rejects.toBe(failure);
    await expect(log.logFlush()).rejects.toBe(failure);
    await expect(log.waitDurable(durable)).rejects.toBe(failure);
    await expect(log.checkpoint()).rejects.toBe(failure);
    await expect(log.truncate(LOG_START_LSN)).rejects.toBe(failure);
    await log.close();
    expect(await survivors(storage, 'process')).toEqual(['good']);
    const reopened = await openLog(storage); // the lock was released
    expect(reopened.recovery.incompleteTxnIds).toEqual([]);
    await reopened.close();
  });

  it('a sync fault: every waiting commit rejects, and durableLsn never advances again', async () => {
    const storage = new MemoryStorage();
    const log = await openLog(storage, { durability: 'fsync' });
    await commitTexts(log, ['good']);
    const durable = log.durableLsn;
    storage.injectFault({ op: 'sync' });
    const results = await Promise.allSettled(
      Array.from({ length: 16 }, (_, i) => commitTexts(log, [`lost${i}`])),
    );
    expect(results.every((r) => r.status === 'rejected')).toBe(true);
    const failure = (results[0] as PromiseRejectedResult).reason as LogFailedError;
    expect(failure).toBeInstanceOf(LogFailedError);
    expect((failure.cause as NodeJS.ErrnoException).code).toBe('EIO');
    expect(results.every((r) => (r as PromiseRejectedResult).reason === failure)).toBe(true);
    expect(log.stats().waitingCommits).toBe(0);
    expectFailed(log, failure, durable);

    // The fault is used up: syncs would succeed now, but nothing is reported durable again.
    const syncs = storage.syncCount;
    await expect(log.logFlush()).rejects.toBe(failure);
    await expect(log.waitDurable(log.nextLsn - 1)).rejects.toBe(failure);
    await tick();
    expect(log.durableLsn).toBe(durable);
    await log.close(); // close does not flush a failed log
    expect(storage.syncCount).toBe(syncs);
    expect(log.durableLsn).toBe(durable);
    expect(await survivors(storage, 'power')).toEqual(['good']);
  });

  it('a fault after N successes', async () => {
    const storage = new MemoryStorage();
    const log = await openLog(storage, { durability: 'write' });
    storage.injectFault({ op: 'write', after: 2 });
    await commitTexts(log, ['a']);
    await commitTexts(log, ['b']);
    await expect(commitTexts(log, ['c'])).rejects.toBeInstanceOf(LogFailedError);
    expect(log.stats().failed).toBe(true);
    expect(() => log.begin()).toThrow(LogFailedError);
    await log.close();
    expect(await survivors(storage, 'process')).toEqual(['a', 'b']);
  });

  it('a write fault in none mode surfaces at logFlush', async () => {
    const storage = new MemoryStorage();
    const log = await openLog(storage, { durability: 'none' });
    await commitTexts(log, ['a']);
    storage.injectFault({ op: 'write' });
    await expect(log.logFlush({ sync: 'off' })).rejects.toBeInstanceOf(LogFailedError);
    expect(log.stats().failed).toBe(true);
    await log.close();
    expect(await survivors(storage, 'process')).toEqual([]);
  });

  it('a sync fault at a segment switch fails the append that caused it', async () => {
    const storage = new MemoryStorage();
    const log = await openLog(storage, { segmentBytes: 4096, durability: 'write' });
    const txn = log.begin();
    storage.injectFault({ op: 'sync' });
    let error: unknown;
    try {
      for (let i = 0; i < 20; i++) txn.append(Buffer.alloc(500));
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(LogFailedError);
    expect(log.stats().segments).toBe(1);
    expect(log.durableLsn).toBe(LOG_START_LSN);
    await log.close();
  });

  it('a sync fault in the delayed background flush fails the log', async () => {
    const clock = new VirtualClock();
    const storage = new MemoryStorage();
    const log = await openLog(storage, { durability: 'delayed:10', clock });
    const result = await commitTexts(log, ['a']);
    const wait = log.waitDurable(result.lsn).catch((e: unknown) => e);
    storage.injectFault({ op: 'sync' });
    clock.advance(10);
    expect(await wait).toBeInstanceOf(LogFailedError);
    expect(log.stats().failed).toBe(true);
    expect(log.durableLsn).toBe(LOG_START_LSN);
    expect(() => log.begin()).toThrow(LogFailedError);
    await log.close();
    expect(clock.pendingTimers).toBe(0);
  });
});

describe('closing', () => {
  it('every operation after close is LogClosedError', async () => {
    const storage = new MemoryStorage();
    const log = await openLog(storage, { durability: 'write' });
    await commitTexts(log, ['a']);
    const open = log.begin();
    open.append(bytes('x'));
    await log.close();
    expect(() => log.begin()).toThrow(LogClosedError);
    expect(() => open.append(bytes('y'))).toThrow(LogClosedError);
    await expect(open.commit()).rejects.toBeInstanceOf(LogClosedError);
    await expect(log.logFlush()).rejects.toBeInstanceOf(LogClosedError);
    await expect(log.checkpoint()).rejects.toBeInstanceOf(LogClosedError);
    await expect(log.truncate(LOG_START_LSN)).rejects.toBeInstanceOf(LogClosedError);
    await expect(log.read().next()).rejects.toBeInstanceOf(LogClosedError);
    await expect(log.waitDurable(log.nextLsn)).rejects.toBeInstanceOf(LogClosedError);
    expect(() => log.removeSegmentsBefore(log.nextLsn)).toThrow(LogClosedError);
    expect(() => log.startGeneration(1)).toThrow(LogClosedError);
    expect(() =>
      log.appendReplicated({
        lsn: log.nextLsn,
        generation: 0,
        type: RecordType.data,
        txnId: 9,
        payload: bytes('r'),
      }),
    ).toThrow(LogClosedError);
    expect(new LogClosedError().code).toBe('ERR_ACKORD_LOG_CLOSED');
  });

  it('close is idempotent and never releases a lock twice', async () => {
    const storage = new MemoryStorage();
    const first = await openLog(storage);
    const a = first.close();
    const b = first.close();
    expect(b).toBe(a);
    await Promise.all([a, b]);
    const second = await openLog(storage);
    await first.close(); // again, while another log holds the storage
    await expect(openLog(storage)).rejects.toBeInstanceOf(LogLockedError);
    await second.close();
  });

  it('close while commits are in flight lets them finish', async () => {
    const storage = new MemoryStorage();
    const log = await openLog(storage, { durability: 'fsync' });
    const commits = Array.from({ length: 8 }, (_, i) => commitTexts(log, [`c${i}`]));
    await log.close();
    const results = await Promise.all(commits);
    expect(results.every((r) => r.level === 'flushed')).toBe(true);
    expect((await survivors(storage, 'power')).length).toBe(8);
  });

  it('await using closes the log (MemoryStorage and real files)', async () => {
    const storage = new MemoryStorage();
    let escaped: WriteAheadLog | undefined;
    {
      await using log = await openLog(storage, { durability: 'none' });
      escaped = log;
      await commitTexts(log, ['disposed']);
    }
    expect(() => escaped!.begin()).toThrow(LogClosedError);
    expect(await survivors(storage, 'power')).toEqual(['disposed']);
    const again = await openLog(storage);
    await again[Symbol.asyncDispose]();
    expect(() => again.begin()).toThrow(LogClosedError);

    const dir = dirs.make();
    {
      await using fileLog = await openLog(dir);
      await commitTexts(fileLog, ['on disk']);
    }
    expect(fs.existsSync(path.join(dir, 'LOCK'))).toBe(false);
    const reopened = await openLog(dir);
    expect(await dataTexts(reopened)).toEqual(['on disk']);
    await reopened.close();
  });
});
