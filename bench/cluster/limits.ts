/**
 * This machine's limits, measured in the same run as the cluster cells and interleaved with them: the
 * disk loops of bench/log (a bare fdatasync loop; 64 writes then one fdatasync) in the directory that
 * holds the sites' data, and the bare echoes of bench/transport (a `node:net` socket and a `ws` socket
 * to an echo server in a process of its own; concurrency 1 is a round trip, 64 is pipelined), and
 * `fdatasync3`: three processes in the bare fdatasync loop at once, as the three sites of a cell share
 * this machine's one disk (every site syncs every commit under durability fsync).
 */
import { type ChildProcess, fork } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { measureLimit } from '../log/limits.js';
import type { SyncWorkerMessage, SyncWorkerOrder } from '../log/sync-worker.js';
import { runOnce } from '../transport/drive.js';
import type { ServerMessage } from '../transport/echo-server.js';
import type { EchoLink } from '../transport/link.js';
import { connectBareTcp } from '../transport/tcp.js';
import { connectBareWs } from '../transport/ws.js';
import { trackChild } from './driver.js';

export type LimitName =
  | 'fdatasync'
  | 'fdatasync3'
  | 'groupCommit64'
  | 'tcpRoundTrip'
  | 'tcpPipelined64'
  | 'wsRoundTrip'
  | 'wsPipelined64';

export interface LimitRun {
  readonly opsPerSec: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
}

const here = path.dirname(fileURLToPath(import.meta.url));

/** The bare echo server (bench/transport/echo-server.ts) and this process's links to it. */
export class EchoLimits {
  readonly #child: ChildProcess;
  readonly #tcp: EchoLink;
  readonly #ws: EchoLink;

  private constructor(child: ChildProcess, tcp: EchoLink, ws: EchoLink) {
    this.#child = child;
    this.#tcp = tcp;
    this.#ws = ws;
  }

  static async start(): Promise<EchoLimits> {
    const child = fork(path.join(here, '..', 'transport', 'echo-server.ts'), ['tcp,ws'], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    trackChild(child);
    const message = await new Promise<ServerMessage>((resolve, reject) => {
      child.once('message', (reply) => resolve(reply as ServerMessage));
      child.once('exit', (code) => reject(new Error(`the echo server exited (${code}) before it was ready`)));
    });
    if ('failed' in message) throw new Error(`the echo server failed: ${message.failed}`);
    const tcpPort = message.ports['bare-tcp'];
    const wsPort = message.ports['bare-ws'];
    if (tcpPort === undefined || wsPort === undefined) throw new Error('the echo server has no bare echoes');
    return new EchoLimits(child, await connectBareTcp(tcpPort), await connectBareWs(wsPort));
  }

  /** One echo run: 1 = round trips one at a time, 64 = pipelined; frames of `size` bytes. */
  async run(family: 'tcp' | 'ws', concurrency: number, seconds: number, size = 128): Promise<LimitRun> {
    const link = family === 'tcp' ? this.#tcp : this.#ws;
    const result = await runOnce(link, concurrency, seconds, payloadOf(size));
    return { opsPerSec: result.framesPerSec, p50Ms: result.p50Us / 1000, p99Ms: result.p99Us / 1000 };
  }

  async close(): Promise<void> {
    await this.#tcp.close();
    await this.#ws.close();
    if (this.#child.connected) {
      this.#child.send('stop');
      await new Promise((resolve) => this.#child.once('exit', resolve));
    }
  }
}

const payloads = new Map<number, Buffer>();

function payloadOf(size: number): Buffer {
  let payload = payloads.get(size);
  if (payload === undefined) {
    payload = Buffer.alloc(size, 0x5a);
    payloads.set(size, payload);
  }
  return payload;
}

/** The disk limits in `dir`: ops/s of the loop, and its mean latency as p50 (one op per fdatasync). */
export function diskLimit(dir: string, name: 'fdatasync' | 'groupCommit64', seconds: number): LimitRun {
  const opsPerSec = measureLimit(dir, name === 'fdatasync' ? 'fdatasyncLoop' : 'groupCommitLoop64', seconds);
  const meanMs = name === 'fdatasync' ? 1000 / opsPerSec : (64 * 1000) / opsPerSec;
  return { opsPerSec, p50Ms: meanMs, p99Ms: Number.NaN };
}

/** Processes in the `fdatasync3` limit: the sites of a 3-site cell, each syncing its own log. */
export const CONCURRENT_SYNC_PROCESSES = 3;

/**
 * `fdatasync3`: CONCURRENT_SYNC_PROCESSES processes run the bare fdatasync loop at the same time, each
 * on a file of its own in `dir`; ops/s is their mean, p50 the mean time of one sync while the others
 * sync too. On one disk the syncs partly serialize, which the single loop does not show.
 */
export async function concurrentSyncLimit(dir: string, seconds: number): Promise<LimitRun> {
  const workers = Array.from({ length: CONCURRENT_SYNC_PROCESSES }, () => {
    const child = fork(path.join(here, '..', 'log', 'sync-worker.ts'), [], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    trackChild(child);
    return child;
  });
  const nextMessage = (child: ChildProcess) =>
    new Promise<SyncWorkerMessage>((resolve, reject) => {
      child.once('message', (message) => resolve(message as SyncWorkerMessage));
      child.once('exit', (code) => reject(new Error(`a sync worker exited (${code}) before it answered`)));
    });
  await Promise.all(workers.map(nextMessage)); // every worker ready: the loops start together
  const results = workers.map(nextMessage);
  workers.forEach((child, index) => {
    const order: SyncWorkerOrder = { dir, tag: `-worker${index}`, seconds };
    child.send(order);
  });
  const rates = (await Promise.all(results)).map((message) => {
    if (typeof message === 'object' && 'opsPerSec' in message) return message.opsPerSec;
    throw new Error(`a sync worker failed: ${typeof message === 'object' ? message.failed : message}`);
  });
  const opsPerSec = rates.reduce((sum, rate) => sum + rate, 0) / rates.length;
  return { opsPerSec, p50Ms: 1000 / opsPerSec, p99Ms: Number.NaN };
}
