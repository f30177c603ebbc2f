/** The results of `pnpm bench`: rows, limits, each row's relevant limit, targets, and the markdown. */
import { median } from '../log/stats.js';
import type { LimitRun } from './limits.js';
import type { BenchPolicy, Durability, TransportKind } from './protocol.js';

export type Scenario = 'embedded' | 'http';
/** Which table a row belongs to. */
export type Group = 'matrix' | 'size' | 'sites' | 'http';

export interface CellSpec {
  readonly scenario: Scenario;
  readonly group: Group;
  readonly transport: TransportKind;
  readonly policy: BenchPolicy;
  readonly durability: Durability;
  readonly concurrency: number;
  readonly size: number;
  readonly sites: number;
}

export interface CellRun {
  readonly opsPerSec: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly notAcknowledged: number;
  /** The master's process CPU per commit (embedded only). */
  readonly cpuUsPerCommit?: number;
  /** Per site: CPU % of one core and peak RSS over the run (embedded only). */
  readonly usage?: readonly {
    readonly site: string;
    readonly cpuPercent: number;
    readonly peakRssMiB: number;
  }[];
}

export interface RelevantLimit {
  readonly name: string;
  readonly opsPerSec: number;
  readonly p50Ms: number;
}

export interface Row extends CellSpec {
  /** Medians over the measured runs. */
  readonly opsPerSec: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** Each measured run's rate, in run order. */
  readonly runs: readonly number[];
  readonly masterCpuUsPerCommit: number | null;
  /** Per site: median CPU % (100 = one core) and the largest RSS seen, in MiB. */
  readonly cpuPercent: Readonly<Record<string, number>>;
  readonly peakRssMiB: Readonly<Record<string, number>>;
  /** Receipts (or HTTP responses) that were not acknowledged, over every measured run. */
  readonly notAcknowledged: number;
  readonly limit: RelevantLimit | null;
  /** opsPerSec ÷ the limit's ops/s. */
  readonly ratio: number | null;
}

export interface LimitSummary {
  readonly opsPerSec: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly runs: readonly number[];
}

export interface Target {
  readonly name: string;
  readonly goal: string;
  readonly measured: string;
  readonly pass: boolean | null;
}

export interface Results {
  readonly machine: {
    readonly node: string;
    readonly cpus: number;
    readonly cpuModel: string;
    readonly platform: string;
    readonly date: string;
    /** 1-minute load average at the start and end of the run, and at the start of each phase. */
    readonly loadavg: Readonly<Record<string, number>>;
    /** The commit measured, and whether packages/ or examples/ had changes not committed. */
    readonly commit: string;
    readonly uncommittedChanges: boolean;
  };
  readonly settings: {
    readonly quick: boolean;
    readonly runs: number;
    readonly runSeconds: number;
    readonly warmupSeconds: number;
    readonly limitSeconds: number;
    readonly code: 'dist' | 'source';
  };
  readonly rows: readonly Row[];
  readonly limits: Readonly<Record<string, LimitSummary>>;
  readonly targets: readonly Target[];
  readonly skipped: readonly string[];
  readonly durationSeconds: number;
}

export function summarizeLimit(runs: readonly LimitRun[]): LimitSummary {
  return {
    opsPerSec: median(runs.map((run) => run.opsPerSec)),
    p50Ms: median(runs.map((run) => run.p50Ms)),
    p99Ms: median(runs.map((run) => run.p99Ms)),
    runs: runs.map((run) => run.opsPerSec),
  };
}

export function summarizeCell(spec: CellSpec, runs: readonly CellRun[]): Omit<Row, 'limit' | 'ratio'> {
  const cpuPercent: Record<string, number> = {};
  const peakRssMiB: Record<string, number> = {};
  const sites = new Set(runs.flatMap((run) => (run.usage ?? []).map((usage) => usage.site)));
  for (const site of sites) {
    const usages = runs.flatMap((run) => (run.usage ?? []).filter((usage) => usage.site === site));
    cpuPercent[site] = median(usages.map((usage) => usage.cpuPercent));
    peakRssMiB[site] = Math.max(...usages.map((usage) => usage.peakRssMiB));
  }
  const cpu = runs.flatMap((run) => (run.cpuUsPerCommit === undefined ? [] : [run.cpuUsPerCommit]));
  return {
    ...spec,
    opsPerSec: median(runs.map((run) => run.opsPerSec)),
    p50Ms: median(runs.map((run) => run.p50Ms)),
    p99Ms: median(runs.map((run) => run.p99Ms)),
    runs: runs.map((run) => run.opsPerSec),
    masterCpuUsPerCommit: cpu.length === 0 ? null : median(cpu),
    cpuPercent,
    peakRssMiB,
    notAcknowledged: runs.reduce((sum, run) => sum + run.notAcknowledged, 0),
  };
}

