/**
 * H3 — crash states of the log (TESTPLAN P9/P10). A short scripted workload runs on a `MemoryStorage`
 * whose `onOperation` hook fires after every storage operation (write, sync, truncate, create, remove,
 * directory sync). At each one the hook builds the states a crash could leave right there: a power loss
 * keeping 0, 1, half, all-but-one or all of the unsynced bytes, and a process crash. The workload covers
 * log creation, group commits, segment switches (4 KiB segments), a truncate that removes segments, a
 * checkpoint with removal of old segments, an abort, a transaction left open, and close.
 *
 * Every state is recovered — and a crash *during that recovery* is explored too — and checked: it opens
 * (a torn tail is cut), it is a gap-free prefix of the history, every commit acknowledged as flushed
 * before that point is there (written, for a process crash), and nothing a returned truncate rolled back
 * comes back.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { type LogStorage, openLog } from '../../src/index.js';
import { MemoryStorage, type StorageOperation, VirtualClock } from '../../src/testing/index.js';
import {
  checkRecovered,
  drain,
  type Expectation,
  imageHash,
  type OpenTxn,
  prng,
  type RecoveredImage,
  recoverImage,
  SyncLieStorage,
  type TornStrategy,
  tornBytes,
  Workload,
} from './crash-model.js';

const SEGMENT_BYTES = 4096;
const TORN: readonly TornStrategy[] = ['none', 'one', 'half', 'all-but-one', 'all'];

type Durability = 'none' | 'write' | 'fsync' | 'dsync' | 'delayed:10';

interface CrashState {
  readonly image: MemoryStorage;
  readonly expectation: Expectation;
  readonly kind: 'power' | 'process';
}

interface Exploration {
  readonly violations: string[];
  readonly operations: number;
  readonly operationKinds: ReadonlySet<string>;
  readonly states: number;
  readonly distinct: number;
  readonly nestedStates: number;
  readonly removedByTruncate: number;
  readonly removedByCheckpoint: number;
}

function crashStates(storage: MemoryStorage, expectation: Expectation): CrashState[] {
  const states: CrashState[] = TORN.map((strategy) => ({
    image: storage.crash({
      kind: 'power',
      tornBytes: tornBytes(strategy, storage, expectation.model, prng(0)),
    }),
    expectation: { ...expectation, label: `${expectation.label} torn=${strategy}` },
    kind: 'power' as const,
  }));
  states.push({ image: storage.crash({ kind: 'process' }), expectation, kind: 'process' });
  return states;
}

/** The scripted workload; returns how many segments the truncate and the checkpoint removed. */
async function script(
  workload: Workload,
  clock: VirtualClock,
  storage: MemoryStorage,
): Promise<{ truncate: number; checkpoint: number }> {
  const log = workload.log;
  const tick = async () => {
    for (let ms = 0; ms < 6; ms++) {
      clock.advance(1);
      await drain();
    }
  };
  const txn = async (records: number, size = 480) => {
    const open = workload.begin();
    for (let index = 0; index < records; index++) workload.append(open, size);
    await workload.commit(open);
    await tick();
  };

  // Sequential commits, then a group: three transactions interleaved and committed together.
  for (let index = 0; index < 8; index++) await txn(1 + (index % 3));
  const group: OpenTxn[] = [workload.begin(), workload.begin(), workload.begin()];
  for (const open of [...group, group[0]!, group[2]!]) workload.append(open, 300);
  await Promise.all(group.map((open) => workload.commit(open)));
  await tick();
  expect(log.stats().segments).toBeGreaterThanOrEqual(3);

  // Roll back to a commit that ended before the current segment began: the truncate removes segments.
  await workload.flush();
  const segmentsBefore = log.stats().segments;
  // Segment file names are their first LSN in hex: the largest is where the current segment starts.
  const currentFirst = Math.max(...storage.list().map((name) => Number.parseInt(name.slice(0, 16), 16)));
  const target = workload.commits
    .filter((commit) => commit.status === 'acked' && commit.end <= currentFirst)
    .map((commit) => commit.end)
    .at(-2)!;
  await workload.truncate(target);
  const removedByTruncate = segmentsBefore - log.stats().segments;
  await tick();

  // More commits across a segment switch, then a checkpoint that lets old segments go.
  for (let index = 0; index < 4; index++) await txn(2);
  const checkpointLsn = await workload.checkpoint();
  const removed = log.removeSegmentsBefore(checkpointLsn).removed.length;
  await tick();

  // An abort, one more commit, a transaction left open, and a clean close.
  const aborted = workload.begin();
  workload.append(aborted, 200);
  workload.abort(aborted);
  await txn(1, 900);
  const left = workload.begin();
  workload.append(left, 100);
  await tick();
  await workload.settle();
  await log.close();
  return { truncate: removedByTruncate, checkpoint: removed };
}

