/**
 * `GET /metrics`: the Prometheus text exposition format (version 0.0.4), written by hand. The format is
 * a few lines of `# HELP`, `# TYPE` and `name{labels} value`; a client library (prom-client) would add a
 * global registry, default process collectors and a dependency for what is here ~100 lines, and the
 * values come from `manager.stats()` at scrape time anyway, not from instrumented code paths.
 */
import type { ManagerStats } from '@ackord/core';

/** Seconds: from a loopback ack (sub-millisecond) to an ack timeout of several seconds. */
export const LATENCY_BUCKETS_SECONDS = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
] as const;

/** A cumulative histogram as Prometheus keeps it: counts per upper bound, a sum and a count. */
export class Histogram {
  readonly #counts = new Array<number>(LATENCY_BUCKETS_SECONDS.length).fill(0);
  #sum = 0;
  #count = 0;

  observe(seconds: number): void {
    for (let index = 0; index < LATENCY_BUCKETS_SECONDS.length; index++)
      if (seconds <= LATENCY_BUCKETS_SECONDS[index]!) this.#counts[index]!++;
    this.#sum += seconds;
    this.#count++;
  }

  lines(name: string, labels: Record<string, string>): string[] {
    const lines = LATENCY_BUCKETS_SECONDS.map(
      (bound, index) => `${name}_bucket${labelText({ ...labels, le: String(bound) })} ${this.#counts[index]}`,
    );
    lines.push(`${name}_bucket${labelText({ ...labels, le: '+Inf' })} ${this.#count}`);
    lines.push(`${name}_sum${labelText(labels)} ${this.#sum}`);
    lines.push(`${name}_count${labelText(labels)} ${this.#count}`);
    return lines;
  }
}

/** What the HTTP layer and the site count beyond `manager.stats()`. */
export interface SiteCounters {
  /** Commits made through this site's HTTP API, by policy and outcome. */
  readonly commitsByOutcome: ReadonlyMap<string, number>;
  /** Commit latency (receipt.elapsedMs) by policy. */
  readonly commitLatency: ReadonlyMap<string, Histogram>;
  /** Per ack: from the commit's start to the ack that covered it, by acking site. */
  readonly ackLatency: ReadonlyMap<string, Histogram>;
  readonly rollbacks: number;
  readonly rolledBackTransactions: number;
  readonly handshakeErrors: number;
  readonly connectionErrors: number;
  readonly httpRequests: ReadonlyMap<string, number>;
}

export interface MetricsInput {
  readonly siteId: string;
  readonly stats: ManagerStats;
  readonly counters: SiteCounters;
  readonly peers: readonly { readonly id: string; readonly connects: number; readonly disconnects: number }[];
  readonly permLsn: number;
}

