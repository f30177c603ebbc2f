/**
 * The write-ahead log: segmented files of checksummed records, five durability modes, group commit,
 * recovery, truncation (rollback), checkpoints, and fail-stop on any I/O error.
 *
 * How a commit becomes durable. Records are encoded straight into one bounded write buffer. Depending
 * on the level asked for, a commit returns with its record in the buffer (`buffered`), after the buffer
 * went to the OS with one write() (`written`), or after a flush covered it (`flushed`). Flushes are
 * grouped: the first commit that needs one schedules it in a microtask, every commit made before the
 * flush starts rides on it, and commits that arrive while it runs are covered by the next one. With
 * `dsync` the write itself is the flush.
 */
import { type Clock, deferrer, systemClock, type TimerHandle } from '../clock.js';
import {
  InvalidLsnError,
  InvalidStateError,
  LogClosedError,
  LogCorruptedError,
  LogFailedError,
  LogTruncatedError,
  LsnUnavailableError,
  RecordTooLargeError,
} from '../errors.js';
import {
  type ElectionStateToSave,
  readElectionState,
  type StoredElectionState,
  writeElectionState,
} from './election-state-file.js';
import { FileStorage } from './file-storage.js';
import {
  type DurabilityModeName,
  durabilityModeName,
  type LogOptions,
  parseLogOptions,
  type ResolvedLogOptions,
} from './options.js';
import {
  encodeRecordInto,
  type LogRecord,
  RECORD_HEADER_BYTES,
  RecordType,
  recordGenerationAt,
  recordLengthAt,
  recordTxnIdAt,
  recordTypeAt,
} from './record.js';
import { createSegment, type RecoveredSegment, type RecoveryReport, recoverLog } from './recovery.js';
import { SEGMENT_HEADER_BYTES } from './segment-header.js';
import { SegmentCursor } from './segment-scan.js';
import { readSnapshot, type StoredSnapshot, writeSnapshot } from './snapshot-file.js';
import type { LogStorage, StorageFile, StorageLock } from './storage.js';

/** How far a commit got before it returned. */
export type DurabilityLevel = 'buffered' | 'written' | 'flushed';

/**
 * Per-commit override of the log's mode, as in WiredTiger: `on` waits for a flush, `off` returns with
 * the record buffered, `background` writes it and starts a flush without waiting for it.
 */
export type CommitSync = 'on' | 'off' | 'background';

export interface CommitOptions {
  readonly sync?: CommitSync;
}

export interface CommitResult {
  readonly txnId: number;
  /** LSN of the commit record. */
  readonly lsn: number;
  /** The LSN after the commit record. */
  readonly endLsn: number;
  /** What the commit's return guarantees: `flushed` survives power loss, `written` a process crash. */
  readonly level: DurabilityLevel;
}

export interface LogStats {
  readonly durability: DurabilityModeName;
  readonly firstLsn: number;
  readonly nextLsn: number;
  /** Everything below this LSN has been handed to the OS. */
  readonly writtenLsn: number;
  /** Everything below this LSN is durable (covered by a completed flush). */
  readonly durableLsn: number;
  readonly generation: number;
  readonly segments: number;
  readonly bytesAppended: number;
  readonly recordsAppended: number;
  readonly commits: number;
  readonly writes: number;
  readonly fsyncs: number;
  readonly recordsPerFsync: number;
  readonly commitsPerFsync: number;
  readonly bufferedBytes: number;
  readonly bufferCapacityBytes: number;
  readonly waitingCommits: number;
  readonly failed: boolean;
}

export interface ReadOptions {
  /** Stop before this LSN (exclusive). Default: the end of the log when the read reaches it. */
  readonly toLsn?: number;
  readonly signal?: AbortSignal;
}

export interface TruncateResult {
  readonly removedBytes: number;
  readonly removedSegments: number;
}

interface Waiter {
  /** Resolved once durableLsn > lsn. */
  readonly lsn: number;
  // biome-ignore lint/suspicious/noExplicitAny: a commit's waiter resolves with its CommitResult, a flush's with nothing
  readonly resolve: (value?: any) => void;
  readonly reject: (error: Error) => void;
  /** What the promise resolves with (a commit's result): one promise per commit, no chained `then`. */
  readonly value?: unknown;
}

interface Segment extends RecoveredSegment {
  /** Open for the current segment; opened on demand for reading older ones. */
  file: StorageFile | undefined;
}

const EMPTY = new Uint8Array(0);
/** Generations are a u32 field of every record. */
const MAX_GENERATION = 0xffff_ffff;

/** One scratch buffer for every commit record's payload: encodeRecordInto copies it at once. */
const COMMIT_PAYLOAD = Buffer.alloc(4);

function commitPayload(recordCount: number): Uint8Array {
  COMMIT_PAYLOAD.writeUInt32LE(recordCount, 0);
  return COMMIT_PAYLOAD;
}

export class Transaction {
  readonly id: number;
  readonly #log: WriteAheadLog;
  #state: 'open' | 'committed' | 'aborted' = 'open';
  #records = 0;
  #firstLsn: number | undefined;

  /** @internal Use `log.begin()`. */
  constructor(log: WriteAheadLog, id: number) {
    this.#log = log;
    this.id = id;
  }

  get state(): 'open' | 'committed' | 'aborted' {
    return this.#state;
  }

  /** LSN of the transaction's first record, if it has one. */
  get firstLsn(): number | undefined {
    return this.#firstLsn;
  }

