/**
 * `LogStorage` in memory that models what a crash leaves behind, for unit tests and the simulator.
 *
 * Each file keeps two images: what was written (the OS page cache) and what the last completed sync
 * covered (the disk). A process crash (kill -9) keeps the written image; a power loss keeps the synced
 * image, plus — if asked — a torn prefix of the unsynced bytes. A truncation that was not synced is
 * undone by a power loss, as on a real disk. A file created but never synced, and never made durable by
 * a directory sync, vanishes. Removals are durable at once (a simplification: the log syncs the
 * directory after each removal anyway).
 */
import { InvalidStateError, LogLockedError } from '../errors.js';
import type { LogStorage, StorageFile, StorageLock } from './storage.js';

export type StorageOperation =
  | { readonly kind: 'write'; readonly file: string; readonly position: number; readonly length: number }
  | { readonly kind: 'sync'; readonly file: string }
  | { readonly kind: 'truncate'; readonly file: string; readonly size: number }
  | { readonly kind: 'create'; readonly file: string }
  | { readonly kind: 'remove'; readonly file: string }
  | { readonly kind: 'rename'; readonly from: string; readonly to: string }
  | { readonly kind: 'sync-directory' };

export interface StorageFault {
  readonly op: 'write' | 'sync';
  /** How many operations of that kind succeed first. */
  readonly after?: number;
  /** Default: an EIO error, as a failing disk gives. */
  readonly error?: Error;
}

export interface CrashOptions {
  /** `power`: only synced bytes survive. `process`: everything written survives (kill -9). */
  readonly kind: 'power' | 'process';
  /**
   * For a power loss: how many unsynced bytes past the synced image survive in a file (a torn last
   * write). Called per file that has unsynced appended bytes; return 0 for none.
   */
  readonly tornBytes?: (file: string, unsyncedBytes: number) => number;
}

/**
 * A file's bytes are kept in chunks of this size (the last one may be smaller, and grows by doubling up
 * to it): a growing file is never copied as a whole, as one contiguous buffer would be at every doubling.
 */
export const MEMORY_FILE_CHUNK_BYTES = 1024 * 1024;
const SMALLEST_CHUNK_BYTES = 4096;

class MemoryFileState {
  /** Every chunk but the last holds exactly MEMORY_FILE_CHUNK_BYTES. */
  #chunks: Buffer[] = [];
  /** Bytes the chunks can hold. */
  #capacity = 0;
  writtenLength = 0;
  /** false: the file would not exist after a power loss (never synced, directory never synced). */
  durable = false;
  syncedLength = 0;
  /**
   * The synced image when it is no longer a prefix of the written one (a synced byte was overwritten or
   * truncated away since). Null in the common append-only case, so a sync costs no copy.
   */
  syncedSnapshot: Buffer | null = null;

  /** The synced image (a copy), or null if the file would not survive a power loss. */
  synced(): Buffer | null {
    if (!this.durable) return null;
    return this.syncedSnapshot ?? this.copyOut(0, this.syncedLength);
  }

  /** Called before bytes below `position` change: keeps the synced image intact. */
  preserveSyncedFrom(position: number): void {
    if (this.syncedSnapshot === null && position < this.syncedLength) {
      this.syncedSnapshot = this.copyOut(0, this.syncedLength);
    }
  }

  markSynced(): void {
    this.durable = true;
    this.syncedLength = this.writtenLength;
    this.syncedSnapshot = null;
  }

