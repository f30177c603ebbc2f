/**
 * Shared by the power-loss and crash-state tests: a seeded PRNG, a workload that mirrors every record
 * it appends into a model, expectations snapshotted at a crash point, and the checker that recovers a
 * crash image and judges it against them. The checker returns violations (strings) instead of throwing,
 * so the must-fail controls can assert that it catches a deliberately broken build.
 */
import { createHash } from 'node:crypto';
import {
  type CommitSync,
  type DurabilityLevel,
  type LogStorage,
  openLog,
  RECORD_HEADER_BYTES,
  RecordType,
  type StorageFile,
  type WriteAheadLog,
} from '../../src/index.js';
import { type MemoryStorage, VirtualClock } from '../../src/testing/index.js';

// ---- seeds ----

export interface Rng {
  /** [0, 1) */
  next(): number;
  /** Integer in [min, max]. */
  int(min: number, max: number): number;
  chance(p: number): boolean;
  pick<T>(items: readonly T[]): T;
}

/** mulberry32: small, fast, good enough to drive workloads; the same seed gives the same sequence. */
export function prng(seed: number): Rng {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (min, max) => min + Math.floor(next() * (max - min + 1)),
    chance: (p) => next() < p,
    pick: (items) => items[Math.floor(next() * items.length)]!,
  };
}

/** `ACKORD_SEED` replays a failure; otherwise a fresh seed per run (printed when a test fails). */
export function baseSeed(): number {
  const fromEnv = process.env.ACKORD_SEED;
  if (fromEnv !== undefined && fromEnv !== '') return Number(fromEnv) >>> 0;
  return Math.floor(Math.random() * 2 ** 32) >>> 0;
}

/** Runs `body`; if it fails, the error message starts with the seed and how to replay it. */
export async function withSeed<T>(label: string, seed: number, body: () => Promise<T>): Promise<T> {
  try {
    return await body();
  } catch (error) {
    const prefix = `[${label}] seed=${seed} (replay: ACKORD_SEED=${seed} pnpm vitest run <this file>)\n`;
    if (error instanceof Error) {
      error.message = prefix + error.message;
      throw error;
    }
    throw new Error(prefix + String(error));
  }
}

export const drain = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

// ---- the model ----

export interface ModelRecord {
  readonly lsn: number;
  readonly generation: number;
  readonly type: RecordType;
  readonly txnId: number;
  readonly payload: Buffer;
}

export const recordEnd = (record: { lsn: number; payload: Uint8Array }): number =>
  record.lsn + RECORD_HEADER_BYTES + record.payload.length;

function sameRecord(a: ModelRecord, b: ModelRecord): boolean {
  return (
    a.lsn === b.lsn &&
    a.generation === b.generation &&
    a.type === b.type &&
    a.txnId === b.txnId &&
    a.payload.equals(b.payload)
  );
}

function describeRecord(record: ModelRecord): string {
  const text = record.type === RecordType.data ? ` "${record.payload.toString('latin1').split('|')[0]}"` : '';
  return `{lsn ${record.lsn} type ${record.type} txn ${record.txnId}${text}}`;
}

export interface CommitInfo {
  readonly txnId: number;
  /** LSN of the commit record (known when commit() is called: the record is appended at once). */
  readonly lsn: number;
  readonly end: number;
  status: 'pending' | 'acked' | 'failed' | 'rolled-back';
  /** A per-commit override of the log's mode, if one was given. */
  readonly sync: CommitSync | undefined;
  level?: DurabilityLevel;
  ackedAt?: number;
}

export interface Expectation {
  readonly label: string;
  /** The history the recovered log must be a prefix of (records before its first LSN may be gone). */
  readonly model: readonly ModelRecord[];
  /** Where the model's history starts (the log's first LSN when the workload began). */
  readonly modelStart: number;
  /** After a power loss the recovered log must reach at least this LSN. */
  readonly requiredPower: number;
  /** After a process crash (kill -9) the recovered log must reach at least this LSN. */
  readonly requiredProcess: number;
  /** The recovered log may not start later than this (segments removed after a checkpoint). */
  readonly maxFirstLsn: number;
  /** Ids of data records a returned truncate rolled back: they must never reappear. */
  readonly rolledBack: ReadonlySet<string>;
  /** Virtual time of the crash, and the acknowledged commits, to measure the loss window. */
  readonly now: number;
  readonly acked: readonly {
    readonly end: number;
    readonly at: number;
    readonly level: DurabilityLevel;
    readonly override: boolean;
  }[];
}

