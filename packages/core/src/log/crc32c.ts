/**
 * CRC32C (Castagnoli) through @node-rs/crc32: a maintained native implementation using SSE4.2/ARMv8
 * CRC instructions. Node 20's zlib.crc32 is CRC-32 (IEEE), not CRC32C. Check value for "123456789"
 * is 0xe3069283 (tested).
 */
import { crc32c as nativeCrc32c } from '@node-rs/crc32';

export function crc32c(bytes: Uint8Array): number {
  return nativeCrc32c(bytes as Buffer) >>> 0;
}
