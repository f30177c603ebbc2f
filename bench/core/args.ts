/**
 * Command line: `--quick` (short runs, for a smoke check or a profile), `--seconds S` (per measured
 * run), `--runs N` (measured runs per cell; the report gives their median), `--batch N` (transactions
 * per round: issued back to back before the bulk flush), `--only LAYER[,LAYER]` (`core`, `base`).
 */

export type Layer = 'core' | 'base';
export const LAYERS: readonly Layer[] = ['core', 'base'];

export interface BenchArgs {
  /** Measured seconds per run. */
  readonly runSeconds: number;
  /** Seconds of the discarded warm-up run before each cell's measured runs. */
  readonly warmupSeconds: number;
  readonly runs: number;
  /** Transactions issued per round (one bulk message with bulk on, one message each with it off). */
  readonly batch: number;
  readonly quick: boolean;
  readonly layers: readonly Layer[];
}

export function parseArgs(argv: readonly string[]): BenchArgs {
  let quick = false;
  let seconds: number | undefined;
  let runs: number | undefined;
  let batch: number | undefined;
  let layers: Layer[] = [...LAYERS];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') continue;
    if (arg === '--quick') quick = true;
    else if (arg === '--seconds') seconds = positive(arg, argv[++i]);
    else if (arg.startsWith('--seconds=')) seconds = positive('--seconds', arg.slice('--seconds='.length));
    else if (arg === '--runs') runs = Math.round(positive(arg, argv[++i]));
    else if (arg === '--batch') batch = Math.round(positive(arg, argv[++i]));
    else if (arg === '--only') layers = parseLayers(argv[++i] ?? '');
    else if (arg === '--help' || arg === '-h') {
      console.log('usage: pnpm bench:core [--quick] [--seconds S] [--runs N] [--batch N] [--only core,base]');
      process.exit(0);
    } else throw new Error(`unknown argument ${arg} (try --help)`);
  }
  const runSeconds = seconds ?? (quick ? 0.25 : 1);
  return {
    runSeconds,
    warmupSeconds: Math.min(0.5, Math.max(0.1, runSeconds / 2)),
    runs: runs ?? (quick ? 3 : 5),
    batch: batch ?? 256,
    quick,
    layers,
  };
}

function parseLayers(text: string): Layer[] {
  const names = text.split(',').filter(Boolean);
  for (const name of names) {
    if (!LAYERS.includes(name as Layer))
      throw new Error(`--only: unknown layer ${name} (have ${LAYERS.join(', ')})`);
  }
  if (names.length === 0) throw new Error('--only needs at least one layer');
  return names as Layer[];
}

function positive(name: string, text: string | undefined): number {
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} needs a positive number, got ${text}`);
  return value;
}