  /**
   * Makes room for `size` bytes. Unzeroed: bytes past writtenLength are never read (writes past the end
   * and extending truncates zero their gap themselves).
   */
  ensureCapacity(size: number): void {
    const chunks = this.#chunks;
    while (this.#capacity < size) {
      const last = chunks.at(-1);
      if (last !== undefined && last.length < MEMORY_FILE_CHUNK_BYTES) {
        // A small last chunk doubles (a copy of at most one chunk), so a small file stays small.
        const base = (chunks.length - 1) * MEMORY_FILE_CHUNK_BYTES;
        const length = Math.min(MEMORY_FILE_CHUNK_BYTES, Math.max(last.length * 2, size - base));
        const grown = Buffer.allocUnsafe(length);
        last.copy(grown, 0, 0, Math.max(0, Math.min(last.length, this.writtenLength - base)));
        chunks[chunks.length - 1] = grown;
        this.#capacity = base + length;
      } else {
        const length = Math.min(
          MEMORY_FILE_CHUNK_BYTES,
          Math.max(SMALLEST_CHUNK_BYTES, size - this.#capacity),
        );
        chunks.push(Buffer.allocUnsafe(length));
        this.#capacity += length;
      }
    }
  }

  /** Copies `data` to [position, position + data.length), which lies within the capacity. */
  writeAt(data: Uint8Array, position: number): void {
    let done = 0;
    while (done < data.length) {
      const at = position + done;
      const chunk = this.#chunks[Math.floor(at / MEMORY_FILE_CHUNK_BYTES)]!;
      const within = at % MEMORY_FILE_CHUNK_BYTES;
      const length = Math.min(data.length - done, chunk.length - within);
      chunk.set(
        done === 0 && length === data.length
          ? data
          : new Uint8Array(data.buffer, data.byteOffset + done, length),
        within,
      );
      done += length;
    }
  }

  /** Zeroes [start, end), which lies within the capacity. */
  fillZero(start: number, end: number): void {
    let at = start;
    while (at < end) {
      const chunk = this.#chunks[Math.floor(at / MEMORY_FILE_CHUNK_BYTES)]!;
      const within = at % MEMORY_FILE_CHUNK_BYTES;
      const length = Math.min(end - at, chunk.length - within);
      chunk.fill(0, within, within + length);
      at += length;
    }
  }

  /** Copies [start, end) of the written bytes into `target` at `targetOffset`; returns the count. */
  readInto(target: Uint8Array, targetOffset: number, start: number, end: number): number {
    let at = start;
    while (at < end) {
      const chunk = this.#chunks[Math.floor(at / MEMORY_FILE_CHUNK_BYTES)]!;
      const within = at % MEMORY_FILE_CHUNK_BYTES;
      const length = Math.min(end - at, chunk.length - within);
      target.set(
        new Uint8Array(chunk.buffer, chunk.byteOffset + within, length),
        targetOffset + (at - start),
      );
      at += length;
    }
    return end - start;
  }

  /** [start, end) of the written bytes, as a buffer of their own. */
  copyOut(start: number, end: number): Buffer {
    const bytes = Buffer.allocUnsafe(end - start);
    this.readInto(bytes, 0, start, end);
    return bytes;
  }

  /** The written image, as a buffer of its own (a copy: write to the file to change it). */
  current(): Buffer {
    return this.copyOut(0, this.writtenLength);
  }
}

function eio(op: string): Error {
  return Object.assign(new Error(`EIO: injected ${op} failure`), { code: 'EIO' });
}

export class MemoryStorage implements LogStorage {
  readonly location: string;
  /** Called after every operation that changes what a crash would leave (H3 explores these points). */
  onOperation: ((operation: StorageOperation) => void) | undefined;
  readonly #files = new Map<string, MemoryFileState>();
  #locked = false;
  #faults: { op: 'write' | 'sync'; remaining: number; error: Error }[] = [];
  #syncCount = 0;

  constructor(name = 'memory') {
    this.location = `memory:${name}`;
  }

  /** Makes the next matching operation (after `after` successes) throw. */
  injectFault(fault: StorageFault): void {
    this.#faults.push({ op: fault.op, remaining: fault.after ?? 0, error: fault.error ?? eio(fault.op) });
  }

  get syncCount(): number {
    return this.#syncCount;
  }

  lock(): StorageLock {
    if (this.#locked) throw new LogLockedError(this.location, undefined);
    this.#locked = true;
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        this.#locked = false;
      },
    };
  }

