/**
 * One benchmark cell: a fresh log in a fresh directory, N concurrent async committers each looping
 * `begin → append(payload) → await commit()` for a fixed time after a warm-up on the same log.
 */
import fs from 'node:fs';
import path from 'node:path';
import { type LogOptions, type LogStats, openLog, type SyncIo } from '../../packages/core/src/index.js';
import type { LatencyRecorder } from './stats.js';

export interface ModeSpec {
  /** Name in the report, e.g. `fsync/threadpool`. */
  readonly name: string;
  readonly durability: NonNullable<LogOptions['durability']>;
  readonly syncIo: SyncIo;
}

export interface CellSpec {
  readonly mode: ModeSpec;
  readonly concurrency: number;
  readonly size: number;
  readonly warmupSeconds: number;
  readonly seconds: number;
}

export interface Row {
  readonly mode: string;
  readonly concurrency: number;
  readonly size: number;
  readonly opsPerSec: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** Records (data + commit: two per transaction) made durable per fsync in the measured window; null without fsyncs. */
  readonly recordsPerFsync: number | null;
  readonly commitsPerFsync: number | null;
  readonly commits: number;
  readonly fsyncs: number;
  readonly writes: number;
  readonly elapsedMs: number;
}

const payloads = new Map<number, Buffer>();

/** One payload per size, made once and reused by every commit of every cell. */
function payloadOf(size: number): Buffer {
  let payload = payloads.get(size);
  if (payload === undefined) {
    payload = Buffer.alloc(size, 0xa5);
    payloads.set(size, payload);
  }
  return payload;
}

type Log = Awaited<ReturnType<typeof openLog>>;

/**
 * Commits until `deadline` (a performance.now() time); returns how many. One clock read per commit:
 * the end of one commit is the start of the next (only the loop test runs in between).
 */
async function committer(
  log: Log,
  payload: Buffer,
  deadline: number,
  latencies: LatencyRecorder | undefined,
): Promise<number> {
  let commits = 0;
  let now = performance.now();
  while (now < deadline) {
    const start = now;
    const txn = log.begin();
    txn.append(payload);
    await txn.commit();
    now = performance.now();
    latencies?.record(now - start);
    commits++;
  }
  return commits;
}

async function runCommitters(
  log: Log,
  concurrency: number,
  payload: Buffer,
  seconds: number,
  latencies: LatencyRecorder | undefined,
): Promise<{ commits: number; elapsedMs: number }> {
  const start = performance.now();
  const deadline = start + seconds * 1000;
  const running: Promise<number>[] = [];
  for (let i = 0; i < concurrency; i++) running.push(committer(log, payload, deadline, latencies));
  const counts = await Promise.all(running);
  const elapsedMs = performance.now() - start;
  let commits = 0;
  for (const count of counts) commits += count;
  return { commits, elapsedMs };
}

/** Records/commits made durable by the fsyncs between two stats snapshots (the log reports cumulative ratios). */
function perFsync(before: LogStats, after: LogStats): { records: number | null; commits: number | null } {
  const fsyncs = after.fsyncs - before.fsyncs;
  if (fsyncs <= 0) return { records: null, commits: null };
  const records = after.recordsPerFsync * after.fsyncs - before.recordsPerFsync * before.fsyncs;
  const commits = after.commitsPerFsync * after.fsyncs - before.commitsPerFsync * before.fsyncs;
  return { records: records / fsyncs, commits: commits / fsyncs };
}

export async function runCell(root: string, spec: CellSpec, latencies: LatencyRecorder): Promise<Row> {
  const dir = fs.mkdtempSync(path.join(root, 'cell-'));
  const payload = payloadOf(spec.size);
  try {
    const log = await openLog(dir, { durability: spec.mode.durability, syncIo: spec.mode.syncIo });
    try {
      await runCommitters(log, spec.concurrency, payload, spec.warmupSeconds, undefined);
      const before = log.stats();
      latencies.reset();
      const { commits, elapsedMs } = await runCommitters(
        log,
        spec.concurrency,
        payload,
        spec.seconds,
        latencies,
      );
      const after = log.stats();
      const [p50Ms, p99Ms] = latencies.quantiles(0.5, 0.99);
      const { records, commits: commitsPer } = perFsync(before, after);
      return {
        mode: spec.mode.name,
        concurrency: spec.concurrency,
        size: spec.size,
        opsPerSec: (commits * 1000) / elapsedMs,
        p50Ms: p50Ms!,
        p99Ms: p99Ms!,
        recordsPerFsync: records,
        commitsPerFsync: commitsPer,
        commits,
        fsyncs: after.fsyncs - before.fsyncs,
        writes: after.writes - before.writes,
        elapsedMs,
      };
    } finally {
      await log.close();
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
