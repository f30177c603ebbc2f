/**
 * `pnpm bench:manager`: commits/s and latency p50/p99 per ack policy at concurrency 1 and 64, 128 B
 * payloads, three sites in one process over the in-memory transport (zero delay) on in-memory storage
 * in `fsync` mode — the manager's own cost (policy, acks, receipts, shipping), not a disk's or a
 * network's. The cross-process benchmark comes with the transports. Writes bench/results/manager.json
 * and manager.md. `--quick` for a short run.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  ACK_POLICIES,
  type AckPolicy,
  createReplicationManager,
  encodeKvOperation,
  KvStateMachine,
  MemoryStorage,
  type ReplicationManager,
} from '../../packages/core/src/index.js';
import { MemoryNetwork } from '../../packages/core/src/testing/index.js';

const quick = process.argv.includes('--quick');
const SECONDS = quick ? 0.4 : 1.5;
const WARMUP_SECONDS = quick ? 0.1 : 0.3;
const CONCURRENCIES = [1, 64] as const;

interface Row {
  policy: AckPolicy;
  concurrency: number;
  commitsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  permFailures: number;
}

async function cluster(): Promise<{ master: ReplicationManager; all: ReplicationManager[] }> {
  const network = new MemoryNetwork({ delayMs: 0 });
  const sites = ['a', 'b', 'c'].map((id) => ({ id, priority: 1 }));
  const all: ReplicationManager[] = [];
  for (const { id } of sites) {
    all.push(
      await createReplicationManager({
        siteId: id,
        sites,
        storage: new MemoryStorage(id),
        durability: 'fsync',
        transport: network.createTransport(id),
        stateMachine: new KvStateMachine(),
        ackTimeoutMs: 5_000,
      }),
    );
  }
  const master = all[0]!;
  await master.becomeMaster(1);
  // Wait until both clients are in sync (a first commit acknowledged by all).
  for (let attempt = 0; attempt < 200; attempt++) {
    const receipt = await master.commit([Buffer.from('warm')], { policy: 'all', ackTimeoutMs: 50 });
    if (receipt.perm) break;
  }
  return { master, all };
}

function percentile(sorted: Float64Array, fraction: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * fraction))]!;
}

async function measure(policy: AckPolicy, concurrency: number): Promise<Row> {
  const { master, all } = await cluster();
  const payload = [encodeKvOperation({ op: 'put', key: 'k', value: Buffer.alloc(128, 1) })];
  const latencies = new Float64Array(4_000_000);
  let count = 0;
  let permFailures = 0;
  const run = async (seconds: number, record: boolean) => {
    const end = performance.now() + seconds * 1000;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (performance.now() < end) {
          const started = performance.now();
          const receipt = await master.commit(payload, { policy });
          if (!record) continue;
          if (receipt.perm === false) permFailures++;
          if (count < latencies.length) latencies[count] = performance.now() - started;
          count++;
        }
      }),
    );
  };
  await run(WARMUP_SECONDS, false);
  const started = performance.now();
  await run(SECONDS, true);
  const elapsed = (performance.now() - started) / 1000;
  for (const manager of all) await manager.close();
  const sorted = latencies.subarray(0, Math.min(count, latencies.length)).sort();
  return {
    policy,
    concurrency,
    commitsPerSec: Math.round(count / elapsed),
    p50Ms: percentile(sorted, 0.5),
    p99Ms: percentile(sorted, 0.99),
    permFailures,
  };
}

const rows: Row[] = [];
for (const concurrency of CONCURRENCIES) {
  for (const policy of ACK_POLICIES) {
    const row = await measure(policy, concurrency);
    rows.push(row);
    console.log(
      `${policy.padEnd(14)} c=${String(concurrency).padEnd(3)} ${String(row.commitsPerSec).padStart(8)} commits/s  p50 ${row.p50Ms.toFixed(3)} ms  p99 ${row.p99Ms.toFixed(3)} ms`,
    );
  }
}

const results = path.join(import.meta.dirname, '..', 'results');
fs.mkdirSync(results, { recursive: true });
const machine = {
  node: process.version,
  cpus: os.cpus().length,
  date: new Date().toISOString(),
  loadavg: os.loadavg(),
};
fs.writeFileSync(
  path.join(results, 'manager.json'),
  `${JSON.stringify({ machine, quick, rows }, null, 2)}\n`,
);
const table = [
  '# Manager benchmark',
  '',
  `Node ${machine.node}, ${machine.cpus} CPUs, ${machine.date}${quick ? ' (quick run)' : ''}. Three sites in one process over the in-memory transport (no delay), in-memory storage in fsync mode, 128 B payloads, ${SECONDS} s per cell after ${WARMUP_SECONDS} s warm-up. Latency: commit() call to receipt.`,
  '',
  '| policy | concurrency | commits/s | p50 ms | p99 ms | perm failures |',
  '| --- | ---: | ---: | ---: | ---: | ---: |',
  ...rows.map(
    (row) =>
      `| ${row.policy} | ${row.concurrency} | ${row.commitsPerSec.toLocaleString('en-US')} | ${row.p50Ms.toFixed(3)} | ${row.p99Ms.toFixed(3)} | ${row.permFailures} |`,
  ),
  '',
];
fs.writeFileSync(path.join(results, 'manager.md'), table.join('\n'));
