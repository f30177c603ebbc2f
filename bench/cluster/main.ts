/**
 * `pnpm bench [--quick] [--seconds S] [--runs N] [--only embedded,scaling,http] [--code dist|source]`:
 * Ackord against this machine's physical limits, all in one run (issue 9). Writes
 * bench/results/latest.json and latest.md and prints a summary.
 *
 * 1. embedded: 3 site processes over TCP and over WebSocket, the load inside the master process;
 *    policies × durability (none/none, fsync/fsync) × concurrency 1 and 64, 128 B records.
 * 2. scaling: TCP, quorum, none/none, c=64: record size 128 B → 64 KiB; sites 2 → 6.
 * 3. http: 3 `kv node` sites (compiled, like the packages) under an undici client, ack=quorum, c=1 and 64, and the same client
 *    against a trivial node:http server.
 * The limits (fdatasync loop, three concurrent ones, 64-writer group commit, bare TCP and ws echoes) run in every round of
 * every phase, interleaved with the cells. Every child process is killed on the way out, failure or not.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type BenchArgs, parseArgs } from './args.js';
import { buildSite } from './build-site.js';
import {
  BenchCluster,
  buildUnderTest,
  killAllChildren,
  killAllChildrenNow,
  REPO_ROOT,
  useBundledSite,
} from './driver.js';
import { KvCluster, kvUnavailable, runHttp, TrivialServer } from './http.js';
import { concurrentSyncLimit, diskLimit, EchoLimits, type LimitRun } from './limits.js';
import type { BenchPolicy, Durability, TransportKind } from './protocol.js';
import {
  type CellRun,
  type CellSpec,
  consoleSummary,
  evaluateTargets,
  type LimitSummary,
  markdown,
  networkLimitName,
  type Results,
  summarizeCell,
  summarizeLimit,
  withLimits,
} from './report.js';

const resultsDir = path.join(REPO_ROOT, 'bench', 'results');
const MIB = 1024 * 1024;

function progress(text: string): void {
  process.stderr.write(`${text}\n`);
}

/** One thing measured per round: a cell or a limit. `record` false: a warm-up run, thrown away. */
interface Task {
  readonly name: string;
  readonly kind: 'cell' | 'limit';
  run(record: boolean): Promise<void>;
}

class Measurements {
  readonly cells = new Map<string, { spec: CellSpec; runs: CellRun[] }>();
  readonly limits = new Map<string, LimitRun[]>();

  cell(spec: CellSpec, run: CellRun): void {
    const key = JSON.stringify(spec);
    let entry = this.cells.get(key);
    if (entry === undefined) {
      entry = { spec, runs: [] };
      this.cells.set(key, entry);
    }
    entry.runs.push(run);
  }

  limit(name: string, run: LimitRun): void {
    let runs = this.limits.get(name);
    if (runs === undefined) {
      runs = [];
      this.limits.set(name, runs);
    }
    runs.push(run);
  }
}

function ops(value: number): string {
  return Math.round(value).toLocaleString('en-US').padStart(9);
}

/** Warm-up pass over the cells, then `runs` rounds of every task in a rotating order (reversed every other round). */
async function runRounds(phase: string, tasks: readonly Task[], args: BenchArgs): Promise<void> {
  for (const task of tasks) await task.run(false);
  const step = Math.max(1, Math.floor(tasks.length / Math.max(1, args.runs)));
  for (let round = 0; round < args.runs; round++) {
    const order = tasks.map((_, index) => tasks[(index + round * step) % tasks.length]!);
    if (round % 2 === 1) order.reverse();
    progress(`${phase}: round ${round + 1}/${args.runs} (load average ${os.loadavg()[0]!.toFixed(2)})`);
    for (const task of order) await task.run(true);
  }
}

function limitTasks(measurements: Measurements, args: BenchArgs, echo: EchoLimits, dir: string): Task[] {
  const tasks: Task[] = [];
  const add = (name: string, measure: () => Promise<LimitRun> | LimitRun) =>
    tasks.push({
      name,
      kind: 'limit',
      run: async (record) => {
        const run = await measure();
        if (!record) return;
        measurements.limit(name, run);
        progress(`  limit ${name.padEnd(26)} ${ops(run.opsPerSec)} ops/s  p50 ${run.p50Ms.toFixed(3)} ms`);
      },
    });
  add('fdatasync', () => diskLimit(dir, 'fdatasync', args.limitSeconds));
  add('groupCommit64', () => diskLimit(dir, 'groupCommit64', args.limitSeconds));
  add('fdatasync3', () => concurrentSyncLimit(dir, args.limitSeconds));
  for (const family of ['tcp', 'ws'] as const) {
    add(networkLimitName(family, 1, 128), () => echo.run(family, 1, args.limitSeconds));
    add(networkLimitName(family, 64, 128), () => echo.run(family, 64, args.limitSeconds));
  }
  return tasks;
}