export function renderMetrics(input: MetricsInput): string {
  const { stats, counters } = input;
  const out: string[] = [];
  const metric = (name: string, type: 'counter' | 'gauge' | 'histogram', help: string, lines: string[]) => {
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, ...lines);
  };
  const one = (name: string, value: number, labels: Record<string, string> = {}) =>
    `${name}${labelText(labels)} ${Number.isFinite(value) ? value : 0}`;

  metric('ackord_role', 'gauge', 'This site is master (1) or not (0).', [
    one('ackord_role', stats.role === 'master' ? 1 : 0, { role: 'master' }),
  ]);
  metric('ackord_generation', 'gauge', 'The replication generation (term) this site is in.', [
    one('ackord_generation', stats.generation),
  ]);
  metric('ackord_log_next_lsn', 'gauge', 'The end of the log (LSNs are byte positions).', [
    one('ackord_log_next_lsn', stats.log.nextLsn),
  ]);
  metric('ackord_log_durable_lsn', 'gauge', 'Everything below this LSN survives power loss here.', [
    one('ackord_log_durable_lsn', stats.log.durableLsn),
  ]);
  metric('ackord_perm_lsn', 'gauge', 'Master: last commit LSN held by a quorum; client: last LSN acked.', [
    one('ackord_perm_lsn', input.permLsn),
  ]);
  metric('ackord_commits_total', 'counter', 'Commits made on this site (as master).', [
    one('ackord_commits_total', stats.commits),
  ]);
  metric('ackord_commit_outcomes_total', 'counter', 'Commits made on this site, by outcome.', [
    one('ackord_commit_outcomes_total', stats.permAcknowledged, { outcome: 'acknowledged' }),
    one('ackord_commit_outcomes_total', stats.permFailures, { outcome: 'perm_failed' }),
    one('ackord_commit_outcomes_total', stats.permUnknown, { outcome: 'unknown' }),
  ]);
  metric('ackord_perm_failures_total', 'counter', 'Commits not durable by their ack policy in time.', [
    one('ackord_perm_failures_total', stats.permFailures),
  ]);
  metric(
    'ackord_http_commits_total',
    'counter',
    'Writes through this HTTP API, by ack policy and outcome.',
    [...counters.commitsByOutcome].map(([key, count]) => {
      const [policy, outcome] = key.split('/');
      return one('ackord_http_commits_total', count, { policy: policy!, outcome: outcome! });
    }),
  );
  metric(
    'ackord_commit_latency_seconds',
    'histogram',
    'Writes through this HTTP API: from the commit to its receipt, by ack policy.',
    [...counters.commitLatency].flatMap(([policy, histogram]) =>
      histogram.lines('ackord_commit_latency_seconds', { policy }),
    ),
  );
  metric(
    'ackord_ack_latency_seconds',
    'histogram',
    'From a commit to the ack that covered it, by acking site.',
    [...counters.ackLatency].flatMap(([site, histogram]) =>
      histogram.lines('ackord_ack_latency_seconds', { site }),
    ),
  );
  metric('ackord_durability_debt_commits', 'gauge', 'Commits of this term still short of their policy.', [
    one('ackord_durability_debt_commits', stats.durabilityDebt.commits),
  ]);
  metric('ackord_durability_debt_abandoned_total', 'counter', 'Under-replicated commits of earlier terms.', [
    one('ackord_durability_debt_abandoned_total', stats.durabilityDebt.abandoned),
  ]);
  const election = stats.election;
  metric('ackord_elections_total', 'counter', 'Elections on this site, by result.', [
    one('ackord_elections_total', election?.electionsStarted ?? 0, { result: 'started' }),
    one('ackord_elections_total', election?.electionsWon ?? 0, { result: 'won' }),
    one('ackord_elections_total', election?.electionsFailed ?? 0, { result: 'failed' }),
  ]);
  metric(
    'ackord_rollbacks_total',
    'counter',
    'Rollbacks after a failover, and the transactions they removed.',
    [
      one('ackord_rollbacks_total', counters.rollbacks, { what: 'rollbacks' }),
      one('ackord_rollbacks_total', counters.rolledBackTransactions, { what: 'transactions' }),
    ],
  );
  metric('ackord_bytes_total', 'counter', 'Replication bytes through the transport.', [
    one('ackord_bytes_total', stats.bytesSent, { direction: 'sent' }),
    one('ackord_bytes_total', stats.bytesReceived, { direction: 'received' }),
  ]);
  metric('ackord_frames_total', 'counter', 'Replication frames through the transport.', [
    one('ackord_frames_total', stats.framesSent, { direction: 'sent' }),
    one('ackord_frames_total', stats.framesReceived, { direction: 'received' }),
  ]);
  metric(
    'ackord_sends_refused_total',
    'counter',
    'Frames the transport did not queue, by reason.',
    Object.entries(stats.sendsRefused).map(([reason, count]) =>
      one('ackord_sends_refused_total', count, { reason }),
    ),
  );
  metric('ackord_peer_connected', 'gauge', 'A live connection to this peer now.', [
    ...input.peers.map((peer) =>
      one('ackord_peer_connected', stats.connected.includes(peer.id) ? 1 : 0, { peer: peer.id }),
    ),
  ]);
  metric(
    'ackord_reconnects_total',
    'counter',
    'Connections to a peer established after the first one.',
    input.peers.map((peer) =>
      one('ackord_reconnects_total', Math.max(0, peer.connects - 1), { peer: peer.id }),
    ),
  );
  metric('ackord_transport_errors_total', 'counter', 'Failed handshakes and connections closed for cause.', [
    one('ackord_transport_errors_total', counters.handshakeErrors, { kind: 'handshake' }),
    one('ackord_transport_errors_total', counters.connectionErrors, { kind: 'connection' }),
  ]);
  metric('ackord_log_fsyncs_total', 'counter', 'fdatasync calls on the log.', [
    one('ackord_log_fsyncs_total', stats.log.fsyncs),
  ]);
  metric(
    'ackord_http_requests_total',
    'counter',
    'HTTP requests answered, by status code.',
    [...counters.httpRequests].map(([code, count]) => one('ackord_http_requests_total', count, { code })),
  );
  return `${out.join('\n')}\n`;
}

/** `{a="x",b="y"}` with the format's escapes (backslash, quote, newline); empty labels: nothing. */
function labelText(labels: Record<string, string>): string {
  const entries = Object.entries(labels);
  if (entries.length === 0) return '';
  const escapeValue = (value: string) =>
    value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
  return `{${entries.map(([name, value]) => `${name}="${escapeValue(value)}"`).join(',')}}`;
}
