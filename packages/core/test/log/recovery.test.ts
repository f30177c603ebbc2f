import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  LOG_START_LSN,
  LogCorruptedError,
  openLog,
  RECORD_HEADER_BYTES,
  RecordType,
  SEGMENT_HEADER_BYTES,
  segmentFileName,
} from '../../src/index.js';
import { encodeSegmentHeader } from '../../src/log/segment-header.js';
import { MemoryStorage } from '../../src/testing/index.js';
import { bytes, commitTexts, dataTexts, readAll, segmentFiles, tempDirs } from './unit-helpers.js';

const dirs = tempDirs();
afterEach(() => dirs.cleanup());

const SEG = { segmentBytes: 4096 } as const;
const COMMIT_RECORD_BYTES = RECORD_HEADER_BYTES + 4;

/** A log spread over at least `segments` segments of 4 KiB; returns the data texts written. */
async function filled(storage: MemoryStorage, segments: number): Promise<string[]> {
  const log = await openLog(storage, SEG);
  const texts: string[] = [];
  while (log.stats().segments < segments) {
    const text = `t${texts.length}-${'y'.repeat(250)}`;
    texts.push(text);
    await commitTexts(log, [text]);
  }
  await log.close();
  return texts;
}

function firstLsnOf(name: string): number {
  return Number.parseInt(name.slice(0, 16), 16);
}

function flipByte(storage: MemoryStorage, name: string, position: number): void {
  const current = storage.fileBytes(name)![position]!;
  storage.corrupt(name, position, Uint8Array.of(current ^ 0x40));
}

describe('recovery: clean reopen', () => {
  it('keeps every record, continues txn ids after the max, recovers the generation', async () => {
    const storage = new MemoryStorage();
    const log = await openLog(storage);
    expect(log.recovery).toMatchObject({ created: true, records: 0, nextLsn: LOG_START_LSN });
    await commitTexts(log, ['a', 'b']);
    log.startGeneration(3);
    await commitTexts(log, ['c']);
    const last = await commitTexts(log, ['d']);
    const before = await readAll(log);
    const nextLsn = log.nextLsn;
    await log.close();

    const reopened = await openLog(storage);
    expect(reopened.recovery).toMatchObject({
      created: false,
      segments: 1,
      records: before.length,
      truncatedBytes: 0,
      removedTornSegments: [],
      lastLsn: last.lsn,
      nextLsn,
      incompleteTxnIds: [],
      repaired: undefined,
    });
    expect(reopened.nextLsn).toBe(nextLsn);
    expect(reopened.durableLsn).toBe(nextLsn);
    expect(reopened.generation).toBe(3);
    expect(await readAll(reopened)).toEqual(before);
    const txn = reopened.begin();
    expect(txn.id).toBe(last.txnId + 1);
    const lsn = txn.append(bytes('e'));
    expect(lsn).toBe(nextLsn);
    await txn.commit();
    const records = await readAll(reopened, lsn);
    expect(records[0]).toMatchObject({ generation: 3, txnId: last.txnId + 1, text: 'e' });
    await reopened.close();
  });

  it('lists transactions without a commit or abort record in incompleteTxnIds', async () => {
    const storage = new MemoryStorage();
    const log = await openLog(storage);
    const open = log.begin();
    open.append(bytes('never committed'));
    open.append(bytes('still not'));
    await commitTexts(log, ['done']);
    const aborted = log.begin();
    aborted.append(bytes('rolled back'));
    aborted.abort();
    log.begin(); // no records: invisible
    await log.logFlush();
    // A process crash now: the open transaction's records are in the log, its commit never came.
    const after = await openLog(storage.crash({ kind: 'process' }));
    expect(after.recovery.incompleteTxnIds).toEqual([open.id]);
    expect(after.recovery.truncatedBytes).toBe(0);
    await after.close();
    await log.close();
  });
});

