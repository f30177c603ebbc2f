import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LogFormatError, LogLockedError, openLog } from '../../src/index.js';
import { MemoryStorage } from '../../src/testing/index.js';
import { commitTexts, dataTexts, tempDirs } from './unit-helpers.js';

const dirs = tempDirs();
afterEach(() => dirs.cleanup());

/** Writes LOCK as dir-lock.ts does: JSON with the holder's pid and hostname. */
function writeLock(dir: string, pid: number, hostname = os.hostname()): void {
  fs.writeFileSync(path.join(dir, 'LOCK'), JSON.stringify({ pid, hostname }));
}

describe('data-directory lock', () => {
  it('a second open of the same directory in this process is LogLockedError naming it', async () => {
    const dir = dirs.make();
    const log = await openLog(dir);
    const error = await openLog(dir).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LogLockedError);
    expect(error).toMatchObject({
      dir: path.resolve(dir),
      holderPid: process.pid,
      code: 'ERR_ACKORD_LOG_LOCKED',
    });
    expect((error as Error).message).toContain(path.resolve(dir));
    // Also through a relative path to the same place.
    const relative = path.relative(process.cwd(), dir);
    await expect(openLog(relative)).rejects.toBeInstanceOf(LogLockedError);
    // The failed opens left the holder working.
    await commitTexts(log, ['still mine']);
    await log.close();
    expect(fs.existsSync(path.join(dir, 'LOCK'))).toBe(false);

    const again = await openLog(dir);
    expect(await dataTexts(again)).toEqual(['still mine']);
    await again.close();
  });

  it('takes over a stale LOCK whose pid is dead', async () => {
    const dir = dirs.make();
    const dead = spawnSync(process.execPath, ['-e', '']).pid;
    expect(dead).toBeGreaterThan(0);
    writeLock(dir, dead!);
    const log = await openLog(dir);
    const content = JSON.parse(fs.readFileSync(path.join(dir, 'LOCK'), 'utf8'));
    expect(content).toEqual({ pid: process.pid, hostname: os.hostname() });
    await log.close();
    expect(fs.existsSync(path.join(dir, 'LOCK'))).toBe(false);
  });

  it('a LOCK held by another live process is LogLockedError with its pid', async () => {
    const dir = dirs.make();
    const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
    try {
      await new Promise<void>((resolve, reject) => {
        child.once('spawn', resolve);
        child.once('error', reject);
      });
      writeLock(dir, child.pid!);
      const error = await openLog(dir).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(LogLockedError);
      expect(error).toMatchObject({ dir: path.resolve(dir), holderPid: child.pid });
      expect((error as Error).message).toContain(`pid ${child.pid}`);
      // The other holder's LOCK is left alone.
      expect(JSON.parse(fs.readFileSync(path.join(dir, 'LOCK'), 'utf8')).pid).toBe(child.pid);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('does not judge a LOCK from another host, or an unreadable one, stale', async () => {
    const dir = dirs.make();
    const dead = spawnSync(process.execPath, ['-e', '']).pid!;
    writeLock(dir, dead, `${os.hostname()}-elsewhere`);
    await expect(openLog(dir)).rejects.toBeInstanceOf(LogLockedError);
    fs.writeFileSync(path.join(dir, 'LOCK'), '{"pid": 12');
    const error = await openLog(dir).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LogLockedError);
    expect((error as LogLockedError).holderPid).toBeUndefined();
  });

  it('a failed open releases the lock', async () => {
    const dir = dirs.make();
    const log = await openLog(dir, { clusterId: 'one' });
    await log.close();
    await expect(openLog(dir, { clusterId: 'two' })).rejects.toBeInstanceOf(LogFormatError);
    expect(fs.existsSync(path.join(dir, 'LOCK'))).toBe(false);
    const again = await openLog(dir, { clusterId: 'one' });
    await again.close();
  });

  it('MemoryStorage locks too: one open log per storage', async () => {
    const storage = new MemoryStorage();
    const log = await openLog(storage);
    await expect(openLog(storage)).rejects.toBeInstanceOf(LogLockedError);
    await log.close();
    const again = await openLog(storage);
    await again.close();
  });
});
