/**
 * `pnpm chaos [--minutes N | --seconds N] [--seed S] [--sites 3|5] [--transport tcp|ws] [--net relay|netns|auto]`
 * `         [--clients N] [--election-timeout-ms N] [--faults kind,kind…] [--log-level LEVEL] [--keep] [--verbose]`
 * `pnpm chaos --durability-modes [--seed S] [--transport tcp|ws]`
 *
 * Runs real `kv node` processes under a seeded fault schedule (see faults.ts) and checks the history
 * (see checks.ts). Ends with one line, `ops=… acked=… lost=L indeterminate=… elections=…
 * max-unavailable-ms=…`, and exits 0 only when L is 0 and every checker passed; a failing run prints its
 * seed and keeps the sites' logs (the directory is printed). `--durability-modes` is the P9 check
 * instead (durability.ts): one line per mode, then the same kind of summary line.
 */
import { parseArgs } from 'node:util';
import { runDurabilityModes } from './durability.js';
import { FAULT_KINDS, type FaultKind } from './faults.js';
import { NetnsNetwork } from './netns.js';
import { killAllTrackedSync } from './processes.js';
import { type ChaosOptions, DEFAULT_OPTIONS, removeRunDir, runChaos, summaryLine } from './run.js';

const EXIT_USAGE = 2;

function usage(message: string): never {
  process.stderr.write(`chaos: ${message}\n`);
  process.exit(EXIT_USAGE);
}

function number(text: string | undefined, name: string, min: number, max: number): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!Number.isFinite(value) || value < min || value > max)
    usage(`--${name} must be a number from ${min} to ${max}`);
  return value;
}

const { values } = (() => {
  try {
    return parseArgs({
      options: {
        minutes: { type: 'string' },
        seconds: { type: 'string' },
        seed: { type: 'string' },
        sites: { type: 'string' },
        transport: { type: 'string' },
        net: { type: 'string' },
        clients: { type: 'string' },
        'election-timeout-ms': { type: 'string' },
        faults: { type: 'string' },
        keep: { type: 'boolean', default: false },
        verbose: { type: 'boolean', default: false },
        'durability-modes': { type: 'boolean', default: false },
        'log-level': { type: 'string', default: 'info' },
      },
      strict: true,
      allowPositionals: false,
    });
  } catch (error) {
    return usage((error as Error).message);
  }
})();

const seed = number(values.seed, 'seed', 0, 2 ** 32 - 1) ?? Math.floor(Math.random() * 2 ** 31);
if (!Number.isInteger(seed)) usage('--seed must be a whole number');
const sites = number(values.sites, 'sites', 3, 5) ?? DEFAULT_OPTIONS.sites;
if (sites !== 3 && sites !== 5) usage('--sites must be 3 or 5');
const transport = values.transport ?? DEFAULT_OPTIONS.transport;
if (transport !== 'tcp' && transport !== 'ws') usage('--transport must be tcp or ws');
const netFlag = values.net ?? DEFAULT_OPTIONS.net;
if (netFlag !== 'relay' && netFlag !== 'netns' && netFlag !== 'auto')
  usage('--net must be relay, netns or auto');
// auto: kernel isolation when this process can build namespaces, else the relay (and say why).
const netnsUnavailable = netFlag === 'relay' ? undefined : NetnsNetwork.unavailable();
if (netFlag === 'netns' && netnsUnavailable !== undefined) usage(`--net netns: ${netnsUnavailable}`);
const net = netFlag === 'relay' || netnsUnavailable !== undefined ? 'relay' : 'netns';
const minutes = number(values.minutes, 'minutes', 0.05, 24 * 60);
const seconds = number(values.seconds, 'seconds', 3, 24 * 3600);
const durationMs = Math.round(
  seconds !== undefined
    ? seconds * 1000
    : minutes !== undefined
      ? minutes * 60_000
      : DEFAULT_OPTIONS.durationMs,
);
const faults = (values.faults?.split(',').filter((kind) => kind !== '') ?? [
  ...DEFAULT_OPTIONS.faults,
]) as FaultKind[];
for (const kind of faults)
  if (!FAULT_KINDS.includes(kind)) usage(`unknown fault ${kind}; known: ${FAULT_KINDS.join(', ')}`);
const electionTimeoutMs =
  number(values['election-timeout-ms'], 'election-timeout-ms', 100, 60_000) ??
  DEFAULT_OPTIONS.electionTimeoutMs;
const clients = number(values.clients, 'clients', 1, 64) ?? (sites === 5 ? 6 : 4);

const verbose = values.verbose;
const log = (line: string) => {
  if (verbose) process.stderr.write(`${line}\n`);
};

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    killAllTrackedSync();
    process.stderr.write(`chaos: ${signal}: every site killed; seed ${seed}\n`);
    process.exit(130);
  });
}

if (values['durability-modes']) {
  const report = await runDurabilityModes({ seed, transport, electionTimeoutMs, log, keep: values.keep });
  for (const line of report.lines) process.stdout.write(`${line}\n`);
  if (!report.ok) {
    process.stderr.write(`chaos --durability-modes FAILED: seed ${seed}; logs kept in ${report.dir}\n`);
    for (const finding of report.findings) process.stderr.write(`  ${finding}\n`);
  } else if (!values.keep) await removeRunDir(report.dir);
  process.stdout.write(`${summaryLine(report.summary)}\n`);
  process.exit(report.ok ? 0 : 1);
}

const options: ChaosOptions = {
  seed,
  sites,
  transport,
  durationMs,
  net,
  clients,
  electionTimeoutMs,
  ackTimeoutMs: DEFAULT_OPTIONS.ackTimeoutMs,
  durability: DEFAULT_OPTIONS.durability,
  faults,
  keep: values.keep,
  log,
  siteLogLevel: values['log-level'],
};
const report = await runChaos(options);
const why =
  netFlag === 'auto' && netnsUnavailable !== undefined ? ` (no namespaces: ${netnsUnavailable})` : '';
process.stderr.write(
  `chaos seed=${seed} sites=${sites} transport=${transport} ${(durationMs / 1000).toFixed(0)}s; ${report.network}${why}\n`,
);
for (const line of report.details) process.stderr.write(`  ${line}\n`);
for (const check of report.checks) {
  if (check.ok && !verbose) continue;
  process.stderr.write(`  ${check.ok ? 'ok  ' : 'FAIL'} ${check.name}: ${check.summary}\n`);
  for (const finding of check.findings) process.stderr.write(`       ${finding}\n`);
}
if (!verbose && report.ok) process.stderr.write(`  every checker passed (${report.checks.length})\n`);
if (!report.ok) {
  process.stderr.write(
    `chaos FAILED: seed ${seed} (rerun: pnpm chaos --seed ${seed} --sites ${sites} --transport ${transport} --net ${net} --seconds ${durationMs / 1000}${values.faults === undefined ? '' : ` --faults ${values.faults}`}); sites' logs kept in ${report.dir}/logs\n`,
  );
} else if (report.kept) {
  process.stderr.write(`run directory kept: ${report.dir}\n`);
} else {
  await removeRunDir(report.dir);
}
process.stdout.write(`${summaryLine(report.summary)}\n`);
process.exit(report.ok && report.summary.lost === 0 ? 0 : 1);
