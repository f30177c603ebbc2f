/**
 * The simulator inside the test suite: a handful of seeds, replay determinism, and a must-fail
 * control. CI also runs `pnpm sim --seeds 200` and both mutants through the CLI (see .ci/run).
 */
import { describe, expect, it } from 'vitest';
import { runSeed } from './run.js';

describe('deterministic simulator', () => {
  it('replays a seed exactly: the same trace hash twice', async () => {
    for (const seed of [3, 11]) {
      const first = await runSeed({ seed });
      const second = await runSeed({ seed });
      expect(second.traceHash).toBe(first.traceHash);
      expect(second.stats).toEqual(first.stats);
    }
  });

  it('different seeds draw different runs', async () => {
    const a = await runSeed({ seed: 101 });
    const b = await runSeed({ seed: 102 });
    expect(a.traceHash).not.toBe(b.traceHash);
  });

  it('finds no violation in a batch of seeds with faults, and the runs do real work', async () => {
    let commits = 0;
    let crashes = 0;
    let failovers = 0;
    for (let seed = 1000; seed < 1012; seed++) {
      const result = await runSeed({ seed });
      expect(result.violations, `replay: pnpm sim --seed ${seed}`).toEqual([]);
      commits += result.stats.commits;
      crashes += result.stats.crashes;
      failovers += result.stats.failovers;
    }
    expect(commits).toBeGreaterThan(1000);
    expect(crashes).toBeGreaterThan(10);
    expect(failovers).toBeGreaterThan(12);
  }, 120_000);

  it('catches a build that acknowledges before flushing', async () => {
    let caught: string | undefined;
    for (let seed = 1; seed <= 50 && caught === undefined; seed++) {
      const result = await runSeed({ seed, mutant: 'ack-before-flush' });
      caught = result.violations[0]?.property;
    }
    expect(caught).toBe('P8');
  }, 120_000);

  it('with elections: no violation, masters are elected, and a replay is exact', async () => {
    let elections = 0;
    for (let seed = 2000; seed < 2008; seed++) {
      const result = await runSeed({ seed, elections: true });
      expect(result.violations, `replay: pnpm sim --seed ${seed} --elections`).toEqual([]);
      expect(result.stats.recoveryMs, `seed ${seed} recovered`).toBeDefined();
      elections += result.stats.elections;
    }
    expect(elections).toBeGreaterThan(8);
    const first = await runSeed({ seed: 2003, elections: true });
    const again = await runSeed({ seed: 2003, elections: true });
    expect(again.traceHash).toBe(first.traceHash);
  }, 120_000);

  it('catches a build that elects without comparing logs', async () => {
    let caught: string | undefined;
    for (let seed = 1; seed <= 60 && caught === undefined; seed++) {
      const result = await runSeed({ seed, mutant: 'elect-without-uptodate-check' });
      caught = result.violations[0]?.property;
    }
    expect(['P1', 'P6', 'P7']).toContain(caught);
  }, 120_000);
});
