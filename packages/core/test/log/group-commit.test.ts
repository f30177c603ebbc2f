import { afterEach, describe, expect, it } from 'vitest';
import { type CommitResult, openLog, RecordType, type WriteAheadLog } from '../../src/index.js';
import { MemoryStorage } from '../../src/testing/index.js';
import { bytes, commitTexts, GatedStorage, readAll, tempDirs, tick, track } from './unit-helpers.js';

const dirs = tempDirs();
afterEach(() => dirs.cleanup());

function concurrentCommits(log: WriteAheadLog, count: number, prefix = 'c'): Promise<CommitResult[]> {
  return Promise.all(
    Array.from({ length: count }, async (_, index) => {
      const txn = log.begin();
      txn.append(bytes(`${prefix}${index}`));
      return txn.commit();
    }),
  );
}

/** `workers` committers, each committing `rounds` times in sequence. */
async function waves(log: WriteAheadLog, workers: number, rounds: number): Promise<CommitResult[]> {
  const results: CommitResult[] = [];
  await Promise.all(
    Array.from({ length: workers }, async (_, worker) => {
      for (let round = 0; round < rounds; round++) {
        results.push(await commitTexts(log, [`w${worker}r${round}`]));
      }
    }),
  );
  return results;
}

describe('group commit (fsync mode)', () => {
  it('64 concurrent commits share one sync on MemoryStorage', async () => {
    const storage = new MemoryStorage();
    const log = await openLog(storage, { durability: 'fsync' });
    const syncsBefore = storage.syncCount;
    const results = await concurrentCommits(log, 64);
    expect(results.every((result) => result.level === 'flushed')).toBe(true);
    const stats = log.stats();
    expect(stats.fsyncs).toBe(1);
    expect(storage.syncCount - syncsBefore).toBe(1);
    expect(stats.commits).toBe(64);
    expect(stats.commitsPerFsync).toBe(64);
    expect(stats.recordsPerFsync).toBe(128);
    expect(stats.writes).toBe(1);
    expect(log.durableLsn).toBe(log.nextLsn);
    expect(new Set(results.map((r) => r.txnId)).size).toBe(64);
    await log.close();
  });

  it('no commit resolves before the sync that covers it: a power loss at that moment keeps it', async () => {
    const storage = new MemoryStorage();
    const log = await openLog(storage, { durability: 'fsync', segmentBytes: 4096 });
    const images: { lsn: number; image: MemoryStorage }[] = [];
    const commit = (text: string) =>
      commitTexts(log, [text]).then((result) => {
        images.push({ lsn: result.lsn, image: storage.crash({ kind: 'power' }) });
        return result;
      });
    // Concurrent groups, sequential waves, and segment switches on the way.
    for (let wave = 0; wave < 6; wave++) {
      await Promise.all(Array.from({ length: 8 }, (_, i) => commit(`w${wave}-${i}-${'p'.repeat(200)}`)));
    }
    expect(log.stats().segments).toBeGreaterThan(2);
    expect(images.length).toBe(48);
    for (const { lsn, image } of images) {
      const after = await openLog(image, { segmentBytes: 4096 });
      expect(after.nextLsn).toBeGreaterThan(lsn);
      const records = await readAll(after, lsn);
      expect(records[0]).toMatchObject({ lsn, type: RecordType.commit });
      await after.close();
    }
    await log.close();
  });

  it('a commit made while a sync is in flight waits for the next sync', async () => {
    const storage = new GatedStorage();
    const log = await openLog(storage, { durability: 'fsync' });
    const first = track(commitTexts(log, ['a']));
    await tick();
    expect(storage.pendingSyncs).toBe(1);
    const second = track(commitTexts(log, ['b']));
    await tick();
    expect(first.settled()).toBe(false);
    expect(second.settled()).toBe(false);

    storage.releaseOne();
    const firstResult = await first.promise;
    await tick();
    expect(log.durableLsn).toBe(firstResult.endLsn);
    expect(second.settled()).toBe(false);
    expect(storage.pendingSyncs).toBe(1); // the next pass started at once

    storage.releaseOne();
    const secondResult = await second.promise;
    expect(secondResult.level).toBe('flushed');
    expect(log.durableLsn).toBe(log.nextLsn);
    expect(log.stats().fsyncs).toBe(2);

    storage.gated = false;
    await log.close();
  });

  for (const syncIo of ['blocking', 'threadpool'] as const) {
    it(`shares fsyncs on real files (syncIo ${syncIo})`, async () => {
      const dir = dirs.make();
      const log = await openLog(dir, { durability: 'fsync', syncIo });
      const concurrent = await concurrentCommits(log, 64);
      expect(concurrent.every((result) => result.level === 'flushed')).toBe(true);
      expect(log.stats().fsyncs).toBeLessThanOrEqual(2);
      expect(log.durableLsn).toBe(log.nextLsn);

      const before = log.stats().fsyncs;
      const sequential = await waves(log, 16, 8);
      const used = log.stats().fsyncs - before;
      expect(sequential.length).toBe(128);
      expect(used).toBeGreaterThanOrEqual(1);
      expect(used).toBeLessThanOrEqual(32); // 128 commits, grouped: far fewer syncs than commits
      expect(log.stats().commitsPerFsync).toBeGreaterThanOrEqual(4);
      await log.close();

      const reopened = await openLog(dir);
      const commits = (await readAll(reopened)).filter((r) => r.type === RecordType.commit);
      expect(commits.length).toBe(192);
      expect(new Set(commits.map((r) => r.txnId)).size).toBe(192);
      await reopened.close();
    });
  }
});

