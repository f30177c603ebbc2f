/**
 * The target ratios, measured as pairs: each round runs the limit loop and the log cell back to back
 * (alternating which goes first), and the ratio is the median of the per-round ratios. On a shared
 * machine whose disk and CPU speed swing by 2–5× within seconds, a pair taken a second apart is far
 * more comparable than a cell and a limit sampled a minute apart.
 */
import { type LimitSample, measureLimit } from './limits.js';
import { type ModeSpec, type Row, runCell } from './run-mode.js';
import { type LatencyRecorder, median } from './stats.js';

export type LimitName = keyof LimitSample;

export interface TargetSpec {
  readonly mode: string;
  readonly concurrency: number;
  readonly size: number;
  readonly limit: LimitName;
  readonly min: number;
}

export const TARGETS: readonly TargetSpec[] = [
  { mode: 'fsync', concurrency: 1, size: 128, limit: 'fdatasyncLoop', min: 0.8 },
  { mode: 'fsync', concurrency: 64, size: 128, limit: 'groupCommitLoop64', min: 0.8 },
  { mode: 'none', concurrency: 1, size: 128, limit: 'writeLoop', min: 0.5 },
];

export const NOISY_SPREAD = 1.5;

export interface PairedMeasurement {
  readonly rounds: number;
  /** Median over the rounds. */
  readonly opsPerSec: number;
  readonly limitOpsPerSec: number;
  /** Per round: cell ops/s ÷ limit ops/s. */
  readonly ratios: readonly number[];
}

export interface Target extends TargetSpec {
  readonly name: string;
  /** The paired ratio (median of per-round ratios); pass/fail is judged on it. */
  readonly ratio: number | null;
  readonly pass: boolean;
  /**
   * The rounds disagree by more than NOISY_SPREAD× (largest ÷ smallest ratio): the machine's speed moved
   * under the measurement, and pass/fail says more about the neighbours than about the log.
   */
  readonly noisy: boolean;
  readonly paired: PairedMeasurement | null;
  /** The same ratio from the matrix: the row ÷ the run's median limit, and ÷ the samples around the row's mode. */
  readonly matrix: {
    readonly opsPerSec: number | null;
    readonly limitOpsPerSec: number;
    readonly ratio: number | null;
    readonly ratioAdjacent: number | null;
  };
}

export async function measurePaired(
  root: string,
  spec: TargetSpec,
  mode: ModeSpec,
  options: { rounds: number; seconds: number; warmupSeconds: number },
  latencies: LatencyRecorder,
): Promise<PairedMeasurement> {
  const cells: number[] = [];
  const limits: number[] = [];
  const ratios: number[] = [];
  const cell = async () =>
    (
      await runCell(
        root,
        {
          mode,
          concurrency: spec.concurrency,
          size: spec.size,
          warmupSeconds: options.warmupSeconds,
          seconds: options.seconds,
        },
        latencies,
      )
    ).opsPerSec;
  for (let round = 0; round < options.rounds; round++) {
    let log: number;
    let limit: number;
    if (round % 2 === 0) {
      limit = measureLimit(root, spec.limit, options.seconds);
      log = await cell();
    } else {
      log = await cell();
      limit = measureLimit(root, spec.limit, options.seconds);
    }
    cells.push(log);
    limits.push(limit);
    ratios.push(log / limit);
  }
  return { rounds: options.rounds, opsPerSec: median(cells), limitOpsPerSec: median(limits), ratios };
}

export function targetName(spec: TargetSpec): string {
  const size = spec.size >= 1024 ? `${spec.size / 1024} KiB` : `${spec.size} B`;
  return `${spec.mode} c=${spec.concurrency} ${size} ÷ ${spec.limit} ≥ ${spec.min}`;
}

export function evaluateTarget(
  spec: TargetSpec,
  paired: PairedMeasurement | null,
  rows: readonly Row[],
  limits: LimitSample,
  adjacent: LimitSample | undefined,
): Target {
  const row = rows.find(
    (candidate) =>
      candidate.mode === spec.mode &&
      candidate.concurrency === spec.concurrency &&
      candidate.size === spec.size,
  );
  const ratio = paired === null ? null : median(paired.ratios);
  return {
    ...spec,
    name: targetName(spec),
    ratio,
    pass: ratio !== null && ratio >= spec.min,
    noisy: paired !== null && Math.max(...paired.ratios) > NOISY_SPREAD * Math.min(...paired.ratios),
    paired,
    matrix: {
      opsPerSec: row?.opsPerSec ?? null,
      limitOpsPerSec: limits[spec.limit],
      ratio: row === undefined ? null : row.opsPerSec / limits[spec.limit],
      ratioAdjacent:
        row === undefined || adjacent === undefined ? null : row.opsPerSec / adjacent[spec.limit],
    },
  };
}
