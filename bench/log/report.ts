/** The results file (JSON), its markdown rendering and the target ratios. */
import type { LimitSample } from './limits.js';
import type { Row } from './run-mode.js';
import { type LimitName, NOISY_SPREAD, type Target } from './targets.js';

export interface Machine {
  readonly node: string;
  readonly cpus: number;
  readonly cpuModel: string;
  readonly platform: string;
  readonly date: string;
  /** 1-minute load average at the start and the end of the run: other work on the machine skews everything. */
  readonly loadavg: readonly [number, number];
}

export interface Results {
  readonly machine: Machine;
  readonly settings: {
    readonly cellSeconds: number;
    readonly warmupSeconds: number;
    readonly limitSeconds: number;
    readonly pairedRounds: number;
    readonly pairedSeconds: number;
  };
  readonly rows: readonly Row[];
  /** Medians over every sample. */
  readonly limits: LimitSample;
  readonly limitSamples: readonly LimitSample[];
  readonly targets: readonly Target[];
}

export function sizeLabel(bytes: number): string {
  return bytes >= 1024 && bytes % 1024 === 0 ? `${bytes / 1024} KiB` : `${bytes} B`;
}

function ops(value: number): string {
  return Math.round(value).toLocaleString('en-US');
}

function ms(value: number): string {
  if (!Number.isFinite(value)) return '–';
  return value < 0.1 ? value.toFixed(4) : value < 10 ? value.toFixed(3) : value.toFixed(1);
}

function ratioText(value: number | null): string {
  return value === null ? '–' : value.toFixed(1);
}

export function rowsTable(rows: readonly Row[]): string {
  const lines = [
    '| mode | concurrency | size | commits/s | p50 ms | p99 ms | records/fsync | commits/fsync |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const row of rows) {
    lines.push(
      `| ${row.mode} | ${row.concurrency} | ${sizeLabel(row.size)} | ${ops(row.opsPerSec)} | ${ms(row.p50Ms)} | ${ms(row.p99Ms)} | ${ratioText(row.recordsPerFsync)} | ${ratioText(row.commitsPerFsync)} |`,
    );
  }
  return lines.join('\n');
}

export function limitsText(limits: LimitSample, samples: readonly LimitSample[]): string {
  const line = (name: LimitName, what: string) => {
    const values = samples.map((sample) => sample[name]);
    return `- \`${name}\` (${what}): **${ops(limits[name])} ops/s** median of ${values.length} (min ${ops(Math.min(...values))}, max ${ops(Math.max(...values))})`;
  };
  return [
    line('fdatasyncLoop', 'writeSync 128 B + fdatasyncSync'),
    line('groupCommitLoop64', '64 × writeSync 128 B + one fdatasyncSync, 64 ops per round'),
    line('writeLoop', 'writeSync 128 B, no sync'),
  ].join('\n');
}

export function targetsText(targets: readonly Target[]): string {
  return targets
    .map((target) => {
      const verdict = `${target.pass ? 'PASS' : 'FAIL'}${target.noisy ? ' (noisy)' : ''}`;
      const head = `- ${verdict} ${target.name}: `;
      const paired =
        target.paired === null || target.ratio === null
          ? 'not measured'
          : `**${target.ratio.toFixed(3)}** paired (median of ${target.paired.rounds} rounds: ` +
            `${target.paired.ratios.map((ratio) => ratio.toFixed(2)).join(', ')}; ` +
            `${ops(target.paired.opsPerSec)} vs ${ops(target.paired.limitOpsPerSec)} ops/s)`;
      const { matrix } = target;
      const fromMatrix =
        matrix.ratio === null || matrix.opsPerSec === null
          ? ''
          : `; matrix row ${ops(matrix.opsPerSec)} ÷ median limit ${ops(matrix.limitOpsPerSec)} = ${matrix.ratio.toFixed(3)}` +
            (matrix.ratioAdjacent === null ? '' : ` (÷ adjacent samples ${matrix.ratioAdjacent.toFixed(3)})`);
      return head + paired + fromMatrix;
    })
    .join('\n');
}

/** Rows whose fsync count says something a reader would otherwise misread. */
export function notesText(rows: readonly Row[]): string {
  const notes = [
    '- `none` and `write` (and `delayed` when its flush never ran) sync only at a segment switch (every 64 MiB), so ' +
      "their records/fsync is a segment's worth, or – when no switch fell in the window.",
  ];
  for (const mode of new Set(rows.filter((row) => row.mode.startsWith('delayed:')).map((row) => row.mode))) {
    const cells = rows.filter((row) => row.mode === mode);
    const maxDelayMs = Number(mode.slice('delayed:'.length));
    // After a commit the log arms a flush timer of maxDelayMs / 2 (at least 1 ms).
    const periodMs = Math.max(1, Math.floor(maxDelayMs / 2));
    const seconds = cells.reduce((sum, row) => sum + row.elapsedMs, 0) / 1000;
    const fsyncs = cells.reduce((sum, row) => sum + row.fsyncs, 0);
    const expected = (seconds * 1000) / periodMs;
    if (fsyncs < expected / 4) {
      notes.push(
        `- ${mode}: ${fsyncs} fsyncs in its ${cells.length} cells (${seconds.toFixed(1)} s of commits), where its ` +
          `${periodMs} ms flush timer would make ~${Math.round(expected)}. The committers never yield to the event loop ` +
          '(each awaited commit resolves in a microtask), so the timer cannot fire while they run: a hot commit loop ' +
          'starves the `delayed` durability bound. (Its fsyncs here are segment switches.)',
      );
    }
  }
  return notes.join('\n');
}

export function markdown(results: Results): string {
  const { machine, settings } = results;
  return [
    '# Log benchmark',
    '',
    `Node ${machine.node}, ${machine.cpus} CPUs (${machine.cpuModel}), ${machine.platform}, ${machine.date}. ` +
      `${settings.cellSeconds} s per cell after ${settings.warmupSeconds} s warm-up; limits ${settings.limitSeconds} s per loop per sample; ` +
      `targets ${settings.pairedRounds} paired rounds of ${settings.pairedSeconds} s. Load average ${machine.loadavg[0].toFixed(2)} at start, ${machine.loadavg[1].toFixed(2)} at end. ` +
      'Each commit is one transaction of one data record plus its commit record (2 records). ' +
      'Latency: begin to commit resolved. records/fsync and commits/fsync: over the measured window (– without fsyncs).',
    '',
    rowsTable(results.rows),
    '',
    '## Notes',
    '',
    notesText(results.rows),
    '',
    '## Limits (bare node:fs, same directory)',
    '',
    limitsText(results.limits, results.limitSamples),
    '',
    '## Targets',
    '',
    'Judged on the paired ratio: per round, the limit loop and the log cell run back to back (alternating ' +
      'order), and the ratio is the median of the rounds. The matrix ratio (row ÷ median of the limit samples ' +
      'taken around the matrix) is shown for comparison. "(noisy)": the rounds disagree by more than ' +
      `${NOISY_SPREAD}×, so the machine's speed moved under the measurement.`,
    '',
    targetsText(results.targets),
    '',
  ].join('\n');
}