/** The echo limit that bounds a row's network side: a round trip at concurrency 1, pipelined otherwise. */
export function networkLimitName(transport: TransportKind, concurrency: number, size: number): string {
  if (concurrency === 1) return `${transport}RoundTrip`;
  return size === 128 ? `${transport}Pipelined64` : `${transport}Pipelined64@${size}`;
}

/**
 * The limit a row is held against (see the report's "Limits" section):
 * - policy none, durability none: nothing is waited for; at concurrency 64 the shipping is bounded by the
 *   pipelined echo, at 1 by nothing measured here (no ratio).
 * - an ack policy, durability none: the echo (round trip at 1, pipelined at 64).
 * - policy none, durability fsync: the master's own flush (at 1 one fdatasync while the two clients sync
 *   too — the fdatasync3 loop, as all three sites share the disk; 64-writer group commit at 64).
 * - an ack policy, durability fsync: at 1 a round trip plus a client's fdatasync made while the other
 *   sites sync (fdatasync3; the master's flush runs alongside); at 64 the slower of the group-commit loop
 *   and the pipelined echo. Results without fdatasync3 (older runs) use the single fdatasync loop.
 * - HTTP: the same client against the trivial server, same concurrency.
 */
export function relevantLimit(
  spec: CellSpec,
  limits: Readonly<Record<string, LimitSummary>>,
): RelevantLimit | null {
  const named = (name: string): RelevantLimit | null => {
    const limit = limits[name];
    return limit === undefined ? null : { name, opsPerSec: limit.opsPerSec, p50Ms: limit.p50Ms };
  };
  if (spec.scenario === 'http') return named(`httpClient${spec.concurrency}`);
  const network = named(networkLimitName(spec.transport, spec.concurrency, spec.size));
  if (spec.durability === 'none') {
    if (spec.policy === 'none' && spec.concurrency === 1) return null;
    return network;
  }
  const disk = spec.concurrency === 1 ? (named('fdatasync3') ?? named('fdatasync')) : named('groupCommit64');
  if (spec.policy === 'none' || disk === null || network === null) return disk;
  if (spec.concurrency === 1) {
    return {
      name: `${network.name} + ${disk.name}`,
      opsPerSec: 1000 / (1000 / network.opsPerSec + 1000 / disk.opsPerSec),
      p50Ms: network.p50Ms + disk.p50Ms,
    };
  }
  return disk.opsPerSec <= network.opsPerSec ? disk : network;
}

export function withLimits(
  rows: readonly Omit<Row, 'limit' | 'ratio'>[],
  limits: Readonly<Record<string, LimitSummary>>,
): Row[] {
  return rows.map((row) => {
    const limit = relevantLimit(row, limits);
    return { ...row, limit, ratio: limit === null ? null : row.opsPerSec / limit.opsPerSec };
  });
}

// ---- targets ----

const find = (rows: readonly Row[], spec: Partial<CellSpec>): Row | undefined =>
  rows.find((row) => Object.entries(spec).every(([key, value]) => row[key as keyof CellSpec] === value));

const matrixRow = (
  rows: readonly Row[],
  transport: TransportKind,
  durability: Durability,
  concurrency: number,
) => find(rows, { group: 'matrix', transport, durability, concurrency, policy: 'quorum' });

export const RSS_LIMIT_MIB = 200;
/** WebSocket's figures against TCP's targets. */
export const WS_FACTOR = 0.6;
export const HTTP_FACTOR = 0.7;