describe('recovery: torn tail', () => {
  it('cuts a record torn mid-way (last commit record lost) and reports the bytes', async () => {
    const storage = new MemoryStorage();
    const log = await openLog(storage);
    await commitTexts(log, ['a']);
    const last = await commitTexts(log, ['b']);
    await log.close();
    const name = segmentFileName(LOG_START_LSN);
    const file = storage.open(name, { create: false, dsync: false });
    file.truncate(file.size() - 10);
    file.close();

    const reopened = await openLog(storage);
    expect(reopened.recovery.truncatedBytes).toBe(COMMIT_RECORD_BYTES - 10);
    expect(reopened.recovery.repaired).toBeUndefined();
    expect(reopened.nextLsn).toBe(last.lsn);
    expect(reopened.recovery.incompleteTxnIds).toEqual([last.txnId]);
    expect(storage.fileBytes(name)!.length).toBe(SEGMENT_HEADER_BYTES + (last.lsn - LOG_START_LSN));
    expect(await dataTexts(reopened)).toEqual(['a', 'b']);
    // The log goes on from the cut, and the next open is clean.
    const next = await commitTexts(reopened, ['c']);
    expect(next.txnId).toBe(last.txnId + 1);
    await reopened.close();
    const third = await openLog(storage);
    expect(third.recovery.truncatedBytes).toBe(0);
    expect(await dataTexts(third)).toEqual(['a', 'b', 'c']);
    await third.close();
  });

  it('cuts trailing garbage and trailing zeros', async () => {
    for (const tail of [bytes('this is not a record, only trailing junk'), Buffer.alloc(300)]) {
      const storage = new MemoryStorage();
      const log = await openLog(storage);
      await commitTexts(log, ['a']);
      const end = log.nextLsn;
      await log.close();
      const name = segmentFileName(LOG_START_LSN);
      const file = storage.open(name, { create: false, dsync: false });
      file.write(tail, file.size());
      file.close();
      const reopened = await openLog(storage);
      expect(reopened.recovery.truncatedBytes).toBe(tail.length);
      expect(reopened.nextLsn).toBe(end);
      expect(await dataTexts(reopened)).toEqual(['a']);
      await reopened.close();
    }
  });

  it('a power loss mid-write leaves a torn tail that recovery cuts', async () => {
    const storage = new MemoryStorage();
    const log = await openLog(storage, { durability: 'write' });
    await commitTexts(log, ['durable'], { sync: 'on' });
    const durable = log.durableLsn;
    await commitTexts(log, ['x'.repeat(500)]);
    const image = storage.crash({ kind: 'power', tornBytes: () => 100 });
    const after = await openLog(image);
    expect(after.recovery.truncatedBytes).toBe(100);
    expect(after.nextLsn).toBe(durable);
    expect(await dataTexts(after)).toEqual(['durable']);
    await after.close();
    await log.close();
  });
});

