/**
 * `pnpm bench:log [--quick] [--seconds S] [--only MODE,...]`: the write-ahead log against this
 * machine's limits, measured in the same run. Writes bench/results/log.json and log.md.
 *
 * The limits (bare node:fs loops) are sampled before every mode's cells and once after the last; the
 * report gives their median. The target ratios are then measured as back-to-back pairs (see
 * targets.ts), since this shared 2-core machine's disk and CPU speed swing within seconds.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from './args.js';
import { type LimitSample, measureLimits } from './limits.js';
import {
  limitsText,
  markdown,
  notesText,
  type Results,
  rowsTable,
  sizeLabel,
  targetsText,
} from './report.js';
import { type ModeSpec, type Row, runCell } from './run-mode.js';
import { LatencyRecorder, median } from './stats.js';
import { evaluateTarget, measurePaired, type PairedMeasurement, TARGETS, targetName } from './targets.js';

const MODES: readonly ModeSpec[] = [
  { name: 'none', durability: 'none', syncIo: 'blocking' },
  { name: 'write', durability: 'write', syncIo: 'blocking' },
  { name: 'fsync', durability: 'fsync', syncIo: 'blocking' },
  { name: 'fsync/threadpool', durability: 'fsync', syncIo: 'threadpool' },
  { name: 'dsync', durability: 'dsync', syncIo: 'blocking' },
  { name: 'delayed:10', durability: 'delayed:10', syncIo: 'blocking' },
];
const CONCURRENCY = [1, 16, 64] as const;
const SIZES = [128, 4096] as const;
/** 8 Mi samples (64 MiB): more than the fastest cell commits in its window; past it the recorder wraps. */
const LATENCY_CAPACITY = 8 * 1024 * 1024;

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, '../..');
const resultsDir = path.join(repoRoot, 'bench', 'results');

function progress(text: string): void {
  process.stderr.write(`${text}\n`);
}

function medianLimits(samples: readonly LimitSample[]): LimitSample {
  return {
    fdatasyncLoop: median(samples.map((sample) => sample.fdatasyncLoop)),
    groupCommitLoop64: median(samples.map((sample) => sample.groupCommitLoop64)),
    writeLoop: median(samples.map((sample) => sample.writeLoop)),
  };
}

function formatLimits(sample: LimitSample): string {
  return `fdatasync ${Math.round(sample.fdatasyncLoop)}/s, group64 ${Math.round(sample.groupCommitLoop64)}/s, write ${Math.round(sample.writeLoop)}/s`;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const modes = args.only === undefined ? MODES : MODES.filter((mode) => args.only!.includes(mode.name));
  if (modes.length === 0)
    throw new Error(`--only matched no mode (have ${MODES.map((m) => m.name).join(', ')})`);

  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'ackord-bench-log-'));
  if (fs.statSync(root).dev !== fs.statSync(repoRoot).dev) {
    progress(`warning: ${root} is not on the repository's filesystem; the numbers may not be comparable`);
  }
  const latencies = new LatencyRecorder(LATENCY_CAPACITY);
  const rows: Row[] = [];
  const limitSamples: LimitSample[] = [];
  /** For each mode, the index of the limit sample taken just before its cells (the next one is just after). */
  const sampleBefore = new Map<string, number>();
  const started = performance.now();
  const loadStart = os.loadavg()[0]!;
  const paired = new Map<string, PairedMeasurement>();

  const sampleLimits = (label: string) => {
    const sample = measureLimits(root, args.limitSeconds);
    limitSamples.push(sample);
    progress(`limits ${label}: ${formatLimits(sample)}`);
  };

  try {
    for (const mode of modes) {
      sampleLimits(`before ${mode.name}`);
      sampleBefore.set(mode.name, limitSamples.length - 1);
      for (const concurrency of CONCURRENCY) {
        for (const size of SIZES) {
          const row = await runCell(
            root,
            { mode, concurrency, size, warmupSeconds: args.warmupSeconds, seconds: args.cellSeconds },
            latencies,
          );
          rows.push(row);
          progress(
            `${mode.name.padEnd(16)} c=${String(concurrency).padStart(2)} ${sizeLabel(size).padStart(6)}: ` +
              `${Math.round(row.opsPerSec).toString().padStart(8)} commits/s  p50 ${row.p50Ms.toFixed(4)} ms  ` +
              `p99 ${row.p99Ms.toFixed(4)} ms  records/fsync ${row.recordsPerFsync?.toFixed(1) ?? '–'}`,
          );
        }
      }
    }
    sampleLimits('after');
    for (const spec of TARGETS) {
      const mode = modes.find((candidate) => candidate.name === spec.mode);
      if (mode === undefined) continue;
      const measured = await measurePaired(
        root,
        spec,
        mode,
        {
          rounds: args.pairedRounds,
          seconds: args.pairedSeconds,
          warmupSeconds: Math.min(0.1, args.warmupSeconds),
        },
        latencies,
      );
      paired.set(targetName(spec), measured);
      progress(
        `paired ${targetName(spec)}: ${measured.ratios.map((ratio) => ratio.toFixed(3)).join(' ')} ` +
          `(log ${Math.round(measured.opsPerSec)}/s, limit ${Math.round(measured.limitOpsPerSec)}/s)`,
      );
    }
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }

  const limits = medianLimits(limitSamples);
  const adjacent = (modeName: string): LimitSample | undefined => {
    const index = sampleBefore.get(modeName);
    if (index === undefined) return undefined;
    return medianLimits(limitSamples.slice(index, index + 2));
  };
  const cpus = os.cpus();
  const results: Results = {
    machine: {
      node: process.version,
      cpus: cpus.length,
      cpuModel: cpus[0]?.model ?? 'unknown',
      platform: `${os.platform()} ${os.release()} ${os.arch()}`,
      date: new Date().toISOString(),
      loadavg: [loadStart, os.loadavg()[0]!],
    },
    settings: {
      cellSeconds: args.cellSeconds,
      warmupSeconds: args.warmupSeconds,
      limitSeconds: args.limitSeconds,
      pairedRounds: args.pairedRounds,
      pairedSeconds: args.pairedSeconds,
    },
    rows,
    limits,
    limitSamples,
    targets: TARGETS.map((spec) =>
      evaluateTarget(spec, paired.get(targetName(spec)) ?? null, rows, limits, adjacent(spec.mode)),
    ),
  };

  fs.mkdirSync(resultsDir, { recursive: true });
  fs.writeFileSync(path.join(resultsDir, 'log.json'), `${JSON.stringify(results, null, 2)}\n`);
  fs.writeFileSync(path.join(resultsDir, 'log.md'), markdown(results));

  console.log(rowsTable(rows));
  console.log('\nNotes:');
  console.log(notesText(rows));
  console.log('\nLimits:');
  console.log(limitsText(limits, limitSamples));
  console.log('\nTargets:');
  console.log(targetsText(results.targets));
  progress(
    `\ndone in ${((performance.now() - started) / 1000).toFixed(1)} s; wrote ${path.relative(repoRoot, resultsDir)}/log.json and log.md`,
  );
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
