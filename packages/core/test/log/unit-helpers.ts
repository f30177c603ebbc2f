/** Shared helpers of the log's unit tests (not a test file itself). */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  type CommitOptions,
  type CommitResult,
  type LogOptions,
  type LogRecord,
  type LogStorage,
  openLog,
  RecordType,
  type StorageFile,
  type StorageLock,
  type WriteAheadLog,
} from '../../src/index.js';
import { MemoryStorage } from '../../src/testing/index.js';

export const bytes = (text: string): Buffer => Buffer.from(text, 'utf8');

/** A record with its payload copied out of the read buffer. */
export interface ReadRecord extends LogRecord {
  readonly text: string;
}

export async function readAll(
  log: WriteAheadLog,
  fromLsn?: number,
  options?: { toLsn?: number; signal?: AbortSignal },
): Promise<ReadRecord[]> {
  const records: ReadRecord[] = [];
  for await (const record of log.read(fromLsn, options)) {
    const payload = Buffer.from(record.payload);
    records.push({ ...record, payload, text: payload.toString('utf8') });
  }
  return records;
}

/** Payload texts of the data records, in log order. */
export async function dataTexts(log: WriteAheadLog): Promise<string[]> {
  return (await readAll(log)).filter((record) => record.type === RecordType.data).map((r) => r.text);
}

/** One transaction with one data record per text, committed. */
export function commitTexts(
  log: WriteAheadLog,
  texts: readonly string[],
  options?: CommitOptions,
): Promise<CommitResult> {
  const txn = log.begin();
  for (const text of texts) txn.append(bytes(text));
  return txn.commit(options);
}

/** Opens the image a crash leaves, returns the data texts found there, and closes it again. */
export async function survivors(
  storage: MemoryStorage,
  kind: 'process' | 'power',
  options: LogOptions = {},
): Promise<string[]> {
  const log = await openLog(storage.crash({ kind }), options);
  try {
    return await dataTexts(log);
  } finally {
    await log.close();
  }
}

/** Lets queued microtasks and one macrotask turn run (a scheduled group flush among them). */
export function tick(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Tracks whether a promise has settled, without letting a rejection go unhandled. */
export function track<T>(promise: Promise<T>): {
  readonly settled: () => boolean;
  readonly promise: Promise<T>;
} {
  let settled = false;
  promise.then(
    () => {
      settled = true;
    },
    () => {
      settled = true;
    },
  );
  return { settled: () => settled, promise };
}

/** A temporary directory, removed by `cleanup()`. */
export function tempDirs(): { make: () => string; cleanup: () => void } {
  const dirs: string[] = [];
  return {
    make() {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ackord-log-unit-'));
      dirs.push(dir);
      return dir;
    },
    cleanup() {
      for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function segmentFiles(names: readonly string[]): string[] {
  return names.filter((name) => name.endsWith('.wal')).sort();
}

/**
 * A MemoryStorage whose asynchronous `sync()` waits for the test to release it, so a test can append
 * while a group flush is in flight. `syncNow()` (segment switch, truncate, open) is not held back.
 */
export class GatedStorage implements LogStorage {
  readonly inner: MemoryStorage;
  readonly location: string;
  readonly #pending: (() => void)[] = [];
  gated = true;

  constructor(inner = new MemoryStorage()) {
    this.inner = inner;
    this.location = inner.location;
  }

  /** Syncs waiting for release. */
  get pendingSyncs(): number {
    return this.#pending.length;
  }

  /** Lets the oldest waiting sync run. */
  releaseOne(): void {
    const next = this.#pending.shift();
    if (next === undefined) throw new Error('no sync is waiting');
    next();
  }

  lock(): StorageLock {
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
    const file = this.inner.open(name, options);
    const pending = this.#pending;
    const gate = () => this.gated;
    return {
      name: file.name,
      size: () => file.size(),
      read: (target, targetOffset, length, position) => file.read(target, targetOffset, length, position),
      write: (data, position) => file.write(data, position),
      syncNow: () => file.syncNow(),
      truncate: (size) => file.truncate(size),
      close: () => file.close(),
      sync: () => {
        if (!gate()) return file.sync();
        return new Promise<void>((resolve, reject) => {
          pending.push(() => file.sync().then(resolve, reject));
        });
      },
    };
  }
}
