import { describe, expect, it } from 'vitest';
import {
  crc32c,
  LOG_START_LSN,
  LogCorruptedError,
  LogFormatError,
  openLog,
  RECORD_HEADER_BYTES,
  RecordType,
  SEGMENT_HEADER_BYTES,
  segmentFileName,
} from '../../src/index.js';
import { decodeSegmentHeader, encodeSegmentHeader } from '../../src/log/segment-header.js';
import { MemoryStorage } from '../../src/testing/index.js';
import { bytes, commitTexts, dataTexts, readAll, segmentFiles } from './unit-helpers.js';

/** Re-seals a header after editing it, so only the edited field is wrong. */
function reseal(header: Buffer): Buffer {
  header.writeUInt32LE(crc32c(header.subarray(0, 124)), 124);
  return header;
}

function overwrite(storage: MemoryStorage, name: string, data: Uint8Array, position = 0): void {
  const file = storage.open(name, { create: false, dsync: false });
  file.write(data, position);
  file.syncNow();
  file.close();
}

async function logWithSegments(segmentCount: number) {
  const storage = new MemoryStorage();
  const log = await openLog(storage, { segmentBytes: 4096 });
  let n = 0;
  while (log.stats().segments < segmentCount) await commitTexts(log, [`record ${n++} ${'x'.repeat(300)}`]);
  return { storage, log, count: n };
}

describe('segment header', () => {
  it('round-trips the first LSN (above 2^32 too) and the cluster id', () => {
    for (const header of [
      { firstLsn: 1, clusterId: 'ackord' },
      { firstLsn: 2 ** 40 + 12345, clusterId: 'klüster-ß' },
      { firstLsn: 77, clusterId: 'c'.repeat(64) },
    ]) {
      const encoded = encodeSegmentHeader(header);
      expect(encoded.length).toBe(SEGMENT_HEADER_BYTES);
      expect(encoded.subarray(0, 8).toString('latin1')).toBe('ACKORDLG');
      expect(decodeSegmentHeader(encoded)).toEqual({ ok: true, header });
    }
  });

  it('refuses a cluster id longer than 64 bytes', () => {
    expect(() => encodeSegmentHeader({ firstLsn: 1, clusterId: 'é'.repeat(33) })).toThrow(RangeError);
  });

  it('rejects a wrong magic, a wrong version and a flipped bit, and none of them counts as torn', () => {
    const magic = encodeSegmentHeader({ firstLsn: 1, clusterId: 'a' });
    magic.write('NOTALOG!', 0, 'latin1');
    expect(decodeSegmentHeader(reseal(magic))).toEqual({ ok: false, reason: 'bad magic', torn: false });

    const version = encodeSegmentHeader({ firstLsn: 1, clusterId: 'a' });
    version.writeUInt16LE(2, 8);
    const decodedVersion = decodeSegmentHeader(reseal(version));
    expect(decodedVersion.ok).toBe(false);
    expect(decodedVersion).toMatchObject({ torn: false, reason: expect.stringContaining('version 2') });

    const flipped = encodeSegmentHeader({ firstLsn: 1, clusterId: 'a' });
    flipped[30]! ^= 0x01;
    expect(decodeSegmentHeader(flipped)).toEqual({
      ok: false,
      reason: 'header checksum mismatch',
      torn: false,
    });

    const longId = encodeSegmentHeader({ firstLsn: 1, clusterId: 'a' });
    longId.writeUInt32LE(65, 24);
    expect(decodeSegmentHeader(reseal(longId))).toMatchObject({ ok: false, torn: false });
  });

  it('calls a short or all-zero header torn', () => {
    const full = encodeSegmentHeader({ firstLsn: 1, clusterId: 'a' });
    expect(decodeSegmentHeader(full.subarray(0, 127))).toMatchObject({ ok: false, torn: true });
    expect(decodeSegmentHeader(Buffer.alloc(0))).toMatchObject({ ok: false, torn: true });
    expect(decodeSegmentHeader(Buffer.alloc(SEGMENT_HEADER_BYTES))).toMatchObject({ ok: false, torn: true });
  });

  it('names files by first LSN so that name order is LSN order', () => {
    const lsns = [2 ** 40, 1, 4096, 15, 16, 255, 256, 2 ** 32, 2 ** 32 - 1, 10_000_000];
    const names = lsns.map(segmentFileName);
    for (const name of names) expect(name).toMatch(/^[0-9a-f]{16}\.wal$/);
    expect([...names].sort()).toEqual([...lsns].sort((a, b) => a - b).map(segmentFileName));
    expect(segmentFileName(LOG_START_LSN)).toBe('0000000000000001.wal');
  });
});

