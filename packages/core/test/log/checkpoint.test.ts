import { describe, expect, it } from 'vitest';
import {
  LOG_START_LSN,
  LsnUnavailableError,
  openLog,
  RecordType,
  type WriteAheadLog,
} from '../../src/index.js';
import { MemoryStorage } from '../../src/testing/index.js';
import { bytes, commitTexts, readAll, segmentFiles, survivors } from './unit-helpers.js';

const SEG = { segmentBytes: 4096 } as const;
const firstLsnOf = (name: string) => Number.parseInt(name.slice(0, 16), 16);

async function fill(log: WriteAheadLog, count: number, prefix = 'r'): Promise<void> {
  for (let i = 0; i < count; i++) await commitTexts(log, [`${prefix}${i}-${'k'.repeat(300)}`]);
}

/** The segment file holding `lsn`. */
function segmentOf(names: readonly string[], lsn: number): string {
  return names.filter((name) => firstLsnOf(name) <= lsn).at(-1)!;
}

describe('checkpoint and removeSegmentsBefore', () => {
  it('removes nothing without a checkpoint', async () => {
    const storage = new MemoryStorage();
    const log = await openLog(storage, SEG);
    await fill(log, 40);
    const names = segmentFiles(storage.list());
    expect(log.removeSegmentsBefore(log.nextLsn)).toEqual({ removed: [], firstLsn: LOG_START_LSN });
    expect(segmentFiles(storage.list())).toEqual(names);
    await log.close();
  });

  it('never removes past the last checkpoint; firstLsn moves; the checkpoint stays readable', async () => {
    const storage = new MemoryStorage();
    const log = await openLog(storage, SEG);
    await fill(log, 30);
    const checkpointLsn = await log.checkpoint(bytes('snapshot@42'));
    expect(log.lastCheckpointLsn).toBe(checkpointLsn);
    expect(log.durableLsn).toBe(log.nextLsn);
    await fill(log, 30, 's');
    const names = segmentFiles(storage.list());
    const holder = segmentOf(names, checkpointLsn);
    const expectedRemoved = names.slice(0, names.indexOf(holder));
    expect(expectedRemoved.length).toBeGreaterThan(1);

    const result = log.removeSegmentsBefore(log.nextLsn);
    expect(result.removed).toEqual(expectedRemoved);
    expect(result.firstLsn).toBe(firstLsnOf(holder));
    expect(log.firstLsn).toBe(firstLsnOf(holder));
    expect(log.firstLsn).toBeLessThanOrEqual(checkpointLsn);
    expect(log.stats().firstLsn).toBe(log.firstLsn);
    expect(segmentFiles(storage.list())).toEqual(names.slice(names.indexOf(holder)));

    const fromCheckpoint = await readAll(log, checkpointLsn);
    expect(fromCheckpoint[0]).toMatchObject({ type: RecordType.checkpoint, text: 'snapshot@42' });
    await expect(readAll(log, LOG_START_LSN)).rejects.toBeInstanceOf(LsnUnavailableError);
    // Asking again removes nothing more.
    expect(log.removeSegmentsBefore(log.nextLsn).removed).toEqual([]);
    await log.close();

    const reopened = await openLog(storage, SEG);
    expect(reopened.firstLsn).toBe(firstLsnOf(holder));
    expect(reopened.lastCheckpointLsn).toBe(checkpointLsn);
    expect((await readAll(reopened))[0]!.lsn).toBe(firstLsnOf(holder));
    await expect(readAll(reopened, LOG_START_LSN)).rejects.toBeInstanceOf(LsnUnavailableError);
    await fill(reopened, 5, 'after');
    await reopened.close();
  });

  it('never removes past the LSN asked for', async () => {
    const storage = new MemoryStorage();
    const log = await openLog(storage, SEG);
    await fill(log, 40);
    await log.checkpoint();
    const names = segmentFiles(storage.list());
    const bound = firstLsnOf(names[2]!) + 10;
    expect(log.removeSegmentsBefore(bound).removed).toEqual(names.slice(0, 2));
    expect(log.firstLsn).toBe(firstLsnOf(names[2]!));
    await log.close();
  });

  it('never removes the current segment', async () => {
    const storage = new MemoryStorage();
    const log = await openLog(storage, SEG);
    await fill(log, 40);
    const checkpointLsn = await log.checkpoint();
    const names = segmentFiles(storage.list());
    const { removed } = log.removeSegmentsBefore(Number.MAX_SAFE_INTEGER);
    expect(removed).toEqual(names.slice(0, -1));
    expect(log.stats().segments).toBe(1);
    expect(segmentFiles(storage.list())).toEqual([names.at(-1)]);
    expect(log.firstLsn).toBeLessThanOrEqual(checkpointLsn);
    await fill(log, 3, 'z');
    await log.close();
    const reopened = await openLog(storage, SEG);
    expect((await readAll(reopened)).some((r) => r.lsn === checkpointLsn)).toBe(true);
    await reopened.close();
  });

  it("never removes an open transaction's first record, and does once it committed", async () => {
    const storage = new MemoryStorage();
    const log = await openLog(storage, SEG);
    await fill(log, 15);
    const open = log.begin();
    const openFirst = open.append(bytes('long-running'));
    expect(open.firstLsn).toBe(openFirst);
    await fill(log, 30, 'm');
    await log.checkpoint();
    const names = segmentFiles(storage.list());
    const holder = segmentOf(names, openFirst);
    expect(names.indexOf(holder)).toBeGreaterThan(0);

    log.removeSegmentsBefore(log.nextLsn);
    expect(log.firstLsn).toBe(firstLsnOf(holder));
    expect((await readAll(log, openFirst))[0]).toMatchObject({ txnId: open.id, text: 'long-running' });

    await open.commit();
    const later = log.removeSegmentsBefore(log.nextLsn);
    expect(later.removed.length).toBeGreaterThan(0);
    expect(log.firstLsn).toBeGreaterThan(openFirst);
    await log.close();
  });

  it('a checkpoint in none mode is flushed before it counts', async () => {
    const storage = new MemoryStorage();
    const log = await openLog(storage, { durability: 'none' });
    await commitTexts(log, ['a']);
    const lsn = await log.checkpoint();
    expect(log.durableLsn).toBeGreaterThan(lsn);
    expect(await survivors(storage, 'power')).toEqual(['a']);
    await log.close();
  });
});