export interface OpenTxn {
  readonly txn: ReturnType<WriteAheadLog['begin']>;
  readonly ids: string[];
}

export interface WorkloadOptions {
  readonly tag: string;
  readonly rng: Rng;
  readonly clock?: VirtualClock | undefined;
  /** For `delayed` mode: acked commits older than this must survive a power loss. */
  readonly maxDelayMs?: number | undefined;
  /** Records the log held when the workload began (after a recovery). */
  readonly initial?: readonly ModelRecord[];
  readonly maxPayload?: number;
}

/** Drives a log and mirrors every record it appends, so any crash image can be judged. */
export class Workload {
  readonly log: WriteAheadLog;
  readonly model: ModelRecord[];
  readonly modelStart: number;
  readonly commits: CommitInfo[] = [];
  readonly pending = new Set<Promise<void>>();
  /** Problems seen while running (a commit at an unexpected LSN, a wrong level, …). */
  readonly violations: string[] = [];
  readonly rolledBack = new Set<string>();
  readonly #options: WorkloadOptions;
  #counter = 0;
  /** Set while a truncate runs: records at or above it may go at any moment. */
  #truncatingTo: number | undefined;
  /** The end of everything a returned logFlush / checkpoint claimed durable. */
  #flushedClaim = 0;
  /** Shared by expectations until the next truncate changes the set. */
  #rolledBackSnapshot: ReadonlySet<string> | undefined;

  constructor(log: WriteAheadLog, options: WorkloadOptions) {
    this.log = log;
    this.#options = options;
    this.model = [...(options.initial ?? [])];
    this.modelStart = log.firstLsn;
  }

  get truncating(): boolean {
    return this.#truncatingTo !== undefined;
  }

  nextPayload(size?: number): { id: string; payload: Buffer } {
    const id = `${this.#options.tag}.${this.#counter++}`;
    const length = size ?? this.#options.rng.int(0, this.#options.maxPayload ?? 200);
    const filler = Buffer.alloc(length, (id.length % 26) + 97);
    return { id, payload: Buffer.concat([Buffer.from(`${id}|`, 'latin1'), filler]) };
  }

  begin(): OpenTxn {
    return { txn: this.log.begin(), ids: [] };
  }

  append(open: OpenTxn, size?: number): number {
    const { id, payload } = this.nextPayload(size);
    const lsn = open.txn.append(payload);
    this.#expectLsn('data', lsn);
    this.model.push({
      lsn,
      generation: this.log.generation,
      type: RecordType.data,
      txnId: open.txn.id,
      payload,
    });
    open.ids.push(id);
    return lsn;
  }

  /** Commits without waiting; the returned promise settles after the bookkeeping. */
  commit(open: OpenTxn, sync?: CommitSync): Promise<void> {
    const lsn = this.log.nextLsn;
    const payload = Buffer.alloc(4);
    payload.writeUInt32LE(open.ids.length, 0);
    const record: ModelRecord = {
      lsn,
      generation: this.log.generation,
      type: RecordType.commit,
      txnId: open.txn.id,
      payload,
    };
    const info: CommitInfo = { txnId: open.txn.id, lsn, end: recordEnd(record), status: 'pending', sync };
    // In the model before the call: commit() may write (and a crash hook fire) before it returns.
    this.model.push(record);
    const promise = open.txn.commit(sync === undefined ? undefined : { sync });
    // The commit record is appended before commit() first yields; a commit that threw appended nothing.
    if (this.log.nextLsn === lsn) this.model.pop();
    this.commits.push(info);
    const settled = promise.then(
      (result) => {
        if (result.lsn !== info.lsn || result.endLsn !== info.end) {
          this.violations.push(`commit of txn ${info.txnId}: result lsn ${result.lsn}, expected ${info.lsn}`);
        }
        if (info.status === 'pending') info.status = 'acked';
        info.level = result.level;
        info.ackedAt = this.#options.clock?.now() ?? 0;
        this.#checkLevel(result.level, sync);
      },
      () => {
        if (info.status === 'pending') info.status = 'failed';
      },
    );
    this.pending.add(settled);
    void settled.finally(() => this.pending.delete(settled));
    return settled;
  }

