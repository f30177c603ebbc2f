/**
 * Recovery on open: scan every segment forward, check each record, and decide what a bad record is.
 *
 * - A bad record at the end of the last segment with nothing valid after it is a torn write: the tail is
 *   cut and the cut is reported.
 * - A bad record followed by a valid one, a bad record in a segment that is not the last (segments are
 *   flushed before the next one begins), or a gap between segments is corruption: `LogCorruptedError`,
 *   unless the caller chose `recovery: 'repair'`, which cuts the log there and reports what it lost.
 * - A last segment whose header never reached the disk whole was being created when the crash came: it
 *   is removed.
 * Redo-only: recovery writes nothing for transactions without a commit record; it lists them.
 */
import { LogCorruptedError, LogFormatError } from '../errors.js';
import type { ResolvedLogOptions } from './options.js';
import { RECORD_HEADER_BYTES, RecordType } from './record.js';
import {
  decodeSegmentHeader,
  encodeSegmentHeader,
  parseSegmentFileName,
  SEGMENT_HEADER_BYTES,
  segmentFileName,
} from './segment-header.js';
import { findValidRecordAfter, SegmentCursor } from './segment-scan.js';
import { readSnapshot, writeSnapshot } from './snapshot-file.js';
import type { LogStorage, StorageFile } from './storage.js';

/** The first LSN of a new log. 0 stays free to mean "no record". */
export const LOG_START_LSN = 1;

export interface RecoveredSegment {
  readonly name: string;
  readonly firstLsn: number;
  /** Exclusive end: the LSN after its last record. */
  endLsn: number;
}

export interface RecoveryReport {
  /** True when the directory held no log and a new one was created. */
  readonly created: boolean;
  readonly segments: number;
  readonly records: number;
  /** Bytes cut from a torn tail (0 when the log ended cleanly). */
  readonly truncatedBytes: number;
  /** Segment files removed because a crash cut their creation. */
  readonly removedTornSegments: readonly string[];
  /** LSN of the last valid record, or undefined for an empty log. */
  readonly lastLsn: number | undefined;
  readonly nextLsn: number;
  /** Transactions with data records but no commit or abort record: never applied. */
  readonly incompleteTxnIds: readonly number[];
  /** With `recovery: 'repair'`: where the log was cut and why. */
  readonly repaired:
    | { readonly file: string; readonly lsn: number; readonly reason: string; readonly bytesLost: number }
    | undefined;
}

export interface RecoveredLog {
  readonly segments: RecoveredSegment[];
  /** The last segment, open for writing. */
  readonly currentFile: StorageFile;
  readonly generation: number;
  readonly nextTxnId: number;
  readonly lastCheckpointLsn: number | undefined;
  readonly report: RecoveryReport;
}

interface Listed {
  readonly name: string;
  readonly firstLsn: number;
}

function listSegments(storage: LogStorage): Listed[] {
  const listed: Listed[] = [];
  for (const name of storage.list()) {
    const firstLsn = parseSegmentFileName(name);
    if (firstLsn !== undefined) listed.push({ name, firstLsn });
  }
  return listed.sort((a, b) => a.firstLsn - b.firstLsn);
}

function readHeader(file: StorageFile): Buffer {
  const bytes = Buffer.alloc(SEGMENT_HEADER_BYTES);
  const read = file.read(bytes, 0, SEGMENT_HEADER_BYTES, 0);
  return bytes.subarray(0, read);
}

export function createSegment(
  storage: LogStorage,
  firstLsn: number,
  clusterId: string,
  dsync: boolean,
): StorageFile {
  const name = segmentFileName(firstLsn);
  const file = storage.open(name, { create: true, dsync });
  file.truncate(0);
  file.write(encodeSegmentHeader({ firstLsn, clusterId }), 0);
  return file;
}

