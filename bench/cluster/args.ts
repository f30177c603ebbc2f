/**
 * Command line of `pnpm bench`: `--quick` (a subset in under 2 minutes), `--seconds S` (per measured
 * run), `--runs N` (measured runs per cell, interleaved; the report quotes their median), `--only
 * embedded,scaling,http` (phases; the limits always run), `--code source` (the packages' and the kv
 * example's TypeScript through tsx instead of their compiled dist), `--no-build` (do not run `tsc -b` on
 * the packages and the kv example first), `--out NAME` (results file names; default `latest`),
 * `--render` (only re-render NAME.md from NAME.json).
 */
import type { BenchPolicy } from './protocol.js';

export const PHASES = ['embedded', 'scaling', 'http'] as const;
export type Phase = (typeof PHASES)[number];

export interface BenchArgs {
  readonly quick: boolean;
  readonly runSeconds: number;
  /** One discarded run per cell before the measured ones (JIT, socket buffers, log files). */
  readonly warmupSeconds: number;
  readonly runs: number;
  /** Seconds per limit loop (fdatasync, group commit, echo) per round. */
  readonly limitSeconds: number;
  readonly phases: readonly Phase[];
  readonly policies: readonly BenchPolicy[];
  readonly sizes: readonly number[];
  readonly siteCounts: readonly number[];
  readonly httpDurabilities: readonly ('none' | 'fsync')[];
  readonly code: 'dist' | 'source';
  readonly build: boolean;
  readonly out: string;
  /** Only re-render `<out>.md` from `<out>.json` (after editing findings.md or the report). */
  readonly render: boolean;
}

export function parseArgs(argv: readonly string[]): BenchArgs {
  let quick = false;
  let seconds: number | undefined;
  let runs: number | undefined;
  let phases: Phase[] = [...PHASES];
  let code: 'dist' | 'source' = 'dist';
  let build = true;
  let out = 'latest';
  let render = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') continue;
    if (arg === '--quick') quick = true;
    else if (arg === '--seconds') seconds = positive(arg, argv[++i]);
    else if (arg === '--runs') runs = Math.round(positive(arg, argv[++i]));
    else if (arg === '--only') phases = parsePhases(argv[++i] ?? '');
    else if (arg === '--code') {
      const value = argv[++i];
      if (value !== 'dist' && value !== 'source') throw new Error('--code takes dist or source');
      code = value;
    } else if (arg === '--no-build') build = false;
    else if (arg === '--out') out = argv[++i] ?? '';
    else if (arg === '--render') render = true;
    else if (arg === '--help' || arg === '-h') {
      console.log(
        'usage: pnpm bench [--quick] [--seconds S] [--runs N] [--only embedded,scaling,http] [--code dist|source] [--no-build] [--out NAME] [--render]',
      );
      process.exit(0);
    } else throw new Error(`unknown argument ${arg} (try --help)`);
  }
  if (!/^[a-z0-9-]+$/.test(out)) throw new Error('--out takes a plain name (letters, digits, -)');
  // Many short runs rather than a few long ones: neighbouring cells stay close in time, and their
  // comparison survives other work on this shared machine coming and going.
  const runSeconds = seconds ?? (quick ? 0.25 : 0.5);
  return {
    quick,
    runSeconds,
    warmupSeconds: quick ? 0.25 : 0.5,
    runs: runs ?? (quick ? 3 : 5),
    limitSeconds: quick ? 0.2 : 0.3,
    phases,
    policies: quick ? ['none', 'quorum'] : ['none', 'one', 'quorum', 'all'],
    sizes: quick ? [128, 4096, 65536] : [128, 1024, 4096, 16384, 65536],
    siteCounts: quick ? [2, 3, 5] : [2, 3, 4, 5, 6],
    httpDurabilities: quick ? ['none'] : ['none', 'fsync'],
    code,
    build,
    out,
    render,
  };
}

function parsePhases(text: string): Phase[] {
  const names = text.split(',').filter(Boolean);
  for (const name of names)
    if (!PHASES.includes(name as Phase))
      throw new Error(`--only: unknown ${name} (have ${PHASES.join(', ')})`);
  if (names.length === 0) throw new Error(`--only needs one of ${PHASES.join(', ')}`);
  return names as Phase[];
}

function positive(name: string, text: string | undefined): number {
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} needs a positive number, got ${text}`);
  return value;
}
