/**
 * `pnpm bench:profile [--seconds S] [--cells tcp/none/quorum/64,...] [--out NAME]`: where the master's
 * time goes in the cells that miss their targets. For each cell: a 3-site cluster whose master (and
 * first client) run under `node --cpu-prof`; after a warm-up, one measured load of S seconds (the
 * profile is cropped to exactly that window), then the same load with counters on (promises created and
 * heap bytes allocated per commit, and who allocates them). Writes bench/results/cluster-profile.md (or
 * NAME.md) and keeps the .cpuprofile files under the printed directory for a closer look (Chrome
 * DevTools, or bench/core/profile-summary.ts).
 * An `http/DURABILITY/quorum/C` cell profiles the HTTP example instead: three compiled `kv node` sites
 * under `node --cpu-prof`, `PUT /kv/…?ack=quorum` from the bench's undici client at concurrency C (the
 * HTTP scenario of `pnpm bench`); its section shows the kv master's profile (no per-commit counters).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildSite } from './build-site.js';
import {
  BenchCluster,
  buildUnderTest,
  killAllChildren,
  killAllChildrenNow,
  REPO_ROOT,
  useBundledSite,
} from './driver.js';
import { KvCluster, runHttp } from './http.js';
import type { BenchPolicy, CommitCosts, Durability, LoadResult, TransportKind } from './protocol.js';

interface ProfiledCell {
  readonly transport: TransportKind | 'http';
  readonly durability: Durability;
  readonly policy: BenchPolicy;
  readonly concurrency: number;
  readonly size: number;
}

const DEFAULT_CELLS = 'tcp/none/quorum/64,tcp/none/quorum/1,tcp/fsync/quorum/64,tcp/fsync/quorum/1';

function parseCells(text: string): ProfiledCell[] {
  return text.split(',').map((entry) => {
    const [transport, durability, policy, concurrency, size = '128'] = entry.split('/');
    if (
      (transport !== 'tcp' && transport !== 'ws' && transport !== 'http') ||
      (durability !== 'none' && durability !== 'fsync') ||
      !['none', 'one', 'quorum', 'all'].includes(policy ?? '') ||
      !/^\d+$/.test(concurrency ?? '') ||
      !/^\d+$/.test(size)
    )
      throw new Error(`--cells: expected transport/durability/policy/concurrency[/size], got ${entry}`);
    return {
      transport,
      durability,
      policy: policy as BenchPolicy,
      concurrency: Number(concurrency),
      size: Number(size),
    };
  });
}

// ---- the profile ----

interface CallFrame {
  readonly functionName: string;
  readonly url: string;
}
interface ProfileNode {
  readonly id: number;
  readonly callFrame: CallFrame;
  readonly children?: readonly number[];
}
interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
  readonly startTime: number;
}

function label(frame: CallFrame): string {
  const where = frame.url
    .replace(/^.*?\/(packages|bench|examples|node_modules)\//, '$1/')
    .replace(/^file:\/\/.*\/site\.mjs$/, 'bench/cluster/site.ts');
  return `${frame.functionName || '(anonymous)'}${where === '' ? '' : ` ${where}`}`;
}

interface Summary {
  readonly samples: number;
  readonly self: readonly [string, number][];
  readonly inclusive: readonly [string, number][];
}

/** Self and inclusive shares of the samples taken between `fromUs` and `toUs` (the profile's clock). */
function summarize(profile: CpuProfile, fromUs: number, toUs: number, top: number): Summary {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  let samples = 0;
  let time = profile.startTime;
  for (let index = 0; index < profile.samples.length; index++) {
    time += profile.timeDeltas[index] ?? 0;
    if (time < fromUs || time > toUs) continue;
    samples++;
    const id = profile.samples[index]!;
    const leaf = label(byId.get(id)!.callFrame);
    self.set(leaf, (self.get(leaf) ?? 0) + 1);
    const seen = new Set<string>();
    for (let current: number | undefined = id; current !== undefined; current = parent.get(current)) {
      const name = label(byId.get(current)!.callFrame);
      if (seen.has(name)) continue;
      seen.add(name);
      inclusive.set(name, (inclusive.get(name) ?? 0) + 1);
    }
  }
  const sorted = (values: Map<string, number>) =>
    [...values].sort((a, b) => b[1] - a[1]).slice(0, top) as [string, number][];
  return { samples, self: sorted(self), inclusive: sorted(inclusive) };
}

