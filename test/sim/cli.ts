/**
 * `pnpm sim --seeds N [--from S]`: runs N seeds, ends with `seeds=N violations=V` (exit 0 only when V is 0).
 * `pnpm sim --seed S`: replays one seed exactly and prints its transcript and trace hash.
 * `pnpm sim --mutant NAME --seeds N`: runs a deliberately broken build until a checker catches it; ends with
 *   `mutant=NAME detected-at-seed=K` and exit 0, or exit 1 when no seed caught it.
 * `pnpm sim --determinism --seeds N`: runs each seed twice and checks the trace hashes match.
 * `--elections`: the group elects its masters (groups of 1–7, random priorities, skewed and jumping
 *   clocks, transfers); the summary adds the P14 recovery time (heal → first acknowledged commit).
 *   The `elect-without-uptodate-check` mutant always runs with elections.
 */
import { parseArgs } from 'node:util';
import { MUTANTS, type MutantName, runSeed } from './run.js';

const { values } = parseArgs({
  options: {
    seeds: { type: 'string' },
    seed: { type: 'string' },
    from: { type: 'string', default: '1' },
    mutant: { type: 'string' },
    determinism: { type: 'boolean', default: false },
    elections: { type: 'boolean', default: false },
    quiet: { type: 'boolean', default: false },
  },
});

function integer(text: string | undefined, name: string): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < 0) {
    console.error(`--${name} must be a non-negative integer, got ${JSON.stringify(text)}`);
    process.exit(2);
  }
  return value;
}

const single = integer(values.seed, 'seed');
const count = integer(values.seeds, 'seeds');
const from = integer(values.from, 'from') ?? 1;

if (values.mutant !== undefined && !MUTANTS.includes(values.mutant as MutantName)) {
  console.error(`unknown mutant ${values.mutant}; known: ${MUTANTS.join(', ')}`);
  process.exit(2);
}
const mutant = values.mutant as MutantName | undefined;
const elections = values.elections;

if (single !== undefined) {
  const result = await runSeed({
    seed: single,
    keepTranscript: true,
    elections,
    ...(mutant ? { mutant } : {}),
  });
  for (const line of result.transcript) console.log(line);
  console.log(
    `seed=${single} trace=${result.traceHash} violations=${result.violations.length} ${JSON.stringify(result.stats)}`,
  );
  process.exit(result.violations.length === 0 ? 0 : 1);
}

const seeds = count ?? 100;
if (mutant !== undefined) {
  for (let seed = from; seed < from + seeds; seed++) {
    const result = await runSeed({ seed, mutant, elections });
    if (result.violations.length > 0) {
      console.log(`caught by ${result.violations[0]!.property}: ${result.violations[0]!.message}`);
      console.log(`mutant=${mutant} detected-at-seed=${seed}`);
      process.exit(0);
    }
  }
  console.log(`mutant=${mutant} detected-at-seed=none (after ${seeds} seeds)`);
  process.exit(1);
}

let violations = 0;
const started = Date.now();
const recoveries: number[] = [];
const failovers: number[] = [];
const cleanFailovers: number[] = [];
let electionCount = 0;
for (let seed = from; seed < from + seeds; seed++) {
  const result = await runSeed({ seed, elections });
  if (result.stats.recoveryMs !== undefined && result.scenario.elections !== undefined)
    recoveries.push(result.stats.recoveryMs / result.scenario.elections.electionTimeoutMs);
  electionCount += result.stats.elections;
  if (result.scenario.elections !== undefined)
    for (const ms of result.stats.failoverMs)
      failovers.push(ms / result.scenario.elections.electionTimeoutMs);
  if (result.scenario.elections !== undefined && result.stats.cleanFailoverMs !== undefined)
    cleanFailovers.push(result.stats.cleanFailoverMs / result.scenario.elections.electionTimeoutMs);
  if (values.determinism) {
    const again = await runSeed({ seed, elections });
    if (again.traceHash !== result.traceHash) {
      violations++;
      console.log(
        `seed ${seed}: not deterministic (trace ${result.traceHash} then ${again.traceHash}) — replay: pnpm sim --seed ${seed}`,
      );
    }
  }
  if (result.violations.length > 0) {
    violations += result.violations.length;
    for (const violation of result.violations.slice(0, 5))
      console.log(`seed ${seed}: ${violation.property}: ${violation.message}`);
    console.log(`  replay: pnpm sim --seed ${seed}${elections ? ' --elections' : ''}`);
  } else if (!values.quiet) {
    const s = result.stats;
    console.log(
      `seed ${seed}: ok sites=${result.scenario.sites.length}${elections ? ` elections=${s.elections} recovery=${s.recoveryMs ?? '-'}ms clean-failover=${s.cleanFailoverMs ?? '-'}ms` : ''} commits=${s.commits} majority-acked=${s.committedByMajority} crashes=${s.crashes} failovers=${s.failovers} rollbacks=${s.rollbacks} inits=${s.inits} trace=${result.traceHash}`,
    );
  }
}
console.log(`${((Date.now() - started) / 1000).toFixed(1)} s`);
/** "p50=… p99=… max=…" of values in election timeouts. */
function quantiles(values: number[]): string {
  values.sort((a, b) => a - b);
  const at = (q: number) => values[Math.min(values.length - 1, Math.floor(q * values.length))]!.toFixed(2);
  return `p50=${at(0.5)} p99=${at(0.99)} max=${values.at(-1)!.toFixed(2)}`;
}
if (elections && recoveries.length > 0) {
  console.log(
    `elections=${electionCount} recovery (heal to first acknowledged commit, in election timeouts): ${quantiles(recoveries)} over ${recoveries.length} seeds`,
  );
}
if (elections && cleanFailovers.length > 0) {
  console.log(
    `failover, faults healed (master killed to first acknowledged quorum commit, in election timeouts): ${quantiles(cleanFailovers)} over ${cleanFailovers.length} seeds`,
  );
}
if (elections && failovers.length > 0) {
  console.log(
    `failover under faults (master crash to next master elected, in election timeouts): ${quantiles(failovers)} over ${failovers.length} crashes`,
  );
}
console.log(`seeds=${seeds} violations=${violations}`);
process.exit(violations === 0 ? 0 : 1);
