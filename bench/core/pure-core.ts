/**
 * Layer (a): the pure protocol core, with nothing but the wire and a real log around it.
 *
 * A master `ReplicaCore` proposes transactions; every `ship`/`send` effect is encoded with
 * `encodeMessage`, queued as a frame, decoded with `decodeFrame` on delivery and stepped into the other
 * core. `append` effects go into a real `WriteAheadLog` on `MemoryStorage` (`none` mode) with
 * `appendEncoded`, followed by a `durable` input, as the base shell does; `readLog` is answered from the
 * log (only the initial catch-up needs it). Inbound frames wait in a FIFO until the current input's
 * effects are all performed, so no input is stepped in the middle of another's effects.
 *
 * No `tick` is stepped while measuring: no heartbeats, and the bulk buffer is flushed by `flushBulk`
 * after each round, as BaseReplica does in a microtask after a commit.
 */
import {
  DEFAULT_CORE_CONFIG,
  decodeFrame,
  encodeMessage,
  MemoryStorage,
  type Message,
  openLog,
  ReplicaCore,
  type ReplicaEffect,
  type SiteId,
  type WriteAheadLog,
} from '../../packages/core/src/index.js';
import {
  type CellSpec,
  check,
  countFrame,
  cpuMsSince,
  emptyCounts,
  makePayloads,
  type RunCounts,
} from './cell.js';

interface Site {
  readonly id: SiteId;
  readonly core: ReplicaCore;
  readonly log: WriteAheadLog;
}

interface Delivery {
  readonly to: Site;
  readonly from: SiteId;
  readonly frame: Buffer;
}

class Harness {
  readonly #sites = new Map<SiteId, Site>();
  #queue: Delivery[] = [];
  #head = 0;
  counts: RunCounts = emptyCounts();
  /** Largest LSN the master saw acknowledged. */
  ackedLsn = 0;

  add(site: Site): void {
    this.#sites.set(site.id, site);
  }

  /** Performs `site`'s effects in order, including those that performing them produces. */
  drain(site: Site): void {
    for (;;) {
      const effects = site.core.takeEffects();
      if (effects.length === 0) return;
      for (const effect of effects) this.#perform(site, effect);
    }
  }

  /** Delivers queued frames (decode → step → drain) until none is left. */
  pump(): void {
    while (this.#head < this.#queue.length) {
      const { to, from, frame } = this.#queue[this.#head++]!;
      const decoded = decodeFrame(frame);
      if (!decoded.ok) throw decoded.error;
      to.core.step({ type: 'message', from, message: decoded.message });
      this.drain(to);
    }
    this.#queue = [];
    this.#head = 0;
  }

  #perform(site: Site, effect: ReplicaEffect): void {
    switch (effect.type) {
      case 'append':
        site.log.appendEncoded(effect.bytes, effect.firstLsn);
        site.core.step({ type: 'durable', writtenLsn: site.log.writtenLsn, durableLsn: site.log.durableLsn });
        return;
      case 'flush':
        // `none` mode acks at `received`: durability never gates an ack here. Only becomeMaster asks.
        site.core.step({ type: 'durable', writtenLsn: site.log.writtenLsn, durableLsn: site.log.durableLsn });
        return;
      case 'ship': {
        if (effect.to.length === 0) return;
        const frame = effect.frame ?? encodeMessage(effect.message);
        for (const to of effect.to) this.#enqueue(site, to, frame);
        return;
      }
      case 'send':
        this.#send(site, effect.to, effect.message);
        return;
      case 'readLog': {
        const bytes = site.log.readEncoded(effect.fromLsn, effect.toLsn, effect.maxBytes);
        site.core.step({ type: 'logRead', requestId: effect.requestId, bytes, fromLsn: effect.fromLsn });
        return;
      }
      case 'apply':
        if (site.core.role === 'client') {
          this.counts.txns++;
          this.counts.dataRecords += effect.txn.payloads.length;
        }
        return;
      case 'acked':
        this.ackedLsn = Math.max(this.ackedLsn, effect.lsn);
        return;
      case 'truncate':
      case 'takeSnapshot':
      case 'restore':
      case 'joinFailure':
      case 'holdElection':
        throw new Error(`unexpected ${effect.type} effect at ${site.id}: ${JSON.stringify(effect)}`);
      case 'roleChanged':
      case 'newSite':
        return;
      default:
        effect satisfies never;
    }
  }

  #send(site: Site, to: SiteId | 'broadcast', message: Message): void {
    const frame = encodeMessage(message);
    if (to !== 'broadcast') {
      this.#enqueue(site, to, frame);
      return;
    }
    for (const id of this.#sites.keys()) if (id !== site.id) this.#enqueue(site, id, frame);
  }

  #enqueue(from: Site, to: SiteId, frame: Buffer): void {
    const site = this.#sites.get(to);
    if (site === undefined) throw new Error(`no site ${to}`);
    countFrame(this.counts, frame);
    this.#queue.push({ to: site, from: from.id, frame });
  }
}