async function explore(
  durability: Durability,
  wrap?: (storage: MemoryStorage) => LogStorage,
): Promise<Exploration> {
  const storage = new MemoryStorage(`crash-states-${durability}`);
  const clock = new VirtualClock();
  const maxDelayMs = durability === 'delayed:10' ? 10 : undefined;
  const states: CrashState[] = [];
  let operations = 0;
  const operationKinds = new Set<string>();
  let workload: Workload | undefined;
  const beforeOpen: Expectation = {
    label: 'open',
    model: [],
    modelStart: 1,
    requiredPower: 0,
    requiredProcess: 0,
    maxFirstLsn: 1,
    rolledBack: new Set(),
    now: 0,
    acked: [],
  };
  storage.onOperation = (operation: StorageOperation) => {
    operations++;
    operationKinds.add(operation.kind);
    const label = `${durability} op ${operations} ${operation.kind}${'file' in operation ? ` ${operation.file}` : ''}`;
    const expectation = workload ? workload.expectation(label) : { ...beforeOpen, label };
    states.push(...crashStates(storage, expectation));
  };
  const log = await openLog(wrap ? wrap(storage) : storage, {
    durability,
    segmentBytes: SEGMENT_BYTES,
    clock,
  });
  workload = new Workload(log, { tag: durability, rng: prng(1), clock, maxDelayMs });
  const removed = await script(workload, clock, storage);
  storage.onOperation = undefined;

  // Recover every distinct image once; a crash during that recovery is explored the same way.
  const violations = [...workload.violations];
  const cache = new Map<string, RecoveredImage>();
  let nestedStates = 0;
  const recover = async (image: MemoryStorage, nested: CrashState[] | undefined) => {
    const key = imageHash(image);
    let recovered = cache.get(key);
    if (recovered === undefined) {
      const collected: CrashState[] = [];
      if (nested !== undefined) {
        image.onOperation = () => collected.push(...crashStates(image, beforeOpen));
      }
      recovered = await recoverImage(image, {
        durability,
        segmentBytes: SEGMENT_BYTES,
        afterOpen: () => {
          image.onOperation = undefined;
        },
      });
      cache.set(key, recovered);
      nested?.push(...collected);
    }
    return recovered;
  };
  for (const state of states) {
    const during: CrashState[] = [];
    const recovered = await recover(state.image, during);
    violations.push(...checkRecovered(recovered, state.expectation, state.kind));
    for (const inner of during) {
      nestedStates++;
      const again = await recover(inner.image, undefined);
      // A crash in the middle of recovery may lose nothing the first crash had to keep.
      violations.push(
        ...checkRecovered(
          again,
          { ...state.expectation, label: `${state.expectation.label} + crash in recovery (${inner.kind})` },
          state.kind,
        ),
      );
    }
  }
  return {
    violations,
    operations,
    operationKinds,
    states: states.length,
    distinct: cache.size,
    nestedStates,
    removedByTruncate: removed.truncate,
    removedByCheckpoint: removed.checkpoint,
  };
}

const totals = { operations: 0, states: 0, nested: 0, distinct: 0 };
afterAll(() => {
  if (totals.states > 0) {
    console.log(
      `crash states explored: ${totals.states + totals.nested} (${totals.states} at ${totals.operations} storage operations, ` +
        `${totals.nested} during recovery; ${totals.distinct} distinct images recovered)`,
    );
  }
});

describe('H3: every crash state of a short workload recovers correctly', () => {
  for (const durability of ['fsync', 'dsync', 'write', 'none', 'delayed:10'] as const) {
    it(`${durability}`, async () => {
      const result = await explore(durability);
      totals.operations += result.operations;
      totals.states += result.states;
      totals.nested += result.nestedStates;
      totals.distinct += result.distinct;
      expect(result.violations.slice(0, 10)).toEqual([]);
      expect(result.removedByTruncate, 'the truncate removed no segment').toBeGreaterThan(0);
      expect(result.removedByCheckpoint, 'the checkpoint let no segment go').toBeGreaterThan(0);
      expect(result.operations).toBeGreaterThan(30);
      // Crash points after every kind of operation the log does (rename belongs to snapshots, not here).
      expect([...result.operationKinds].sort()).toEqual([
        'create',
        'remove',
        'sync',
        'sync-directory',
        'truncate',
        'write',
      ]);
      expect(result.states).toBe(result.operations * 6);
      // The floor: a workload that stopped reaching the interesting operations would explore far fewer.
      expect(result.states + result.nestedStates).toBeGreaterThan(600);
    });
  }

  it('must-fail control: a storage whose sync() does not sync is caught', async () => {
    for (const durability of ['fsync', 'dsync'] as const) {
      const result = await explore(durability, (storage) => new SyncLieStorage(storage, 'sync'));
      expect(result.violations.length, `${durability}: the checker missed the lying sync`).toBeGreaterThan(0);
      expect(result.violations.some((violation) => violation.includes('lost acknowledged data'))).toBe(true);
    }
  });

  it('must-fail control: a storage whose truncate does not cut is caught', async () => {
    const result = await explore('fsync', (storage) => new SyncLieStorage(storage, 'truncate'));
    expect(result.violations.length, 'the checker missed the truncate that did not cut').toBeGreaterThan(0);
    expect(result.violations.some((violation) => violation.includes('reappeared'))).toBe(true);
  });
});