  abort(open: OpenTxn): void {
    const lsn = open.txn.abort();
    if (lsn === undefined) return;
    this.#expectLsn('abort', lsn);
    this.model.push({
      lsn,
      generation: this.log.generation,
      type: RecordType.abort,
      txnId: open.txn.id,
      payload: Buffer.alloc(0),
    });
  }

  async checkpoint(): Promise<number> {
    const payload = Buffer.from(`checkpoint.${this.#options.tag}.${this.#counter++}`);
    const predicted = this.log.nextLsn;
    this.model.push({
      lsn: predicted,
      generation: this.log.generation,
      type: RecordType.checkpoint,
      txnId: 0,
      payload,
    });
    const promise = this.log.checkpoint(payload);
    const lsn = await promise;
    if (lsn !== predicted) this.violations.push(`checkpoint at ${lsn}, expected ${predicted}`);
    this.#flushedClaim = Math.max(this.#flushedClaim, predicted + RECORD_HEADER_BYTES + payload.length);
    return lsn;
  }

  async flush(): Promise<void> {
    const end = this.log.nextLsn;
    await this.log.logFlush({ sync: 'on' });
    this.#flushedClaim = Math.max(this.#flushedClaim, end);
  }

  async truncate(toLsn: number): Promise<void> {
    this.#truncatingTo = toLsn;
    try {
      await this.log.truncate(toLsn);
      const cut = this.model.findIndex((record) => record.lsn >= toLsn);
      if (cut >= 0) {
        for (const record of this.model.splice(cut)) {
          if (record.type === RecordType.data)
            this.rolledBack.add(record.payload.toString('latin1').split('|')[0]!);
        }
        this.#rolledBackSnapshot = undefined;
      }
      for (const commit of this.commits) if (commit.lsn >= toLsn) commit.status = 'rolled-back';
      this.#flushedClaim = Math.min(this.#flushedClaim, toLsn);
    } finally {
      this.#truncatingTo = undefined;
    }
  }

  async settle(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }

