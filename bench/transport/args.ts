/**
 * Command line: `--quick` (short runs, under a minute in all), `--seconds S` (per measured run),
 * `--runs N` (measured runs per cell, interleaved; the report gives their median), `--only tcp,ws`.
 */

export type Family = 'tcp' | 'ws';
export const FAMILIES: readonly Family[] = ['tcp', 'ws'];

export interface BenchArgs {
  readonly runSeconds: number;
  /** One discarded run per cell before the measured ones (JIT, socket buffers). */
  readonly warmupSeconds: number;
  readonly runs: number;
  readonly quick: boolean;
  readonly families: readonly Family[];
}

export function parseArgs(argv: readonly string[]): BenchArgs {
  let quick = false;
  let seconds: number | undefined;
  let runs: number | undefined;
  let families: Family[] = [...FAMILIES];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') continue;
    if (arg === '--quick') quick = true;
    else if (arg === '--seconds') seconds = positive(arg, argv[++i]);
    else if (arg.startsWith('--seconds=')) seconds = positive('--seconds', arg.slice('--seconds='.length));
    else if (arg === '--runs') runs = Math.round(positive(arg, argv[++i]));
    else if (arg === '--only') families = parseFamilies(argv[++i] ?? '');
    else if (arg === '--help' || arg === '-h') {
      console.log('usage: pnpm bench:transport [--quick] [--seconds S] [--runs N] [--only tcp,ws]');
      process.exit(0);
    } else throw new Error(`unknown argument ${arg} (try --help)`);
  }
  // Many short runs rather than a few long ones: bare and Ackord runs of a round are then close in time,
  // and their ratio survives other work on the machine coming and going.
  const runSeconds = seconds ?? (quick ? 0.25 : 0.5);
  return {
    runSeconds,
    warmupSeconds: Math.min(0.5, Math.max(0.2, runSeconds)),
    runs: runs ?? (quick ? 5 : 15),
    quick,
    families,
  };
}

function parseFamilies(text: string): Family[] {
  const names = text.split(',').filter(Boolean);
  for (const name of names)
    if (!FAMILIES.includes(name as Family)) throw new Error(`--only: unknown ${name} (have tcp, ws)`);
  if (names.length === 0) throw new Error('--only needs tcp, ws or both');
  return names as Family[];
}

function positive(name: string, text: string | undefined): number {
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} needs a positive number, got ${text}`);
  return value;
}
