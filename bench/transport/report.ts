/** The results file (JSON), its markdown rendering, the console table and the targets. */
import type { Family } from './args.js';
import type { RunResult } from './drive.js';

export type Implementation = 'bare' | 'ackord';

export interface CellSpec {
  readonly family: Family;
  readonly implementation: Implementation;
  readonly concurrency: number;
}

export interface Cell {
  readonly spec: CellSpec;
  readonly runs: readonly RunResult[];
  /** Median of each measure over the runs (each measure on its own). */
  readonly median: {
    readonly framesPerSec: number;
    readonly p50Us: number;
    readonly p99Us: number;
    readonly clientCpuUsPerRoundTrip: number;
  };
  readonly minFramesPerSec: number;
  readonly maxFramesPerSec: number;
  /** Ackord cells: against the bare cell of the same family and concurrency, median of per-round ratios. */
  readonly vsBare?: { readonly framesPerSec: number; readonly p50: number };
}

export interface Target {
  readonly name: string;
  readonly ratio: number;
  readonly limit: string;
  readonly pass: boolean;
}

export interface Results {
  readonly machine: {
    readonly node: string;
    readonly cpus: number;
    readonly cpuModel: string;
    readonly platform: string;
    readonly date: string;
    readonly loadavg: readonly [number, number];
  };
  readonly settings: {
    readonly quick: boolean;
    readonly runSeconds: number;
    readonly warmupSeconds: number;
    readonly runs: number;
    readonly payloadBytes: number;
  };
  readonly cells: readonly Cell[];
  readonly targets: readonly Target[];
  /** Rows that did not run, and why. */
  readonly skipped: readonly string[];
}

export const PIPELINED_THROUGHPUT_MIN = 0.7;
export const PING_PONG_P50_MAX = 1.5;

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

export function cellName(spec: CellSpec): string {
  return `${spec.family} ${spec.implementation} c=${spec.concurrency}`;
}

export function summarize(cells: readonly { spec: CellSpec; runs: RunResult[] }[]): Cell[] {
  const summarized = cells.map(({ spec, runs }) => ({
    spec,
    runs,
    median: {
      framesPerSec: median(runs.map((run) => run.framesPerSec)),
      p50Us: median(runs.map((run) => run.p50Us)),
      p99Us: median(runs.map((run) => run.p99Us)),
      clientCpuUsPerRoundTrip: median(runs.map((run) => run.clientCpuUsPerRoundTrip)),
    },
    minFramesPerSec: Math.min(...runs.map((run) => run.framesPerSec)),
    maxFramesPerSec: Math.max(...runs.map((run) => run.framesPerSec)),
  }));
  return summarized.map((cell) => {
    if (cell.spec.implementation !== 'ackord') return cell;
    const bare = summarized.find(
      (other) =>
        other.spec.implementation === 'bare' &&
        other.spec.family === cell.spec.family &&
        other.spec.concurrency === cell.spec.concurrency,
    );
    if (bare === undefined) return cell;
    // Run i of each cell is from the same round, next to each other in time: a ratio per round cancels
    // out most of what other work on the machine does to both.
    const rounds = Math.min(bare.runs.length, cell.runs.length);
    const ratios = (measure: (run: RunResult) => number) =>
      median(Array.from({ length: rounds }, (_, i) => measure(cell.runs[i]!) / measure(bare.runs[i]!)));
    return {
      ...cell,
      vsBare: { framesPerSec: ratios((run) => run.framesPerSec), p50: ratios((run) => run.p50Us) },
    };
  });
}

export function evaluateTargets(cells: readonly Cell[]): Target[] {
  const targets: Target[] = [];
  for (const cell of cells) {
    if (cell.vsBare === undefined) continue;
    const family = cell.spec.family.toUpperCase();
    if (cell.spec.concurrency === 64)
      targets.push({
        name: `${family} pipelined (c=64) throughput`,
        ratio: cell.vsBare.framesPerSec,
        limit: `≥ ${PIPELINED_THROUGHPUT_MIN}× bare`,
        pass: cell.vsBare.framesPerSec >= PIPELINED_THROUGHPUT_MIN,
      });
    if (cell.spec.concurrency === 1)
      targets.push({
        name: `${family} ping-pong (c=1) round-trip p50`,
        ratio: cell.vsBare.p50,
        limit: `≤ ${PING_PONG_P50_MAX}× bare`,
        pass: cell.vsBare.p50 <= PING_PONG_P50_MAX,
      });
  }
  return targets;
}

const IMPLEMENTATION_LABEL: Record<Family, Record<Implementation, string>> = {
  tcp: { bare: 'bare node:net echo', ackord: '@ackord/transport-tcp' },
  ws: { bare: 'bare ws echo', ackord: '@ackord/transport-ws' },
};

