/**
 * The state-machine snapshot stored beside the segments, in `SNAPSHOT` (written to a temporary name,
 * synced, then renamed over: never half-replaced). It stands for every transaction before its LSN.
 *
 *   0  8 bytes magic "ACKSNAP3"
 *   8  u64     LSN the snapshot stands for (the log continues from there)
 *  16  u32     generation of the record just before that LSN
 *  20  u32     kind: 0 checkpoint, 1 reset in progress
 *  24  u32     data length
 *  28  u32     crc32c of bytes [0, 28) and everything after byte 32
 *  32  u32     history entries H (≤ MAX_SNAPSHOT_HISTORY)
 *  36  H × 12  the generation history below the LSN: u32 generation, u64 first LSN (lo, hi)
 *  …   …       data
 *
 * The history travels with the snapshot because the records it describes are gone: a log that starts
 * at a snapshot must still tell where each earlier generation began, exactly, to find common records.
 *
 * `reset` marks an internal init that has begun replacing the log: if a crash interrupts it, recovery
 * finishes it (removes every old segment, starts the log at the snapshot's LSN) instead of reopening a
 * mix of old segments and a snapshot that does not belong to them.
 */
import { LogCorruptedError } from '../errors.js';
import { crc32c } from './crc32c.js';
import type { LogStorage } from './storage.js';

export const SNAPSHOT_FILE_NAME = 'SNAPSHOT';
const TEMPORARY_NAME = 'SNAPSHOT.tmp';
const MAGIC = Buffer.from('ACKSNAP3', 'latin1');
const HEADER_BYTES = 32;
const HISTORY_ENTRY_BYTES = 12;
/** As many as a generation history holds (replica/history.ts MAX_HISTORY_ENTRIES). */
export const MAX_SNAPSHOT_HISTORY = 4096;
const TWO_POW_32 = 0x1_0000_0000;

export type SnapshotKind = 'checkpoint' | 'reset';

export interface StoredSnapshot {
  readonly lsn: number;
  readonly generation: number;
  readonly kind: SnapshotKind;
  readonly data: Uint8Array;
  /** Each generation below `lsn` and the LSN of its first record, ascending. */
  readonly history: readonly { readonly generation: number; readonly lsn: number }[];
}

function checksum(bytes: Buffer): number {
  return crc32c(Buffer.concat([bytes.subarray(0, 28), bytes.subarray(HEADER_BYTES)]));
}

export function writeSnapshot(storage: LogStorage, snapshot: StoredSnapshot): void {
  const history = snapshot.history.slice(-MAX_SNAPSHOT_HISTORY);
  const historyBytes = 4 + history.length * HISTORY_ENTRY_BYTES;
  const bytes = Buffer.allocUnsafe(HEADER_BYTES + historyBytes + snapshot.data.length);
  MAGIC.copy(bytes, 0);
  bytes.writeUInt32LE(snapshot.lsn % TWO_POW_32, 8);
  bytes.writeUInt32LE(Math.floor(snapshot.lsn / TWO_POW_32), 12);
  bytes.writeUInt32LE(snapshot.generation, 16);
  bytes.writeUInt32LE(snapshot.kind === 'reset' ? 1 : 0, 20);
  bytes.writeUInt32LE(snapshot.data.length, 24);
  bytes.writeUInt32LE(history.length, HEADER_BYTES);
  history.forEach((entry, index) => {
    const at = HEADER_BYTES + 4 + index * HISTORY_ENTRY_BYTES;
    bytes.writeUInt32LE(entry.generation, at);
    bytes.writeUInt32LE(entry.lsn % TWO_POW_32, at + 4);
    bytes.writeUInt32LE(Math.floor(entry.lsn / TWO_POW_32), at + 8);
  });
  bytes.set(snapshot.data, HEADER_BYTES + historyBytes);
  bytes.writeUInt32LE(checksum(bytes), 28);
  storage.remove(TEMPORARY_NAME);
  const file = storage.open(TEMPORARY_NAME, { create: true, dsync: false });
  try {
    file.write(bytes, 0);
    file.syncNow();
  } finally {
    file.close();
  }
  storage.rename(TEMPORARY_NAME, SNAPSHOT_FILE_NAME);
  storage.syncDirectory();
}

/**
 * The stored snapshot, or undefined when there is none. A SNAPSHOT file that does not check out is
 * `LogCorruptedError`: ignoring it would rebuild the state without what it stood for (a crash while
 * writing one leaves only SNAPSHOT.tmp, never a half-written SNAPSHOT).
 */
export function readSnapshot(storage: LogStorage): StoredSnapshot | undefined {
  if (!storage.list().includes(SNAPSHOT_FILE_NAME)) return undefined;
  const file = storage.open(SNAPSHOT_FILE_NAME, { create: false, dsync: false });
  try {
    const size = file.size();
    if (size < HEADER_BYTES) return corrupt(`${size} bytes, shorter than its header`);
    const bytes = Buffer.allocUnsafe(size);
    file.read(bytes, 0, size, 0);
    if (!bytes.subarray(0, 8).equals(MAGIC) || size < HEADER_BYTES + 4) return corrupt('bad magic or short');
    const entries = bytes.readUInt32LE(HEADER_BYTES);
    if (entries > MAX_SNAPSHOT_HISTORY) return corrupt(`${entries} history entries`);
    const dataOffset = HEADER_BYTES + 4 + entries * HISTORY_ENTRY_BYTES;
    if (dataOffset + bytes.readUInt32LE(24) !== size || checksum(bytes) !== bytes.readUInt32LE(28))
      return corrupt('length or checksum mismatch');
    const history = [];
    for (let index = 0; index < entries; index++) {
      const at = HEADER_BYTES + 4 + index * HISTORY_ENTRY_BYTES;
      history.push({
        generation: bytes.readUInt32LE(at),
        lsn: bytes.readUInt32LE(at + 4) + bytes.readUInt32LE(at + 8) * TWO_POW_32,
      });
    }
    return {
      lsn: bytes.readUInt32LE(8) + bytes.readUInt32LE(12) * TWO_POW_32,
      generation: bytes.readUInt32LE(16),
      kind: bytes.readUInt32LE(20) === 1 ? 'reset' : 'checkpoint',
      data: bytes.subarray(dataOffset),
      history,
    };
  } finally {
    file.close();
  }
}

function corrupt(reason: string): never {
  throw new LogCorruptedError(SNAPSHOT_FILE_NAME, 0, `snapshot unreadable: ${reason}`);
}