/** The pipelined TCP echo at every record size of the scaling phase. */
function sizeLimitTasks(measurements: Measurements, args: BenchArgs, echo: EchoLimits): Task[] {
  return args.sizes.map((size) => {
    const name = networkLimitName('tcp', 64, size);
    return {
      name,
      kind: 'limit' as const,
      run: async (record: boolean) => {
        const run = await echo.run('tcp', 64, args.limitSeconds, size);
        if (!record) return;
        measurements.limit(name, run);
        progress(`  limit ${name.padEnd(26)} ${ops(run.opsPerSec)} ops/s  p50 ${run.p50Ms.toFixed(3)} ms`);
      },
    };
  });
}

function cellTask(
  measurements: Measurements,
  cluster: BenchCluster,
  spec: CellSpec,
  seconds: number,
  warmup: number,
): Task {
  const name = `${spec.transport}/${spec.durability} ${spec.sites} sites ${spec.policy} c=${spec.concurrency} ${spec.size} B`;
  return {
    name,
    kind: 'cell',
    run: async (record) => {
      await cluster.usage();
      const result = await cluster.master.load({
        policy: spec.policy,
        concurrency: spec.concurrency,
        size: spec.size,
        seconds: record ? seconds : warmup,
      });
      const usage = await cluster.usage();
      if (!record) return;
      measurements.cell(spec, {
        opsPerSec: result.opsPerSec,
        p50Ms: result.p50Ms,
        p99Ms: result.p99Ms,
        notAcknowledged: result.notAcknowledged,
        cpuUsPerCommit: result.cpuUsPerCommit,
        usage: usage.map((site) => ({
          site: site.site,
          cpuPercent: (100 * site.cpuMs) / site.wallMs,
          peakRssMiB: site.peakRssBytes / MIB,
        })),
      });
      progress(
        `  ${name.padEnd(44)} ${ops(result.opsPerSec)} commits/s  p50 ${result.p50Ms.toFixed(3)} ms  p99 ${result.p99Ms.toFixed(3)} ms  ` +
          `master ${result.cpuUsPerCommit.toFixed(1)} µs/commit${result.notAcknowledged > 0 ? `  not acked ${result.notAcknowledged}` : ''}`,
      );
    },
  };
}

function embeddedSpec(
  transport: TransportKind,
  durability: Durability,
  policy: BenchPolicy,
  concurrency: number,
  size: number,
  sites: number,
  group: CellSpec['group'],
): CellSpec {
  return { scenario: 'embedded', group, transport, policy, durability, concurrency, size, sites };
}

/** Starts clusters side by side; if any fails, closes those that started and rethrows. */
async function startClusters(
  specs: readonly Parameters<typeof BenchCluster.start>[0][],
  root: string,
): Promise<BenchCluster[]> {
  const started = await Promise.allSettled(specs.map((spec) => BenchCluster.start(spec, root)));
  const clusters = started.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
  const failure = started.find((result) => result.status === 'rejected');
  if (failure !== undefined) {
    await Promise.all(clusters.map((cluster) => cluster.close()));
    throw failure.reason;
  }
  return clusters;
}

function gitState(): { commit: string; uncommittedChanges: boolean } {
  const git = (...args: string[]) =>
    spawnSync('git', args, { cwd: REPO_ROOT, encoding: 'utf8' }).stdout?.trim() ?? '';
  return {
    commit: git('rev-parse', '--short', 'HEAD') || 'unknown',
    uncommittedChanges: git('status', '--porcelain', '--', 'packages', 'examples') !== '',
  };
}

function buildPackages(): void {
  progress('building the packages under test (tsc -b) ...');
  if (!buildUnderTest())
    throw new Error('tsc -b failed: fix the build, or run with --no-build or --code source');
}

function findingsText(): string | undefined {
  const file = path.join(REPO_ROOT, 'bench', 'cluster', 'findings.md');
  return fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : undefined;
}