export function evaluateTargets(
  rows: readonly Row[],
  limits: Readonly<Record<string, LimitSummary>>,
): Target[] {
  const targets: Target[] = [];
  /** For a WS row: how it compares with the TCP row of the same cell, measured in this run. */
  const versusTcp = (row: Row | undefined, latency: boolean): string => {
    if (row === undefined || row.transport !== 'ws') return '';
    const tcp = matrixRow(rows, 'tcp', row.durability, row.concurrency);
    if (tcp === undefined) return '';
    const ratio = latency ? tcp.p50Ms / row.p50Ms : row.opsPerSec / tcp.opsPerSec;
    return `; WS ÷ TCP measured: ${ratio.toFixed(2)}×${latency ? ' (speed: TCP p50 ÷ WS p50)' : ''}`;
  };
  const throughput = (name: string, row: Row | undefined, goal: number) =>
    targets.push({
      name,
      goal: `≥ ${ops(goal)} commits/s`,
      measured:
        row === undefined ? 'not measured' : `${ops(row.opsPerSec)} commits/s${versusTcp(row, false)}`,
      pass: row === undefined ? null : row.opsPerSec >= goal,
    });
  const latency = (name: string, row: Row | undefined, goalMs: number) =>
    targets.push({
      name,
      goal: `p50 ≤ ${goalMs.toFixed(3)} ms`,
      measured: row === undefined ? 'not measured' : `p50 ${ms(row.p50Ms)} ms${versusTcp(row, true)}`,
      pass: row === undefined ? null : row.p50Ms <= goalMs,
    });
  // WebSocket is judged against 0.6× the TCP targets (the stricter reading); its ratio to the TCP
  // figures measured in the same run is shown beside it.
  for (const transport of ['tcp', 'ws'] as const) {
    const factor = transport === 'tcp' ? 1 : WS_FACTOR;
    const label = transport === 'tcp' ? 'TCP' : `WS (${WS_FACTOR}× the TCP targets)`;
    throughput(`quorum none/none ${label} c=64`, matrixRow(rows, transport, 'none', 64), 100_000 * factor);
    latency(`quorum none/none ${label} c=1`, matrixRow(rows, transport, 'none', 1), 0.1 / factor);
    throughput(`quorum fsync/fsync ${label} c=64`, matrixRow(rows, transport, 'fsync', 64), 40_000 * factor);
    latency(`quorum fsync/fsync ${label} c=1`, matrixRow(rows, transport, 'fsync', 1), 0.25 / factor);
  }
  for (const durability of ['none', 'fsync'] as const) {
    const row = find(rows, { scenario: 'http', durability, concurrency: 64 });
    const ceiling = limits.httpClient64;
    targets.push({
      name: `HTTP example ack=quorum c=64, durability ${durability}`,
      goal: `≥ ${HTTP_FACTOR}× the client's ceiling`,
      measured:
        row === undefined || ceiling === undefined
          ? 'not measured'
          : `${ops(row.opsPerSec)} req/s = ${(row.opsPerSec / ceiling.opsPerSec).toFixed(2)}× ${ops(ceiling.opsPerSec)}`,
      pass:
        row === undefined || ceiling === undefined ? null : row.opsPerSec >= HTTP_FACTOR * ceiling.opsPerSec,
    });
  }
  const loaded = rows.filter((row) => row.scenario === 'embedded' && row.concurrency === 64);
  const peaks = loaded.flatMap((row) =>
    Object.entries(row.peakRssMiB).map(([site, mib]) => ({ row, site, mib })),
  );
  const worst = peaks.sort((a, b) => b.mib - a.mib)[0];
  targets.push({
    name: 'RSS per site under the concurrency-64 load',
    goal: `< ${RSS_LIMIT_MIB} MiB`,
    measured:
      worst === undefined
        ? 'not measured'
        : `largest ${worst.mib.toFixed(0)} MiB (site ${worst.site}, ${rowLabel(worst.row)})`,
    pass: worst === undefined ? null : worst.mib < RSS_LIMIT_MIB,
  });
  return targets;
}

// ---- formatting ----

function ops(value: number): string {
  return Number.isFinite(value) ? Math.round(value).toLocaleString('en-US') : '–';
}

function ms(value: number): string {
  if (!Number.isFinite(value)) return '–';
  return value < 1 ? value.toFixed(3) : value < 10 ? value.toFixed(2) : value.toFixed(1);
}

export function sizeLabel(bytes: number): string {
  return bytes >= 1024 && bytes % 1024 === 0 ? `${bytes / 1024} KiB` : `${bytes} B`;
}

