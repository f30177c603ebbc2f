import { describe, expect, it } from 'vitest';
import { InvalidLsnError, LOG_START_LSN, LogClosedError, openLog } from '../../src/index.js';
import { MemoryStorage, VirtualClock } from '../../src/testing/index.js';
import { commitTexts, survivors, tick, track } from './unit-helpers.js';

describe('durability modes', () => {
  it('none: commit returns buffered; nothing survives any crash until a flush', async () => {
    const storage = new MemoryStorage();
    const log = await openLog(storage, { durability: 'none' });
    expect(log.durability).toBe('none');
    const result = await commitTexts(log, ['a', 'b']);
    expect(result.level).toBe('buffered');
    expect(result.endLsn).toBe(log.nextLsn);
    expect(log.writtenLsn).toBe(LOG_START_LSN);
    expect(log.durableLsn).toBe(LOG_START_LSN);
    expect(log.stats().bufferedBytes).toBe(log.nextLsn - LOG_START_LSN);
    expect(log.stats().writes).toBe(0);
    expect(await survivors(storage, 'process')).toEqual([]);
    expect(await survivors(storage, 'power')).toEqual([]);

    await log.logFlush({ sync: 'off' });
    expect(log.writtenLsn).toBe(log.nextLsn);
    expect(log.durableLsn).toBe(LOG_START_LSN);
    expect(await survivors(storage, 'process')).toEqual(['a', 'b']);
    expect(await survivors(storage, 'power')).toEqual([]);

    await log.logFlush();
    expect(log.durableLsn).toBe(log.nextLsn);
    expect(await survivors(storage, 'power')).toEqual(['a', 'b']);
    await log.close();
  });

  it('none: close flushes what was buffered', async () => {
    const storage = new MemoryStorage();
    const log = await openLog(storage, { durability: 'none' });
    await commitTexts(log, ['kept']);
    await log.close();
    expect(await survivors(storage, 'power')).toEqual(['kept']);
  });

  it('write: commit returns written; survives a process crash, not a power loss', async () => {
    const storage = new MemoryStorage();
    const log = await openLog(storage, { durability: 'write' });
    const syncsBefore = storage.syncCount;
    const result = await commitTexts(log, ['a']);
    expect(result.level).toBe('written');
    expect(log.writtenLsn).toBe(log.nextLsn);
    expect(log.durableLsn).toBe(LOG_START_LSN);
    await tick();
    expect(storage.syncCount).toBe(syncsBefore); // no flush started behind the caller's back
    expect(log.durableLsn).toBe(LOG_START_LSN);
    expect(await survivors(storage, 'process')).toEqual(['a']);
    expect(await survivors(storage, 'power')).toEqual([]);
    await log.close();
  });

  it('fsync: commit returns flushed; survives a power loss', async () => {
    const storage = new MemoryStorage();
    const log = await openLog(storage, { durability: 'fsync' });
    const syncsBefore = storage.syncCount;
    const result = await commitTexts(log, ['a']);
    expect(result.level).toBe('flushed');
    expect(log.durableLsn).toBe(log.nextLsn);
    expect(log.writtenLsn).toBe(log.nextLsn);
    expect(storage.syncCount).toBe(syncsBefore + 1);
    expect(log.stats().fsyncs).toBe(1);
    expect(await survivors(storage, 'power')).toEqual(['a']);
    await log.close();
  });

  it('fsync is the default', async () => {
    const log = await openLog(new MemoryStorage());
    expect(log.durability).toBe('fsync');
    expect((await commitTexts(log, ['a'])).level).toBe('flushed');
    await log.close();
  });

  it('dsync: commit returns flushed after the write itself; survives a power loss', async () => {
    const storage = new MemoryStorage();
    const log = await openLog(storage, { durability: 'dsync' });
    const result = await commitTexts(log, ['a']);
    expect(result.level).toBe('flushed');
    expect(log.durableLsn).toBe(log.nextLsn);
    expect(log.stats().writes).toBe(1);
    expect(log.stats().fsyncs).toBe(1); // the O_DSYNC write counts as the sync
    expect(await survivors(storage, 'power')).toEqual(['a']);
    // A buffered commit in dsync mode is not on the medium yet.
    const off = await commitTexts(log, ['b'], { sync: 'off' });
    expect(off.level).toBe('buffered');
    expect(await survivors(storage, 'power')).toEqual(['a']);
    await log.close();
    expect(await survivors(storage, 'power')).toEqual(['a', 'b']);
  });

  for (const durability of [{ mode: 'delayed', maxDelayMs: 100 } as const, 'delayed:100' as const]) {
    it(`delayed (${JSON.stringify(durability)}): written at once, durable within maxDelayMs`, async () => {
      const clock = new VirtualClock();
      const storage = new MemoryStorage();
      const log = await openLog(storage, { durability, clock });
      expect(log.durability).toBe('delayed');
      expect(log.stats().durability).toBe('delayed');

      const first = await commitTexts(log, ['a']);
      expect(first.level).toBe('written');
      expect(log.writtenLsn).toBe(log.nextLsn);
      expect(log.durableLsn).toBe(LOG_START_LSN);
      expect(await survivors(storage, 'process')).toEqual(['a']);
      expect(await survivors(storage, 'power')).toEqual([]);

      clock.advance(10);
      await commitTexts(log, ['b']); // rides on the same background flush

      clock.advance(90); // t = 100: the bound for the first commit
      await tick();
      expect(log.durableLsn).toBe(log.nextLsn);
      expect(log.stats().fsyncs).toBe(1);
      expect(await survivors(storage, 'power')).toEqual(['a', 'b']);

      // A commit after the flush arms a new timer: durable within another maxDelayMs.
      const third = await commitTexts(log, ['c']);
      expect(third.level).toBe('written');
      await tick();
      expect(log.durableLsn).toBeLessThan(log.nextLsn);
      clock.advance(100);
      await tick();
      expect(log.durableLsn).toBe(log.nextLsn);
      expect(log.stats().fsyncs).toBe(2);
      expect(clock.pendingTimers).toBe(0);

      await commitTexts(log, ['d']);
      expect(clock.pendingTimers).toBe(1);
      await log.close();
      expect(clock.pendingTimers).toBe(0); // close clears the timer…
      expect(await survivors(storage, 'power')).toEqual(['a', 'b', 'c', 'd']); // …and flushes
    });
  }

  it('delayed: a buffered commit (sync off) is also flushed by the timer', async () => {
    const clock = new VirtualClock();
    const storage = new MemoryStorage();
    const log = await openLog(storage, { durability: 'delayed:50', clock });
    const result = await commitTexts(log, ['a'], { sync: 'off' });
    expect(result.level).toBe('buffered');
    expect(log.writtenLsn).toBe(LOG_START_LSN);
    clock.advance(50);
    await tick();
    expect(log.durableLsn).toBe(log.nextLsn);
    expect(await survivors(storage, 'power')).toEqual(['a']);
    await log.close();
  });
});