/** `--render`: the markdown again from the JSON of a run (targets re-evaluated by the current rules). */
function render(out: string): void {
  const stored = JSON.parse(fs.readFileSync(path.join(resultsDir, `${out}.json`), 'utf8')) as Results;
  const results: Results = { ...stored, targets: evaluateTargets(stored.rows, stored.limits) };
  fs.writeFileSync(path.join(resultsDir, `${out}.json`), `${JSON.stringify(results, null, 2)}\n`);
  fs.writeFileSync(path.join(resultsDir, `${out}.md`), markdown(results, findingsText()));
  console.log(consoleSummary(results));
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if (args.render) return render(args.out);
  const started = performance.now();
  const loadavg: Record<string, number> = { start: os.loadavg()[0]! };
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'ackord-bench-'));
  const cleanup = async () => {
    await killAllChildren();
    fs.rmSync(root, { recursive: true, force: true });
  };
  // Interrupted: everything synchronous, so nothing is left behind however the process goes down.
  process.on('exit', () => {
    killAllChildrenNow();
    fs.rmSync(root, { recursive: true, force: true });
  });
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(130));

  const measurements = new Measurements();
  const skipped: string[] = [];
  const open: BenchCluster[] = [];
  let echo: EchoLimits | undefined;
  try {
    if (args.code === 'dist') {
      if (args.build) buildPackages();
      useBundledSite(await buildSite(path.join(root, 'site.mjs')));
    }
    echo = await EchoLimits.start();
    const cellSeconds = args.runSeconds;

    if (args.phases.includes('embedded')) {
      loadavg.embedded = os.loadavg()[0]!;
      progress('embedded: starting 4 clusters of 3 sites (TCP and WS × none and fsync) ...');
      const specs = (['tcp', 'ws'] as const).flatMap((transport) =>
        (['none', 'fsync'] as const).map((durability) => ({
          transport,
          durability,
          sites: 3,
          code: args.code,
        })),
      );
      open.push(...(await startClusters(specs, root)));
      const tasks: Task[] = [...limitTasks(measurements, args, echo, root)];
      for (const cluster of open)
        for (const policy of args.policies)
          for (const concurrency of [1, 64]) {
            const spec = embeddedSpec(
              cluster.spec.transport,
              cluster.spec.durability,
              policy,
              concurrency,
              128,
              3,
              'matrix',
            );
            tasks.push(cellTask(measurements, cluster, spec, cellSeconds, args.warmupSeconds));
          }
      await runRounds('embedded', tasks, args);
      // Only the TCP none/none cluster goes on to the scaling phase.
      for (const cluster of open.splice(0))
        if (cluster.spec.transport === 'tcp' && cluster.spec.durability === 'none') open.push(cluster);
        else await cluster.close();
    }

    if (args.phases.includes('scaling')) {
      loadavg.scaling = os.loadavg()[0]!;
      progress(`scaling: sizes ${args.sizes.join(', ')} B; sites ${args.siteCounts.join(', ')} ...`);
      const need = args.siteCounts.filter((sites) => !open.some((cluster) => cluster.spec.sites === sites));
      open.push(
        ...(await startClusters(
          need.map((sites) => ({
            transport: 'tcp' as const,
            durability: 'none' as const,
            sites,
            code: args.code,
          })),
          root,
        )),
      );
      const three = open.find((cluster) => cluster.spec.sites === 3);
      const tasks: Task[] = sizeLimitTasks(measurements, args, echo);
      if (three !== undefined)
        for (const size of args.sizes)
          tasks.push(
            cellTask(
              measurements,
              three,
              embeddedSpec('tcp', 'none', 'quorum', 64, size, 3, 'size'),
              cellSeconds,
              args.warmupSeconds,
            ),
          );
      for (const sites of args.siteCounts) {
        const cluster = open.find((candidate) => candidate.spec.sites === sites)!;
        tasks.push(
          cellTask(
            measurements,
            cluster,
            embeddedSpec('tcp', 'none', 'quorum', 64, 128, sites, 'sites'),
            cellSeconds,
            args.warmupSeconds,
          ),
        );
      }
      await runRounds('scaling', tasks, args);
    }
    await Promise.all(open.splice(0).map((cluster) => cluster.close()));

    if (args.phases.includes('http')) {
      loadavg.http = os.loadavg()[0]!;
      const unavailable = kvUnavailable(args.code);
      if (unavailable !== undefined) {
        skipped.push(`HTTP example: ${unavailable}`);
        progress(`http: skipped: ${unavailable}`);
      } else {
        await httpPhase(measurements, args, root, skipped);
      }
    }
  } finally {
    await Promise.all(open.map((cluster) => cluster.close()));
    await echo?.close().catch(() => undefined);
    await cleanup();
  }

  loadavg.end = os.loadavg()[0]!;
  const limits: Record<string, LimitSummary> = {};
  for (const [name, runs] of measurements.limits) limits[name] = summarizeLimit(runs);
  const rows = withLimits(
    [...measurements.cells.values()].map(({ spec, runs }) => summarizeCell(spec, runs)),
    limits,
  );
  const cpus = os.cpus();
  const results: Results = {
    machine: {
      node: process.version,
      cpus: cpus.length,
      cpuModel: cpus[0]?.model ?? 'unknown',
      platform: `${os.platform()} ${os.release()} ${os.arch()}`,
      date: new Date().toISOString(),
      loadavg,
      ...gitState(),
    },
    settings: {
      quick: args.quick,
      runs: args.runs,
      runSeconds: args.runSeconds,
      warmupSeconds: args.warmupSeconds,
      limitSeconds: args.limitSeconds,
      code: args.code,
    },
    rows,
    limits,
    targets: evaluateTargets(rows, limits),
    skipped,
    durationSeconds: (performance.now() - started) / 1000,
  };
  fs.mkdirSync(resultsDir, { recursive: true });
  fs.writeFileSync(path.join(resultsDir, `${args.out}.json`), `${JSON.stringify(results, null, 2)}\n`);
  fs.writeFileSync(path.join(resultsDir, `${args.out}.md`), markdown(results, findingsText()));
  console.log(consoleSummary(results));
  progress(
    `\ndone in ${results.durationSeconds.toFixed(0)} s; wrote bench/results/${args.out}.json and ${args.out}.md`,
  );
}