/**
 * The main thread's profile: the one with the most samples in the window (of process `pid` only, when
 * given: node names the files `CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile`).
 */
function mainProfile(dir: string, fromUs: number, toUs: number, pid?: number): CpuProfile {
  const profiles = fs
    .readdirSync(dir)
    .filter((file) => file.endsWith('.cpuprofile'))
    .filter((file) => pid === undefined || file.split('.')[3] === String(pid))
    .map((file) => JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8')) as CpuProfile);
  if (profiles.length === 0) throw new Error(`no .cpuprofile in ${dir}`);
  const inWindow = (profile: CpuProfile) => summarize(profile, fromUs, toUs, 0).samples;
  return profiles.sort((a, b) => inWindow(b) - inWindow(a))[0]!;
}

function shareTable(title: string, rows: readonly [string, number][], samples: number): string {
  return [
    `| ${title} | % of samples |`,
    '| --- | ---: |',
    ...rows.map(([name, count]) => `| \`${name}\` | ${((100 * count) / samples).toFixed(1)} |`),
  ].join('\n');
}

/** The HTTP example: three compiled kv nodes under --cpu-prof, the bench's undici client on the master. */
async function profileHttpCell(
  cell: ProfiledCell,
  root: string,
  profileDir: string,
  seconds: number,
): Promise<string> {
  const name = `http/${cell.durability}/${cell.policy}/c=${cell.concurrency}/${cell.size} B`;
  if (cell.policy !== 'quorum') throw new Error(`--cells ${name}: the HTTP scenario writes with ack=quorum`);
  const dir = path.join(profileDir, name.replaceAll('/', '-').replaceAll(' ', ''));
  fs.mkdirSync(dir, { recursive: true });
  process.stderr.write(`profiling ${name} ...\n`);
  const cluster = await KvCluster.start(root, cell.durability, 'dist', [
    '--cpu-prof',
    `--cpu-prof-dir=${dir}`,
  ]);
  try {
    await runHttp(cluster.masterPort, cell.concurrency, 1, cell.size);
    const from = Number(process.hrtime.bigint() / 1000n);
    const run = await runHttp(cluster.masterPort, cell.concurrency, seconds, cell.size);
    const to = Number(process.hrtime.bigint() / 1000n);
    const masterPid = cluster.masterPid;
    // SIGTERM: a kv node exits cleanly on it, and node writes the profile on the way out.
    await cluster.close(10_000);
    const summary = summarize(mainProfile(dir, from, to, masterPid), from, to, 25);
    return [
      `## ${name}`,
      '',
      `${Math.round(run.opsPerSec).toLocaleString('en-US')} requests/s, p50 ${run.p50Ms.toFixed(3)} ms, p99 ${run.p99Ms.toFixed(3)} ms over ${seconds} s (${run.not200} not 200); the kv master's profile.`,
      '',
      `${summary.samples} samples in the measured window.`,
      '',
      shareTable('self time', summary.self, summary.samples),
      '',
      shareTable('inclusive time', summary.inclusive, summary.samples),
      '',
    ].join('\n');
  } finally {
    await cluster.close();
  }
}

async function profileCell(
  cell: ProfiledCell,
  root: string,
  profileDir: string,
  seconds: number,
): Promise<string> {
  if (cell.transport === 'http') return profileHttpCell(cell, root, profileDir, seconds);
  const name = `${cell.transport}/${cell.durability}/${cell.policy}/c=${cell.concurrency}/${cell.size} B`;
  const dir = path.join(profileDir, name.replaceAll('/', '-').replaceAll(' ', ''));
  const clientDir = path.join(dir, 'client-b');
  fs.mkdirSync(clientDir, { recursive: true });
  process.stderr.write(`profiling ${name} ...\n`);
  const cluster = await BenchCluster.start(
    {
      transport: cell.transport,
      durability: cell.durability,
      sites: 3,
      masterNodeArgs: ['--cpu-prof', `--cpu-prof-dir=${dir}`],
      clientNodeArgs: ['--cpu-prof', `--cpu-prof-dir=${clientDir}`],
    },
    root,
  );
  let load: LoadResult;
  let costs: CommitCosts;
  try {
    const spec = { policy: cell.policy, concurrency: cell.concurrency, size: cell.size };
    await cluster.master.load({ ...spec, seconds: 1 });
    await cluster.usage();
    load = await cluster.master.load({ ...spec, seconds });
    const usage = await cluster.usage();
    costs = await cluster.master.request<CommitCosts>({
      cmd: 'costs',
      ...spec,
      seconds: Math.min(1, seconds),
    });
    await cluster.shutdown();
    const from = load.monotonicStartUs;
    const to = load.monotonicEndUs;
    const summary = summarize(mainProfile(dir, from, to), from, to, 25);
    const client = summarize(mainProfile(clientDir, from, to), from, to, 15);
    return [
      `## ${name}`,
      '',
      `${Math.round(load.opsPerSec).toLocaleString('en-US')} commits/s, p50 ${load.p50Ms.toFixed(3)} ms, p99 ${load.p99Ms.toFixed(3)} ms over ${seconds} s; ` +
        `master ${load.cpuUsPerCommit.toFixed(1)} µs CPU per commit; CPU % a / b / c: ${usage.map((site) => ((100 * site.cpuMs) / site.wallMs).toFixed(0)).join(' / ')}. ` +
        `Per commit on the master: **${costs.promisesPerCommit.toFixed(1)} promises**, **${Math.round(costs.heapBytesPerCommit).toLocaleString('en-US')} B allocated** ` +
        `(counted over a ${Math.min(1, seconds)} s run with async_hooks and the sampling heap profiler on: ${Math.round(costs.opsPerSec).toLocaleString('en-US')} commits/s there).`,
      '',
      `${summary.samples} samples in the measured window.`,
      '',
      shareTable('self time', summary.self, summary.samples),
      '',
      shareTable('inclusive time', summary.inclusive, summary.samples),
      '',
      `Client \`b\` in the same window (${client.samples} samples):`,
      '',
      shareTable('self time (client b)', client.self, client.samples),
      '',
      '| bytes allocated per commit, by function |',
      '| --- |',
      ...costs.topAllocators.map((line) => `| \`${line}\` |`),
      '',
    ].join('\n');
  } finally {
    await cluster.close();
  }
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const option = (name: string) => {
    const index = argv.indexOf(name);
    return index < 0 ? undefined : argv[index + 1];
  };
  const seconds = Number(option('--seconds') ?? 3);
  const cells = parseCells(option('--cells') ?? DEFAULT_CELLS);
  const out = option('--out') ?? 'cluster-profile';
  if (!/^[a-z0-9-]+$/.test(out)) throw new Error('--out takes a plain name (letters, digits, -)');
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'ackord-bench-profile-'));
  const profileDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ackord-cpuprofiles-'));
  process.on('exit', () => {
    killAllChildrenNow();
    fs.rmSync(root, { recursive: true, force: true });
  });
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(130));
  const loadStart = os.loadavg()[0]!;
  const sections: string[] = [];
  try {
    if (!buildUnderTest()) throw new Error('tsc -b failed');
    useBundledSite(await buildSite(path.join(root, 'site.mjs')));
    for (const cell of cells) sections.push(await profileCell(cell, root, profileDir, seconds));
  } finally {
    await killAllChildren();
    fs.rmSync(root, { recursive: true, force: true });
  }
  const text = [
    "# Where the master's time goes (`pnpm bench:profile`)",
    '',
    `Node ${process.version}, ${os.cpus().length} CPUs, ${new Date().toISOString()}; load average ${loadStart.toFixed(2)} at start, ${os.loadavg()[0]!.toFixed(2)} at end. ` +
      'Each cell: 3 sites over loopback, the packages as compiled (dist), the master under `node --cpu-prof`, its profile cropped to the measured load (the warm-up and start-up left out). ' +
      "Self time: samples whose innermost frame is the function; inclusive: samples with the function anywhere on the stack. `(garbage collector)`, `(program)` (V8 and libuv outside JS) and `(idle)` are V8's own entries. " +
      'The analysis of these numbers is in the "Findings" section of [latest.md](latest.md).',
    '',
    ...sections,
  ].join('\n');
  fs.writeFileSync(path.join(REPO_ROOT, 'bench', 'results', `${out}.md`), text);
  console.log(text);
  process.stderr.write(`\nprofiles kept in ${profileDir}\n`);
}

main().catch(async (error: unknown) => {
  console.error(error);
  await killAllChildren();
  process.exitCode = 1;
});
