import { describe, expect, it } from 'vitest';
import {
  InvalidLsnError,
  LOG_START_LSN,
  LogTruncatedError,
  LsnUnavailableError,
  openLog,
  RECORD_HEADER_BYTES,
  RecordType,
} from '../../src/index.js';
import { MemoryStorage } from '../../src/testing/index.js';
import { bytes, commitTexts, readAll } from './unit-helpers.js';

const SEG = { segmentBytes: 4096 } as const;

async function manySegments(durability: 'fsync' | 'none' = 'fsync') {
  const storage = new MemoryStorage();
  const log = await openLog(storage, { ...SEG, durability });
  const texts: string[] = [];
  for (let i = 0; i < 60; i++) {
    const text = `${i}:${String.fromCharCode(97 + (i % 26)).repeat(100 + ((i * 37) % 400))}`;
    texts.push(text);
    await commitTexts(log, [text]);
  }
  return { storage, log, texts };
}

describe('read', () => {
  it('reads every record from the start, in LSN order with contiguous LSNs', async () => {
    const log = await openLog(new MemoryStorage());
    const txn = log.begin();
    txn.append(bytes('a'));
    txn.append(bytes(''));
    txn.append(bytes('ccc'));
    const commit = await txn.commit();
    const records = await readAll(log);
    expect(records.map((r) => r.type)).toEqual([
      RecordType.data,
      RecordType.data,
      RecordType.data,
      RecordType.commit,
    ]);
    expect(records.map((r) => r.text.length)).toEqual([1, 0, 3, 4]);
    expect(records[0]!.lsn).toBe(LOG_START_LSN);
    for (let i = 1; i < records.length; i++) {
      expect(records[i]!.lsn).toBe(
        records[i - 1]!.lsn + RECORD_HEADER_BYTES + records[i - 1]!.payload.length,
      );
    }
    expect(records.at(-1)!.lsn).toBe(commit.lsn);
    expect(records.every((r) => r.txnId === commit.txnId)).toBe(true);
    expect((records.at(-1)!.payload as Buffer).readUInt32LE(0)).toBe(3); // commit carries the record count
    await log.close();
  });

  it('reads from a middle LSN, and nothing from the end', async () => {
    const log = await openLog(new MemoryStorage());
    await commitTexts(log, ['a']);
    const second = log.begin();
    const middle = second.append(bytes('b'));
    await second.commit();
    await commitTexts(log, ['c']);
    const records = await readAll(log, middle);
    expect(records[0]!.lsn).toBe(middle);
    expect(records.filter((r) => r.type === RecordType.data).map((r) => r.text)).toEqual(['b', 'c']);
    expect(await readAll(log, log.nextLsn)).toEqual([]);
    await log.close();
  });

  it('refuses an LSN that is not a record boundary, or past the end, with InvalidLsnError', async () => {
    const { log } = await manySegments();
    const records = await readAll(log);
    const probe = records[records.length >> 1]!;
    for (const lsn of [probe.lsn + 1, probe.lsn + 8, probe.lsn + RECORD_HEADER_BYTES, log.nextLsn - 1]) {
      const error = await readAll(log, lsn).catch((e: unknown) => e);
      expect(error, `lsn ${lsn}`).toBeInstanceOf(InvalidLsnError);
      expect((error as InvalidLsnError).lsn).toBe(lsn);
    }
    await expect(readAll(log, log.nextLsn + 1)).rejects.toBeInstanceOf(InvalidLsnError);
    await log.close();
  });

  it('reads across many segments, and again after reopen', async () => {
    const { storage, log, texts } = await manySegments();
    expect(log.stats().segments).toBeGreaterThan(5);
    const records = await readAll(log);
    expect(records.filter((r) => r.type === RecordType.data).map((r) => r.text)).toEqual(texts);
    for (let i = 1; i < records.length; i++) {
      expect(records[i]!.lsn).toBe(
        records[i - 1]!.lsn + RECORD_HEADER_BYTES + records[i - 1]!.payload.length,
      );
    }
    // From each record onwards, including the first record of every segment.
    for (const start of records.filter((_, i) => i % 7 === 0)) {
      const tail = await readAll(log, start.lsn);
      expect(tail.length).toBe(records.length - records.indexOf(start));
    }
    await log.close();
    const reopened = await openLog(storage, SEG);
    expect(await readAll(reopened)).toEqual(records);
    await reopened.close();
  });

  it('includes records still in the write buffer (none mode)', async () => {
    const { log, texts } = await manySegments('none');
    await commitTexts(log, ['buffered tail']);
    expect(log.stats().bufferedBytes).toBeGreaterThan(0);
    const records = await readAll(log);
    expect(records.filter((r) => r.type === RecordType.data).map((r) => r.text)).toEqual([
      ...texts,
      'buffered tail',
    ]);
    expect(records.at(-1)!.lsn + RECORD_HEADER_BYTES + 4).toBe(log.nextLsn);
    await log.close();
  });

  it('stops before toLsn', async () => {
    const { log } = await manySegments();
    const records = await readAll(log);
    const from = records[3]!.lsn;
    const to = records[40]!.lsn;
    const part = await readAll(log, from, { toLsn: to });
    expect(part).toEqual(records.slice(3, 40));
    // toLsn inside a record: that record starts before it, so it is included.
    expect(await readAll(log, from, { toLsn: to + 1 })).toEqual(records.slice(3, 41));
    expect(await readAll(log, from, { toLsn: from })).toEqual([]);
    await log.close();
  });

  it('stops with the signal’s reason when aborted mid-read, or before the first record', async () => {
    const { log } = await manySegments();
    const controller = new AbortController();
    const seen: number[] = [];
    const reason = new Error('stop reading');
    const error = await (async () => {
      for await (const record of log.read(undefined, { signal: controller.signal })) {
        seen.push(record.lsn);
        if (seen.length === 3) controller.abort(reason);
      }
    })().catch((e: unknown) => e);
    expect(error).toBe(reason);
    expect(seen.length).toBe(3);

    const aborted = AbortSignal.abort(new Error('before'));
    await expect(readAll(log, undefined, { signal: aborted })).rejects.toThrow('before');
    await log.close();
  });

  it('includes records appended while the read runs', async () => {
    const log = await openLog(new MemoryStorage(), SEG);
    await commitTexts(log, ['first']);
    const seen: string[] = [];
    let appended = 0;
    for await (const record of log.read()) {
      if (record.type === RecordType.data) seen.push(Buffer.from(record.payload).toString());
      if (appended < 20) {
        appended++;
        await commitTexts(log, [`later${appended}-${'m'.repeat(300)}`]);
      }
    }
    expect(seen.length).toBe(21);
    expect(seen[20]).toMatch(/^later20-/);
    await log.close();
  });

  it('ends with LogTruncatedError when a truncation happens under it', async () => {
    const log = await openLog(new MemoryStorage());
    for (let i = 0; i < 5; i++) await commitTexts(log, [`r${i}`]);
    const records = await readAll(log);
    const iterator = log.read();
    await iterator.next();
    await log.truncate(records[4]!.lsn);
    await expect(iterator.next()).rejects.toBeInstanceOf(LogTruncatedError);
    await log.close();
  });

  it('below firstLsn after segment removal is LsnUnavailableError', async () => {
    const { log } = await manySegments();
    await log.checkpoint();
    const { removed, firstLsn } = log.removeSegmentsBefore(log.nextLsn);
    expect(removed.length).toBeGreaterThan(0);
    expect(firstLsn).toBeGreaterThan(LOG_START_LSN);
    const error = await readAll(log, LOG_START_LSN).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LsnUnavailableError);
    expect(error).toMatchObject({ lsn: LOG_START_LSN, firstLsn });
    await expect(readAll(log, firstLsn - 1)).rejects.toBeInstanceOf(LsnUnavailableError);
    const kept = await readAll(log);
    expect(kept[0]!.lsn).toBe(firstLsn);
    await log.close();
  });
});