async function httpPhase(
  measurements: Measurements,
  args: BenchArgs,
  root: string,
  skipped: string[],
): Promise<void> {
  const clusters: KvCluster[] = [];
  let trivial: TrivialServer | undefined;
  try {
    trivial = await TrivialServer.start();
    for (const durability of args.httpDurabilities) {
      progress(`http: starting 3 kv nodes (durability ${durability}) ...`);
      try {
        clusters.push(await KvCluster.start(root, durability, args.code));
      } catch (error) {
        const reason = `HTTP example (durability ${durability}): the kv cluster did not start: ${(error as Error).message.split('\n')[0]}`;
        skipped.push(reason);
        progress(`http: skipped: ${reason}`);
      }
    }
    if (clusters.length === 0) return;
    // Give the kv nodes' JIT a moment before anything is measured.
    for (const cluster of clusters) await runHttp(cluster.masterPort, 64, args.quick ? 1 : 2, 128);
    const tasks: Task[] = [];
    const server = trivial;
    for (const concurrency of [1, 64]) {
      const ceiling = `httpClient${concurrency}`;
      tasks.push({
        name: ceiling,
        kind: 'limit',
        run: async (record) => {
          const run = await runHttp(
            server.port,
            concurrency,
            record ? args.runSeconds : args.warmupSeconds,
            128,
          );
          if (!record) return;
          measurements.limit(ceiling, run);
          progress(
            `  limit ${ceiling.padEnd(26)} ${ops(run.opsPerSec)} req/s  p50 ${run.p50Ms.toFixed(3)} ms`,
          );
        },
      });
      for (const cluster of clusters) {
        const spec: CellSpec = {
          scenario: 'http',
          group: 'http',
          transport: 'tcp',
          policy: 'quorum',
          durability: cluster.durability,
          concurrency,
          size: 128,
          sites: 3,
        };
        tasks.push({
          name: `kv ${cluster.durability} c=${concurrency}`,
          kind: 'cell',
          run: async (record) => {
            const run = await runHttp(
              cluster.masterPort,
              concurrency,
              record ? args.runSeconds : args.warmupSeconds,
              128,
            );
            if (!record) return;
            measurements.cell(spec, {
              opsPerSec: run.opsPerSec,
              p50Ms: run.p50Ms,
              p99Ms: run.p99Ms,
              notAcknowledged: run.not200,
            });
            progress(
              `  kv ${cluster.durability} c=${String(concurrency).padEnd(37)} ${ops(run.opsPerSec)} req/s  p50 ${run.p50Ms.toFixed(3)} ms  p99 ${run.p99Ms.toFixed(3)} ms${run.not200 > 0 ? `  not 200: ${run.not200}` : ''}`,
            );
          },
        });
      }
    }
    await runRounds('http', tasks, args);
  } finally {
    await Promise.all(clusters.map((cluster) => cluster.close()));
    await trivial?.close();
  }
}

main().catch(async (error: unknown) => {
  console.error(error);
  await killAllChildren();
  process.exitCode = 1;
});
