/**
 * Sequential decoding of one segment file in bounded chunks: used by recovery (every record once) and
 * by `read()`. A chunk is never larger than READ_CHUNK_BYTES or one maximum-size record.
 */
import {
  decodeRecordAt,
  type LogRecord,
  peekRecordLsn,
  RECORD_HEADER_BYTES,
  type RecordDecodeError,
} from './record.js';
import { SEGMENT_HEADER_BYTES } from './segment-header.js';
import type { StorageFile } from './storage.js';

export const READ_CHUNK_BYTES = 1024 * 1024;

export type ScanStep =
  | { readonly kind: 'record'; readonly record: LogRecord; readonly size: number }
  | { readonly kind: 'end' }
  | { readonly kind: 'bad'; readonly error: RecordDecodeError };

/** Reads records of a segment starting at `lsn`, up to the file position `endOffset`. */
export class SegmentCursor {
  readonly #file: StorageFile;
  readonly #firstLsn: number;
  readonly #endOffset: number;
  readonly #maxRecordBytes: number;
  #chunk: Buffer = Buffer.alloc(0);
  /** File offset of #chunk[0]. */
  #chunkOffset = 0;
  #chunkLength = 0;
  lsn: number;

  constructor(
    file: StorageFile,
    firstLsn: number,
    startLsn: number,
    endOffset: number,
    maxRecordBytes: number,
  ) {
    this.#file = file;
    this.#firstLsn = firstLsn;
    this.lsn = startLsn;
    this.#endOffset = endOffset;
    this.#maxRecordBytes = maxRecordBytes;
  }

  get offset(): number {
    return SEGMENT_HEADER_BYTES + (this.lsn - this.#firstLsn);
  }

  next(): ScanStep {
    const offset = this.offset;
    if (offset >= this.#endOffset) return { kind: 'end' };
    let result = this.#decode(offset);
    if (!result.ok && (result.error === 'short-header' || result.error === 'short-record')) {
      // Refill so the chunk starts here and holds at least one maximum-size record (or the rest of the file).
      this.#fill(offset);
      result = this.#decode(offset);
    }
    if (!result.ok) return { kind: 'bad', error: result.error };
    this.lsn += result.size;
    return { kind: 'record', record: result.record, size: result.size };
  }

  #decode(offset: number) {
    const start = offset - this.#chunkOffset;
    if (start < 0 || start > this.#chunkLength) return { ok: false as const, error: 'short-header' as const };
    return decodeRecordAt(this.#chunk, start, this.#chunkLength, this.#maxRecordBytes, this.lsn);
  }

  #fill(offset: number): void {
    const wanted = Math.min(Math.max(READ_CHUNK_BYTES, this.#maxRecordBytes), this.#endOffset - offset);
    // A fresh buffer each time: records already handed out keep views into the old one.
    this.#chunk = Buffer.allocUnsafe(wanted);
    this.#chunkOffset = offset;
    this.#chunkLength = this.#file.read(this.#chunk, 0, wanted, offset);
  }
}

/**
 * After a bad record at `badOffset`: is there a valid record later in the file? If so, the bad record is
 * corruption in the middle of the log, not a torn tail. Candidates are cheap to skip: a record must carry
 * the LSN of the position it sits at, and only then is its checksum computed.
 */
export function findValidRecordAfter(
  file: StorageFile,
  firstLsn: number,
  badOffset: number,
  fileSize: number,
  maxRecordBytes: number,
): number | undefined {
  const length = fileSize - badOffset;
  if (length <= RECORD_HEADER_BYTES) return undefined;
  const bytes = Buffer.allocUnsafe(length);
  const read = file.read(bytes, 0, length, badOffset);
  for (let index = 1; index + RECORD_HEADER_BYTES <= read; index++) {
    const lsn = firstLsn + (badOffset + index - SEGMENT_HEADER_BYTES);
    if (peekRecordLsn(bytes, index) !== lsn) continue;
    if (decodeRecordAt(bytes, index, read, maxRecordBytes, lsn).ok) return lsn;
  }
  return undefined;
}
