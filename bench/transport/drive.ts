/**
 * One measured run over one link: `concurrency` frames outstanding at all times (1: ping-pong; 64:
 * pipelined), each echo timed from its send, until the run's time is up and the last echo is back.
 */
import type { EchoLink } from './link.js';

export interface RunResult {
  readonly roundTrips: number;
  readonly elapsedMs: number;
  readonly framesPerSec: number;
  readonly p50Us: number;
  readonly p99Us: number;
  /** CPU time of this (the client's) process per round trip. */
  readonly clientCpuUsPerRoundTrip: number;
}

/** Round-trip times of the current run, in ms; reused across runs (past its end, times are not kept). */
const latencies = new Float64Array(4_000_000);

/** No echo for this long: the link is stuck, and the benchmark fails rather than hang. */
const STALL_MS = 10_000;

export function runOnce(
  link: EchoLink,
  concurrency: number,
  seconds: number,
  payload: Uint8Array,
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    // Echoes come back in send order, so the send times form a FIFO of `concurrency` slots at most.
    const sentAt = new Float64Array(concurrency);
    let head = 0;
    let tail = 0;
    let outstanding = 0;
    let roundTrips = 0;
    let lastEchoAt = performance.now();
    const cpuStart = process.cpuUsage();
    const started = performance.now();
    const endAt = started + seconds * 1000;
    const send = (now: number) => {
      sentAt[tail] = now;
      tail = (tail + 1) % concurrency;
      outstanding++;
      link.send(payload);
    };
    const watchdog = setInterval(() => {
      if (performance.now() - lastEchoAt > STALL_MS) fail(new Error(`no echo for ${STALL_MS} ms`));
    }, 1_000);
    const fail = (error: unknown) => {
      clearInterval(watchdog);
      link.onReply = () => undefined;
      reject(error);
    };
    link.onReply = () => {
      const now = performance.now();
      lastEchoAt = now;
      if (roundTrips < latencies.length) latencies[roundTrips] = now - sentAt[head]!;
      head = (head + 1) % concurrency;
      outstanding--;
      roundTrips++;
      try {
        if (now < endAt) send(now);
        else if (outstanding === 0) finish(now);
      } catch (error) {
        fail(error);
      }
    };
    const finish = (now: number) => {
      clearInterval(watchdog);
      link.onReply = () => undefined;
      const cpu = process.cpuUsage(cpuStart);
      const sorted = latencies.subarray(0, Math.min(roundTrips, latencies.length)).sort();
      const elapsedMs = now - started;
      resolve({
        roundTrips,
        elapsedMs,
        framesPerSec: roundTrips / (elapsedMs / 1000),
        p50Us: percentile(sorted, 0.5) * 1000,
        p99Us: percentile(sorted, 0.99) * 1000,
        clientCpuUsPerRoundTrip: (cpu.user + cpu.system) / roundTrips,
      });
    };
    try {
      for (let index = 0; index < concurrency; index++) send(performance.now());
    } catch (error) {
      fail(error);
    }
  });
}

function percentile(sorted: Float64Array, fraction: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * fraction))]!;
}
