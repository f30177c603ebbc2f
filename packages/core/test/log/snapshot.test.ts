/** The SNAPSHOT file beside the segments: stored with its history, refused (typed) when damaged. */
import { describe, expect, it } from 'vitest';
import { LogCorruptedError, MemoryStorage, openLog } from '../../src/index.js';

async function logWithSnapshot(storage: MemoryStorage) {
  const log = await openLog(storage, { durability: 'fsync' });
  const txn = log.begin();
  txn.append(Buffer.from('state'));
  const { endLsn } = await txn.commit();
  await log.saveSnapshot(endLsn, 0, Buffer.from('the state machine'), [{ generation: 0, lsn: 1 }]);
  await log.close();
  return endLsn;
}

describe('stored snapshot', () => {
  it('round-trips data and history across a reopen', async () => {
    const storage = new MemoryStorage('snap');
    const lsn = await logWithSnapshot(storage);
    const log = await openLog(storage.crash({ kind: 'power' }), { durability: 'fsync' });
    const snapshot = log.loadSnapshot()!;
    expect(snapshot.lsn).toBe(lsn);
    expect(Buffer.from(snapshot.data).toString()).toBe('the state machine');
    expect(snapshot.history).toEqual([{ generation: 0, lsn: 1 }]);
    await log.close();
  });

  it('refuses a damaged SNAPSHOT with LogCorruptedError instead of rebuilding state without it', async () => {
    const storage = new MemoryStorage('snap');
    await logWithSnapshot(storage);
    storage.corrupt('SNAPSHOT', 40, Buffer.from([0xff]));
    const opening = openLog(storage, { durability: 'fsync' });
    await expect(opening).rejects.toBeInstanceOf(LogCorruptedError);
    await expect(opening).rejects.toMatchObject({ file: 'SNAPSHOT', code: 'ERR_ACKORD_LOG_CORRUPTED' });
  });
});
