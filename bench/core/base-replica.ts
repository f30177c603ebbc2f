/**
 * Layer (b): the same traffic through the base API. Two `BaseReplica`s on `MemoryStorage` logs in
 * `none` mode; each application `send` callback hands the frame straight to the other replica's
 * `processMessage` (no copy, no transport). Per round the application issues `batch` commits without
 * awaiting them (so with bulk on they leave in one message, flushed by the replica's microtask), awaits
 * them, then waits for the client's acknowledgement of the last one. Each round ends with a
 * `setImmediate`, so the replicas' timers (heartbeat, bulk deadline) can run as in a real process.
 */
import {
  BaseReplica,
  MemoryStorage,
  openLog,
  type ProcessResult,
  RECORD_HEADER_BYTES,
  type SiteId,
} from '../../packages/core/src/index.js';
import {
  type CellSpec,
  CountingStateMachine,
  check,
  countFrame,
  cpuMsSince,
  emptyCounts,
  makePayloads,
  type RunCounts,
} from './cell.js';

const yieldToLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

async function until(condition: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await yieldToLoop();
  }
}

/** What the send callbacks and the `acked` listener share with the measuring loop. */
interface Wiring {
  /** Replaced at the start of the measurement. */
  counts: RunCounts;
  ackedLsn: number;
  /** Resolved when the master has seen an ack at or above `lsn`. */
  ackWaiter: { readonly lsn: number; readonly resolve: () => void } | undefined;
  failure: unknown;
}

interface Pair {
  readonly master: BaseReplica;
  readonly client: BaseReplica;
  readonly clientState: CountingStateMachine;
  readonly wiring: Wiring;
}

async function setUp(bulk: boolean): Promise<Pair> {
  const wiring: Wiring = { counts: emptyCounts(), ackedLsn: 0, ackWaiter: undefined, failure: undefined };
  const replicas = new Map<SiteId, BaseReplica>();
  const onResult = (_result: ProcessResult) => {};
  const onError = (error: unknown) => {
    wiring.failure ??= error;
  };
  /** The application's send callback: the frame goes straight to the other replica's processMessage. */
  const sender = (self: SiteId) => (frame: Uint8Array, target: SiteId | 'broadcast') => {
    for (const [id, replica] of replicas) {
      if (id === self || (target !== 'broadcast' && target !== id)) continue;
      countFrame(wiring.counts, frame);
      replica.processMessage(frame, self).then(onResult, onError);
    }
    return true;
  };
  const open = async (siteId: SiteId, peer: SiteId, stateMachine: CountingStateMachine) => {
    const log = await openLog(new MemoryStorage(siteId), { durability: 'none' });
    const replica = BaseReplica.open({
      siteId,
      peers: [peer],
      log,
      stateMachine,
      send: sender(siteId),
      bulk: { enabled: bulk },
    });
    replicas.set(siteId, replica);
    return replica;
  };
  const clientState = new CountingStateMachine();
  const master = await open('m', 'c', new CountingStateMachine());
  const client = await open('c', 'm', clientState);
  master.on('acked', ({ lsn }) => {
    if (lsn > wiring.ackedLsn) wiring.ackedLsn = lsn;
    const waiter = wiring.ackWaiter;
    if (waiter !== undefined && wiring.ackedLsn >= waiter.lsn) {
      wiring.ackWaiter = undefined;
      waiter.resolve();
    }
  });
  await client.becomeClient();
  await master.becomeMaster(1);
  await master.peerUp('c');
  await client.peerUp('m');
  await until(
    () => master.core.peerProgress().get('c')?.synced === true && client.core.syncState === 'ready',
    'client in sync',
  );
  await until(() => client.log.nextLsn === master.log.nextLsn, 'catch-up');
  return { master, client, clientState, wiring };
}

function acked(wiring: Wiring, lsn: number): Promise<void> {
  if (wiring.ackedLsn >= lsn) return Promise.resolve();
  return new Promise((resolve) => {
    wiring.ackWaiter = { lsn, resolve };
  });
}

/** Bytes of one transaction: its data records and its commit record (a 4-byte count). */
function txnBytes(spec: CellSpec): number {
  return spec.recordsPerTxn * (RECORD_HEADER_BYTES + spec.payloadBytes) + COMMIT_RECORD_BYTES;
}
const COMMIT_RECORD_BYTES = RECORD_HEADER_BYTES + 4;

/**
 * One run: fresh replicas, rounds of `spec.batch` commits until `seconds` have passed. A round ends when
 * the master has the ack for the round's last commit record, whose LSN follows from the sizes (the
 * commits' own promises are counted but not awaited: with bulk off, BaseReplica resolves a commit only
 * when the next message ships — see the report).
 */
export async function runBaseReplica(spec: CellSpec, seconds: number): Promise<RunCounts> {
  const { master, client, clientState, wiring } = await setUp(spec.bulk);
  const payloads = makePayloads(spec.recordsPerTxn, spec.payloadBytes);
  const size = txnBytes(spec);
  let resolved = 0;
  let measuring = true;
  const onCommitted = () => {
    resolved++;
  };
  const onCommitFailed = (error: unknown) => {
    if (measuring) wiring.failure ??= error;
  };
  try {
    wiring.counts = emptyCounts();
    const appliedBefore = clientState.txns;
    const recordsBefore = clientState.payloads;
    const firstLsn = master.core.nextLsn;
    let proposed = 0;
    const cpuStart = process.cpuUsage();
    const start = performance.now();
    const deadline = start + seconds * 1000;
    let now = start;
    while (now < deadline) {
      for (let i = 0; i < spec.batch; i++) master.commit(payloads).then(onCommitted, onCommitFailed);
      proposed += spec.batch;
      await acked(wiring, firstLsn + proposed * size - COMMIT_RECORD_BYTES);
      await yieldToLoop();
      if (wiring.failure !== undefined) throw wiring.failure;
      now = performance.now();
    }
    measuring = false;
    const counts = wiring.counts;
    counts.elapsedMs = now - start;
    counts.cpuMs = cpuMsSince(cpuStart);
    counts.txns = clientState.txns - appliedBefore;
    counts.dataRecords = clientState.payloads - recordsBefore;
    check(counts.txns === proposed, `client applied ${proposed} transactions (got ${counts.txns})`);
    check(counts.dataRecords === proposed * spec.recordsPerTxn, 'client applied every data record');
    check(master.log.nextLsn === firstLsn + proposed * size, 'master log holds every transaction');
    check(client.log.nextLsn === master.log.nextLsn, 'client log ends where the master log does');
    // With bulk off the last commit's promise waits for a next message that never comes.
    check(resolved >= proposed - (spec.bulk ? 0 : 1), `${resolved} of ${proposed} commits resolved`);
    return counts;
  } finally {
    measuring = false;
    await master.close();
    await client.close();
  }
}
