/**
 * Command line: `--quick` (~0.3 s per cell), `--seconds S` (per cell), `--only MODE[,MODE]` (a subset of
 * the matrix, for investigation: it still writes the results files).
 */

export interface BenchArgs {
  /** Measured seconds per cell. */
  readonly cellSeconds: number;
  /** Warm-up seconds per cell, on the same log, before the measurement. */
  readonly warmupSeconds: number;
  /** Seconds per limit loop per sample. */
  readonly limitSeconds: number;
  /** Rounds of limit + cell pairs per target. */
  readonly pairedRounds: number;
  /** Seconds of each half of a pair. */
  readonly pairedSeconds: number;
  readonly quick: boolean;
  /** Mode names to run (default: all). */
  readonly only: readonly string[] | undefined;
}

export function parseArgs(argv: readonly string[]): BenchArgs {
  let quick = false;
  let seconds: number | undefined;
  let only: string[] | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') continue;
    if (arg === '--quick') quick = true;
    else if (arg === '--seconds') seconds = positive(arg, argv[++i]);
    else if (arg.startsWith('--seconds=')) seconds = positive('--seconds', arg.slice('--seconds='.length));
    else if (arg === '--only') only = (argv[++i] ?? '').split(',').filter(Boolean);
    else if (arg === '--help' || arg === '-h') {
      console.log('usage: pnpm bench:log [--quick] [--seconds S] [--only fsync,none,...]');
      process.exit(0);
    } else throw new Error(`unknown argument ${arg} (try --help)`);
  }
  const cellSeconds = seconds ?? (quick ? 0.3 : 1.5);
  return {
    cellSeconds,
    warmupSeconds: round2(Math.min(0.3, Math.max(0.05, cellSeconds / 5))),
    limitSeconds: round2(Math.min(1, Math.max(0.2, cellSeconds * 0.6))),
    pairedRounds: quick ? 3 : 7,
    pairedSeconds: round2(Math.min(0.3, Math.max(0.15, cellSeconds / 5))),
    quick,
    only,
  };
}

function positive(name: string, text: string | undefined): number {
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} needs a positive number, got ${text}`);
  return value;
}

function round2(value: number): number {
  return Math.round(value * 100) / 100;
}
