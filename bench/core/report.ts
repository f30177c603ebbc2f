/** The results file (JSON), its markdown rendering and the target. */
import type { CellSpec, RunCounts } from './cell.js';
import { median } from './stats.js';

export interface Machine {
  readonly node: string;
  readonly cpus: number;
  readonly cpuModel: string;
  readonly platform: string;
  readonly date: string;
  /** 1-minute load average at the start and the end of the run: other work on the machine skews everything. */
  readonly loadavg: readonly [number, number];
}

/** Rates of one run. */
export interface Rates {
  /** Data records per second (commit records not counted). */
  readonly recordsPerSec: number;
  readonly txnsPerSec: number;
  /** Every frame, both directions (log + ack + other). */
  readonly messagesPerSec: number;
  readonly logMessagesPerSec: number;
  readonly ackMessagesPerSec: number;
  /** Frame bytes, both directions. */
  readonly bytesPerSec: number;
  readonly recordsPerLogMessage: number;
  /** Data records per second of process CPU time: what the rate would be with a whole core to itself. */
  readonly recordsPerCpuSec: number;
  /** Process CPU time over wall time (1.0: one core busy all along). */
  readonly cpuShare: number;
}

export interface Cell {
  readonly spec: CellSpec;
  readonly runs: readonly RunCounts[];
  /** The rates of the run with the median records/s (so one row is one real run). */
  readonly median: Rates;
  readonly minRecordsPerSec: number;
  readonly maxRecordsPerSec: number;
}

export interface Target {
  readonly name: string;
  readonly recordsPerSec: number;
  readonly pass: boolean;
}

export interface Results {
  readonly machine: Machine;
  readonly settings: {
    readonly runSeconds: number;
    readonly warmupSeconds: number;
    readonly runs: number;
    readonly batch: number;
    readonly payloadBytes: number;
    readonly durability: 'none';
  };
  readonly cells: readonly Cell[];
  readonly targets: readonly Target[];
}

export const TARGET_RECORDS_PER_SEC = 500_000;

export function ratesOf(run: RunCounts): Rates {
  const seconds = run.elapsedMs / 1000;
  const messages = run.logMessages + run.ackMessages + run.otherMessages;
  return {
    recordsPerSec: run.dataRecords / seconds,
    txnsPerSec: run.txns / seconds,
    messagesPerSec: messages / seconds,
    logMessagesPerSec: run.logMessages / seconds,
    ackMessagesPerSec: run.ackMessages / seconds,
    bytesPerSec: run.wireBytes / seconds,
    recordsPerLogMessage: run.logMessages === 0 ? 0 : run.dataRecords / run.logMessages,
    recordsPerCpuSec: run.cpuMs === 0 ? 0 : run.dataRecords / (run.cpuMs / 1000),
    cpuShare: run.cpuMs / run.elapsedMs,
  };
}

export function summarize(spec: CellSpec, runs: readonly RunCounts[]): Cell {
  const rates = runs.map(ratesOf);
  const perSec = rates.map((rate) => rate.recordsPerSec);
  const middle = median(perSec);
  // The run nearest the median (for an even count, the lower middle one).
  let chosen = rates[0]!;
  for (const rate of rates) {
    if (Math.abs(rate.recordsPerSec - middle) < Math.abs(chosen.recordsPerSec - middle)) chosen = rate;
  }
  return {
    spec,
    runs,
    median: chosen,
    minRecordsPerSec: Math.min(...perSec),
    maxRecordsPerSec: Math.max(...perSec),
  };
}

export function cellName(spec: CellSpec): string {
  return `${spec.layer} bulk ${spec.bulk ? 'on' : 'off'} ${spec.recordsPerTxn} rec/txn`;
}

/** The target applies to every bulk-on cell: the core must never be the bottleneck. */
export function evaluateTargets(cells: readonly Cell[]): Target[] {
  return cells
    .filter((cell) => cell.spec.bulk)
    .map((cell) => ({
      name: cellName(cell.spec),
      recordsPerSec: cell.median.recordsPerSec,
      pass: cell.median.recordsPerSec >= TARGET_RECORDS_PER_SEC,
    }));
}

function count(value: number): string {
  return Math.round(value).toLocaleString('en-US');
}

function layerLabel(layer: CellSpec['layer']): string {
  return layer === 'core' ? 'core (pure)' : 'BaseReplica';
}

