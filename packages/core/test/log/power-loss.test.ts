/**
 * Power loss on `MemoryStorage` (TESTPLAN P9/P10): a random workload of concurrent transactions, with
 * crash images taken at many points — power losses that keep a torn prefix of the unsynced bytes (random
 * sizes and adversarial ones: 0, 1, half, all-but-one, all, record boundaries ±1) and process crashes.
 * Each image is recovered and judged:
 *
 * - recovery opens, and yields a gap-free prefix of the history (so any loss is a suffix, never a gap);
 * - `fsync` / `dsync`: nothing whose commit returned is lost;
 * - `delayed`: nothing acknowledged more than maxDelayMs (virtual time) before the crash is lost;
 * - every mode: nothing below the log's own `durableLsn` is lost, and nothing below `writtenLsn` after a
 *   process crash;
 * - the recovered log takes appends.
 *
 * Each run chains several lives: a crash image becomes the next life's storage (restart after crash).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { type CommitSync, type LogStorage, openLog } from '../../src/index.js';
import { MemoryStorage, VirtualClock } from '../../src/testing/index.js';
import {
  baseSeed,
  checkRecovered,
  drain,
  type Expectation,
  lossWindow,
  type ModelRecord,
  type OpenTxn,
  prng,
  readAll,
  recoverImage,
  SyncLieStorage,
  type TornStrategy,
  tornBytes,
  Workload,
  withSeed,
} from './crash-model.js';

const SEGMENT_BYTES = 8192;
const SEED = baseSeed();
const STRATEGIES: readonly TornStrategy[] = [
  'none',
  'one',
  'half',
  'all-but-one',
  'all',
  'random',
  'boundary',
];

interface ModeCase {
  readonly durability: 'none' | 'write' | 'fsync' | 'dsync' | `delayed:${number}`;
  readonly maxDelayMs?: number;
}

const MODES: readonly ModeCase[] = [
  { durability: 'none' },
  { durability: 'write' },
  { durability: 'fsync' },
  { durability: 'dsync' },
  { durability: 'delayed:20', maxDelayMs: 20 },
];

interface CampaignResult {
  readonly violations: string[];
  readonly images: number;
  readonly ackedCommits: number;
  /** Virtual ms: the oldest acknowledged commit a power loss took. */
  readonly lossWindowMs: number;
}

interface CampaignOptions extends ModeCase {
  readonly seed: number;
  readonly lives: number;
  readonly steps: number;
  /** Builds the storage the log runs on (a deliberately broken one for the must-fail control). */
  readonly wrap?: (storage: MemoryStorage) => LogStorage;
}