function formatRow(cell: Cell): string[] {
  const { spec, median: m } = cell;
  return [
    spec.family.toUpperCase(),
    IMPLEMENTATION_LABEL[spec.family][spec.implementation],
    String(spec.concurrency),
    Math.round(m.framesPerSec).toLocaleString('en-US'),
    cell.vsBare === undefined ? '1' : cell.vsBare.framesPerSec.toFixed(2),
    m.p50Us.toFixed(0),
    cell.vsBare === undefined ? '1' : cell.vsBare.p50.toFixed(2),
    m.p99Us.toFixed(0),
    `${Math.round(cell.minFramesPerSec / 1000)}k–${Math.round(cell.maxFramesPerSec / 1000)}k`,
    m.clientCpuUsPerRoundTrip.toFixed(1),
  ];
}

const HEADER = [
  'transport',
  'implementation',
  'concurrency',
  'frames/s',
  '× bare',
  'p50 µs',
  '× bare',
  'p99 µs',
  'frames/s min–max',
  'client CPU µs/frame',
];

export function consoleTable(cells: readonly Cell[]): string {
  const rows = [HEADER, ...cells.map(formatRow)];
  const widths = HEADER.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  return rows
    .map((row) =>
      row
        .map((text, column) => (column < 2 ? text.padEnd : text.padStart).call(text, widths[column]!))
        .join('  '),
    )
    .join('\n');
}

export function targetsText(targets: readonly Target[]): string {
  return targets
    .map(
      (target) =>
        `- ${target.pass ? 'PASS' : 'FAIL'} ${target.name}: ${target.ratio.toFixed(2)}× bare (target ${target.limit})`,
    )
    .join('\n');
}

export function markdown(results: Results): string {
  const { machine, settings } = results;
  return [
    '# Transport benchmark',
    '',
    `Node ${machine.node}, ${machine.cpus} CPUs (${machine.cpuModel}), ${machine.platform}, ${machine.date}${settings.quick ? ' (quick run)' : ''}. Load average ${machine.loadavg[0].toFixed(2)} at start, ${machine.loadavg[1].toFixed(2)} at end.`,
    '',
    `An echo over loopback between two processes: this one sends ${settings.payloadBytes} B frames, a forked echo server sends each one back. **concurrency 1** is ping-pong (the next frame leaves when the echo of the last is back); **concurrency 64** keeps 64 frames outstanding (pipelined). **frames/s** counts completed round trips (one frame each way) per second; **p50/p99** are round-trip times from \`send\` to the echo's arrival. Each cell ran ${settings.runs} times for ${settings.runSeconds} s after one discarded ${settings.warmupSeconds} s warm-up run; the cells were interleaved (every round runs each cell once, bare and Ackord side by side, in a rotating order) and the table gives the median of each measure. **× bare** is the median over rounds of Ackord ÷ bare for the same round, transport and concurrency.`,
    '',
    '- **bare node:net echo**: a plain socket with the same u32 length-prefix framing and nothing else (no handshake, frames read as views of the chunk, no bounds, no handlers), one `write()` per frame: the ceiling for TCP.',
    '- **@ackord/transport-tcp**: both ends are TCP transports (sites `a` and `b`, authenticated with the shared handshake before the run); the echo server sends every frame it hears back with `transport.send`. The transport writes the first frame of an event-loop iteration at once and hands the other frames of that iteration to the socket as one `writev` (corked until `setImmediate`, flushed early at half the high-water mark of the socket), which is why it can pass the per-frame-write bare echo when frames are pipelined.',
    '- **bare ws echo** / **@ackord/transport-ws**: the same over WebSocket (`ws`, binary messages, permessage-deflate off); the bare echo does one `ws.send` (one socket write) per frame. The transport batches its writes as the TCP one does, by corking the socket under the WebSocket: still one binary message per frame.',
    '',
    `| ${HEADER.join(' | ')} |`,
    `| --- | --- | ${HEADER.slice(2)
      .map(() => '---:')
      .join(' | ')} |`,
    ...results.cells.map((cell) => `| ${formatRow(cell).join(' | ')} |`),
    '',
    '## Targets',
    '',
    `Ackord's transport at ≥ ${PIPELINED_THROUGHPUT_MIN}× the bare socket's pipelined throughput, and a ping-pong round-trip p50 ≤ ${PING_PONG_P50_MAX}× the bare socket's.`,
    '',
    targetsText(results.targets),
    ...(results.skipped.length === 0
      ? []
      : ['', '## Not run', '', ...results.skipped.map((reason) => `- ${reason}`)]),
    '',
  ].join('\n');
}