  /** Appends a data record and returns its LSN. */
  append(payload: Uint8Array): number {
    this.#assertOpen('append to');
    const lsn = this.#log._appendLocal(RecordType.data, this.id, payload);
    this.#firstLsn ??= lsn;
    this.#records++;
    return lsn;
  }

  /** Writes the commit record and returns once it is as durable as the mode (or `sync`) asks. */
  commit(options?: CommitOptions): Promise<CommitResult> {
    try {
      this.#assertOpen('commit');
      this.#state = 'committed';
      return this.#log._commit(this, this.#records, options?.sync);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Writes an abort record (if the transaction wrote anything) and returns its LSN, or undefined. */
  abort(): number | undefined {
    this.#assertOpen('abort');
    this.#state = 'aborted';
    return this.#log._abort(this, this.#records);
  }

  #assertOpen(verb: string): void {
    if (this.#state !== 'open')
      throw new InvalidStateError(`cannot ${verb} transaction ${this.id}: it is ${this.#state}`);
  }
}

export class WriteAheadLog implements AsyncDisposable {
  readonly recovery: RecoveryReport;
  readonly #storage: LogStorage;
  readonly #lock: StorageLock;
  readonly #options: ResolvedLogOptions;
  readonly #mode: DurabilityModeName;
  readonly #delayedFlushMs: number;
  readonly #clock: Clock;
  /** Schedules a group commit's flush: a microtask, or `Clock.afterIo` (option `groupCommit`). */
  readonly #deferFlush: (flush: () => void) => void;
  readonly #runFlushLoop = (): void => void this.#flushLoop();
  readonly #maxRecordBytes: number;
  readonly #segments: Segment[];

  readonly #buffer: Buffer;
  #bufferUsed = 0;
  #nextLsn: number;
  #writtenLsn: number;
  #durableLsn: number;

  #generation: number;
  #nextTxnId: number;
  #lastCheckpointLsn: number | undefined;
  readonly #openTxns = new Set<Transaction>();

  readonly #waiters: Waiter[] = [];
  #flushState: 'idle' | 'scheduled' | 'running' = 'idle';
  #flushAgain = false;
  /** Files of segments switched away from while a flush on them may still be running. */
  #retiredFiles: StorageFile[] = [];
  #truncations = 0;
  #delayedTimer: TimerHandle | undefined;
  /** `delayed` mode: when the oldest commit not yet covered by a flush was made. */
  #unsyncedSince = 0;
  #failure: LogFailedError | undefined;
  #closed = false;
  #closing: Promise<void> | undefined;

  #bytesAppended = 0;
  #recordsAppended = 0;
  #recordsDurable = 0;
  #commits = 0;
  #commitsDurable = 0;
  #writes = 0;
  #fsyncs = 0;

  /** @internal Use `openLog()`. */
  constructor(storage: LogStorage, lock: StorageLock, options: ResolvedLogOptions) {
    this.#storage = storage;
    this.#lock = lock;
    this.#options = options;
    this.#mode = durabilityModeName(options.durability);
    const delayed = options.durability;
    // Half the bound: the timer may fire late under load and the flush itself takes time.
    this.#delayedFlushMs = typeof delayed === 'object' ? Math.max(1, Math.floor(delayed.maxDelayMs / 2)) : 0;
    this.#clock = options.clock ?? systemClock;
    this.#deferFlush = deferrer(this.#options.groupCommit, this.#clock);
    this.#maxRecordBytes = options.maxPayloadBytes + RECORD_HEADER_BYTES;
    const recovered = recoverLog(storage, options, this.#mode === 'dsync');
    this.recovery = recovered.report;
    this.#segments = recovered.segments.map((segment) => ({ ...segment, file: undefined }));
    this.#segments.at(-1)!.file = recovered.currentFile;
    this.#buffer = Buffer.allocUnsafe(options.bufferBytes);
    this.#nextLsn = recovered.report.nextLsn;
    this.#writtenLsn = this.#nextLsn;
    // Recovery read the log back from the files; whether the OS had synced them is unknown, so flush
    // once before claiming anything durable.
    recovered.currentFile.syncNow();
    this.#durableLsn = this.#nextLsn;
    this.#generation = recovered.generation;
    this.#nextTxnId = recovered.nextTxnId;
    this.#lastCheckpointLsn = recovered.lastCheckpointLsn;
  }

  get durability(): DurabilityModeName {
    return this.#mode;
  }
  /** How far a group commit gathers before its flush starts (the `groupCommit` option). */
  get groupCommit(): 'turn' | 'iteration' {
    return this.#options.groupCommit;
  }
  get firstLsn(): number {
    return this.#segments[0]!.firstLsn;
  }
  /** The LSN the next record will get: the end of the log. */
  get nextLsn(): number {
    return this.#nextLsn;
  }
  get writtenLsn(): number {
    return this.#writtenLsn;
  }
  /** Every record below this LSN is durable. */
  get durableLsn(): number {
    return this.#durableLsn;
  }
  get generation(): number {
    return this.#generation;
  }
  get lastCheckpointLsn(): number | undefined {
    return this.#lastCheckpointLsn;
  }
  get maxPayloadBytes(): number {
    return this.#options.maxPayloadBytes;
  }
  /** The error that stopped the log, if one did. */
  get failure(): LogFailedError | undefined {
    return this.#failure;
  }

  begin(): Transaction {
    this.#assertWritable();
    const txn = new Transaction(this, this.#nextTxnId++);
    this.#openTxns.add(txn);
    return txn;
  }

  /**
   * Starts a new generation: writes a new-generation record stamped with it (all later records carry it
   * too) and returns its LSN. Generations never go back.
   */
  startGeneration(generation: number): number {
    this.#assertWritable();
    if (!Number.isInteger(generation) || generation <= this.#generation) {
      throw new InvalidStateError(`generation ${generation} is not above the current ${this.#generation}`);
    }
    if (generation > MAX_GENERATION) {
      throw new InvalidStateError(
        `generation ${generation} does not fit a record (at most ${MAX_GENERATION})`,
      );
    }
    const payload = Buffer.allocUnsafe(4);
    payload.writeUInt32LE(generation, 0);
    // Raised only once the record is in: a refused append must not leave later records stamped with it.
    const lsn = this.#append(RecordType.newGeneration, 0, payload, generation);
    this.#generation = generation;
    return lsn;
  }

  /**
   * Appends a record received from a master, exactly as it was there. Its LSN must be this log's end:
   * replicas hold byte-identical logs.
   */
  appendReplicated(record: LogRecord): number {
    this.#assertWritable();
    if (record.lsn !== this.#nextLsn) {
      throw new InvalidLsnError(
        record.lsn,
        `a replicated record must go at the end of the log (${this.#nextLsn})`,
      );
    }
    // Appended first: a refused record (too large, I/O error) must change nothing, above all not leave
    // a checkpoint LSN that removeSegmentsBefore would trust.
    const lsn = this.#append(record.type, record.txnId, record.payload, record.generation);
    if (record.generation > this.#generation) this.#generation = record.generation;
    if (record.txnId >= this.#nextTxnId) this.#nextTxnId = record.txnId + 1;
    if (record.type === RecordType.commit) this.#commits++;
    if (record.type === RecordType.checkpoint) this.#lastCheckpointLsn = record.lsn;
    return lsn;
  }

  /**
   * Appends whole records already encoded (by a master's core, or received from one and checked by the
   * wire decoder) at `firstLsn`, which must be the log's end. The bytes are copied into the write
   * buffer; a batch may span a segment switch (it is split at a record boundary).
   */
  appendEncoded(bytes: Uint8Array, firstLsn: number): void {
    this.#assertWritable();
    if (firstLsn !== this.#nextLsn) {
      throw new InvalidLsnError(firstLsn, `encoded records must go at the end of the log (${this.#nextLsn})`);
    }
    // Copies whole runs of records at once: each run is as long as fits both the write buffer and the
    // current segment, so the buffer write-out and segment switches happen at the same record
    // boundaries as they would record by record, and a bad record still leaves the ones before it in.
    const maxRecordBytes = this.#maxRecordBytes;
    let offset = 0;
    while (offset < bytes.length) {
      const firstSize = recordLengthAt(bytes, offset);
      if (
        firstSize < RECORD_HEADER_BYTES ||
        firstSize > maxRecordBytes ||
        offset + firstSize > bytes.length
      ) {
        throw new InvalidLsnError(firstLsn + offset, 'not a whole record');
      }
      if (
        SEGMENT_HEADER_BYTES + (this.#nextLsn - this.#segments.at(-1)!.firstLsn) + firstSize >
        this.#options.segmentBytes
      ) {
        this.#switchSegment();
      }
      if (this.#bufferUsed + firstSize > this.#buffer.length) this.#writeOut();
      const segmentRoom =
        this.#options.segmentBytes - SEGMENT_HEADER_BYTES - (this.#nextLsn - this.#segments.at(-1)!.firstLsn);
      const room = Math.min(this.#buffer.length - this.#bufferUsed, segmentRoom);
      let end = offset;
      let records = 0;
      let commits = 0;
      let generation = this.#generation;
      let nextTxnId = this.#nextTxnId;
      let checkpointAt = -1;
      let badAt = -1;
      while (end < bytes.length) {
        const size = recordLengthAt(bytes, end);
        if (size < RECORD_HEADER_BYTES || size > maxRecordBytes || end + size > bytes.length) {
          badAt = end;
          break;
        }
        // The first record always goes in (room was made above), as the record-by-record copy did.
        if (records > 0 && end - offset + size > room) break;
        const recordGeneration = recordGenerationAt(bytes, end);
        if (recordGeneration > generation) generation = recordGeneration;
        const txnId = recordTxnIdAt(bytes, end);
        if (txnId >= nextTxnId) nextTxnId = txnId + 1;
        const type = recordTypeAt(bytes, end);
        if (type === RecordType.commit) commits++;
        else if (type === RecordType.checkpoint) checkpointAt = end;
        records++;
        end += size;
      }
      const runBytes = end - offset;
      // The whole batch in one run is the common case: no view to make then.
      this.#buffer.set(
        runBytes === bytes.length ? bytes : new Uint8Array(bytes.buffer, bytes.byteOffset + offset, runBytes),
        this.#bufferUsed,
      );
      if (checkpointAt >= 0) this.#lastCheckpointLsn = this.#nextLsn + (checkpointAt - offset);
      this.#bufferUsed += runBytes;
      this.#nextLsn += runBytes;
      this.#bytesAppended += runBytes;
      this.#recordsAppended += records;
      this.#commits += commits;
      this.#generation = generation;
      this.#nextTxnId = nextTxnId;
      if (badAt >= 0) throw new InvalidLsnError(firstLsn + badAt, 'not a whole record');
      offset = end;
    }
  }

  /** The next transaction id this log would hand out (one above every id it holds). */
  get nextTxnId(): number {
    return this.#nextTxnId;
  }

  /**
   * Reads whole records in their on-disk encoding from `fromLsn` (a record position) up to `toLsn`
   * (exclusive), at most `maxBytes` but always at least one record, and never across a segment end.
   * Returns an empty buffer when `fromLsn` is the end. For shipping the log to a catching-up client.
   */
  readEncoded(fromLsn: number, toLsn: number, maxBytes: number): Buffer {
    this.#assertOpen();
    if (fromLsn < this.firstLsn) throw new LsnUnavailableError(fromLsn, this.firstLsn);
    const end = Math.min(toLsn, this.#nextLsn);
    if (fromLsn >= end) return Buffer.alloc(0);
    if (end > this.#writtenLsn) this.#writeOut();
    const index = this.#segmentIndexOf(fromLsn);
    const segment = this.#segments[index]!;
    const segmentEnd = index === this.#segments.length - 1 ? this.#writtenLsn : segment.endLsn;
    const limit = Math.min(end, segmentEnd);
    const file = this.#storage.open(segment.name, { create: false, dsync: false });
    try {
      const cursor = new SegmentCursor(
        file,
        segment.firstLsn,
        fromLsn,
        SEGMENT_HEADER_BYTES + (limit - segment.firstLsn),
        this.#maxRecordBytes,
      );
      let length = 0;
      for (;;) {
        const step = cursor.next();
        if (step.kind === 'end') break;
        if (step.kind === 'bad') {
          if (length === 0) throw new InvalidLsnError(fromLsn, step.error);
          throw new LogCorruptedError(segment.name, cursor.lsn, step.error);
        }
        if (length > 0 && length + step.size > maxBytes) break;
        length += step.size;
        if (length >= maxBytes) break;
      }
      const bytes = Buffer.allocUnsafe(length);
      file.read(bytes, 0, length, SEGMENT_HEADER_BYTES + (fromLsn - segment.firstLsn));
      return bytes;
    } finally {
      file.close();
    }
  }

  /**
   * Internal init: replaces the whole log by an empty one that starts at `firstLsn`, after storing the
   * state-machine snapshot that stands for everything before it. Durable on return.
   */
  async reset(
    firstLsn: number,
    snapshot: Uint8Array,
    generation: number,
    history: StoredSnapshot['history'] = [],
  ): Promise<void> {
    this.#assertWritable();
    if (this.#openTxns.size > 0) throw new InvalidStateError('cannot reset with open local transactions');
    try {
      // Marked "reset" first: a crash from here on makes recovery finish the reset (see snapshot-file.ts).
      writeSnapshot(this.#storage, { lsn: firstLsn, generation, kind: 'reset', data: snapshot, history });
      for (const segment of this.#segments.splice(0)) {
        this.#retire(segment.file);
        this.#storage.remove(segment.name);
      }
      this.#storage.syncDirectory();
      const file = createSegment(this.#storage, firstLsn, this.#options.clusterId, this.#mode === 'dsync');
      file.syncNow();
      this.#storage.syncDirectory();
      this.#segments.push({ name: file.name, firstLsn, endLsn: firstLsn, file });
      writeSnapshot(this.#storage, {
        lsn: firstLsn,
        generation,
        kind: 'checkpoint',
        data: snapshot,
        history,
      });
    } catch (error) {
      throw this.#fail('reset', error);
    }
    this.#truncations++;
    this.#bufferUsed = 0;
    this.#nextLsn = firstLsn;
    this.#writtenLsn = firstLsn;
    this.#durableLsn = firstLsn;
    if (generation > this.#generation) this.#generation = generation;
    this.#lastCheckpointLsn = undefined;
    for (const waiter of this.#waiters.splice(0)) waiter.reject(new LogTruncatedError(waiter.lsn, firstLsn));
  }

  /**
   * Stores a state-machine snapshot that stands for every transaction before `lsn` (a transaction
   * boundary in this log). The log is flushed first: the snapshot never gets ahead of the records it
   * summarizes. After it, segments below `lsn` may be removed (see `removeSegmentsBefore`).
   */
  async saveSnapshot(
    lsn: number,
    generation: number,
    data: Uint8Array,
    history: StoredSnapshot['history'] = [],
  ): Promise<void> {
    this.#assertWritable();
    if (lsn < this.firstLsn || lsn > this.#nextLsn) {
      throw new InvalidLsnError(
        lsn,
        `a snapshot must lie within the log [${this.firstLsn}, ${this.#nextLsn}]`,
      );
    }
    await this.logFlush({ sync: 'on' });
    try {
      writeSnapshot(this.#storage, { lsn, generation, kind: 'checkpoint', data, history });
    } catch (error) {
      throw this.#fail('snapshot', error);
    }
  }

  /** The stored snapshot, if it lies within this log (the log may start before it, never after). */
  loadSnapshot(): StoredSnapshot | undefined {
    const snapshot = readSnapshot(this.#storage);
    if (snapshot === undefined || snapshot.lsn < this.firstLsn || snapshot.lsn > this.#nextLsn)
      return undefined;
    return snapshot;
  }

  /** The election's durable state (generation 0 and no vote when never written; see election-state-file). */
  loadElectionState(): StoredElectionState {
    return readElectionState(this.#storage);
  }

  /**
   * Makes the election's state durable before it returns (a vote is sent only after this; a learned
   * generation is reported only after this).
   */
  saveElectionState(state: ElectionStateToSave): void {
    this.#assertWritable();
    try {
      writeElectionState(this.#storage, state);
    } catch (error) {
      throw this.#fail('election state', error);
    }
  }

  /**
   * Writes buffered records to the OS; with `sync: 'on'` (the default) waits until they are durable,
   * with `'background'` starts a flush without waiting, with `'off'` only writes.
   */
  async logFlush(options: { sync?: CommitSync } = {}): Promise<void> {
    this.#assertWritable();
    const sync = options.sync ?? 'on';
    this.#writeOut();
    if (sync === 'off') return;
    if (sync === 'background') {
      this.#scheduleFlush();
      return;
    }
    if (this.#durableLsn >= this.#nextLsn) return;
    await this.#waitFor(this.#nextLsn - 1);
  }

  /**
   * Resolves once the record at `lsn` is durable, through the group commit: it joins the next flush
   * (scheduled now if none is), whose one write() and sync cover everything appended before it starts.
   * Unlike `logFlush`, which hands the buffer to the OS at once, nothing is written here: commits made
   * one after another in a group share the write as well as the sync.
   */
  flushThrough(lsn: number): Promise<void> {
    this.#assertWritable();
    return this.#waitFor(lsn);
  }

  /**
   * Hands the buffered records to the OS now (write(), no sync), synchronously. Throws `LogFailedError`
   * if the write fails: the log is then stopped.
   */
  writeOut(): void {
    this.#assertWritable();
    this.#writeOut();
  }

  /**
   * Resolves once the record at `lsn` is durable. It does not start a flush: in `none` and `write` mode
   * a record becomes durable only through a later flush (a commit with sync 'on', logFlush, close).
   */
  waitDurable(lsn: number, options: { signal?: AbortSignal } = {}): Promise<void> {
    if (this.#failure) return Promise.reject(this.#failure);
    if (lsn < this.#durableLsn) return Promise.resolve();
    if (this.#closed) return Promise.reject(new LogClosedError());
    if (lsn >= this.#nextLsn)
      return Promise.reject(new InvalidLsnError(lsn, `the log ends at ${this.#nextLsn}`));
    const signal = options.signal;
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise<void>((resolve, reject) => {
      const onAbort = () => {
        const index = this.#waiters.indexOf(waiter);
        if (index >= 0) this.#waiters.splice(index, 1);
        reject(signal!.reason);
      };
      const waiter: Waiter = {
        lsn,
        resolve: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
        reject: (error) => {
          signal?.removeEventListener('abort', onAbort);
          reject(error);
        },
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#insertWaiter(waiter);
    });
  }

  /**
   * Reads records from `fromLsn` (default: the first kept) to the end of the log. Records appended while
   * the read runs are included; a truncation under the read ends it with `LogTruncatedError`.
   */
  async *read(
    fromLsn: number = this.firstLsn,
    options: ReadOptions = {},
  ): AsyncGenerator<LogRecord, void, undefined> {
    this.#assertOpen();
    if (fromLsn < this.firstLsn) throw new LsnUnavailableError(fromLsn, this.firstLsn);
    if (fromLsn > this.#nextLsn) throw new InvalidLsnError(fromLsn, `the log ends at ${this.#nextLsn}`);
    const truncations = this.#truncations;
    let position = fromLsn;
    while (position < Math.min(this.#nextLsn, options.toLsn ?? Number.POSITIVE_INFINITY)) {
      options.signal?.throwIfAborted();
      this.#assertOpen();
      if (position >= this.#writtenLsn) this.#writeOut();
      const index = this.#segmentIndexOf(position);
      if (index < 0) throw new LsnUnavailableError(position, this.firstLsn);
      const segment = this.#segments[index]!;
      const segmentEnd = index === this.#segments.length - 1 ? this.#writtenLsn : segment.endLsn;
      // A handle of its own: the writer may switch segments and close its handle while we yield.
      const file = this.#storage.open(segment.name, { create: false, dsync: false });
      try {
        const cursor = new SegmentCursor(
          file,
          segment.firstLsn,
          position,
          SEGMENT_HEADER_BYTES + (segmentEnd - segment.firstLsn),
          this.#maxRecordBytes,
        );
        for (;;) {
          const step = cursor.next();
          if (step.kind === 'end') break;
          if (step.kind === 'bad') {
            if (position === fromLsn && cursor.lsn === fromLsn)
              throw new InvalidLsnError(fromLsn, step.error);
            throw new LogCorruptedError(segment.name, cursor.lsn, step.error);
          }
          if (options.toLsn !== undefined && step.record.lsn >= options.toLsn) return;
          yield step.record;
          if (this.#truncations !== truncations) throw new LogTruncatedError(cursor.lsn, this.#nextLsn);
          options.signal?.throwIfAborted();
        }
        position = cursor.lsn;
      } finally {
        file.close();
      }
    }
  }

  /**
   * Rollback: removes every record at or after `toLsn`, which must be a record's position. Commits
   * still waiting on removed records reject with `LogTruncatedError`. The cut is durable on return.
   */
  async truncate(toLsn: number): Promise<TruncateResult> {
    this.#assertWritable();
    if (this.#openTxns.size > 0) {
      throw new InvalidStateError(`cannot truncate with ${this.#openTxns.size} open local transaction(s)`);
    }
    if (toLsn > this.#nextLsn) throw new InvalidLsnError(toLsn, `the log ends at ${this.#nextLsn}`);
    if (toLsn < this.firstLsn) throw new LsnUnavailableError(toLsn, this.firstLsn);
    if (toLsn === this.#nextLsn) return { removedBytes: 0, removedSegments: 0 };
    await this.#assertRecordAt(toLsn);
    this.#writeOut();
    const removedBytes = this.#nextLsn - toLsn;
    let removedSegments = 0;
    try {
      while (this.#segments.length > 1 && this.#segments.at(-1)!.firstLsn >= toLsn) {
        const segment = this.#segments.pop()!;
        this.#retire(segment.file);
        segment.file = undefined;
        this.#storage.remove(segment.name);
        removedSegments++;
      }
      // Removals first and durable, then the cut: a crash between them leaves a shorter log, never a gap.
      if (removedSegments > 0) this.#storage.syncDirectory();
      const current = this.#segments.at(-1)!;
      current.file ??= this.#storage.open(current.name, { create: false, dsync: this.#mode === 'dsync' });
      current.file.truncate(SEGMENT_HEADER_BYTES + (toLsn - current.firstLsn));
      current.file.syncNow();
      current.endLsn = toLsn;
    } catch (error) {
      throw this.#fail('truncate', error);
    }
    this.#truncations++;
    this.#nextLsn = toLsn;
    this.#writtenLsn = toLsn;
    this.#durableLsn = toLsn;
    // Waiters below toLsn are durable now; the rest lost their records.
    const waiters = this.#waiters.splice(0);
    for (const waiter of waiters) {
      if (waiter.lsn < toLsn) waiter.resolve(waiter.value);
      else waiter.reject(new LogTruncatedError(waiter.lsn, toLsn));
    }
    return { removedBytes, removedSegments };
  }

  /** Writes a checkpoint record (with an optional payload, e.g. a snapshot's LSN), flushes, returns its LSN. */
  async checkpoint(payload: Uint8Array = EMPTY): Promise<number> {
    const lsn = this.#append(RecordType.checkpoint, 0, payload, this.#generation);
    await this.#waitFor(lsn);
    this.#lastCheckpointLsn = lsn;
    return lsn;
  }

  /**
   * Removes whole segments below `lsn` that are no longer needed: never past the last checkpoint (or the
   * stored snapshot), never
   * past an open local transaction's first record, never the current segment. Returns what went.
   */
  removeSegmentsBefore(lsn: number): { readonly removed: readonly string[]; readonly firstLsn: number } {
    this.#assertWritable();
    // A checkpoint record or a stored snapshot stands for what goes.
    const covered = Math.max(
      this.#lastCheckpointLsn ?? this.firstLsn,
      readSnapshot(this.#storage)?.lsn ?? this.firstLsn,
    );
    let bound = Math.min(lsn, covered);
    for (const txn of this.#openTxns) if (txn.firstLsn !== undefined) bound = Math.min(bound, txn.firstLsn);
    const removed: string[] = [];
    try {
      while (this.#segments.length > 1 && this.#segments[0]!.endLsn <= bound) {
        const segment = this.#segments.shift()!;
        this.#retire(segment.file);
        this.#storage.remove(segment.name);
        removed.push(segment.name);
      }
      if (removed.length > 0) this.#storage.syncDirectory();
    } catch (error) {
      throw this.#fail('segment removal', error);
    }
    return { removed, firstLsn: this.firstLsn };
  }

  stats(): LogStats {
    return {
      durability: this.#mode,
      firstLsn: this.firstLsn,
      nextLsn: this.#nextLsn,
      writtenLsn: this.#writtenLsn,
      durableLsn: this.#durableLsn,
      generation: this.#generation,
      segments: this.#segments.length,
      bytesAppended: this.#bytesAppended,
      recordsAppended: this.#recordsAppended,
      commits: this.#commits,
      writes: this.#writes,
      fsyncs: this.#fsyncs,
      recordsPerFsync: this.#fsyncs === 0 ? 0 : this.#recordsDurable / this.#fsyncs,
      commitsPerFsync: this.#fsyncs === 0 ? 0 : this.#commitsDurable / this.#fsyncs,
      bufferedBytes: this.#bufferUsed,
      bufferCapacityBytes: this.#buffer.length,
      waitingCommits: this.#waiters.length,
      failed: this.#failure !== undefined,
    };
  }

  /** Flushes everything (unless the log failed), closes the files and releases the directory lock. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  async #close(): Promise<void> {
    try {
      if (!this.#failure && !this.#closed) {
        try {
          await this.logFlush({ sync: 'on' });
        } catch {
          // The failure is recorded in #failure and every waiter has been rejected.
        }
      }
    } finally {
      this.#closed = true;
      if (this.#delayedTimer !== undefined) this.#clock.clearTimeout(this.#delayedTimer);
      this.#delayedTimer = undefined;
      for (const waiter of this.#waiters.splice(0)) waiter.reject(this.#failure ?? new LogClosedError());
      for (const segment of this.#segments) {
        this.#retire(segment.file);
        segment.file = undefined;
      }
      this.#closeRetired();
      this.#lock.release();
    }
  }

  // ---- internals used by Transaction ----

  /** @internal */
  _appendLocal(type: RecordType, txnId: number, payload: Uint8Array): number {
    return this.#append(type, txnId, payload, this.#generation);
  }

  /** @internal */
  _commit(txn: Transaction, records: number, sync: CommitSync | undefined): Promise<CommitResult> {
    this.#openTxns.delete(txn);
    const lsn = this.#append(RecordType.commit, txn.id, commitPayload(records), this.#generation);
    this.#commits++;
    const endLsn = this.#nextLsn;
    const level = this.#commitLevel(sync);
    if (level === 'flushed') {
      // The hot path of group commit: one promise per commit, resolved with its result by the flush.
      const result: CommitResult = { txnId: txn.id, lsn, endLsn, level: 'flushed' };
      if (this.#failure) return Promise.reject(this.#failure);
      return new Promise<CommitResult>((resolve, reject) => {
        this.#insertWaiter({ lsn, resolve, reject, value: result });
        this.#scheduleFlush();
      });
    }
    if (level === 'buffered') {
      this.#armDelayedFlush();
      return Promise.resolve({ txnId: txn.id, lsn, endLsn, level });
    }
    this.#writeOut();
    if (level === 'background') this.#scheduleFlush();
    else this.#armDelayedFlush();
    return Promise.resolve({
      txnId: txn.id,
      lsn,
      endLsn,
      level: this.#durableLsn > lsn ? 'flushed' : 'written',
    });
  }

  /** @internal */
  _abort(txn: Transaction, records: number): number | undefined {
    this.#openTxns.delete(txn);
    if (records === 0) return undefined;
    return this.#append(RecordType.abort, txn.id, EMPTY, this.#generation);
  }

  // ---- private ----

  #commitLevel(sync: CommitSync | undefined): DurabilityLevel | 'background' {
    if (sync === 'on') return 'flushed';
    if (sync === 'off') return 'buffered';
    if (sync === 'background') return 'background';
    switch (this.#mode) {
      case 'none':
        return 'buffered';
      case 'write':
      case 'delayed':
        return 'written';
      case 'fsync':
      case 'dsync':
        return 'flushed';
    }
  }

  #assertOpen(): void {
    if (this.#closed || this.#closing) throw new LogClosedError();
  }

  #assertWritable(): void {
    if (this.#failure) throw this.#failure;
    this.#assertOpen();
  }

  #append(type: RecordType, txnId: number, payload: Uint8Array, generation: number): number {
    this.#assertWritable();
    if (payload.length > this.#options.maxPayloadBytes) {
      throw new RecordTooLargeError(payload.length, this.#options.maxPayloadBytes);
    }
    const size = RECORD_HEADER_BYTES + payload.length;
    const current = this.#segments.at(-1)!;
    if (SEGMENT_HEADER_BYTES + (this.#nextLsn - current.firstLsn) + size > this.#options.segmentBytes) {
      this.#switchSegment();
    }
    if (this.#bufferUsed + size > this.#buffer.length) this.#writeOut();
    const lsn = this.#nextLsn;
    encodeRecordInto(this.#buffer, this.#bufferUsed, lsn, generation, type, txnId, payload);
    this.#bufferUsed += size;
    this.#nextLsn += size;
    this.#bytesAppended += size;
    this.#recordsAppended++;
    return lsn;
  }

  /** Hands the buffer to the OS. In `dsync` mode that makes it durable. */
  #writeOut(): void {
    if (this.#bufferUsed === 0) return;
    const current = this.#segments.at(-1)!;
    try {
      current.file!.write(
        this.#buffer.subarray(0, this.#bufferUsed),
        SEGMENT_HEADER_BYTES + (this.#writtenLsn - current.firstLsn),
      );
    } catch (error) {
      throw this.#fail('write', error);
    }
    this.#writes++;
    this.#bufferUsed = 0;
    this.#writtenLsn = this.#nextLsn;
    current.endLsn = this.#nextLsn;
    if (this.#mode === 'dsync') {
      this.#fsyncs++; // an O_DSYNC write is the sync
      this.#advanceDurable(this.#writtenLsn, this.#recordsAppended, this.#commits);
    }
  }

  /**
   * Starts a new segment at the current end. The previous segment is flushed first, on this thread, so
   * no record of the new segment can reach the disk ahead of the old segment's tail.
   */
  #switchSegment(): void {
    this.#writeOut();
    const previous = this.#segments.at(-1)!;
    const firstLsn = this.#nextLsn;
    try {
      previous.file!.syncNow();
      if (this.#mode !== 'dsync') this.#fsyncs++;
      const file = createSegment(this.#storage, firstLsn, this.#options.clusterId, this.#mode === 'dsync');
      this.#storage.syncDirectory();
      this.#retire(previous.file);
      previous.file = undefined;
      this.#segments.push({ name: file.name, firstLsn, endLsn: firstLsn, file });
    } catch (error) {
      throw this.#fail('segment switch', error);
    }
    this.#advanceDurable(firstLsn, this.#recordsAppended, this.#commits);
  }

  #scheduleFlush(): void {
    if (this.#flushState === 'running') {
      this.#flushAgain = true;
      return;
    }
    if (this.#flushState === 'scheduled') return;
    this.#flushState = 'scheduled';
    this.#deferFlush(this.#runFlushLoop);
  }

  async #flushLoop(): Promise<void> {
    this.#flushState = 'running';
    try {
      // Each pass covers everything appended before it started; commits that arrive during the sync set
      // #flushAgain (or wait in #waiters) and ride on the next pass.
      for (;;) {
        this.#flushAgain = false;
        if (this.#failure || this.#closed) return;
        this.#writeOut();
        const target = this.#writtenLsn;
        if (target > this.#durableLsn) {
          const records = this.#recordsAppended;
          const commits = this.#commits;
          const truncations = this.#truncations;
          if (this.#mode !== 'dsync') {
            await this.#segments.at(-1)!.file!.sync();
            this.#fsyncs++;
          }
          if (this.#truncations === truncations) this.#advanceDurable(target, records, commits);
        }
        if (!this.#flushAgain && this.#waiters.length === 0) return;
        if (!this.#flushAgain && this.#writtenLsn <= this.#durableLsn && this.#bufferUsed === 0) return;
      }
    } catch (error) {
      this.#fail('fsync', error);
    } finally {
      this.#flushState = 'idle';
      this.#closeRetired();
    }
  }

  /** `records` and `commits`: the counters as they stood when everything below `lsn` had been written. */
  #advanceDurable(lsn: number, records: number, commits: number): void {
    if (this.#failure || lsn <= this.#durableLsn) return;
    this.#durableLsn = lsn;
    this.#recordsDurable = records;
    this.#commitsDurable = commits;
    const waiters = this.#waiters;
    let done = 0;
    while (done < waiters.length && waiters[done]!.lsn < lsn) done++;
    if (done === 0) return;
    for (const waiter of waiters.splice(0, done)) waiter.resolve(waiter.value);
  }

  #waitFor(lsn: number): Promise<void> {
    if (this.#failure) return Promise.reject(this.#failure);
    if (lsn < this.#durableLsn) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      this.#insertWaiter({ lsn, resolve, reject });
      this.#scheduleFlush();
    });
  }

  #insertWaiter(waiter: Waiter): void {
    const waiters = this.#waiters;
    if (waiters.length === 0 || waiters[waiters.length - 1]!.lsn <= waiter.lsn) {
      waiters.push(waiter); // commits arrive in LSN order: the common case
      return;
    }
    let index = waiters.length;
    while (index > 0 && waiters[index - 1]!.lsn > waiter.lsn) index--;
    waiters.splice(index, 0, waiter);
  }

  /**
   * `delayed` mode: every commit durable within maxDelayMs. A timer covers an idle log; a busy one is
   * checked on every commit too, because committers that never yield to the event loop (each awaited
   * commit resolves in a microtask) would keep a timer from ever firing.
   */
  #armDelayedFlush(): void {
    if (this.#mode !== 'delayed') return;
    const now = this.#clock.now();
    if (this.#delayedTimer !== undefined) {
      if (now - this.#unsyncedSince >= this.#delayedFlushMs) {
        this.#unsyncedSince = now;
        this.#scheduleFlush();
      }
      return;
    }
    this.#unsyncedSince = now;
    this.#delayedTimer = this.#clock.setTimeout(() => {
      this.#delayedTimer = undefined;
      if (this.#failure || this.#closed) return;
      try {
        this.#writeOut();
      } catch {
        return; // #fail has recorded it
      }
      this.#scheduleFlush();
    }, this.#delayedFlushMs);
  }

  /** Fail-stop: records the first I/O error, rejects every waiter; the log accepts nothing more. */
  #fail(operation: string, error: unknown): LogFailedError {
    if (!this.#failure) {
      this.#failure = new LogFailedError(operation, error);
      if (this.#delayedTimer !== undefined) this.#clock.clearTimeout(this.#delayedTimer);
      this.#delayedTimer = undefined;
      for (const waiter of this.#waiters.splice(0)) waiter.reject(this.#failure);
    }
    return this.#failure;
  }

  #retire(file: StorageFile | undefined): void {
    if (file === undefined) return;
    if (this.#flushState === 'running') this.#retiredFiles.push(file);
    else file.close();
  }

  #closeRetired(): void {
    if (this.#flushState === 'running' && !this.#closed) return;
    for (const file of this.#retiredFiles.splice(0)) file.close();
  }

  #segmentIndexOf(lsn: number): number {
    let low = 0;
    let high = this.#segments.length - 1;
    let found = -1;
    while (low <= high) {
      const middle = (low + high) >> 1;
      if (this.#segments[middle]!.firstLsn <= lsn) {
        found = middle;
        low = middle + 1;
      } else {
        high = middle - 1;
      }
    }
    return found;
  }

  /**
   * Walks the records of `lsn`'s segment from its first one (always a boundary): decoding at `lsn`
   * alone would accept a record-shaped payload inside another record, and cut that record in half.
   */
  async #assertRecordAt(lsn: number): Promise<void> {
    const segment = this.#segments[this.#segmentIndexOf(lsn)]!;
    for await (const record of this.read(segment.firstLsn, { toLsn: lsn + 1 })) {
      if (record.lsn === lsn) return;
    }
    throw new InvalidLsnError(lsn, 'no record starts there');
  }
}

/**
 * Opens (or creates) the log in `dir`, or on the given `LogStorage`. Takes the directory lock, recovers
 * (see `RecoveryReport` in `log.recovery`) and returns a log ready for appends.
 */
export async function openLog(
  dirOrStorage: string | LogStorage,
  options?: LogOptions,
): Promise<WriteAheadLog> {
  const resolved = parseLogOptions(options);
  const storage =
    typeof dirOrStorage === 'string'
      ? (resolved.storage ?? new FileStorage(dirOrStorage, { syncIo: resolved.syncIo }))
      : dirOrStorage;
  const lock = storage.lock();
  try {
    return new WriteAheadLog(storage, lock, resolved);
  } catch (error) {
    lock.release();
    throw error;
  }
}