describe('per-commit sync', () => {
  it("sync 'off' in fsync mode: buffered, neither written nor durable", async () => {
    const storage = new MemoryStorage();
    const log = await openLog(storage, { durability: 'fsync' });
    const result = await commitTexts(log, ['a'], { sync: 'off' });
    expect(result.level).toBe('buffered');
    expect(log.writtenLsn).toBe(LOG_START_LSN);
    expect(log.durableLsn).toBe(LOG_START_LSN);
    await tick();
    expect(log.durableLsn).toBe(LOG_START_LSN);
    expect(await survivors(storage, 'process')).toEqual([]);
    // The next flushed commit carries it along.
    await commitTexts(log, ['b']);
    expect(await survivors(storage, 'power')).toEqual(['a', 'b']);
    await log.close();
  });

  it("sync 'background': returns written, and a flush follows without further calls", async () => {
    for (const durability of ['none', 'write', 'fsync'] as const) {
      const storage = new MemoryStorage();
      const log = await openLog(storage, { durability });
      const result = await commitTexts(log, ['a'], { sync: 'background' });
      expect(result.level).toBe('written');
      expect(log.writtenLsn).toBe(log.nextLsn);
      expect(log.durableLsn).toBe(LOG_START_LSN);
      expect(await survivors(storage, 'process')).toEqual(['a']);
      await tick();
      expect(log.durableLsn).toBe(log.nextLsn);
      expect(await survivors(storage, 'power')).toEqual(['a']);
      await log.close();
    }
  });

  it("sync 'on' in none and write mode: flushed, survives a power loss", async () => {
    for (const durability of ['none', 'write'] as const) {
      const storage = new MemoryStorage();
      const log = await openLog(storage, { durability });
      await commitTexts(log, ['plain']);
      const result = await commitTexts(log, ['synced'], { sync: 'on' });
      expect(result.level).toBe('flushed');
      expect(log.durableLsn).toBe(log.nextLsn);
      expect(await survivors(storage, 'power')).toEqual(['plain', 'synced']);
      await log.close();
    }
  });
});