describe('group commit gathered per event-loop iteration (groupCommit)', () => {
  /** Commits one record in each of `count` separate macrotasks of one check phase. */
  function commitsInSeparateCallbacks(log: WriteAheadLog, count: number): Promise<CommitResult[]> {
    return Promise.all(
      Array.from(
        { length: count },
        (_, index) =>
          new Promise<CommitResult>((resolve, reject) => {
            setImmediate(() => commitTexts(log, [`cb${index}`]).then(resolve, reject));
          }),
      ),
    );
  }

  for (const [groupCommit, syncs] of [
    ['iteration', 1],
    ['turn', 4],
  ] as const) {
    it(`commits from 4 callbacks of one iteration take ${syncs} sync(s) with groupCommit '${groupCommit}'`, async () => {
      const storage = new MemoryStorage();
      const log = await openLog(storage, { durability: 'fsync', groupCommit });
      const syncsBefore = storage.syncCount;
      const results = await commitsInSeparateCallbacks(log, 4);
      expect(results.every((result) => result.level === 'flushed')).toBe(true);
      expect(storage.syncCount - syncsBefore).toBe(syncs);
      expect(log.stats().fsyncs).toBe(syncs);
      expect(log.durableLsn).toBe(log.nextLsn);
      await log.close();
    });
  }

  it("falls back to a microtask on a clock without afterIo (the simulator's)", async () => {
    const storage = new MemoryStorage();
    const clock = { now: () => 0, setTimeout: () => ({}), clearTimeout: () => {} };
    const log = await openLog(storage, { durability: 'fsync', groupCommit: 'iteration', clock });
    const results = await commitsInSeparateCallbacks(log, 3);
    expect(results.every((result) => result.level === 'flushed')).toBe(true);
    expect(log.stats().fsyncs).toBe(3);
    await log.close();
  });

  it('runs the flush where the clock says, and a commit waits for it', async () => {
    const storage = new MemoryStorage();
    const deferred: (() => void)[] = [];
    const clock = {
      now: () => 0,
      setTimeout: () => ({}),
      clearTimeout: () => {},
      afterIo: (callback: () => void) => void deferred.push(callback),
    };
    const log = await openLog(storage, { durability: 'fsync', groupCommit: 'iteration', clock });
    let settled = false;
    const first = commitTexts(log, ['a']).then((result) => {
      settled = true;
      return result;
    });
    await tick();
    const second = commitTexts(log, ['b']);
    await tick();
    expect(settled).toBe(false);
    expect(deferred.length).toBe(1); // one flush scheduled for both
    deferred.shift()!();
    const [a, b] = await Promise.all([first, second]);
    expect(a.level).toBe('flushed');
    expect(b.level).toBe('flushed');
    expect(log.stats().fsyncs).toBe(1);
    await log.close();
  });
});

describe('flushThrough', () => {
  it('writes nothing itself: the group commit does one write and one sync for every record before it', async () => {
    const storage = new MemoryStorage();
    const log = await openLog(storage, { durability: 'fsync' });
    const writesBefore = log.stats().writes;
    const waits: Promise<void>[] = [];
    for (const text of ['a', 'b', 'c']) {
      const txn = log.begin();
      txn.append(bytes(text));
      waits.push(txn.commit({ sync: 'off' }).then(() => undefined));
      waits.push(log.flushThrough(log.nextLsn - 1)); // in the same turn: one group
    }
    expect(log.stats().writes).toBe(writesBefore); // nothing written yet (logFlush writes at once)
    await Promise.all(waits);
    expect(log.stats().writes - writesBefore).toBe(1);
    expect(log.stats().fsyncs).toBe(1);
    expect(log.durableLsn).toBe(log.nextLsn);
    await log.close();
  });
});