async function makeSite(id: SiteId, peers: SiteId[], bulk: boolean): Promise<Site> {
  const log = await openLog(new MemoryStorage(id), { durability: 'none' });
  const core = new ReplicaCore({
    ...DEFAULT_CORE_CONFIG,
    siteId: id,
    peers,
    ackLevel: 'received',
    view: false,
    now: 0,
    maxPayloadBytes: log.maxPayloadBytes,
    bulk: { ...DEFAULT_CORE_CONFIG.bulk, enabled: bulk },
    log: {
      firstLsn: log.firstLsn,
      nextLsn: log.nextLsn,
      writtenLsn: log.writtenLsn,
      durableLsn: log.durableLsn,
      history: [],
      nextTxnId: log.nextTxnId,
    },
  });
  return { id, core, log };
}

/** A master and a synced client, ready for proposals. */
async function setUp(bulk: boolean): Promise<{ harness: Harness; master: Site; client: Site }> {
  const harness = new Harness();
  const master = await makeSite('m', ['c'], bulk);
  const client = await makeSite('c', ['m'], bulk);
  harness.add(master);
  harness.add(client);
  client.core.step({ type: 'becomeClient' });
  harness.drain(client);
  master.core.step({ type: 'becomeMaster', generation: 1 });
  harness.drain(master);
  master.core.step({ type: 'peerUp', site: 'c' });
  harness.drain(master);
  harness.pump();
  check(client.core.master === 'm' && client.core.syncState === 'ready', 'client synced with the master');
  check(master.core.peerProgress().get('c')?.synced === true, 'master ships live to the client');
  check(client.log.nextLsn === master.log.nextLsn, 'logs equal after the catch-up');
  return { harness, master, client };
}

/** One run: fresh sites, rounds of `spec.batch` proposals until `seconds` have passed. */
export async function runPureCore(spec: CellSpec, seconds: number): Promise<RunCounts> {
  const { harness, master, client } = await setUp(spec.bulk);
  const payloads = makePayloads(spec.recordsPerTxn, spec.payloadBytes);
  const { core } = master;
  harness.counts = emptyCounts();
  let proposed = 0;
  let lastCommitLsn = 0;
  const cpuStart = process.cpuUsage();
  const start = performance.now();
  const deadline = start + seconds * 1000;
  let now = start;
  while (now < deadline) {
    for (let i = 0; i < spec.batch; i++) lastCommitLsn = core.propose(payloads).commitLsn;
    if (spec.bulk) core.step({ type: 'flushBulk' });
    harness.drain(master);
    harness.pump();
    proposed += spec.batch;
    now = performance.now();
  }
  const counts = harness.counts;
  counts.elapsedMs = now - start;
  counts.cpuMs = cpuMsSince(cpuStart);
  check(
    harness.ackedLsn === lastCommitLsn,
    `master acked through ${lastCommitLsn} (got ${harness.ackedLsn})`,
  );
  check(counts.txns === proposed, `client applied ${proposed} transactions (got ${counts.txns})`);
  check(counts.dataRecords === proposed * spec.recordsPerTxn, 'client applied every data record');
  check(client.log.nextLsn === master.log.nextLsn, 'client log ends where the master log does');
  await master.log.close();
  await client.log.close();
  return counts;
}
