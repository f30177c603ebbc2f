/**
 * The manager's bookkeeping of waiting commits: the LSN-ordered queue an ack settles from the front, and
 * the ack timeouts behind one timer. Both are driven by callbacks that re-enter them (a settled commit
 * leaves its queue from inside the pass that settles it), so those cases are tested here directly.
 */
import { describe, expect, it } from 'vitest';
import { AckDeadlines, WaitingCommits } from '../../src/manager/waiting-commits.js';
import { VirtualClock } from '../../src/testing/index.js';

interface Entry {
  readonly lsn: number;
  readonly deadline: number;
  done: boolean;
}

const entry = (lsn: number, deadline = 0): Entry => ({ lsn, deadline, done: false });

describe('WaitingCommits', () => {
  it('settles from the lowest LSN up to the first that is not satisfied', () => {
    const queue = new WaitingCommits<Entry>();
    for (const lsn of [10, 20, 30, 40]) queue.add(entry(lsn));
    const settled: number[] = [];
    queue.settleFront(
      100,
      (lsn) => lsn <= 25,
      (item) => {
        item.done = true;
        settled.push(item.lsn);
      },
    );
    expect(settled).toEqual([10, 20]);
    expect(queue.length).toBe(2);
  });

  it('never settles past upToLsn, and keeps LSN order when commits arrive out of order', () => {
    const queue = new WaitingCommits<Entry>();
    for (const lsn of [30, 10, 20, 40]) queue.add(entry(lsn));
    const settled: number[] = [];
    queue.settleFront(
      30,
      () => true,
      (item) => {
        item.done = true;
        settled.push(item.lsn);
      },
    );
    expect(settled).toEqual([10, 20, 30]);
  });

  it('skips entries settled another way, and drops them once they reach the front', () => {
    const queue = new WaitingCommits<Entry>();
    const entries = [10, 20, 30].map((lsn) => entry(lsn));
    for (const item of entries) queue.add(item);
    entries[0]!.done = true;
    entries[1]!.done = true;
    queue.dropDone();
    expect(queue.length).toBe(1);
    const settled: number[] = [];
    queue.settleFront(
      30,
      () => true,
      (item) => settled.push(item.lsn),
    );
    expect(settled).toEqual([30]);
    expect(queue.length).toBe(0);
  });

  it('tolerates settle callbacks that drop entries and add new ones (re-entry)', () => {
    const queue = new WaitingCommits<Entry>();
    for (let lsn = 1; lsn <= 3000; lsn++) queue.add(entry(lsn));
    const settled: number[] = [];
    queue.settleFront(
      2500,
      () => true,
      (item) => {
        item.done = true;
        settled.push(item.lsn);
        queue.dropDone();
        if (item.lsn === 100) queue.add(entry(5000));
      },
    );
    expect(settled).toHaveLength(2500);
    expect(settled.every((lsn, index) => lsn === index + 1)).toBe(true);
    expect(queue.length).toBe(501);
    const rest: number[] = [];
    queue.settleFront(
      Number.POSITIVE_INFINITY,
      () => true,
      (item) => rest.push(item.lsn),
    );
    expect(rest[0]).toBe(2501);
    expect(rest.at(-1)).toBe(5000);
  });
});

describe('AckDeadlines', () => {
  it('expires entries at their deadlines, in deadline order, behind one timer', () => {
    const clock = new VirtualClock();
    const expired: number[] = [];
    const deadlines = new AckDeadlines<Entry>(clock, (item) => {
      item.done = true;
      expired.push(item.lsn);
      deadlines.settled();
    });
    deadlines.add(entry(1, 100));
    deadlines.add(entry(2, 300));
    deadlines.add(entry(3, 200));
    expect(clock.pendingTimers).toBe(1);
    clock.advance(99);
    expect(expired).toEqual([]);
    clock.advance(1);
    expect(expired).toEqual([1]);
    clock.advance(200);
    expect(expired).toEqual([1, 3, 2]);
    expect(clock.pendingTimers).toBe(0);
  });

  it('re-arms for an earlier deadline added later', () => {
    const clock = new VirtualClock();
    const expired: number[] = [];
    const deadlines = new AckDeadlines<Entry>(clock, (item) => {
      item.done = true;
      expired.push(item.lsn);
      deadlines.settled();
    });
    deadlines.add(entry(1, 500));
    deadlines.add(entry(2, 50));
    clock.advance(50);
    expect(expired).toEqual([2]);
    clock.advance(450);
    expect(expired).toEqual([2, 1]);
  });

  it('never expires a settled entry, and holds no timer once nothing waits', () => {
    const clock = new VirtualClock();
    const expired: number[] = [];
    const deadlines = new AckDeadlines<Entry>(clock, (item) => expired.push(item.lsn));
    const first = entry(1, 100);
    const second = entry(2, 200);
    deadlines.add(first);
    deadlines.add(second);
    first.done = true;
    deadlines.settled();
    expect(clock.pendingTimers).toBe(1);
    second.done = true;
    deadlines.settled();
    expect(clock.pendingTimers).toBe(0);
    clock.advance(1000);
    expect(expired).toEqual([]);
  });

  it('stays bounded when early entries settle and a long one waits', () => {
    const clock = new VirtualClock();
    const expired: number[] = [];
    const deadlines = new AckDeadlines<Entry>(clock, (item) => {
      item.done = true;
      expired.push(item.lsn);
      deadlines.settled();
    });
    const long = entry(0, 1_000_000);
    deadlines.add(long);
    for (let lsn = 1; lsn <= 100_000; lsn++) {
      const item = entry(lsn, 2_000_000);
      deadlines.add(item);
      item.done = true;
      deadlines.settled();
    }
    clock.advance(1_000_000);
    expect(expired).toEqual([0]);
    expect(clock.pendingTimers).toBe(0);
  });
});
