/**
 * The control channel between `pnpm bench` and a bench site process (site.ts): JSON lines, as in
 * test/cluster-proc. The controller writes one request per line to the site's stdin; the site answers
 * each (matched by `id`) on its stdout, and reports `ready` once its transport listens. stderr is
 * free-form diagnostics.
 */

export type TransportKind = 'tcp' | 'ws';
export type Durability = 'none' | 'fsync';
export type BenchPolicy = 'none' | 'one' | 'quorum' | 'all';

export interface LoadSpec {
  readonly policy: BenchPolicy;
  /** Concurrent committers, each `await manager.commit(...)` in a loop. */
  readonly concurrency: number;
  /** Bytes of the one data record each commit carries. */
  readonly size: number;
  readonly seconds: number;
}

export interface LoadResult {
  readonly commits: number;
  readonly elapsedMs: number;
  readonly opsPerSec: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** Receipts that were not `acknowledged` (perm failures and unknown outcomes). */
  readonly notAcknowledged: number;
  /** CPU time (user + system, every thread) of the master's process during the run, per commit, in µs. */
  readonly cpuUsPerCommit: number;
  /** The run's start and end on the monotonic clock V8's CPU profiles use (µs), to crop a --cpu-prof profile. */
  readonly monotonicStartUs: number;
  readonly monotonicEndUs: number;
}

/** One site's resource use between two `usage` requests. */
export interface Usage {
  /** CPU time (user + system) since the previous `usage`, in ms. */
  readonly cpuMs: number;
  /** Wall time since the previous `usage`, in ms. */
  readonly wallMs: number;
  /** Largest RSS sampled (every 50 ms, and now) since the previous `usage`. */
  readonly peakRssBytes: number;
  readonly rssBytes: number;
  /** Now: the JS heap in use, and the memory of ArrayBuffers (Buffers) outside it. */
  readonly heapUsedBytes: number;
  readonly arrayBuffersBytes: number;
}

/** Per-commit costs on the master, measured over one load run with counters on (slower: not for rates). */
export interface CommitCosts {
  readonly commits: number;
  /** Promises created (async_hooks PROMISE inits) per commit, in this process. */
  readonly promisesPerCommit: number;
  /** Bytes allocated on the JS heap per commit (V8's sampling heap profiler, collected objects included). */
  readonly heapBytesPerCommit: number;
  /** The run's rate with the counters on (well below a measured run's). */
  readonly opsPerSec: number;
  /** The functions that allocated most, as `bytes/commit  function file:line`. */
  readonly topAllocators: readonly string[];
}

export interface SiteStatus {
  readonly role: string;
  readonly master: string | null;
  readonly connected: readonly string[];
  /** Per client: the LSN of its last ack (master only). */
  readonly acks: Readonly<Record<string, number>>;
  readonly nextLsn: number;
  readonly commits: number;
  readonly framesSent: number;
  readonly framesReceived: number;
  readonly bytesSent: number;
  readonly fsyncs: number;
}

export type Request =
  | { readonly cmd: 'status' }
  | { readonly cmd: 'usage' }
  | ({ readonly cmd: 'load' } & LoadSpec)
  | ({ readonly cmd: 'costs' } & LoadSpec)
  | { readonly cmd: 'shutdown' };

export type RequestWithId = Request & { readonly id: number };

export type Reply =
  | { readonly id: number; readonly ok: true; readonly result: unknown }
  | { readonly id: number; readonly ok: false; readonly error: string };

export type SiteEvent =
  | { readonly event: 'ready'; readonly siteId: string; readonly pid: number }
  | { readonly event: 'fatal'; readonly message: string };