describe('recovery: corruption', () => {
  it('a bad record followed by valid ones is LogCorruptedError with file and LSN; nothing is cut', async () => {
    const storage = new MemoryStorage();
    const log = await openLog(storage);
    await commitTexts(log, ['first']);
    const victim = log.begin();
    const victimLsn = victim.append(bytes('victim'));
    await victim.commit();
    await commitTexts(log, ['after']);
    await log.close();
    const name = segmentFileName(LOG_START_LSN);
    flipByte(storage, name, SEGMENT_HEADER_BYTES + (victimLsn - LOG_START_LSN) + RECORD_HEADER_BYTES + 2);
    const before = Buffer.from(storage.fileBytes(name)!);

    const error = await openLog(storage).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LogCorruptedError);
    expect(error).toMatchObject({ file: name, lsn: victimLsn, code: 'ERR_ACKORD_LOG_CORRUPTED' });
    expect((error as LogCorruptedError).reason).toContain('bad-checksum');
    expect((error as Error).message).toContain(name);
    expect((error as Error).message).toContain(String(victimLsn));
    expect(storage.fileBytes(name)!.equals(before)).toBe(true);
  });

  it("recovery: 'repair' cuts at the bad record and reports it", async () => {
    const storage = new MemoryStorage();
    const log = await openLog(storage);
    await commitTexts(log, ['first']);
    const victim = log.begin();
    const victimLsn = victim.append(bytes('victim'));
    await victim.commit();
    await commitTexts(log, ['after']);
    const end = log.nextLsn;
    await log.close();
    const name = segmentFileName(LOG_START_LSN);
    flipByte(storage, name, SEGMENT_HEADER_BYTES + (victimLsn - LOG_START_LSN) + 6);

    const repaired = await openLog(storage, { recovery: 'repair' });
    expect(repaired.recovery.repaired).toEqual({
      file: name,
      lsn: victimLsn,
      reason: expect.any(String),
      bytesLost: end - victimLsn,
    });
    expect(repaired.recovery.truncatedBytes).toBe(0);
    expect(repaired.nextLsn).toBe(victimLsn);
    expect(await dataTexts(repaired)).toEqual(['first']);
    await repaired.close();
    const again = await openLog(storage);
    expect(again.recovery.repaired).toBeUndefined();
    expect(again.nextLsn).toBe(victimLsn);
    await again.close();
  });

  it('a bad record in a segment that is not the last is corruption, even at its very end', async () => {
    const storage = new MemoryStorage();
    await filled(storage, 3);
    const names = segmentFiles(storage.list());
    const first = names[0]!;
    const firstSize = storage.fileBytes(first)!.length;
    // The last record of segment 0 is a commit record: damage its payload, nothing valid follows in this file.
    flipByte(storage, first, firstSize - 1);
    const lastRecordLsn = firstLsnOf(first) + (firstSize - SEGMENT_HEADER_BYTES) - COMMIT_RECORD_BYTES;

    const error = await openLog(storage, SEG).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LogCorruptedError);
    expect(error).toMatchObject({ file: first, lsn: lastRecordLsn });
    expect(segmentFiles(storage.list())).toEqual(names);

    const laterBytes = names.slice(1).reduce((sum, n) => sum + storage.fileBytes(n)!.length - 128, 0);
    const repaired = await openLog(storage, { ...SEG, recovery: 'repair' });
    expect(repaired.recovery.repaired).toMatchObject({
      file: first,
      lsn: lastRecordLsn,
      bytesLost: COMMIT_RECORD_BYTES + laterBytes,
    });
    expect(segmentFiles(storage.list())).toEqual([first]);
    expect(repaired.nextLsn).toBe(lastRecordLsn);
    expect(repaired.recovery.incompleteTxnIds.length).toBe(1); // the commit record was the one lost
    // Appends go on from the cut, into new segments.
    for (let i = 0; i < 20; i++) await commitTexts(repaired, [`new${i}-${'z'.repeat(250)}`]);
    expect(repaired.stats().segments).toBeGreaterThan(1);
    await repaired.close();
    const again = await openLog(storage, SEG);
    expect((await dataTexts(again)).filter((t) => t.startsWith('new')).length).toBe(20);
    await again.close();
  });

  it('a last segment whose header is torn is removed; the one before becomes current', async () => {
    for (const tear of ['short', 'zeros'] as const) {
      const storage = new MemoryStorage();
      await filled(storage, 3);
      const names = segmentFiles(storage.list());
      const last = names.at(-1)!;
      const file = storage.open(last, { create: false, dsync: false });
      // Short: the header never got out whole. Zeros: the file's blocks never reached the medium.
      if (tear === 'short') file.truncate(50);
      else file.write(Buffer.alloc(file.size()), 0);
      file.close();

      const log = await openLog(storage, SEG);
      expect(log.recovery.removedTornSegments).toEqual([last]);
      expect(segmentFiles(storage.list())).toEqual(names.slice(0, -1));
      expect(log.nextLsn).toBe(firstLsnOf(last));
      expect(log.stats().segments).toBe(names.length - 1);
      const records = await readAll(log);
      expect(records.at(-1)!.lsn).toBeLessThan(firstLsnOf(last));
      // Appending goes on in the previous segment and then switches again.
      for (let i = 0; i < 20; i++) await commitTexts(log, [`more${i}-${'q'.repeat(250)}`]);
      await log.close();
      const again = await openLog(storage, SEG);
      expect(again.recovery.removedTornSegments).toEqual([]);
      expect((await dataTexts(again)).filter((t) => t.startsWith('more')).length).toBe(20);
      await again.close();
    }
  });

  it('a header with a bad checksum that is not all zero is not taken for torn', async () => {
    const storage = new MemoryStorage();
    await filled(storage, 2);
    const last = segmentFiles(storage.list()).at(-1)!;
    flipByte(storage, last, 40);
    await expect(openLog(storage, SEG)).rejects.toThrow(/checksum/);
    expect(storage.list()).toContain(last);
  });

  it('a power loss right after a segment switch drops the unsynced new segment', async () => {
    const storage = new MemoryStorage();
    const log = await openLog(storage, { ...SEG, durability: 'write' });
    while (log.stats().segments < 2) await commitTexts(log, [`w-${'r'.repeat(300)}`]);
    const newest = segmentFiles(storage.list()).at(-1)!;
    const after = await openLog(storage.crash({ kind: 'power' }), SEG);
    expect(after.recovery.removedTornSegments).toEqual([newest]);
    expect(after.nextLsn).toBe(firstLsnOf(newest)); // the switch flushed the old segment
    await after.close();
    await log.close();
  });

  it('an only segment whose header is torn is created again', async () => {
    const storage = new MemoryStorage();
    const name = segmentFileName(LOG_START_LSN);
    const file = storage.open(name, { create: true, dsync: false });
    file.write(encodeSegmentHeader({ firstLsn: LOG_START_LSN, clusterId: 'ackord' }).subarray(0, 60), 0);
    file.close();
    const log = await openLog(storage);
    expect(log.recovery.removedTornSegments).toEqual([name]);
    expect(log.nextLsn).toBe(LOG_START_LSN);
    await commitTexts(log, ['fresh']);
    await log.close();
    const again = await openLog(storage);
    expect(await dataTexts(again)).toEqual(['fresh']);
    await again.close();
  });
});