async function runCampaign(options: CampaignOptions): Promise<CampaignResult> {
  const { durability, maxDelayMs, seed, lives, steps } = options;
  const rng = prng(seed);
  const violations: string[] = [];
  let images = 0;
  let ackedCommits = 0;
  let window = 0;
  let storage = new MemoryStorage('power');
  let carried: { expectation: Expectation; kind: 'power' | 'process' } | undefined;
  let initial: ModelRecord[] = [];

  const judge = async (image: MemoryStorage, expectation: Expectation, kind: 'power' | 'process') => {
    images++;
    const recovered = await recoverImage(image, { durability, segmentBytes: SEGMENT_BYTES });
    violations.push(...checkRecovered(recovered, expectation, kind));
    if (kind === 'power') window = Math.max(window, lossWindow(recovered, expectation));
  };

  for (let life = 0; life < lives; life++) {
    const clock = new VirtualClock();
    const log = await openLog(options.wrap ? options.wrap(storage) : storage, {
      durability,
      segmentBytes: SEGMENT_BYTES,
      clock,
    });
    if (carried !== undefined) {
      // This open was the recovery of the previous life's final crash: judge it like any image.
      const records = await readAll(log);
      const recovered = {
        records,
        firstLsn: log.firstLsn,
        nextLsn: log.nextLsn,
        incompleteTxnIds: log.recovery.incompleteTxnIds,
      };
      violations.push(...checkRecovered(recovered, carried.expectation, carried.kind));
      initial = records;
    }
    const workload = new Workload(log, {
      tag: `s${seed}.l${life}`,
      rng,
      clock,
      maxDelayMs,
      initial,
      maxPayload: 600,
    });
    const open: OpenTxn[] = [];
    const takeOut = (): OpenTxn => open.splice(rng.int(0, open.length - 1), 1)[0]!;
    let crashes = 0;

    const crashPoint = async () => {
      for (let yields = rng.int(0, 3); yields > 0; yields--) await Promise.resolve();
      const label = `life ${life} crash ${crashes++}`;
      // Both images and the expectation are taken at the same instant (no await in between).
      const expectation = workload.expectation(label);
      const power = [rng.pick(STRATEGIES), rng.pick(STRATEGIES), 'boundary' as const].map((strategy) => ({
        strategy,
        image: storage.crash({
          kind: 'power',
          tornBytes: tornBytes(strategy, storage, expectation.model, rng),
        }),
      }));
      const processImage = storage.crash({ kind: 'process' });
      for (const { strategy, image } of power) {
        await judge(image, { ...expectation, label: `${label} torn=${strategy}` }, 'power');
      }
      await judge(processImage, expectation, 'process');
    };

    for (let step = 0; step < steps; step++) {
      const roll = rng.next();
      if (roll < 0.2) {
        if (open.length < 4) {
          const txn = workload.begin();
          workload.append(txn);
          open.push(txn);
        }
      } else if (roll < 0.38) {
        if (open.length > 0) workload.append(rng.pick(open));
      } else if (roll < 0.58) {
        if (open.length > 0) {
          const sync: CommitSync | undefined = rng.chance(0.1)
            ? rng.pick(['on', 'off', 'background'])
            : undefined;
          void workload.commit(takeOut(), sync);
        }
      } else if (roll < 0.6) {
        if (open.length > 0) workload.abort(takeOut());
      } else if (roll < 0.66) {
        for (let yields = rng.int(1, 3); yields > 0; yields--) await Promise.resolve();
      } else if (roll < 0.72) {
        await drain();
      } else if (roll < 0.8) {
        // Time passes in 1 ms ticks; the event loop runs between ticks, as it would in real time.
        for (let tick = rng.int(1, 25); tick > 0; tick--) {
          clock.advance(1);
          await drain();
        }
      } else if (roll < 0.82) {
        await workload.flush();
      } else if (roll < 0.84) {
        if (open.length === 0) {
          const candidates = workload.model.filter((record) => record.lsn >= log.firstLsn).slice(-12);
          if (candidates.length > 0) await workload.truncate(rng.pick(candidates).lsn);
        }
      } else if (roll < 0.86) {
        const lsn = await workload.checkpoint();
        log.removeSegmentsBefore(lsn);
      } else {
        await crashPoint();
      }
    }
    await crashPoint();
    violations.push(...workload.violations);
    ackedCommits += workload.commits.filter((commit) => commit.status === 'acked').length;

    // The final crash of this life is the next life's storage; the log here is abandoned, as a crash would.
    const kind = rng.chance(0.7) ? 'power' : 'process';
    const expectation = workload.expectation(`life ${life} final ${kind} crash`);
    storage =
      kind === 'power'
        ? storage.crash({ kind, tornBytes: tornBytes(rng.pick(STRATEGIES), storage, expectation.model, rng) })
        : storage.crash({ kind });
    carried = { expectation, kind };
  }
  return { violations, images, ackedCommits, lossWindowMs: window };
}

const summary: string[] = [];
afterAll(() => {
  if (summary.length > 0) console.log(`power-loss (seed ${SEED}):\n  ${summary.join('\n  ')}`);
});

describe('power loss and process crash at many points (MemoryStorage)', () => {
  MODES.forEach((mode, index) => {
    it(`${mode.durability}: recovery is a gap-free prefix holding everything the mode promised`, async () => {
      const seed = (SEED + index * 0x9e3779b9) >>> 0;
      await withSeed(`power-loss ${mode.durability}`, seed, async () => {
        const result = await runCampaign({ ...mode, seed, lives: 3, steps: 260 });
        expect(result.violations.slice(0, 10)).toEqual([]);
        expect(result.images).toBeGreaterThan(100);
        if (mode.durability !== 'none') expect(result.ackedCommits).toBeGreaterThan(20);
        if (mode.maxDelayMs !== undefined) expect(result.lossWindowMs).toBeLessThan(mode.maxDelayMs);
        summary.push(
          `${mode.durability}: ${result.images} crash images, ${result.ackedCommits} acked commits, ` +
            `max loss window ${result.lossWindowMs} virtual ms`,
        );
      });
    });
  });

  it('must-fail control: a storage whose sync() does not sync is caught losing acknowledged commits', async () => {
    const seed = (SEED ^ 0x5bd1e995) >>> 0;
    await withSeed('power-loss control', seed, async () => {
      for (const durability of ['fsync', 'dsync'] as const) {
        const result = await runCampaign({
          durability,
          seed,
          lives: 1,
          steps: 200,
          wrap: (storage) => new SyncLieStorage(storage),
        });
        expect(result.violations.length, `${durability}: the checker missed the lying sync`).toBeGreaterThan(
          0,
        );
        expect(result.violations.some((violation) => violation.includes('lost acknowledged data'))).toBe(
          true,
        );
      }
    });
  });
});