export function cellsTable(cells: readonly Cell[]): string {
  const lines = [
    '| layer | bulk | records/txn | data records/s | txns/s | messages/s | log msgs/s | records/log msg | wire MB/s | records/s min–max | records/CPU-s | CPU/wall |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const cell of cells) {
    const { spec, median: rate } = cell;
    lines.push(
      `| ${layerLabel(spec.layer)} | ${spec.bulk ? 'on' : 'off'} | ${spec.recordsPerTxn} | ` +
        `**${count(rate.recordsPerSec)}** | ${count(rate.txnsPerSec)} | ${count(rate.messagesPerSec)} | ` +
        `${count(rate.logMessagesPerSec)} | ${rate.recordsPerLogMessage.toFixed(1)} | ` +
        `${(rate.bytesPerSec / 1e6).toFixed(1)} | ${count(cell.minRecordsPerSec)}–${count(cell.maxRecordsPerSec)} | ` +
        `${count(rate.recordsPerCpuSec)} | ${rate.cpuShare.toFixed(2)} |`,
    );
  }
  return lines.join('\n');
}

export function targetsText(targets: readonly Target[]): string {
  return targets
    .map(
      (target) =>
        `- ${target.pass ? 'PASS' : 'FAIL'} ${target.name}: ${count(target.recordsPerSec)} data records/s ` +
        `(target ≥ ${count(TARGET_RECORDS_PER_SEC)})`,
    )
    .join('\n');
}

export function explanation(results: Results): string {
  const { settings } = results;
  return (
    '**What records/s means.** The number of application records (data records: the payloads of ' +
    '`commit`/`propose`) that went all the way per second of wall-clock time: encoded into the master’s ' +
    'log and a batch, framed, decoded and checked by the client, appended to its log, applied to its state ' +
    'machine and acknowledged back to the master. Master and client share one thread, so every record ' +
    'is paid for on both sites. Commit records are not counted, though every transaction writes one: at 1 ' +
    'record/txn each site’s log and the wire carry two records per record counted. The target applies to ' +
    'this number, bulk on.\n\n' +
    `Each transaction is records/txn data records of ${settings.payloadBytes} B plus one commit record. ` +
    'A run is a fresh master and client ' +
    `(logs on MemoryStorage, durability \`${settings.durability}\`, so clients ack at level \`received\`), ` +
    `rounds of ${settings.batch} transactions issued back to back until ${settings.runSeconds} s have passed; ` +
    'a round ends when the master has the client’s ack for its last commit. With bulk on, a round leaves ' +
    'as one `log` message; with bulk off, as one message per transaction. messages/s counts every frame in ' +
    'both directions (log + ack); wire MB/s their bytes. Each row is the run with the median records/s ' +
    `of ${settings.runs} (after one discarded ${settings.warmupSeconds} s warm-up run per cell); the ` +
    'records/s min–max column is the spread over those runs.\n\n' +
    '- **core (pure)**: `ReplicaCore.propose` on the master; every effect performed by a minimal ' +
    'synchronous harness: ship/send → `encodeMessage` → `decodeFrame` → `step` on the other core; ' +
    '`append` → `WriteAheadLog.appendEncoded` + a `durable` input, on both sites (a master logs what it ' +
    'ships, as BaseReplica does). No ticks.\n' +
    '- **BaseReplica**: `master.commit(payloads)`; the send callback hands the frame straight to the ' +
    'other replica’s `processMessage`. Includes the shells’ turn-taking, one promise per commit (and the ' +
    'benchmark’s own `then` on it), events, timers and state machine (a counter).\n\n' +
    'records/CPU-s divides by the process CPU time instead of wall time, which is steadier when other work ' +
    'shares the machine (see the load average above; CPU/wall above 1: GC helper threads).\n\n' +
    'Rounds end on the ack of the last commit: what is measured is replication, not how fast the ' +
    'committing side learns of it.'
  );
}

export function markdown(results: Results): string {
  const { machine } = results;
  return [
    '# Core benchmark',
    '',
    `Node ${machine.node}, ${machine.cpus} CPUs (${machine.cpuModel}), ${machine.platform}, ${machine.date}. ` +
      `Load average ${machine.loadavg[0].toFixed(2)} at start, ${machine.loadavg[1].toFixed(2)} at end.`,
    '',
    explanation(results),
    '',
    cellsTable(results.cells),
    '',
    '## Target',
    '',
    `≥ ${count(TARGET_RECORDS_PER_SEC)} data records/s with bulk on, so the core is never the bottleneck.`,
    '',
    targetsText(results.targets),
    '',
  ].join('\n');
}