describe('recovery on real files', () => {
  async function fileLog(dir: string): Promise<{ name: string; lsns: number[]; end: number }> {
    const log = await openLog(dir);
    const lsns: number[] = [];
    for (const text of ['one', 'two', 'three']) {
      const txn = log.begin();
      lsns.push(txn.append(bytes(text)));
      await txn.commit();
    }
    const end = log.nextLsn;
    await log.close();
    return { name: path.join(dir, segmentFileName(LOG_START_LSN)), lsns, end };
  }

  it('cuts a truncated tail and appended garbage', async () => {
    const dir = dirs.make();
    const { name, lsns, end } = await fileLog(dir);
    fs.truncateSync(name, fs.statSync(name).size - 10);
    let log = await openLog(dir);
    expect(log.recovery.truncatedBytes).toBe(COMMIT_RECORD_BYTES - 10);
    expect(log.nextLsn).toBe(end - COMMIT_RECORD_BYTES);
    expect(await dataTexts(log)).toEqual(['one', 'two', 'three']);
    await log.close();

    const junk = bytes('garbage garbage garbage garbage garbage');
    fs.appendFileSync(name, junk);
    log = await openLog(dir);
    expect(log.recovery.truncatedBytes).toBe(junk.length);
    expect(log.nextLsn).toBe(end - COMMIT_RECORD_BYTES);
    expect(lsns.length).toBe(3);
    await log.close();
    expect(fs.statSync(name).size).toBe(SEGMENT_HEADER_BYTES + end - COMMIT_RECORD_BYTES - LOG_START_LSN);
  });

  it('refuses a corrupted record followed by valid ones, and repairs on request', async () => {
    const dir = dirs.make();
    const { name, lsns, end } = await fileLog(dir);
    const fd = fs.openSync(name, 'r+');
    const position = SEGMENT_HEADER_BYTES + (lsns[1]! - LOG_START_LSN) + RECORD_HEADER_BYTES;
    fs.writeSync(fd, bytes('T'), 0, 1, position); // 'two' → 'Two'
    fs.closeSync(fd);

    const error = await openLog(dir).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LogCorruptedError);
    expect(error).toMatchObject({ file: segmentFileName(LOG_START_LSN), lsn: lsns[1] });
    expect(fs.statSync(name).size).toBe(SEGMENT_HEADER_BYTES + end - LOG_START_LSN);

    const log = await openLog(dir, { recovery: 'repair' }); // the failed open released the lock
    expect(log.recovery.repaired).toMatchObject({ lsn: lsns[1], bytesLost: end - lsns[1]! });
    expect(await dataTexts(log)).toEqual(['one']);
    const records = await readAll(log);
    expect(records.map((r) => r.type)).toEqual([RecordType.data, RecordType.commit]);
    await log.close();
  });
});