function rowLabel(row: Row): string {
  return `${row.transport} ${row.durability} ${row.policy} c=${row.concurrency} ${sizeLabel(row.size)} ${row.sites} sites`;
}

function perSite(values: Readonly<Record<string, number>>, digits: number): string {
  const entries = Object.entries(values).sort(([a], [b]) => (a < b ? -1 : 1));
  return entries.length === 0 ? '–' : entries.map(([, value]) => value.toFixed(digits)).join(' / ');
}

function spread(runs: readonly number[]): string {
  if (runs.length === 0) return '–';
  return `${ops(Math.min(...runs))}–${ops(Math.max(...runs))}`;
}

function limitCells(row: Row): string[] {
  if (row.limit === null || row.ratio === null) return ['–', '–'];
  return [`${row.limit.name} ${ops(row.limit.opsPerSec)}`, row.ratio.toFixed(2)];
}

function table(header: readonly string[], rows: readonly (readonly string[])[], leftColumns: number): string {
  return [
    `| ${header.join(' | ')} |`,
    `| ${header.map((_, index) => (index < leftColumns ? '---' : '---:')).join(' | ')} |`,
    ...rows.map((row) => `| ${row.join(' | ')} |`),
  ].join('\n');
}

function embeddedTable(rows: readonly Row[]): string {
  return table(
    [
      'transport',
      'durability',
      'policy',
      'c',
      'commits/s',
      'min–max',
      'p50 ms',
      'p99 ms',
      'master CPU µs/commit',
      'CPU % a / b / c',
      'peak RSS MiB a / b / c',
      'relevant limit (ops/s)',
      '× limit',
      'not acked',
    ],
    rows.map((row) => [
      row.transport.toUpperCase(),
      `${row.durability}/${row.durability}`,
      row.policy,
      String(row.concurrency),
      `**${ops(row.opsPerSec)}**`,
      spread(row.runs),
      ms(row.p50Ms),
      ms(row.p99Ms),
      row.masterCpuUsPerCommit === null ? '–' : row.masterCpuUsPerCommit.toFixed(1),
      perSite(row.cpuPercent, 0),
      perSite(row.peakRssMiB, 0),
      ...limitCells(row),
      String(row.notAcknowledged),
    ]),
    3,
  );
}

function scalingTable(rows: readonly Row[], by: 'size' | 'sites'): string {
  return table(
    [
      by === 'size' ? 'record size' : 'sites',
      'commits/s',
      'MB/s of records',
      'min–max',
      'p50 ms',
      'p99 ms',
      'master CPU µs/commit',
      'master CPU %',
      'peak RSS MiB (largest site)',
      'relevant limit (ops/s)',
      '× limit',
    ],
    rows.map((row) => [
      by === 'size' ? sizeLabel(row.size) : String(row.sites),
      `**${ops(row.opsPerSec)}**`,
      ((row.opsPerSec * row.size) / 1e6).toFixed(1),
      spread(row.runs),
      ms(row.p50Ms),
      ms(row.p99Ms),
      row.masterCpuUsPerCommit === null ? '–' : row.masterCpuUsPerCommit.toFixed(1),
      row.cpuPercent.a === undefined ? '–' : row.cpuPercent.a.toFixed(0),
      Object.keys(row.peakRssMiB).length === 0 ? '–' : Math.max(...Object.values(row.peakRssMiB)).toFixed(0),
      ...limitCells(row),
    ]),
    1,
  );
}

function httpTable(rows: readonly Row[], limits: Readonly<Record<string, LimitSummary>>): string {
  const ceilings = [1, 64].flatMap((concurrency) => {
    const limit = limits[`httpClient${concurrency}`];
    return limit === undefined
      ? []
      : [
          [
            'trivial node:http server (the ceiling)',
            '–',
            String(concurrency),
            `**${ops(limit.opsPerSec)}**`,
            spread(limit.runs),
            ms(limit.p50Ms),
            ms(limit.p99Ms),
            '–',
            '1',
            '–',
          ],
        ];
  });
  return table(
    [
      'target',
      'durability',
      'c',
      'requests/s',
      'min–max',
      'p50 ms',
      'p99 ms',
      'relevant limit (ops/s)',
      '× limit',
      'not 200',
    ],
    [
      ...rows.map((row) => [
        '3 × `kv node`, PUT ?ack=quorum to the master',
        `${row.durability}/${row.durability}`,
        String(row.concurrency),
        `**${ops(row.opsPerSec)}**`,
        spread(row.runs),
        ms(row.p50Ms),
        ms(row.p99Ms),
        ...limitCells(row),
        String(row.notAcknowledged),
      ]),
      ...ceilings,
    ],
    2,
  );
}

