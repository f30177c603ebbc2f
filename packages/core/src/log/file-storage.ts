/** `LogStorage` on real files, with fdatasync. */
import fs from 'node:fs';
import path from 'node:path';
import { lockDirectory } from './dir-lock.js';
import type { LogStorage, StorageFile, StorageLock } from './storage.js';

/**
 * How `sync()` reaches fdatasync:
 * - `blocking`: on the main thread. Measured here: a threadpool round trip adds ~50 µs to a ~95 µs
 *   fdatasync, a third of the throughput of a single committer. The event loop waits for the disk,
 *   once per group of commits.
 * - `threadpool`: libuv's pool, so timers and sockets go on during the flush; better on slow disks.
 */
export type SyncIo = 'blocking' | 'threadpool';

export class FileStorage implements LogStorage {
  readonly location: string;
  readonly #syncIo: SyncIo;

  constructor(dir: string, options: { syncIo?: SyncIo } = {}) {
    this.location = path.resolve(dir);
    this.#syncIo = options.syncIo ?? 'blocking';
    fs.mkdirSync(this.location, { recursive: true });
  }

  lock(): StorageLock {
    return lockDirectory(this.location);
  }

  list(): string[] {
    return fs.readdirSync(this.location);
  }

  open(name: string, options: { create: boolean; dsync: boolean }): StorageFile {
    let flags = options.create ? fs.constants.O_RDWR | fs.constants.O_CREAT : fs.constants.O_RDWR;
    if (options.dsync) flags |= fs.constants.O_DSYNC;
    const fd = fs.openSync(path.join(this.location, name), flags, 0o644);
    return new RealFile(name, fd, this.#syncIo);
  }

  remove(name: string): void {
    fs.rmSync(path.join(this.location, name), { force: true });
  }

  rename(from: string, to: string): void {
    fs.renameSync(path.join(this.location, from), path.join(this.location, to));
  }

  syncDirectory(): void {
    const fd = fs.openSync(this.location, 'r');
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  }
}

class RealFile implements StorageFile {
  readonly name: string;
  readonly #fd: number;
  readonly #syncIo: SyncIo;

  constructor(name: string, fd: number, syncIo: SyncIo) {
    this.name = name;
    this.#fd = fd;
    this.#syncIo = syncIo;
  }

  size(): number {
    return fs.fstatSync(this.#fd).size;
  }

  read(target: Buffer, targetOffset: number, length: number, position: number): number {
    return fs.readSync(this.#fd, target, targetOffset, length, position);
  }

  write(data: Uint8Array, position: number): void {
    let written = 0;
    // writeSync may write less than asked (a full disk on the way, signals): loop until done or it throws.
    while (written < data.length) {
      written += fs.writeSync(this.#fd, data, written, data.length - written, position + written);
    }
  }

  sync(): Promise<void> {
    if (this.#syncIo === 'blocking') {
      try {
        fs.fdatasyncSync(this.#fd);
        return Promise.resolve();
      } catch (error) {
        return Promise.reject(error);
      }
    }
    return new Promise((resolve, reject) => {
      fs.fdatasync(this.#fd, (error) => (error ? reject(error) : resolve()));
    });
  }

  syncNow(): void {
    fs.fdatasyncSync(this.#fd);
  }

  truncate(size: number): void {
    fs.ftruncateSync(this.#fd, size);
  }

  close(): void {
    fs.closeSync(this.#fd);
  }
}
