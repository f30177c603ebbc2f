/**
 * `pnpm bench:core [--quick] [--seconds S] [--runs N] [--batch N] [--only core,base]`: records per second
 * through encode → decode → processMessage → ack in one process, 128 B records, bulk on and off, at two
 * layers in the same run — the pure ReplicaCore with a minimal harness, and BaseReplica. Writes
 * bench/results/core.json and core.md and prints the table.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from './args.js';
import { runBaseReplica } from './base-replica.js';
import type { CellSpec, RunCounts } from './cell.js';
import { runPureCore } from './pure-core.js';
import {
  type Cell,
  cellName,
  cellsTable,
  evaluateTargets,
  markdown,
  type Results,
  ratesOf,
  summarize,
  targetsText,
} from './report.js';

const PAYLOAD_BYTES = 128;
const RECORDS_PER_TXN = [1, 8] as const;

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, '../..');
const resultsDir = path.join(repoRoot, 'bench', 'results');

function progress(text: string): void {
  process.stderr.write(`${text}\n`);
}

function runOnce(spec: CellSpec, seconds: number): Promise<RunCounts> {
  return spec.layer === 'core' ? runPureCore(spec, seconds) : runBaseReplica(spec, seconds);
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const specs: CellSpec[] = [];
  for (const layer of args.layers) {
    for (const bulk of [true, false]) {
      for (const recordsPerTxn of RECORDS_PER_TXN) {
        specs.push({ layer, bulk, recordsPerTxn, payloadBytes: PAYLOAD_BYTES, batch: args.batch });
      }
    }
  }
  const started = performance.now();
  const loadStart = os.loadavg()[0]!;
  const cells: Cell[] = [];
  for (const spec of specs) {
    await runOnce(spec, args.warmupSeconds);
    const runs: RunCounts[] = [];
    for (let i = 0; i < args.runs; i++) {
      runs.push(await runOnce(spec, args.runSeconds));
    }
    const cell = summarize(spec, runs);
    cells.push(cell);
    progress(
      `${cellName(spec).padEnd(26)} ${Math.round(cell.median.recordsPerSec).toLocaleString('en-US').padStart(11)} records/s ` +
        `(runs: ${runs.map((run) => Math.round(ratesOf(run).recordsPerSec / 1000)).join(', ')} k; ` +
        `${Math.round(cell.median.recordsPerCpuSec).toLocaleString('en-US')} per CPU-s, CPU/wall ${cell.median.cpuShare.toFixed(2)})`,
    );
  }

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
      runSeconds: args.runSeconds,
      warmupSeconds: args.warmupSeconds,
      runs: args.runs,
      batch: args.batch,
      payloadBytes: PAYLOAD_BYTES,
      durability: 'none',
    },
    cells,
    targets: evaluateTargets(cells),
  };

  fs.mkdirSync(resultsDir, { recursive: true });
  fs.writeFileSync(path.join(resultsDir, 'core.json'), `${JSON.stringify(results, null, 2)}\n`);
  fs.writeFileSync(path.join(resultsDir, 'core.md'), markdown(results));

  console.log(cellsTable(cells));
  console.log('\n(data records/s: data records only, commit records not counted)');
  console.log('\nTarget:');
  console.log(targetsText(results.targets));
  progress(
    `\ndone in ${((performance.now() - started) / 1000).toFixed(1)} s; wrote ${path.relative(repoRoot, resultsDir)}/core.json and core.md`,
  );
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
