/**
 * The state-machine snapshot a log starts from after an internal init, stored beside the segments in
 * `SNAPSHOT` (written to a temporary name, synced, then renamed over — never half-replaced):
 *
 *   0  8 bytes magic "ACKSNAP1"
 *   8  u64     LSN the log continues from (lo, hi)
 *  16  u32     generation of the record before it
 *  20  u32     data length
 *  24  u32     crc32c of the data
 *  28  …       data
 */
import { crc32c } from './crc32c.js';
import type { LogStorage } from './storage.js';

export const SNAPSHOT_FILE_NAME = 'SNAPSHOT';
const TEMPORARY_NAME = 'SNAPSHOT.tmp';
const MAGIC = Buffer.from('ACKSNAP1', 'latin1');
const HEADER_BYTES = 28;
const TWO_POW_32 = 0x1_0000_0000;

export interface StoredSnapshot {
  readonly lsn: number;
  readonly generation: number;
  readonly data: Uint8Array;
}

export function writeSnapshot(storage: LogStorage, snapshot: StoredSnapshot): void {
  const bytes = Buffer.allocUnsafe(HEADER_BYTES + snapshot.data.length);
  MAGIC.copy(bytes, 0);
  bytes.writeUInt32LE(snapshot.lsn % TWO_POW_32, 8);
  bytes.writeUInt32LE(Math.floor(snapshot.lsn / TWO_POW_32), 12);
  bytes.writeUInt32LE(snapshot.generation, 16);
  bytes.writeUInt32LE(snapshot.data.length, 20);
  bytes.writeUInt32LE(crc32c(snapshot.data), 24);
  bytes.set(snapshot.data, HEADER_BYTES);
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

/** The stored snapshot, or undefined when there is none or it does not check out. */
export function readSnapshot(storage: LogStorage): StoredSnapshot | undefined {
  if (!storage.list().includes(SNAPSHOT_FILE_NAME)) return undefined;
  const file = storage.open(SNAPSHOT_FILE_NAME, { create: false, dsync: false });
  try {
    const size = file.size();
    if (size < HEADER_BYTES) return undefined;
    const bytes = Buffer.allocUnsafe(size);
    file.read(bytes, 0, size, 0);
    if (!bytes.subarray(0, 8).equals(MAGIC)) return undefined;
    const length = bytes.readUInt32LE(20);
    if (HEADER_BYTES + length !== size) return undefined;
    const data = bytes.subarray(HEADER_BYTES);
    if (crc32c(data) !== bytes.readUInt32LE(24)) return undefined;
    return {
      lsn: bytes.readUInt32LE(8) + bytes.readUInt32LE(12) * TWO_POW_32,
      generation: bytes.readUInt32LE(16),
      data,
    };
  } finally {
    file.close();
  }
}
