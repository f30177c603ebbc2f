import { describe, expect, it } from 'vitest';
import {
  encodeRecord,
  InvalidLsnError,
  InvalidStateError,
  LOG_START_LSN,
  LogTruncatedError,
  LsnUnavailableError,
  openLog,
  RECORD_HEADER_BYTES,
  RecordType,
  type WriteAheadLog,
} from '../../src/index.js';
import { MemoryStorage } from '../../src/testing/index.js';
import {
  bytes,
  commitTexts,
  dataTexts,
  GatedStorage,
  readAll,
  segmentFiles,
  survivors,
  tick,
  track,
} from './unit-helpers.js';

const SEG = { segmentBytes: 4096 } as const;

/** Commits `count` transactions of one data record each; returns each one's first LSN. */
async function commitMany(log: WriteAheadLog, count: number, size = 0, prefix = 't'): Promise<number[]> {
  const starts: number[] = [];
  for (let i = 0; i < count; i++) {
    const txn = log.begin();
    starts.push(txn.append(bytes(`${prefix}${i}${'.'.repeat(size)}`)));
    await txn.commit();
  }
  return starts;
}

const firstLsnOf = (name: string) => Number.parseInt(name.slice(0, 16), 16);

describe('truncate', () => {
  it('removes every record at and after toLsn, durably, and the log goes on from there', async () => {
    const storage = new MemoryStorage();
    const log = await openLog(storage);
    const starts = await commitMany(log, 5);
    const end = log.nextLsn;
    const cut = starts[2]!;
    const result = await log.truncate(cut);
    expect(result).toEqual({ removedBytes: end - cut, removedSegments: 0 });
    expect(log.nextLsn).toBe(cut);
    expect(log.writtenLsn).toBe(cut);
    expect(log.durableLsn).toBe(cut);
    expect(await dataTexts(log)).toEqual(['t0', 't1']);
    await expect(readAll(log, starts[3]!)).rejects.toBeInstanceOf(InvalidLsnError);

    const txn = log.begin();
    expect(txn.append(bytes('new'))).toBe(cut);
    await txn.commit();
    expect(await dataTexts(log)).toEqual(['t0', 't1', 'new']);
    await log.close();

    const reopened = await openLog(storage);
    expect(reopened.recovery.truncatedBytes).toBe(0);
    expect(await dataTexts(reopened)).toEqual(['t0', 't1', 'new']);
    await reopened.close();
  });

  it('truncating to the end is a no-op; to the start empties the log', async () => {
    const storage = new MemoryStorage();
    const log = await openLog(storage);
    await commitMany(log, 3);
    const end = log.nextLsn;
    expect(await log.truncate(end)).toEqual({ removedBytes: 0, removedSegments: 0 });
    expect(log.nextLsn).toBe(end);
    expect(await log.truncate(LOG_START_LSN)).toEqual({
      removedBytes: end - LOG_START_LSN,
      removedSegments: 0,
    });
    expect(await readAll(log)).toEqual([]);
    await log.close();
    const reopened = await openLog(storage);
    expect(reopened.nextLsn).toBe(LOG_START_LSN);
    await reopened.close();
  });

  it('across segment boundaries: later segment files are removed, and reopen agrees', async () => {
    const storage = new MemoryStorage();
    const log = await openLog(storage, SEG);
    const starts = await commitMany(log, 60, 300);
    const names = segmentFiles(storage.list());
    expect(names.length).toBeGreaterThan(4);
    // A cut in the middle of the second segment.
    const cut = starts.find((lsn) => lsn > firstLsnOf(names[1]!) + 500)!;
    const result = await log.truncate(cut);
    expect(result.removedSegments).toBe(names.length - 2);
    expect(segmentFiles(storage.list())).toEqual(names.slice(0, 2));
    expect(log.stats().segments).toBe(2);
    const kept = starts.indexOf(cut);
    expect((await dataTexts(log)).length).toBe(kept);

    // Grow again past the old segment boundaries; the new segments are consistent.
    await commitMany(log, 30, 300, 'n');
    await log.close();
    const reopened = await openLog(storage, SEG);
    const texts = await dataTexts(reopened);
    expect(texts.length).toBe(kept + 30);
    expect(texts[kept]).toMatch(/^n0\./);
    await reopened.close();
  });

  it("to a segment's first LSN: that segment goes, the one before is kept whole", async () => {
    const storage = new MemoryStorage();
    const log = await openLog(storage, SEG);
    await commitMany(log, 40, 300);
    const names = segmentFiles(storage.list());
    const cut = firstLsnOf(names[2]!);
    const sizeBefore = storage.fileBytes(names[1]!)!.length;
    const result = await log.truncate(cut);
    expect(result.removedSegments).toBe(names.length - 2);
    expect(segmentFiles(storage.list())).toEqual(names.slice(0, 2));
    expect(storage.fileBytes(names[1]!)!.length).toBe(sizeBefore);
    expect(log.nextLsn).toBe(cut);
    await commitMany(log, 10, 300, 'n');
    await log.close();
    const reopened = await openLog(storage, SEG);
    expect((await dataTexts(reopened)).filter((t) => t.startsWith('n')).length).toBe(10);
    await reopened.close();
  });

  it('rejects waits beyond the cut with LogTruncatedError; waits below it resolve', async () => {
    const log = await openLog(new MemoryStorage(), { durability: 'write' });
    const kept = await commitTexts(log, ['kept']);
    const starts = await commitMany(log, 2);
    const lost = await commitTexts(log, ['lost']);
    const below = log.waitDurable(kept.lsn);
    const beyond = log.waitDurable(lost.lsn);
    const beyondCaught = beyond.catch((e: unknown) => e);
    await log.truncate(starts[1]!);
    await below;
    const error = await beyondCaught;
    expect(error).toBeInstanceOf(LogTruncatedError);
    expect(error).toMatchObject({ lsn: lost.lsn, truncatedTo: starts[1], code: 'ERR_ACKORD_LOG_TRUNCATED' });
    expect(log.stats().waitingCommits).toBe(0);
    await log.close();
  });

  it('a commit waiting on an in-flight sync rejects with LogTruncatedError and never becomes durable', async () => {
    const storage = new GatedStorage();
    const log = await openLog(storage, { durability: 'fsync' });
    storage.gated = false;
    const kept = await commitTexts(log, ['kept']);
    storage.gated = true;
    const txn = log.begin();
    const cut = txn.append(bytes('doomed'));
    const waiting = track(txn.commit());
    const caught = waiting.promise.catch((e: unknown) => e);
    await tick();
    expect(storage.pendingSyncs).toBe(1);
    expect(waiting.settled()).toBe(false);

    await log.truncate(cut);
    const error = await caught;
    expect(error).toBeInstanceOf(LogTruncatedError);
    expect((error as LogTruncatedError).truncatedTo).toBe(cut);

    storage.gated = false;
    storage.releaseOne(); // the old sync completes after the cut
    await tick();
    expect(log.durableLsn).toBe(cut);
    expect(log.nextLsn).toBe(cut);
    expect(log.stats().failed).toBe(false);
    const next = await commitTexts(log, ['after']);
    expect(next.level).toBe('flushed');
    expect(await dataTexts(log)).toEqual(['kept', 'after']);
    expect(kept.level).toBe('flushed');
    await log.close();
  });

  it('refuses a position that is not a record boundary with InvalidLsnError, changing nothing', async () => {
    const log = await openLog(new MemoryStorage());
    const starts = await commitMany(log, 3, 40);
    const end = log.nextLsn;
    for (const lsn of [starts[1]! + 1, starts[1]! + RECORD_HEADER_BYTES, end - 1, end + 1]) {
      const error = await log.truncate(lsn).catch((e: unknown) => e);
      expect(error, `lsn ${lsn}`).toBeInstanceOf(InvalidLsnError);
      expect((error as InvalidLsnError).lsn).toBe(lsn);
    }
    expect(log.nextLsn).toBe(end);
    expect((await dataTexts(log)).length).toBe(3);
    await log.close();
  });

  it('is not fooled by a payload that holds a record encoded for that very position', async () => {
    const storage = new MemoryStorage();
    const log = await openLog(storage);
    await commitTexts(log, ['before']);
    const txn = log.begin();
    const at = log.nextLsn;
    const inner = at + RECORD_HEADER_BYTES; // where the payload begins
    const fake = encodeRecord({
      lsn: inner,
      generation: 0,
      type: RecordType.data,
      txnId: 424242,
      payload: bytes('fake'),
    });
    txn.append(Buffer.concat([fake, bytes(' and the rest of a genuine payload')]));
    await txn.commit();
    const end = log.nextLsn;

    await expect(log.truncate(inner)).rejects.toBeInstanceOf(InvalidLsnError);
    expect(log.nextLsn).toBe(end);
    await commitTexts(log, ['after']);
    await log.close();
    const reopened = await openLog(storage);
    expect(reopened.recovery.truncatedBytes).toBe(0);
    expect((await dataTexts(reopened)).length).toBe(3);
    await reopened.close();
  });

  it('refuses to truncate under an open local transaction (InvalidStateError)', async () => {
    const log = await openLog(new MemoryStorage());
    const starts = await commitMany(log, 2);
    const open = log.begin();
    await expect(log.truncate(starts[1]!)).rejects.toBeInstanceOf(InvalidStateError);
    open.append(bytes('x'));
    await expect(log.truncate(starts[1]!)).rejects.toBeInstanceOf(InvalidStateError);
    open.abort();
    await log.truncate(starts[1]!);
    expect(await dataTexts(log)).toEqual(['t0']);
    await log.close();
  });

  it('below firstLsn is LsnUnavailableError', async () => {
    const log = await openLog(new MemoryStorage(), SEG);
    await commitMany(log, 40, 300);
    await log.checkpoint();
    log.removeSegmentsBefore(log.nextLsn);
    expect(log.firstLsn).toBeGreaterThan(LOG_START_LSN);
    await expect(log.truncate(LOG_START_LSN)).rejects.toBeInstanceOf(LsnUnavailableError);
    await log.close();
  });

  it('a power loss after truncate does not bring removed records back', async () => {
    const storage = new MemoryStorage();
    const log = await openLog(storage, { ...SEG, durability: 'fsync' });
    const starts = await commitMany(log, 40, 300);
    const cut = starts[3]!;
    await log.truncate(cut);
    expect((await survivors(storage, 'power', SEG)).length).toBe(3);
    expect((await survivors(storage, 'process', SEG)).length).toBe(3);

    // New, unsynced records over the same bytes: a power loss keeps at most a torn prefix of them, and
    // never the old records.
    await commitMany(log, 2, 300, 'n');
    await log.logFlush({ sync: 'off' });
    await commitTexts(log, ['unsynced'], { sync: 'off' });
    await log.logFlush({ sync: 'off' });
    const durable = [0, 1, 2]
      .map((i) => `t${i}${'.'.repeat(300)}`)
      .concat([0, 1].map((i) => `n${i}${'.'.repeat(300)}`));
    for (const [keep, expected] of [
      [0, durable],
      [10, durable],
      [1_000_000, [...durable, 'unsynced']],
    ] as const) {
      const image = storage.crash({ kind: 'power', tornBytes: (_, n) => Math.min(n, keep) });
      const after = await openLog(image, SEG);
      expect(await dataTexts(after)).toEqual(expected);
      await after.close();
    }
    await log.close();
  });

  it('in none mode, buffered records before the cut are written and made durable by it', async () => {
    const storage = new MemoryStorage();
    const log = await openLog(storage, { durability: 'none' });
    const starts = await commitMany(log, 3);
    expect(log.writtenLsn).toBe(LOG_START_LSN);
    await log.truncate(starts[1]!);
    expect(log.durableLsn).toBe(starts[1]);
    expect(await survivors(storage, 'power')).toEqual(['t0']);
    await log.close();
  });
});
