/** The ELECTION file: the vote survives a power loss, a torn write leaves the old vote, damage is typed. */
import { describe, expect, it } from 'vitest';
import { LogCorruptedError, MemoryStorage, openLog } from '../../src/index.js';

describe('stored election state', () => {
  it('is generation 0 with no vote when never written', async () => {
    const log = await openLog(new MemoryStorage('e'), { durability: 'fsync' });
    expect(log.loadElectionState()).toEqual({ electionGeneration: 0, votedFor: undefined });
    await log.close();
  });

  it('survives a power loss once saved, vote and all', async () => {
    const storage = new MemoryStorage('e');
    const log = await openLog(storage, { durability: 'fsync' });
    log.saveElectionState({ electionGeneration: 7, votedFor: 'site-ß' });
    log.saveElectionState({ electionGeneration: 8, votedFor: undefined });
    log.saveElectionState({ electionGeneration: 9, votedFor: 'b' });
    const reopened = await openLog(storage.crash({ kind: 'power' }), { durability: 'fsync' });
    expect(reopened.loadElectionState()).toEqual({ electionGeneration: 9, votedFor: 'b' });
    await reopened.close();
  });

  it('refuses a damaged ELECTION file with LogCorruptedError', async () => {
    const storage = new MemoryStorage('e');
    const log = await openLog(storage, { durability: 'fsync' });
    log.saveElectionState({ electionGeneration: 3, votedFor: 'a' });
    storage.corrupt('ELECTION', 9, Buffer.from([0xee]));
    expect(() => log.loadElectionState()).toThrow(LogCorruptedError);
    expect(() => log.loadElectionState()).toThrow(/election state unreadable/);
    await log.close();
  });
});
