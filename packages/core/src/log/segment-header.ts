/**
 * A segment file starts with a fixed 128-byte header, then records back to back:
 *
 *   0   8 bytes  magic "ACKORDLG"
 *   8   u16      format version (1)
 *  10   u16      header size (128)
 *  12   u32      reserved, 0
 *  16   u64      first LSN of the segment (lo, hi)
 *  24   u32      cluster id length in bytes (≤ 64)
 *  28   64 bytes cluster id, UTF-8, zero padded
 *  92   32 bytes reserved, 0
 * 124   u32      crc32c of bytes [0, 124)
 *
 * File names are the first LSN in 16 hex digits, so name order is LSN order.
 */
import { crc32c } from './crc32c.js';

export const SEGMENT_HEADER_BYTES = 128;
export const SEGMENT_FORMAT_VERSION = 1;
export const MAX_CLUSTER_ID_BYTES = 64;
const MAGIC = Buffer.from('ACKORDLG', 'latin1');
const TWO_POW_32 = 0x1_0000_0000;
const SEGMENT_NAME = /^([0-9a-f]{16})\.wal$/;

export interface SegmentHeader {
  readonly firstLsn: number;
  readonly clusterId: string;
}

export function segmentFileName(firstLsn: number): string {
  return `${firstLsn.toString(16).padStart(16, '0')}.wal`;
}

/** The first LSN encoded in a segment file name, or undefined for a file that is not a segment. */
export function parseSegmentFileName(name: string): number | undefined {
  const match = SEGMENT_NAME.exec(name);
  return match ? Number.parseInt(match[1]!, 16) : undefined;
}

export function encodeSegmentHeader(header: SegmentHeader): Buffer {
  const buffer = Buffer.alloc(SEGMENT_HEADER_BYTES);
  MAGIC.copy(buffer, 0);
  buffer.writeUInt16LE(SEGMENT_FORMAT_VERSION, 8);
  buffer.writeUInt16LE(SEGMENT_HEADER_BYTES, 10);
  buffer.writeUInt32LE(header.firstLsn % TWO_POW_32, 16);
  buffer.writeUInt32LE(Math.floor(header.firstLsn / TWO_POW_32), 20);
  const clusterId = Buffer.from(header.clusterId, 'utf8');
  if (clusterId.length > MAX_CLUSTER_ID_BYTES) throw new RangeError('cluster id longer than 64 bytes');
  buffer.writeUInt32LE(clusterId.length, 24);
  clusterId.copy(buffer, 28);
  buffer.writeUInt32LE(crc32c(buffer.subarray(0, 124)), 124);
  return buffer;
}

export type SegmentHeaderResult =
  | { readonly ok: true; readonly header: SegmentHeader }
  | { readonly ok: false; readonly reason: string; readonly torn: boolean };

/** `torn` is true when the header is incomplete or all zero: a segment whose creation a crash cut. */
export function decodeSegmentHeader(bytes: Buffer): SegmentHeaderResult {
  if (bytes.length < SEGMENT_HEADER_BYTES) {
    return { ok: false, reason: `header is ${bytes.length} of ${SEGMENT_HEADER_BYTES} bytes`, torn: true };
  }
  if (bytes.readUInt32LE(124) !== crc32c(bytes.subarray(0, 124))) {
    const allZero = bytes.subarray(0, SEGMENT_HEADER_BYTES).every((byte) => byte === 0);
    return { ok: false, reason: 'header checksum mismatch', torn: allZero };
  }
  if (!bytes.subarray(0, 8).equals(MAGIC)) return { ok: false, reason: 'bad magic', torn: false };
  const version = bytes.readUInt16LE(8);
  if (version !== SEGMENT_FORMAT_VERSION) {
    return {
      ok: false,
      reason: `format version ${version}, expected ${SEGMENT_FORMAT_VERSION}`,
      torn: false,
    };
  }
  const clusterIdLength = bytes.readUInt32LE(24);
  if (clusterIdLength > MAX_CLUSTER_ID_BYTES) {
    return { ok: false, reason: 'cluster id length out of range', torn: false };
  }
  return {
    ok: true,
    header: {
      firstLsn: bytes.readUInt32LE(16) + bytes.readUInt32LE(20) * TWO_POW_32,
      clusterId: bytes.toString('utf8', 28, 28 + clusterIdLength),
    },
  };
}
