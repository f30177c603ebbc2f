/**
 * The election's durable state, in `ELECTION` beside the segments: the election generation, whom this
 * site voted for in it, the highest master generation it has learned, and whether it is still an
 * unrecorded (new or wiped) site. Written before a vote is sent (never two votes in one election, even
 * across a crash) and when the site learns a newer generation (it never goes back to an older one
 * after a restart) — to a temporary name, fdatasync'd, renamed, directory synced, like SNAPSHOT.
 *
 * Version 2 (written):
 *
 *   0  8 bytes  magic "ACKELEC2"
 *   8  u32      election generation
 *  12  u32      generation: the highest master generation learned (0: none recorded)
 *  16  u8       flags: bit 0 unrecorded (started with no record, no vote since); other bits 0
 *  17  u8       length of votedFor in bytes (0: no vote)
 *  18  …        votedFor, UTF-8
 *   …  u32      CRC32C of everything before it
 *
 * Version 1 (still read: generation 0, recorded — it was only ever written for a vote or a win):
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
const MAGIC_V1 = Buffer.from('ACKELEC1', 'latin1');
const MAGIC_V2 = Buffer.from('ACKELEC2', 'latin1');
/** Bytes before votedFor: the offset of its length byte plus one. */
const FIXED_BYTES_V1 = 13;
const FIXED_BYTES_V2 = 18;
const CHECKSUM_BYTES = 4;
const FLAG_UNRECORDED = 0x01;
/** Site ids are at most 64 bytes (manager options); the length byte would allow 255. */
const MAX_VOTED_FOR_BYTES = 64;

export interface StoredElectionState {
  readonly electionGeneration: number;
  readonly votedFor: string | undefined;
  /** The highest master generation this site learned (0: none recorded). */
  readonly generation: number;
  /** Started with no election record and has not voted since (see ElectionCore's wiped-site rule). */
  readonly unrecorded: boolean;
}

/** What may be saved: `generation` defaults to 0, `unrecorded` to false. */
export type ElectionStateToSave = Pick<StoredElectionState, 'electionGeneration' | 'votedFor'> &
  Partial<Pick<StoredElectionState, 'generation' | 'unrecorded'>>;

export function writeElectionState(storage: LogStorage, state: ElectionStateToSave): void {
  const votedFor = Buffer.from(state.votedFor ?? '', 'utf8');
  if (votedFor.length > MAX_VOTED_FOR_BYTES) throw new RangeError(`votedFor is ${votedFor.length} bytes`);
  const bytes = Buffer.allocUnsafe(FIXED_BYTES_V2 + votedFor.length + CHECKSUM_BYTES);
  MAGIC_V2.copy(bytes, 0);
  bytes.writeUInt32LE(state.electionGeneration, 8);
  bytes.writeUInt32LE(state.generation ?? 0, 12);
  bytes[16] = state.unrecorded === true ? FLAG_UNRECORDED : 0;
  bytes[17] = votedFor.length;
  votedFor.copy(bytes, FIXED_BYTES_V2);
  const end = FIXED_BYTES_V2 + votedFor.length;
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

/**
 * The stored state (generation 0, no vote, recorded generation 0, not unrecorded, when there is none:
 * the caller tells a missing record by `electionGeneration === 0`). A damaged file is LogCorruptedError.
 */
export function readElectionState(storage: LogStorage): StoredElectionState {
  if (!storage.list().includes(ELECTION_FILE_NAME))
    return { electionGeneration: 0, votedFor: undefined, generation: 0, unrecorded: false };
  const file = storage.open(ELECTION_FILE_NAME, { create: false, dsync: false });
  try {
    const size = file.size();
    if (
      size < FIXED_BYTES_V1 + CHECKSUM_BYTES ||
      size > FIXED_BYTES_V2 + MAX_VOTED_FOR_BYTES + CHECKSUM_BYTES
    )
      return corrupt(`${size} bytes`);
    const bytes = Buffer.allocUnsafe(size);
    file.read(bytes, 0, size, 0);
    const magic = bytes.subarray(0, 8);
    const v2 = magic.equals(MAGIC_V2);
    if (!v2 && !magic.equals(MAGIC_V1)) return corrupt('bad magic');
    const fixed = v2 ? FIXED_BYTES_V2 : FIXED_BYTES_V1;
    if (size < fixed + CHECKSUM_BYTES) return corrupt(`${size} bytes`);
    const end = fixed + bytes[fixed - 1]!;
    if (end + CHECKSUM_BYTES !== size || crc32c(bytes.subarray(0, end)) !== bytes.readUInt32LE(end))
      return corrupt('length or checksum mismatch');
    const flags = v2 ? bytes[16]! : 0;
    if ((flags & ~FLAG_UNRECORDED) !== 0) return corrupt(`unknown flags 0x${flags.toString(16)}`);
    const votedFor = bytes.toString('utf8', fixed, end);
    return {
      electionGeneration: bytes.readUInt32LE(8),
      votedFor: votedFor === '' ? undefined : votedFor,
      generation: v2 ? bytes.readUInt32LE(12) : 0,
      unrecorded: (flags & FLAG_UNRECORDED) !== 0,
    };
  } finally {
    file.close();
  }
}

function corrupt(reason: string): never {
  throw new LogCorruptedError(ELECTION_FILE_NAME, 0, `election state unreadable: ${reason}`);
}