  /** What a crash right now must preserve. Cheap enough to call at every storage operation. */
  expectation(label: string): Expectation {
    const log = this.log;
    const now = this.#options.clock?.now() ?? 0;
    const maxDelayMs = this.#options.maxDelayMs;
    let power = Math.max(log.durableLsn, this.#flushedClaim);
    let proc = Math.max(power, log.writtenLsn);
    const acked: Expectation['acked'][number][] = [];
    for (const commit of this.commits) {
      if (commit.status !== 'acked') continue;
      acked.push({
        end: commit.end,
        at: commit.ackedAt!,
        level: commit.level!,
        override: commit.sync !== undefined,
      });
      if (commit.level === 'flushed') power = Math.max(power, commit.end);
      if (commit.level !== 'buffered') proc = Math.max(proc, commit.end);
      // `delayed`: every commit — a `sync: 'off'` one too, which arms the same background flush.
      if (maxDelayMs !== undefined && now - commit.ackedAt! >= maxDelayMs) {
        power = Math.max(power, commit.end);
      }
    }
    proc = Math.max(proc, power);
    if (this.#truncatingTo !== undefined) {
      power = Math.min(power, this.#truncatingTo);
      proc = Math.min(proc, this.#truncatingTo);
    }
    this.#rolledBackSnapshot ??= new Set(this.rolledBack);
    const rolledBack = this.#rolledBackSnapshot;
    return {
      label,
      model: this.model.slice(),
      modelStart: this.modelStart,
      requiredPower: power,
      requiredProcess: proc,
      maxFirstLsn: log.firstLsn,
      rolledBack,
      now,
      acked,
    };
  }

  #expectLsn(what: string, lsn: number): void {
    const last = this.model.at(-1);
    const expected = last === undefined ? this.modelStart : recordEnd(last);
    if (lsn !== expected && !this.truncating)
      this.violations.push(`${what} record at ${lsn}, model expected ${expected}`);
  }

  #checkLevel(level: DurabilityLevel, sync: CommitSync | undefined): void {
    const mode = this.log.durability;
    if (sync !== undefined) return;
    if ((mode === 'fsync' || mode === 'dsync') && level !== 'flushed') {
      this.violations.push(`a ${mode} commit returned at level ${level}`);
    }
    if ((mode === 'write' || mode === 'delayed') && level === 'buffered') {
      this.violations.push(`a ${mode} commit returned at level buffered`);
    }
  }
}

// ---- crash images ----

export type TornStrategy = 'none' | 'one' | 'half' | 'all-but-one' | 'all' | 'random' | 'boundary';

/**
 * How many unsynced bytes of a file survive a power loss. `boundary` cuts at a record boundary of the
 * model, or one byte before or after it, or just after its header: the cases a decoder gets wrong.
 */
export function tornBytes(
  strategy: TornStrategy,
  storage: MemoryStorage,
  model: readonly ModelRecord[],
  rng: Rng,
): (file: string, unsynced: number) => number {
  return (file, unsynced) => {
    switch (strategy) {
      case 'none':
        return 0;
      case 'one':
        return 1;
      case 'half':
        return Math.floor(unsynced / 2);
      case 'all-but-one':
        return unsynced - 1;
      case 'all':
        return unsynced;
      case 'random':
        return rng.int(0, unsynced);
      case 'boundary': {
        const firstLsn = Number.parseInt(file.slice(0, 16), 16);
        const size = storage.fileBytes(file)?.length ?? 0;
        const syncedEnd = size - unsynced;
        const candidates: number[] = [];
        for (const record of model) {
          for (const lsn of [record.lsn, recordEnd(record)]) {
            const relative = 128 + (lsn - firstLsn) - syncedEnd;
            if (relative > 0 && relative <= unsynced) candidates.push(relative);
          }
        }
        if (candidates.length === 0) return rng.int(0, unsynced);
        const at = rng.pick(candidates) + rng.pick([0, 1, -1, RECORD_HEADER_BYTES, RECORD_HEADER_BYTES - 1]);
        return Math.max(0, Math.min(unsynced, at));
      }
    }
  };
}

/** A content hash of a storage image: identical crash states are recovered once. */
export function imageHash(storage: MemoryStorage): string {
  const hash = createHash('sha1');
  for (const name of storage.list().sort()) {
    hash.update(name);
    hash.update('\0');
    const bytes = storage.fileBytes(name)!;
    hash.update(String(bytes.length));
    hash.update('\0');
    hash.update(bytes);
  }
  return hash.digest('hex');
}

// ---- recovery and the checker ----

export interface RecoveredImage {
  readonly error?: unknown;
  readonly records: readonly ModelRecord[];
  readonly firstLsn: number;
  readonly nextLsn: number;
  readonly incompleteTxnIds: readonly number[];
  /** A problem writing to the recovered log (it must take appends at its end). */
  readonly writeProblem?: string;
}

export interface RecoverOptions {
  readonly durability: 'none' | 'write' | 'fsync' | 'dsync' | `delayed:${number}`;
  readonly segmentBytes: number;
  /** Append one transaction after recovery and read it back. Default true. */
  readonly probeWrite?: boolean;
  /** Called right after the log opened (recovery done), before anything else touches the storage. */
  readonly afterOpen?: () => void;
}

export async function readAll(log: WriteAheadLog): Promise<ModelRecord[]> {
  const records: ModelRecord[] = [];
  for await (const record of log.read()) {
    records.push({
      lsn: record.lsn,
      generation: record.generation,
      type: record.type,
      txnId: record.txnId,
      payload: Buffer.from(record.payload),
    });
  }
  return records;
}

/** Opens a crash image (this runs recovery, which may cut a torn tail), reads it, closes it. */
export async function recoverImage(storage: LogStorage, options: RecoverOptions): Promise<RecoveredImage> {
  let log: WriteAheadLog;
  try {
    log = await openLog(storage, {
      durability: options.durability,
      segmentBytes: options.segmentBytes,
      clock: new VirtualClock(),
    });
  } catch (error) {
    options.afterOpen?.();
    return { error, records: [], firstLsn: 0, nextLsn: 0, incompleteTxnIds: [] };
  }
  options.afterOpen?.();
  try {
    const records = await readAll(log);
    const firstLsn = log.firstLsn;
    const nextLsn = log.nextLsn;
    const incompleteTxnIds = log.recovery.incompleteTxnIds;
    let writeProblem: string | undefined;
    if (options.probeWrite ?? true) {
      try {
        const txn = log.begin();
        const payload = Buffer.from('probe-after-recovery');
        const dataLsn = txn.append(payload);
        const result = await txn.commit({ sync: 'on' });
        const tail = [];
        for await (const record of log.read(dataLsn)) tail.push(record);
        if (
          dataLsn !== nextLsn ||
          tail.length !== 2 ||
          tail[1]!.lsn !== result.lsn ||
          log.durableLsn !== result.endLsn
        ) {
          writeProblem = `append after recovery went to ${dataLsn} (log end ${nextLsn}), read back ${tail.length} records`;
        }
      } catch (error) {
        writeProblem = `append after recovery failed: ${describeError(error)}`;
      }
    }
    return writeProblem === undefined
      ? { records, firstLsn, nextLsn, incompleteTxnIds }
      : { records, firstLsn, nextLsn, incompleteTxnIds, writeProblem };
  } catch (error) {
    return { error, records: [], firstLsn: 0, nextLsn: 0, incompleteTxnIds: [] };
  } finally {
    await log.close();
  }
}

export function describeError(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

/** Gap-free: the first record at the log's first LSN, each next one right after, the last at the end. */
export function gapProblems(records: readonly ModelRecord[], firstLsn: number, nextLsn: number): string[] {
  const problems: string[] = [];
  let expected = firstLsn;
  for (const record of records) {
    if (record.lsn !== expected) {
      problems.push(`gap or overlap: record at ${record.lsn}, expected ${expected}`);
      break;
    }
    expected = recordEnd(record);
  }
  if (problems.length === 0 && expected !== nextLsn)
    problems.push(`records end at ${expected}, log says ${nextLsn}`);
  return problems;
}

/** Txns with data records but neither a commit nor an abort record, as recovery must report them. */
export function incompleteTxns(records: readonly ModelRecord[]): number[] {
  const open = new Set<number>();
  for (const record of records) {
    if (record.type === RecordType.data) open.add(record.txnId);
    else if (record.type === RecordType.commit || record.type === RecordType.abort) open.delete(record.txnId);
  }
  return [...open].sort((a, b) => a - b);
}

/** Judges a recovered crash image. Returns the violations (empty when it is a legal outcome). */
export function checkRecovered(
  image: RecoveredImage,
  expectation: Expectation,
  kind: 'power' | 'process',
): string[] {
  const where = `${expectation.label} [${kind}]`;
  if (image.error !== undefined) return [`${where}: recovery failed: ${describeError(image.error)}`];
  const problems: string[] = [];
  const { records, firstLsn, nextLsn } = image;
  for (const problem of gapProblems(records, firstLsn, nextLsn)) problems.push(`${where}: ${problem}`);

  // A prefix of the model's history, not starting later than allowed.
  const model = expectation.model;
  if (firstLsn > expectation.maxFirstLsn) {
    problems.push(
      `${where}: log starts at ${firstLsn}, but nothing before ${expectation.maxFirstLsn} was removed`,
    );
  }
  let start = model.findIndex((record) => record.lsn >= firstLsn);
  if (start < 0) start = model.length;
  if (start < model.length && model[start]!.lsn !== firstLsn && records.length > 0) {
    problems.push(`${where}: log starts at ${firstLsn}, not a record boundary of the history`);
  }
  for (let index = 0; index < records.length; index++) {
    const got = records[index]!;
    const want = model[start + index];
    if (want === undefined || !sameRecord(got, want)) {
      const text = got.type === RecordType.data ? got.payload.toString('latin1').split('|')[0]! : '';
      const why =
        text !== '' &&
        expectation.model.every((r) => r.type !== RecordType.data || !r.payload.equals(got.payload))
          ? ' (a rolled-back or never-written record)'
          : '';
      problems.push(
        `${where}: record ${index} is ${describeRecord(got)}, history has ${want ? describeRecord(want) : 'nothing'} there${why}`,
      );
      break;
    }
  }
  for (const record of records) {
    if (record.type !== RecordType.data) continue;
    const id = record.payload.toString('latin1').split('|')[0]!;
    if (expectation.rolledBack.has(id)) {
      problems.push(
        `${where}: ${id} reappeared at lsn ${record.lsn} after a returned truncate rolled it back`,
      );
      break;
    }
  }
  const required = kind === 'power' ? expectation.requiredPower : expectation.requiredProcess;
  if (nextLsn < required) {
    const lost = expectation.acked.filter((commit) => commit.end > nextLsn && commit.end <= required);
    problems.push(
      `${where}: lost acknowledged data: recovered log ends at ${nextLsn}, everything below ${required} was acknowledged` +
        (lost.length > 0 ? ` (${lost.length} acked commit(s) missing, first ending at ${lost[0]!.end})` : ''),
    );
  }
  const incomplete = incompleteTxns(records);
  if (incomplete.join(',') !== image.incompleteTxnIds.join(',')) {
    problems.push(
      `${where}: recovery lists incomplete txns [${image.incompleteTxnIds}], the log holds [${incomplete}]`,
    );
  }
  if (image.writeProblem !== undefined) problems.push(`${where}: ${image.writeProblem}`);
  return problems;
}

/**
 * How long before the crash the oldest lost acknowledged commit had returned (virtual ms), or 0. Commits
 * with a per-commit `sync` override are left out: this measures the mode's own window.
 */
export function lossWindow(image: RecoveredImage, expectation: Expectation): number {
  if (image.error !== undefined) return 0;
  let window = 0;
  for (const commit of expectation.acked) {
    if (commit.end > image.nextLsn && !commit.override)
      window = Math.max(window, expectation.now - commit.at);
  }
  return window;
}

// ---- deliberately broken storage, for the must-fail controls ----

/** Wraps a `MemoryStorage`; `sync()` and `syncNow()` resolve without syncing, O_DSYNC is dropped. */
export class SyncLieStorage implements LogStorage {
  readonly inner: MemoryStorage;
  readonly #lieAbout: 'sync' | 'truncate';

  constructor(inner: MemoryStorage, lieAbout: 'sync' | 'truncate' = 'sync') {
    this.inner = inner;
    this.#lieAbout = lieAbout;
  }

  get location(): string {
    return this.inner.location;
  }
  lock() {
    return this.inner.lock();
  }
  list(): string[] {
    return this.inner.list();
  }
  remove(name: string): void {
    this.inner.remove(name);
  }
  rename(from: string, to: string): void {
    this.inner.rename(from, to);
  }
  syncDirectory(): void {
    this.inner.syncDirectory();
  }

  open(name: string, options: { readonly create: boolean; readonly dsync: boolean }): StorageFile {
    const lieSync = this.#lieAbout === 'sync';
    const file = this.inner.open(name, { create: options.create, dsync: lieSync ? false : options.dsync });
    return {
      name: file.name,
      size: () => file.size(),
      read: (target, targetOffset, length, position) => file.read(target, targetOffset, length, position),
      write: (data, position) => file.write(data, position),
      sync: () => (lieSync ? Promise.resolve() : file.sync()),
      syncNow: () => {
        if (!lieSync) file.syncNow();
      },
      truncate: (size) => {
        // The truncate liar only ever grows files, never cuts them.
        if (lieSync || size >= file.size()) file.truncate(size);
      },
      close: () => file.close(),
    };
  }
}