const LIMIT_DESCRIPTIONS: Readonly<Record<string, string>> = {
  fdatasync: 'bare loop: writeSync 128 B + fdatasyncSync (bench/log), p50 = its mean',
  groupCommit64: 'bare loop: 64 × writeSync 128 B + one fdatasyncSync, 64 ops per sync (bench/log)',
  fdatasync3:
    'three processes in the bare fdatasync loop at once, a file each (the three sites of a cell on one disk); ops/s per process, p50 = its mean',
  tcpRoundTrip: 'bare node:net echo, 128 B, one at a time (bench/transport)',
  tcpPipelined64: 'bare node:net echo, 128 B, 64 outstanding',
  wsRoundTrip: 'bare ws echo, 128 B, one at a time',
  wsPipelined64: 'bare ws echo, 128 B, 64 outstanding',
  httpClient1: 'the undici load client against a trivial node:http server, 1 connection',
  httpClient64: 'the same, 64 keep-alive connections',
};

function limitsTable(limits: Readonly<Record<string, LimitSummary>>): string {
  return table(
    ['limit', 'what', 'ops/s', 'min–max', 'p50 ms', 'p99 ms'],
    Object.entries(limits).map(([name, limit]) => {
      const [base, size] = name.split('@');
      const what =
        size === undefined
          ? (LIMIT_DESCRIPTIONS[name] ?? '')
          : `${LIMIT_DESCRIPTIONS[base!] ?? base}, frames of ${sizeLabel(Number(size))}`.replace(
              '128 B, ',
              '',
            );
      return [
        name,
        what,
        `**${ops(limit.opsPerSec)}**`,
        spread(limit.runs),
        ms(limit.p50Ms),
        ms(limit.p99Ms),
      ];
    }),
    2,
  );
}

export function targetsText(targets: readonly Target[]): string {
  return targets
    .map((target) => {
      const verdict = target.pass === null ? 'NOT RUN' : target.pass ? 'PASS' : 'MISS';
      return `- **${verdict}** ${target.name}: ${target.measured} (target ${target.goal})`;
    })
    .join('\n');
}

export function consoleSummary(results: Results): string {
  return [
    ...results.rows.map(
      (row) =>
        `${row.scenario.padEnd(8)} ${rowLabel(row).padEnd(44)} ${ops(row.opsPerSec).padStart(9)}/s  p50 ${ms(row.p50Ms).padStart(6)}  p99 ${ms(row.p99Ms).padStart(6)}` +
        (row.ratio === null ? '' : `  ${row.ratio.toFixed(2)}× ${row.limit!.name}`),
    ),
    '',
    targetsText(results.targets),
  ].join('\n');
}

