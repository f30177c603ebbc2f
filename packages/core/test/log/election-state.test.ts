/**
 * The ELECTION file: the vote and the learned generation survive a power loss, the unrecorded (wiped)
 * mark round-trips, the version-1 format is still read, damage is typed.
 */
import { describe, expect, it } from 'vitest';
import { LogCorruptedError, type LogStorage, MemoryStorage, openLog } from '../../src/index.js';
import { crc32c } from '../../src/log/crc32c.js';

/** An ELECTION file as version 1 wrote it (magic ACKELEC1, no generation, no flags). */
function writeVersion1(storage: LogStorage, electionGeneration: number, votedFor: string): void {
  const name = Buffer.from(votedFor, 'utf8');
  const bytes = Buffer.alloc(13 + name.length + 4);
  bytes.write('ACKELEC1', 0, 'latin1');
  bytes.writeUInt32LE(electionGeneration, 8);
  bytes[12] = name.length;
  name.copy(bytes, 13);
  bytes.writeUInt32LE(crc32c(bytes.subarray(0, 13 + name.length)), 13 + name.length);
  storage.remove('ELECTION');
  const file = storage.open('ELECTION', { create: true, dsync: false });
  file.write(bytes, 0);
  file.syncNow();
  file.close();
}

describe('stored election state', () => {
  it('is generation 0 with no vote when never written', async () => {
    const log = await openLog(new MemoryStorage('e'), { durability: 'fsync' });
    expect(log.loadElectionState()).toEqual({
      electionGeneration: 0,
      votedFor: undefined,
      generation: 0,
      unrecorded: false,
    });
    await log.close();
  });

  it('survives a power loss once saved, vote and all', async () => {
    const storage = new MemoryStorage('e');
    const log = await openLog(storage, { durability: 'fsync' });
    log.saveElectionState({ electionGeneration: 7, votedFor: 'site-ß' });
    log.saveElectionState({ electionGeneration: 8, votedFor: undefined });
    log.saveElectionState({ electionGeneration: 9, votedFor: 'b' });
    const reopened = await openLog(storage.crash({ kind: 'power' }), { durability: 'fsync' });
    expect(reopened.loadElectionState()).toEqual({
      electionGeneration: 9,
      votedFor: 'b',
      generation: 0,
      unrecorded: false,
    });
    await reopened.close();
  });

  it('round-trips version 2: the learned generation and the unrecorded mark, with and without a vote', async () => {
    const storage = new MemoryStorage('e');
    const log = await openLog(storage, { durability: 'fsync' });
    // A wiped site learned generation 10 while re-syncing: no vote, still unrecorded.
    log.saveElectionState({ electionGeneration: 10, votedFor: undefined, generation: 10, unrecorded: true });
    let reopened = await openLog(storage.crash({ kind: 'power' }), { durability: 'fsync' });
    expect(reopened.loadElectionState()).toEqual({
      electionGeneration: 10,
      votedFor: undefined,
      generation: 10,
      unrecorded: true,
    });
    await reopened.close();
    log.saveElectionState({ electionGeneration: 12, votedFor: 'site-ß', generation: 11, unrecorded: false });
    reopened = await openLog(storage.crash({ kind: 'power' }), { durability: 'fsync' });
    expect(reopened.loadElectionState()).toEqual({
      electionGeneration: 12,
      votedFor: 'site-ß',
      generation: 11,
      unrecorded: false,
    });
    await reopened.close();
    await log.close();
  });

  it('still reads a version-1 file: the vote, no learned generation, recorded', async () => {
    const storage = new MemoryStorage('e');
    const log = await openLog(storage, { durability: 'fsync' });
    writeVersion1(storage, 7, 'site-ß');
    expect(log.loadElectionState()).toEqual({
      electionGeneration: 7,
      votedFor: 'site-ß',
      generation: 0,
      unrecorded: false,
    });
    writeVersion1(storage, 8, '');
    expect(log.loadElectionState()).toEqual({
      electionGeneration: 8,
      votedFor: undefined,
      generation: 0,
      unrecorded: false,
    });
    // The next save writes version 2 over it.
    log.saveElectionState({ electionGeneration: 9, votedFor: 'b', generation: 8, unrecorded: false });
    expect(log.loadElectionState()).toMatchObject({ electionGeneration: 9, votedFor: 'b', generation: 8 });
    await log.close();
  });

  it('refuses damaged version-1 and version-2 files, and unknown flags, with LogCorruptedError', async () => {
    const storage = new MemoryStorage('e');
    const log = await openLog(storage, { durability: 'fsync' });
    writeVersion1(storage, 3, 'a');
    storage.corrupt('ELECTION', 9, Buffer.from([0xee]));
    expect(() => log.loadElectionState()).toThrow(LogCorruptedError);
    log.saveElectionState({ electionGeneration: 3, votedFor: 'a', generation: 3, unrecorded: true });
    // The generation, the flags, the length byte, the magic's version: each is under the checksum.
    for (const position of [13, 16, 17, 7]) {
      const copy = storage.crash({ kind: 'process' });
      const reopened = await openLog(copy, { durability: 'fsync' });
      copy.corrupt('ELECTION', position, Buffer.from([0x7f]));
      expect(() => reopened.loadElectionState(), `byte ${position}`).toThrow(/election state unreadable/);
      await reopened.close();
    }
    // A flag this version does not know, under a valid checksum: refused, not ignored.
    const bytes = Buffer.alloc(18 + 4);
    bytes.write('ACKELEC2', 0, 'latin1');
    bytes.writeUInt32LE(3, 8);
    bytes[16] = 0x02;
    bytes.writeUInt32LE(crc32c(bytes.subarray(0, 18)), 18);
    storage.remove('ELECTION');
    const file = storage.open('ELECTION', { create: true, dsync: false });
    file.write(bytes, 0);
    file.close();
    expect(() => log.loadElectionState()).toThrow(/unknown flags/);
    await log.close();
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
