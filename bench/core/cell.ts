/** What one benchmark cell is, what one run of it counts, and the pieces both layers share. */
import type { AppliedTransaction, StateMachine } from '../../packages/core/src/index.js';
import { MessageType } from '../../packages/core/src/index.js';
import type { Layer } from './args.js';

export interface CellSpec {
  readonly layer: Layer;
  readonly bulk: boolean;
  /** Data records per transaction (each transaction also has one commit record). */
  readonly recordsPerTxn: number;
  readonly payloadBytes: number;
  /** Transactions issued per round, back to back, before the bulk flush (or each in its own message). */
  readonly batch: number;
}

/** What one run did. Counted by the harness at the wire and checked against both logs at the end. */
export interface RunCounts {
  /** Data records that reached the client's log and were applied there (commit records not counted). */
  dataRecords: number;
  txns: number;
  /** `log` frames master → client. */
  logMessages: number;
  /** `ack` frames client → master. */
  ackMessages: number;
  /** Any other frame (heartbeats, if a timer fired). */
  otherMessages: number;
  /** Bytes of every frame, both directions. */
  wireBytes: number;
  elapsedMs: number;
  /** CPU time of the process (user + system, all threads) over the run: robust to other load on the machine. */
  cpuMs: number;
}

export function emptyCounts(): RunCounts {
  return {
    dataRecords: 0,
    txns: 0,
    logMessages: 0,
    ackMessages: 0,
    otherMessages: 0,
    wireBytes: 0,
    elapsedMs: 0,
    cpuMs: 0,
  };
}

/** Counts a frame by the type byte of its header. */
export function countFrame(counts: RunCounts, frame: Uint8Array): void {
  counts.wireBytes += frame.length;
  const type = frame[3];
  if (type === MessageType.log) counts.logMessages++;
  else if (type === MessageType.ack) counts.ackMessages++;
  else counts.otherMessages++;
}

/** The payloads of one transaction: `count` distinct buffers of `bytes` bytes, made once per cell. */
export function makePayloads(count: number, bytes: number): Buffer[] {
  const payloads: Buffer[] = [];
  for (let i = 0; i < count; i++) payloads.push(Buffer.alloc(bytes, 0x41 + i));
  return payloads;
}

/** A state machine that only counts: the benchmark measures replication, not an application. */
export class CountingStateMachine implements StateMachine {
  txns = 0;
  payloads = 0;

  apply(txn: AppliedTransaction): void {
    this.txns++;
    this.payloads += txn.payloads.length;
  }
  snapshot(): Uint8Array {
    return new Uint8Array(0);
  }
  restore(): void {
    this.txns = 0;
    this.payloads = 0;
  }
}

export class BenchCheckError extends Error {}

export function check(condition: boolean, what: string): void {
  if (!condition) throw new BenchCheckError(`benchmark self-check failed: ${what}`);
}

/** Process CPU time (user + system) in ms since `since` (a `process.cpuUsage()` value). */
export function cpuMsSince(since: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(since);
  return (used.user + used.system) / 1000;
}