/** `findings`: the hand-written analysis (bench/cluster/findings.md), kept across runs. */
export function markdown(results: Results, findings?: string): string {
  const { machine, settings } = results;
  const rows = results.rows;
  const load = Object.entries(machine.loadavg)
    .map(([when, value]) => `${when} ${value.toFixed(2)}`)
    .join(', ');
  const bySize = rows.filter((row) => row.group === 'size').sort((a, b) => a.size - b.size);
  const bySites = rows.filter((row) => row.group === 'sites').sort((a, b) => a.sites - b.sites);
  return [
    '# Cluster benchmark (`pnpm bench`)',
    '',
    `Commit \`${machine.commit}\`${machine.uncommittedChanges ? ' **with uncommitted changes in packages/ or examples/**' : ''}. ` +
      `Node ${machine.node}, ${machine.cpus} CPUs (${machine.cpuModel}), ${machine.platform}, ${machine.date}${settings.quick ? ' (**quick run**)' : ''}; ${results.durationSeconds.toFixed(0)} s in all. ` +
      `**1-minute load average**: ${load} — other work on this shared machine takes CPU from every process here, so read the spread columns too.`,
    '',
    `Every cell ran ${settings.runs} times for ${settings.runSeconds} s after one discarded ${settings.warmupSeconds} s warm-up run; each round runs every cell of its phase once, in a rotating order, together with the limit loops (${settings.limitSeconds} s each), so the cells and the limits they are held against are measured side by side. Tables quote the **median** of the runs (min–max: the spread of the rate). Packages under test: \`${settings.code}\`${settings.code === 'dist' ? ' (the compiled output an application runs; sites run on plain node, without tsx)' : ' (TypeScript source through tsx)'}.`,
    '',
    "**Embedded**: site processes on 127.0.0.1, each a `ReplicationManager` with its log on disk and the key-value state machine; site `a` is made master with `becomeMaster()` and elections are off (roles are set, as an application that appoints its master would: nothing but the load runs). The load runs **inside the master process**: N concurrent committers, each `await manager.commit([record], { policy })` in a loop, one data record of the given size per commit (a key-value put). Latency: from the `commit()` call to its receipt. Durability is the same on master and clients: `none` (the record is in the log buffer; Berkeley DB's recommended replicated setting) or `fsync` (fdatasync with group commit; clients ack at level `flushed`). CPU % is each site process's CPU time (all threads) over the run's wall time (100 = one core); RSS is sampled every 50 ms.",
    '',
    '## Embedded: policy × durability × concurrency, 128 B records, 3 sites',
    '',
    embeddedTable(rows.filter((row) => row.group === 'matrix')),
    '',
    "Policy `none` waits for nothing, so its committers never yield to the event loop (each commit resolves in microtasks): the master reads nothing while the run lasts, and its records leave in the TCP transport's bounded batches (flushed at half the socket's high-water mark). An application whose commits come from I/O yields between them.",
    '',
    '## Scaling (TCP, quorum, durability none/none, concurrency 64)',
    '',
    '### Record size (3 sites)',
    '',
    bySize.length === 0 ? '_not run_' : scalingTable(bySize, 'size'),
    '',
    '### Sites (128 B records)',
    '',
    bySites.length === 0
      ? '_not run_'
      : `${scalingTable(bySites, 'sites')}\n\nWith 2 sites, \`quorum\` needs no ack (Berkeley DB's strict two-site rule, the manager's default): the commit waits for nothing but the local log.`,
    '',
    '## HTTP example under load',
    '',
    "Three `kv node` sites (elections on, as the example runs; with the packages as compiled, `node examples/kv-cluster/dist/cli.js node …`, the example compiled too), `--ack quorum`; an [undici](https://github.com/nodejs/undici) `Pool` in the benchmark process with one keep-alive connection per concurrent request loop, `PUT /kv/bench-N?ack=quorum` with a 128 B body to the master; and in the same rounds the same client against a trivial `node:http` server in a process of its own, which reads the body and answers a small JSON: the load client's own ceiling on this machine.",
    '',
    rows.some((row) => row.scenario === 'http')
      ? httpTable(
          rows.filter((row) => row.scenario === 'http'),
          results.limits,
        )
      : '_not run_',
    '',
    '## Limits of this machine (same run)',
    '',
    limitsTable(results.limits),
    '',
    "The **relevant limit** of a row: with an ack policy and durability none, the echo (a round trip at concurrency 1, pipelined at 64; for the record-size rows, pipelined frames of that size); with policy `none` and durability fsync, the master's own flush (at 1 one fdatasync made while the clients sync too, `fdatasync3`: the three sites share this machine's disk; the 64-writer group commit at 64); with an ack policy and fsync, at concurrency 1 a round trip plus one such fdatasync (the client's; the master's runs alongside), at 64 the slower of the group-commit loop and the pipelined echo; with policy `none` and durability none nothing is waited for (at 64 the pipelined echo bounds the shipping; at 1 no ratio). HTTP rows: the same client against the trivial server.",
    '',
    '## Targets',
    '',
    'All from this one run.',
    '',
    targetsText(results.targets),
    '',
    'Where the time goes in the misses: [cluster-profile.md](cluster-profile.md) (`pnpm bench:profile`), and the findings below.',
    ...(findings === undefined ? [] : ['', findings.trim()]),
    ...(results.skipped.length === 0
      ? []
      : ['', '## Not run', '', ...results.skipped.map((reason) => `- ${reason}`)]),
    '',
  ].join('\n');
}
