/**
 * The data-directory lock: a `LOCK` file created with O_EXCL holding the owner's pid.
 *
 * Why not proper-lockfile: it judges staleness by mtime, so after a kill -9 a restarted site would
 * wait out the stale period (seconds) before it could reopen its own log. Here a lock whose pid is no
 * longer alive on this host is stale at once; a live pid — including our own, for a second open in
 * this process — holds it.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LogLockedError } from '../errors.js';
import type { StorageLock } from './storage.js';

export const LOCK_FILE_NAME = 'LOCK';
/** One stale lock removed and retried; a second failure means another process won the race. */
const MAX_LOCK_ATTEMPTS = 2;

interface LockContent {
  pid: number;
  hostname: string;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readHolder(lockPath: string): LockContent | undefined {
  try {
    const parsed = JSON.parse(fs.readFileSync(lockPath, 'utf8')) as Partial<LockContent>;
    if (typeof parsed.pid === 'number' && typeof parsed.hostname === 'string') {
      return { pid: parsed.pid, hostname: parsed.hostname };
    }
  } catch {
    // Unreadable or half-written: treated as held, so we never steal a lock being written right now.
  }
  return undefined;
}

export function lockDirectory(dir: string): StorageLock {
  const lockPath = path.join(dir, LOCK_FILE_NAME);
  const content = JSON.stringify({ pid: process.pid, hostname: os.hostname() } satisfies LockContent);
  for (let attempt = 1; attempt <= MAX_LOCK_ATTEMPTS; attempt++) {
    try {
      const fd = fs.openSync(lockPath, 'wx');
      try {
        fs.writeSync(fd, content);
        fs.fsyncSync(fd);
      } finally {
        fs.closeSync(fd);
      }
      let released = false;
      return {
        release() {
          if (released) return;
          released = true;
          fs.rmSync(lockPath, { force: true });
        },
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const holder = readHolder(lockPath);
      const stale = holder !== undefined && holder.hostname === os.hostname() && !isAlive(holder.pid);
      if (!stale || attempt === MAX_LOCK_ATTEMPTS) throw new LogLockedError(dir, holder?.pid);
      fs.rmSync(lockPath, { force: true });
    }
  }
  throw new LogLockedError(dir, undefined);
}