describe('logFlush', () => {
  it("'off' writes, 'background' starts a flush, 'on' (default) waits for it", async () => {
    const storage = new MemoryStorage();
    const log = await openLog(storage, { durability: 'none' });
    await commitTexts(log, ['a']);
    await log.logFlush({ sync: 'off' });
    expect(log.writtenLsn).toBe(log.nextLsn);
    expect(log.durableLsn).toBe(LOG_START_LSN);
    await tick();
    expect(log.durableLsn).toBe(LOG_START_LSN);

    await commitTexts(log, ['b']);
    const end = log.nextLsn;
    await log.logFlush({ sync: 'background' });
    expect(log.writtenLsn).toBe(end);
    await tick();
    expect(log.durableLsn).toBe(end);

    await commitTexts(log, ['c']);
    await log.logFlush();
    expect(log.durableLsn).toBe(log.nextLsn);
    expect(await survivors(storage, 'power')).toEqual(['a', 'b', 'c']);

    // Nothing to flush: no extra sync.
    const syncs = storage.syncCount;
    await log.logFlush();
    expect(storage.syncCount).toBe(syncs);
    await log.close();
  });
});

describe('waitDurable', () => {
  it('is passive: it resolves only once a later flush covers the record', async () => {
    const storage = new MemoryStorage();
    const log = await openLog(storage, { durability: 'write' });
    const result = await commitTexts(log, ['a']);
    const syncs = storage.syncCount;
    const wait = track(log.waitDurable(result.lsn));
    await tick();
    await tick();
    expect(wait.settled()).toBe(false);
    expect(storage.syncCount).toBe(syncs);
    expect(log.stats().waitingCommits).toBe(1);

    await commitTexts(log, ['b']);
    await tick();
    expect(wait.settled()).toBe(false);

    await log.logFlush();
    await wait.promise;
    expect(log.durableLsn).toBeGreaterThan(result.lsn);
    expect(log.stats().waitingCommits).toBe(0);
    await log.close();
  });

  it('resolves at once for a durable LSN, and through the delayed timer in delayed mode', async () => {
    const clock = new VirtualClock();
    const log = await openLog(new MemoryStorage(), { durability: 'delayed:20', clock });
    const first = await commitTexts(log, ['a']);
    const wait = track(log.waitDurable(first.lsn));
    await tick();
    expect(wait.settled()).toBe(false);
    clock.advance(20);
    await wait.promise;
    await log.waitDurable(first.lsn); // already durable
    await log.close();
  });

  it('rejects with the signal’s reason on abort and forgets the waiter', async () => {
    const log = await openLog(new MemoryStorage(), { durability: 'write' });
    const result = await commitTexts(log, ['a']);
    const controller = new AbortController();
    const wait = log.waitDurable(result.lsn, { signal: controller.signal });
    expect(log.stats().waitingCommits).toBe(1);
    const reason = new Error('gave up');
    controller.abort(reason);
    await expect(wait).rejects.toBe(reason);
    expect(log.stats().waitingCommits).toBe(0);

    const aborted = AbortSignal.abort(new Error('already'));
    await expect(log.waitDurable(result.lsn, { signal: aborted })).rejects.toThrow('already');

    // A waiter whose record then becomes durable does not reject when its signal aborts later.
    const later = new AbortController();
    const ok = log.waitDurable(result.lsn, { signal: later.signal });
    await log.logFlush();
    await ok;
    later.abort();
    await log.close();
  });

  it('rejects an LSN at or past the end of the log with InvalidLsnError', async () => {
    const log = await openLog(new MemoryStorage(), { durability: 'write' });
    await commitTexts(log, ['a']);
    const error = await log.waitDurable(log.nextLsn).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidLsnError);
    expect((error as InvalidLsnError).lsn).toBe(log.nextLsn);
    await expect(log.waitDurable(log.nextLsn + 1000)).rejects.toBeInstanceOf(InvalidLsnError);
    await log.close();
  });

  it('a waiter pending at close resolves through close’s flush; a new wait after close is LogClosedError', async () => {
    const log = await openLog(new MemoryStorage(), { durability: 'write' });
    const result = await commitTexts(log, ['a']);
    const wait = log.waitDurable(result.lsn);
    await log.close();
    await wait;
    await expect(log.waitDurable(log.nextLsn)).rejects.toBeInstanceOf(LogClosedError);
  });
});