export function recoverLog(storage: LogStorage, options: ResolvedLogOptions, dsync: boolean): RecoveredLog {
  const maxRecordBytes = options.maxPayloadBytes + RECORD_HEADER_BYTES;
  const snapshot = readSnapshot(storage);
  let finishedReset = false;
  if (snapshot?.kind === 'reset') {
    // A crash interrupted an internal init: finish it. Every old segment goes; the log starts at the snapshot.
    for (const { name } of listSegments(storage)) storage.remove(name);
    storage.syncDirectory();
    finishedReset = true;
  }
  const listed = listSegments(storage);
  const removedTornSegments: string[] = [];

  if (listed.length === 0) {
    if (!options.create && snapshot === undefined) {
      throw new LogFormatError(storage.location, 'no log segments and create is false');
    }
    // An empty directory starts at LSN 1; a log that was reset to a snapshot starts at the snapshot.
    const startLsn = snapshot?.lsn ?? LOG_START_LSN;
    const file = createSegment(storage, startLsn, options.clusterId, dsync);
    file.syncNow();
    storage.syncDirectory();
    if (finishedReset) writeSnapshot(storage, { ...snapshot!, kind: 'checkpoint' });
    return {
      segments: [{ name: segmentFileName(startLsn), firstLsn: startLsn, endLsn: startLsn }],
      currentFile: file,
      generation: snapshot?.generation ?? 0,
      nextTxnId: 1,
      lastCheckpointLsn: undefined,
      report: {
        created: snapshot === undefined,
        segments: 1,
        records: 0,
        truncatedBytes: 0,
        removedTornSegments,
        lastLsn: undefined,
        nextLsn: startLsn,
        incompleteTxnIds: [],
        repaired: undefined,
      },
    };
  }

  const segments: RecoveredSegment[] = [];
  const openTxns = new Set<number>();
  let generation = 0;
  let maxTxnId = 0;
  let records = 0;
  let lastLsn: number | undefined;
  let lastCheckpointLsn: number | undefined;
  let truncatedBytes = 0;
  let repaired: RecoveryReport['repaired'];
  let currentFile: StorageFile | undefined;

  for (let index = 0; index < listed.length; index++) {
    const { name, firstLsn } = listed[index]!;
    const isLast = index === listed.length - 1;
    const file = storage.open(name, { create: false, dsync });
    let keepOpen = false;
    try {
      const header = decodeSegmentHeader(readHeader(file));
      if (!header.ok) {
        if (isLast && header.torn) {
          // Its creation was cut by a crash; nothing in it can have been reported durable. Unless a valid
          // record follows: records are written only after the header, so the header was damaged later.
          const size = file.size();
          const validAfter = findValidRecordAfter(
            file,
            firstLsn,
            SEGMENT_HEADER_BYTES - 1,
            size,
            maxRecordBytes,
          );
          if (validAfter !== undefined) {
            const reason = `${header.reason}, but a valid record follows it at LSN ${validAfter}`;
            if (options.recovery !== 'repair') throw new LogCorruptedError(name, firstLsn, reason);
            repaired = { file: name, lsn: firstLsn, reason, bytesLost: size - SEGMENT_HEADER_BYTES };
          } else {
            removedTornSegments.push(name);
          }
          file.close();
          keepOpen = true; // closed just above
          storage.remove(name);
          storage.syncDirectory();
          break;
        }
        throw new LogFormatError(name, header.reason);
      }
      if (header.header.firstLsn !== firstLsn) {
        throw new LogFormatError(
          name,
          `header says first LSN ${header.header.firstLsn}, file name says ${firstLsn}`,
        );
      }
      if (header.header.clusterId !== options.clusterId) {
        throw new LogFormatError(
          name,
          `it belongs to cluster "${header.header.clusterId}", this log is "${options.clusterId}"`,
        );
      }
      const previous = segments.at(-1);
      if (previous && previous.endLsn !== firstLsn) {
        const reason = `gap between segments: previous ends at ${previous.endLsn}, this starts at ${firstLsn}`;
        if (options.recovery !== 'repair') throw new LogCorruptedError(name, firstLsn, reason);
        repaired = {
          file: name,
          lsn: previous.endLsn,
          reason,
          bytesLost: removeFrom(storage, listed, index),
        };
        break;
      }

      const size = file.size();
      const cursor = new SegmentCursor(file, firstLsn, firstLsn, size, maxRecordBytes);
      let bad: string | undefined;
      for (;;) {
        const step = cursor.next();
        if (step.kind === 'end') break;
        if (step.kind === 'bad') {
          bad = step.error;
          break;
        }
        const record = step.record;
        records++;
        lastLsn = record.lsn;
        if (record.generation > generation) generation = record.generation;
        if (record.txnId > maxTxnId) maxTxnId = record.txnId;
        if (record.type === RecordType.data) openTxns.add(record.txnId);
        else if (record.type === RecordType.commit || record.type === RecordType.abort)
          openTxns.delete(record.txnId);
        else if (record.type === RecordType.checkpoint) lastCheckpointLsn = record.lsn;
      }
      const endLsn = cursor.lsn;
      segments.push({ name, firstLsn, endLsn });

      if (bad !== undefined) {
        const badOffset = cursor.offset;
        const validAfter = isLast
          ? findValidRecordAfter(file, firstLsn, badOffset, size, maxRecordBytes)
          : undefined;
        const corrupt = !isLast || validAfter !== undefined;
        if (corrupt && options.recovery !== 'repair') {
          const why = isLast
            ? `${bad}, followed by a valid record at LSN ${validAfter}`
            : `${bad} in a segment that was flushed before the next one began`;
          throw new LogCorruptedError(name, endLsn, why);
        }
        file.truncate(badOffset);
        file.syncNow();
        if (corrupt) {
          const later = removeFrom(storage, listed, index + 1);
          repaired = { file: name, lsn: endLsn, reason: bad, bytesLost: size - badOffset + later };
        } else {
          truncatedBytes = size - badOffset;
        }
        keepOpen = true;
        currentFile = file;
        break;
      }
      if (isLast) {
        keepOpen = true;
        currentFile = file;
      }
    } finally {
      if (!keepOpen) file.close();
    }
  }

  if (segments.length === 0) {
    // The only segment was torn at creation: start it again where it was meant to start.
    const firstLsn = listed[0]!.firstLsn;
    currentFile = createSegment(storage, firstLsn, options.clusterId, dsync);
    currentFile.syncNow();
    storage.syncDirectory();
    segments.push({ name: segmentFileName(firstLsn), firstLsn, endLsn: firstLsn });
  } else if (currentFile === undefined) {
    // The last segment was removed as torn: the one before it becomes current again.
    currentFile = storage.open(segments.at(-1)!.name, { create: false, dsync });
  }
  const last = segments.at(-1)!;
  return {
    segments,
    currentFile,
    generation,
    nextTxnId: maxTxnId + 1,
    lastCheckpointLsn,
    report: {
      created: false,
      segments: segments.length,
      records,
      truncatedBytes,
      removedTornSegments,
      lastLsn,
      nextLsn: last.endLsn,
      incompleteTxnIds: [...openTxns].sort((a, b) => a - b),
      repaired,
    },
  };
}

/** Removes listed segments from `index` on (repair only); returns the bytes they held. */
function removeFrom(storage: LogStorage, listed: readonly Listed[], index: number): number {
  let bytes = 0;
  for (const { name } of listed.slice(index)) {
    const file = storage.open(name, { create: false, dsync: false });
    bytes += Math.max(0, file.size() - SEGMENT_HEADER_BYTES);
    file.close();
    storage.remove(name);
  }
  if (index < listed.length) storage.syncDirectory();
  return bytes;
}
