/**
 * The election's durable state, in `ELECTION` beside the segments: the election generation and whom
 * this site voted for in it. Written before a vote is sent (never two votes in one election, even
 * across a crash) — to a temporary name, fdatasync'd, renamed, directory synced, like SNAPSHOT.
 *
 *   0  8 bytes  magic "ACKELEC1"
 *   8  u32      election generation
 *  12  u8       length of votedFor in bytes (0: no vote)
 *  13  …        votedFor, UTF-8
 *   …  u32      CRC32C of everything before it
 */
import { LogCorruptedError } from '../errors.js';
import { crc32c } from './crc32c.js';
import type { LogStorage } from './storage.js';

export const ELECTION_FILE_NAME = 'ELECTION';
const TEMPORARY_NAME = 'ELECTION.tmp';
const MAGIC = Buffer.from('ACKELEC1', 'latin1');
const FIXED_BYTES = 13;
const CHECKSUM_BYTES = 4;
/** Site ids are at most 64 bytes (manager options); the length byte would allow 255. */
const MAX_VOTED_FOR_BYTES = 64;

export interface StoredElectionState {
  readonly electionGeneration: number;
  readonly votedFor: string | undefined;
}

export function writeElectionState(storage: LogStorage, state: StoredElectionState): void {
  const votedFor = Buffer.from(state.votedFor ?? '', 'utf8');
  if (votedFor.length > MAX_VOTED_FOR_BYTES) throw new RangeError(`votedFor is ${votedFor.length} bytes`);
  const bytes = Buffer.allocUnsafe(FIXED_BYTES + votedFor.length + CHECKSUM_BYTES);
  MAGIC.copy(bytes, 0);
  bytes.writeUInt32LE(state.electionGeneration, 8);
  bytes[12] = votedFor.length;
  votedFor.copy(bytes, FIXED_BYTES);
  const end = FIXED_BYTES + votedFor.length;
  bytes.writeUInt32LE(crc32c(bytes.subarray(0, end)), end);
  storage.remove(TEMPORARY_NAME);
  const file = storage.open(TEMPORARY_NAME, { create: true, dsync: false });
  try {
    file.write(bytes, 0);
    file.syncNow();
  } finally {
    file.close();
  }
  storage.rename(TEMPORARY_NAME, ELECTION_FILE_NAME);
  storage.syncDirectory();
}

/** The stored state (generation 0, no vote, when there is none). A damaged file is LogCorruptedError. */
export function readElectionState(storage: LogStorage): StoredElectionState {
  if (!storage.list().includes(ELECTION_FILE_NAME)) return { electionGeneration: 0, votedFor: undefined };
  const file = storage.open(ELECTION_FILE_NAME, { create: false, dsync: false });
  try {
    const size = file.size();
    if (size < FIXED_BYTES + CHECKSUM_BYTES || size > FIXED_BYTES + MAX_VOTED_FOR_BYTES + CHECKSUM_BYTES)
      return corrupt(`${size} bytes`);
    const bytes = Buffer.allocUnsafe(size);
    file.read(bytes, 0, size, 0);
    const end = FIXED_BYTES + bytes[12]!;
    if (!bytes.subarray(0, 8).equals(MAGIC)) return corrupt('bad magic');
    if (end + CHECKSUM_BYTES !== size || crc32c(bytes.subarray(0, end)) !== bytes.readUInt32LE(end))
      return corrupt('length or checksum mismatch');
    const votedFor = bytes.toString('utf8', FIXED_BYTES, end);
    return { electionGeneration: bytes.readUInt32LE(8), votedFor: votedFor === '' ? undefined : votedFor };
  } finally {
    file.close();
  }
}

function corrupt(reason: string): never {
  throw new LogCorruptedError(ELECTION_FILE_NAME, 0, `election state unreadable: ${reason}`);
}
