/**
 * The boundary between the log's logic and the file system. `FileStorage` is the real one;
 * `MemoryStorage` models what a crash leaves (unsynced bytes lost, a torn last write) and carries the
 * simulator.
 *
 * Everything but `sync` is synchronous: appends and reads hit the page cache and cost microseconds, and
 * keeping them synchronous lets a whole group of commits encode, write and sync in one turn of the
 * event loop. `sync` returns a promise so an implementation may run it off the main thread.
 */
export interface LogStorage {
  /** Where the data lives, for error messages (the directory path, or "memory:NAME"). */
  readonly location: string;
  /** Takes the data-directory lock; throws `LogLockedError` when another holder has it. */
  lock(): StorageLock;
  /** File names in the directory (not only segments). */
  list(): string[];
  open(name: string, options: { readonly create: boolean; readonly dsync: boolean }): StorageFile;
  remove(name: string): void;
  /** Atomically replaces `to` by `from` (rename(2)); durable after `syncDirectory`. */
  rename(from: string, to: string): void;
  /** Makes creations and removals of files durable (fsync of the directory). */
  syncDirectory(): void;
}

export interface StorageLock {
  release(): void;
}

export interface StorageFile {
  readonly name: string;
  size(): number;
  /** Reads up to `length` bytes at `position` into `target` at `targetOffset`; returns bytes read. */
  read(target: Buffer, targetOffset: number, length: number, position: number): number;
  /** Writes all of `data` at `position`. Throws on any error (the log then fails stop). */
  write(data: Uint8Array, position: number): void;
  /** fdatasync: resolves once every byte written so far is durable. */
  sync(): Promise<void>;
  /** fdatasync on the calling thread; used where ordering needs it at once (segment switch). */
  syncNow(): void;
  truncate(size: number): void;
  close(): void;
}