describe('segment files', () => {
  it('opening another cluster’s log is a LogFormatError naming the segment, and changes nothing', async () => {
    const storage = new MemoryStorage();
    const log = await openLog(storage, { clusterId: 'alpha' });
    await commitTexts(log, ['a']);
    await log.close();
    const before = storage.fileBytes(segmentFileName(LOG_START_LSN))!.toString('hex');

    const error = await openLog(storage, { clusterId: 'beta' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LogFormatError);
    expect((error as LogFormatError).file).toBe(segmentFileName(LOG_START_LSN));
    expect((error as LogFormatError).message).toContain('alpha');
    expect((error as LogFormatError).code).toBe('ERR_ACKORD_LOG_FORMAT');
    expect(storage.fileBytes(segmentFileName(LOG_START_LSN))!.toString('hex')).toBe(before);

    // The failed open released the lock; the right cluster id opens it.
    const again = await openLog(storage, { clusterId: 'alpha' });
    expect(await dataTexts(again)).toEqual(['a']);
    await again.close();
  });

  it('refuses a segment with a wrong magic or version on the medium, even as the last segment', async () => {
    for (const edit of [
      (header: Buffer) => header.write('XXXXXXXX', 0, 'latin1'),
      (header: Buffer) => header.writeUInt16LE(9, 8),
    ]) {
      const storage = new MemoryStorage();
      const log = await openLog(storage);
      await commitTexts(log, ['a']);
      await log.close();
      const name = segmentFileName(LOG_START_LSN);
      const header = Buffer.from(storage.fileBytes(name)!.subarray(0, SEGMENT_HEADER_BYTES));
      edit(header);
      overwrite(storage, name, reseal(header));
      await expect(openLog(storage)).rejects.toBeInstanceOf(LogFormatError);
      expect(storage.list()).toContain(name); // not removed as if it were torn
    }
  });

  it('refuses a segment whose header disagrees with its file name', async () => {
    const { storage, log } = await logWithSegments(2);
    await log.close();
    const [, second] = segmentFiles(storage.list());
    const header = encodeSegmentHeader({ firstLsn: 12345, clusterId: 'ackord' });
    overwrite(storage, second!, header);
    const error = await openLog(storage).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LogFormatError);
    expect((error as LogFormatError).file).toBe(second);
  });

  it('with create: false, an empty directory is a LogFormatError', async () => {
    const storage = new MemoryStorage();
    await expect(openLog(storage, { create: false })).rejects.toBeInstanceOf(LogFormatError);
    expect(storage.list()).toEqual([]);
    const log = await openLog(storage); // the lock was released
    expect(log.recovery.created).toBe(true);
    await log.close();
    const reopened = await openLog(storage, { create: false });
    expect(reopened.recovery.created).toBe(false);
    await reopened.close();
  });

  it('ignores files that are not segments', async () => {
    const storage = new MemoryStorage();
    const log = await openLog(storage);
    await commitTexts(log, ['a']);
    await log.close();
    for (const name of ['notes.txt', '0000000000000002.wal.bak', 'ABCDEF0000000000.wal']) {
      const file = storage.open(name, { create: true, dsync: false });
      file.write(bytes('garbage'), 0);
      file.close();
    }
    const again = await openLog(storage);
    expect(again.recovery.segments).toBe(1);
    expect(await dataTexts(again)).toEqual(['a']);
    await again.close();
  });

  it('switches segments at segmentBytes: each file starts with its header and its first record', async () => {
    const { storage, log, count } = await logWithSegments(5);
    const stats = log.stats();
    const names = segmentFiles(storage.list());
    expect(names.length).toBe(stats.segments);
    expect(names.length).toBeGreaterThanOrEqual(5);
    let expectedFirst = LOG_START_LSN;
    for (const name of names) {
      const data = storage.fileBytes(name)!;
      expect(data.length).toBeLessThanOrEqual(4096);
      const header = decodeSegmentHeader(data.subarray(0, SEGMENT_HEADER_BYTES));
      expect(header).toEqual({ ok: true, header: { firstLsn: expectedFirst, clusterId: 'ackord' } });
      expect(name).toBe(segmentFileName(expectedFirst));
      // The first record in the file carries the segment's first LSN.
      expect(data.readUInt32LE(SEGMENT_HEADER_BYTES + 8)).toBe(expectedFirst);
      expectedFirst += data.length - SEGMENT_HEADER_BYTES;
    }
    expect(expectedFirst).toBe(log.nextLsn);
    const records = await readAll(log);
    expect(records.filter((r) => r.type === RecordType.commit).length).toBe(count);
    await log.close();

    const reopened = await openLog(storage, { segmentBytes: 4096 });
    expect(reopened.recovery.segments).toBe(names.length);
    expect(reopened.nextLsn).toBe(stats.nextLsn);
    expect((await readAll(reopened)).length).toBe(records.length);
    await reopened.close();
  });

  it('a record of exactly maxPayloadBytes fills a segment on its own', async () => {
    const storage = new MemoryStorage();
    const log = await openLog(storage, { segmentBytes: 4096 });
    expect(log.maxPayloadBytes).toBe(4096 - SEGMENT_HEADER_BYTES - RECORD_HEADER_BYTES);
    const big = Buffer.alloc(log.maxPayloadBytes, 7);
    const txn = log.begin();
    txn.append(big);
    txn.append(big);
    await txn.commit();
    const names = segmentFiles(storage.list());
    expect(names.length).toBe(3);
    expect(storage.fileBytes(names[1]!)!.length).toBe(4096);
    await log.close();
    const again = await openLog(storage, { segmentBytes: 4096 });
    const data = (await readAll(again)).filter((r) => r.type === RecordType.data);
    expect(data.map((r) => Buffer.compare(r.payload as Buffer, big))).toEqual([0, 0]);
    await again.close();
  });

  it('a missing middle segment is a gap: LogCorruptedError, or cut there with repair', async () => {
    const { storage, log } = await logWithSegments(4);
    await log.close();
    const names = segmentFiles(storage.list());
    storage.remove(names[1]!);
    const error = await openLog(storage, { segmentBytes: 4096 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LogCorruptedError);
    expect((error as LogCorruptedError).file).toBe(names[2]);

    const repaired = await openLog(storage, { segmentBytes: 4096, recovery: 'repair' });
    expect(repaired.recovery.repaired).toMatchObject({ file: names[2] });
    expect(segmentFiles(storage.list())).toEqual([names[0]]);
    expect(repaired.nextLsn).toBe(Number.parseInt(names[1]!.slice(0, 16), 16));
    await repaired.close();
  });
});