  list(): string[] {
    return [...this.#files.keys()];
  }

  open(name: string, options: { create: boolean; dsync: boolean }): StorageFile {
    let state = this.#files.get(name);
    if (state === undefined) {
      if (!options.create) throw Object.assign(new Error(`ENOENT: ${name}`), { code: 'ENOENT' });
      state = new MemoryFileState();
      this.#files.set(name, state);
      this.onOperation?.({ kind: 'create', file: name });
    }
    return new MemoryFile(this, name, state, options.dsync);
  }

  remove(name: string): void {
    this.#files.delete(name);
    this.onOperation?.({ kind: 'remove', file: name });
  }

  /** Like remove: durable at once (the caller syncs the directory anyway). */
  rename(from: string, to: string): void {
    const state = this.#files.get(from);
    if (state === undefined) throw Object.assign(new Error(`ENOENT: ${from}`), { code: 'ENOENT' });
    this.#files.delete(from);
    this.#files.set(to, state);
    this.onOperation?.({ kind: 'rename', from, to });
  }

  syncDirectory(): void {
    for (const state of this.#files.values()) state.durable = true;
    this.onOperation?.({ kind: 'sync-directory' });
  }

  /** The bytes a file holds now (written image, a copy), for tests. */
  fileBytes(name: string): Buffer | undefined {
    return this.#files.get(name)?.current();
  }

  /** Flips bits or overwrites bytes of both images of a file: models corruption on the medium. */
  corrupt(name: string, position: number, bytes: Uint8Array): void {
    const state = this.#files.get(name);
    if (state === undefined) throw new InvalidStateError(`no file ${name}`);
    if (position < 0 || position + bytes.length > state.writtenLength) {
      throw new RangeError(`corrupt: [${position}, ${position + bytes.length}) is outside ${name}`);
    }
    state.writeAt(bytes, position);
    state.syncedSnapshot?.set(
      bytes.subarray(0, Math.max(0, state.syncedSnapshot.length - position)),
      position,
    );
  }

  /**
   * The storage a restarted process would find. This storage is left as it was (its lock included),
   * so a test can take several crash images of one moment.
   */
  crash(options: CrashOptions): MemoryStorage {
    const after = new MemoryStorage(this.location.slice('memory:'.length));
    for (const [name, state] of this.#files) {
      let image: Buffer | null;
      if (options.kind === 'process') {
        image = state.current();
      } else if (state.synced() === null) {
        image = null;
      } else {
        image = state.synced()!;
        const current = state.current();
        const unsynced = current.length - image.length;
        if (unsynced > 0 && options.tornBytes && current.subarray(0, image.length).equals(image)) {
          const kept = Math.max(0, Math.min(unsynced, Math.floor(options.tornBytes(name, unsynced))));
          image = current.subarray(0, image.length + kept);
        }
      }
      if (image === null) continue;
      const copy = new MemoryFileState();
      copy.ensureCapacity(image.length);
      copy.writeAt(image, 0);
      copy.writtenLength = image.length;
      copy.markSynced();
      after.#files.set(name, copy);
    }
    return after;
  }

  /** @internal */ takeFault(op: 'write' | 'sync'): Error | undefined {
    const index = this.#faults.findIndex((fault) => fault.op === op);
    if (index < 0) return undefined;
    const fault = this.#faults[index]!;
    if (fault.remaining > 0) {
      fault.remaining--;
      return undefined;
    }
    this.#faults.splice(index, 1);
    return fault.error;
  }

  /** @internal */ countSync(): void {
    this.#syncCount++;
  }
}

class MemoryFile implements StorageFile {
  readonly name: string;
  readonly #storage: MemoryStorage;
  readonly #state: MemoryFileState;
  readonly #dsync: boolean;
  #closed = false;

  constructor(storage: MemoryStorage, name: string, state: MemoryFileState, dsync: boolean) {
    this.#storage = storage;
    this.name = name;
    this.#state = state;
    this.#dsync = dsync;
  }

  #assertOpen(): void {
    if (this.#closed) throw new InvalidStateError(`${this.name} is closed`);
  }

  size(): number {
    return this.#state.writtenLength;
  }

  read(target: Buffer, targetOffset: number, length: number, position: number): number {
    this.#assertOpen();
    const end = Math.min(this.#state.writtenLength, position + length);
    if (end <= position) return 0;
    return this.#state.readInto(target, targetOffset, position, end);
  }

  write(data: Uint8Array, position: number): void {
    this.#assertOpen();
    const fault = this.#storage.takeFault('write');
    if (fault) throw fault;
    const state = this.#state;
    const end = position + data.length;
    state.ensureCapacity(end);
    state.preserveSyncedFrom(position);
    if (position > state.writtenLength) state.fillZero(state.writtenLength, position);
    state.writeAt(data, position);
    state.writtenLength = Math.max(state.writtenLength, end);
    this.#storage.onOperation?.({ kind: 'write', file: this.name, position, length: data.length });
    if (this.#dsync) this.#markSynced();
  }

  #markSynced(): void {
    this.#state.markSynced();
    this.#storage.countSync();
    this.#storage.onOperation?.({ kind: 'sync', file: this.name });
  }

  sync(): Promise<void> {
    try {
      this.syncNow();
      return Promise.resolve();
    } catch (error) {
      return Promise.reject(error);
    }
  }

  syncNow(): void {
    this.#assertOpen();
    const fault = this.#storage.takeFault('sync');
    if (fault) throw fault;
    this.#markSynced();
  }

  truncate(size: number): void {
    this.#assertOpen();
    const state = this.#state;
    state.preserveSyncedFrom(size);
    if (size < state.writtenLength) state.writtenLength = size;
    else {
      state.ensureCapacity(size);
      state.fillZero(state.writtenLength, size);
      state.writtenLength = size;
    }
    this.#storage.onOperation?.({ kind: 'truncate', file: this.name, size });
  }

  close(): void {
    this.#closed = true;
  }
}
