/**
 * `delayed` promises every commit durable within maxDelayMs. Committers that never yield to the event
 * loop would starve a timer; the log must enforce the bound on the commit path too.
 */
import { describe, expect, it } from 'vitest';
import { type Clock, MemoryStorage, openLog } from '../../src/index.js';

/** A clock whose timers never fire (a starved event loop) and whose time the test moves by hand. */
class StarvedClock implements Clock {
  time = 0;
  now(): number {
    return this.time;
  }
  setTimeout(): object {
    return {};
  }
  clearTimeout(): void {}
}

describe('delayed durability bound', () => {
  it('flushes from the commit path when the timer cannot fire', async () => {
    const clock = new StarvedClock();
    const storage = new MemoryStorage('delayed');
    const log = await openLog(storage, { durability: 'delayed:20', clock });
    const syncsBefore = storage.syncCount;
    const unsynced: { lsn: number; at: number }[] = [];
    for (let index = 0; index < 200; index++) {
      const txn = log.begin();
      txn.append(Buffer.from(`record ${index}`));
      const { lsn } = await txn.commit();
      unsynced.push({ lsn, at: clock.time });
      clock.time += 1; // one millisecond per commit, and no timer ever runs
      while (unsynced.length > 0 && unsynced[0]!.lsn < log.durableLsn) unsynced.shift();
      // No commit made more than maxDelayMs ago is still unsynced.
      if (unsynced.length > 0) expect(clock.time - unsynced[0]!.at).toBeLessThanOrEqual(20);
    }
    expect(storage.syncCount - syncsBefore).toBeGreaterThanOrEqual(200 / 20);
    await log.close();
  });
});
