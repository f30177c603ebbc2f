/**
 * The base API with nothing but its functions: three sites, each pair joined by a MessageChannel the
 * test owns. The application's `send` posts frames; every received frame goes to `processMessage`.
 */
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import {
  BaseReplica,
  encodeKvOperation,
  KvStateMachine,
  MemoryStorage,
  openLog,
  type ProcessResult,
  SendFlags,
} from '../../src/index.js';

interface Site {
  id: string;
  replica: BaseReplica;
  kv: KvStateMachine;
  ports: Map<string, MessagePort>;
  results: ProcessResult[];
  sends: { target: string; flags: number }[];
}

const sites: Site[] = [];
const ports: MessagePort[] = [];

afterEach(async () => {
  for (const port of ports.splice(0)) port.close();
  for (const site of sites.splice(0)) await site.replica.close();
});

async function makeSite(
  id: string,
  peers: string[],
  durability: 'fsync' | 'write' | 'none' = 'fsync',
  options: { autoInit?: boolean; storage?: MemoryStorage } = {},
): Promise<Site> {
  const kv = new KvStateMachine();
  const log = await openLog(options.storage ?? new MemoryStorage(id), { durability, segmentBytes: 8192 });
  const site: Site = {
    id,
    kv,
    ports: new Map(),
    results: [],
    sends: [],
    replica: undefined as unknown as BaseReplica,
  };
  site.replica = BaseReplica.open({
    siteId: id,
    peers,
    log,
    stateMachine: kv,
    ...(options.autoInit === undefined ? {} : { autoInit: options.autoInit }),
    send: (message, target, flags) => {
      site.sends.push({ target, flags });
      const targets = target === 'broadcast' ? [...site.ports.keys()] : [target];
      let delivered = false;
      for (const to of targets) {
        const port = site.ports.get(to);
        if (port === undefined) continue;
        port.postMessage(message);
        delivered = true;
      }
      return delivered;
    },
  });
  sites.push(site);
  return site;
}

function connect(a: Site, b: Site): void {
  const { port1, port2 } = new MessageChannel();
  ports.push(port1, port2);
  a.ports.set(b.id, port1);
  b.ports.set(a.id, port2);
  port1.on(
    'message',
    (bytes: Uint8Array) => void a.replica.processMessage(bytes, b.id).then((r) => a.results.push(r)),
  );
  port2.on(
    'message',
    (bytes: Uint8Array) => void b.replica.processMessage(bytes, a.id).then((r) => b.results.push(r)),
  );
}

async function until(condition: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

const put = (key: string, value: string) => encodeKvOperation({ op: 'put', key, value: Buffer.from(value) });

describe('base API over MessageChannel', () => {
  it('replicates commits from a master to two clients, which acknowledge them with ISPERM', async () => {
    const a = await makeSite('a', ['b', 'c']);
    const b = await makeSite('b', ['a', 'c']);
    const c = await makeSite('c', ['a', 'b']);
    connect(a, b);
    connect(a, c);
    connect(b, c);
    const acks: { site: string; lsn: number; level: string }[] = [];
    a.replica.on('acked', (ack) => acks.push(ack));
    await b.replica.becomeClient();
    await c.replica.becomeClient();
    await a.replica.becomeMaster(1);
    await until(
      () =>
        b.replica.master === 'a' &&
        c.replica.master === 'a' &&
        b.replica.core.syncState === 'ready' &&
        c.replica.core.syncState === 'ready',
      'clients in sync',
    );

    // The master ships only to synced clients: wait until both are (the sync answer takes a round trip).
    await until(
      () => [...a.replica.core.peerProgress().values()].filter((p) => p.synced).length === 2,
      'peers synced',
    );
    const receipts = [];
    for (let index = 0; index < 20; index++)
      receipts.push(await a.replica.commit([put(`k${index}`, `v${index}`)]));
    const last = receipts.at(-1)!;
    expect(last.sentTo.sort()).toEqual(['b', 'c']);
    expect(last.localFlushForced).toBe(false);

    await until(() => b.kv.size === 20 && c.kv.size === 20, 'clients applied everything');
    expect(Buffer.from(b.kv.get('k7')!).toString()).toBe('v7');
    await until(() => acks.filter((ack) => ack.lsn === last.lsn).length === 2, 'acks for the last commit');
    expect(acks.every((ack) => ack.level === 'flushed')).toBe(true);
    expect(b.results.some((result) => result.code === 'ISPERM')).toBe(true);
    expect(await c.replica.waitApplied(last.token)).toBe('applied');
    // Every PERMANENT send carried a commit record; logs are byte-identical.
    expect(a.sends.some((send) => (send.flags & SendFlags.PERMANENT) !== 0)).toBe(true);
    expect(b.replica.log.nextLsn).toBe(a.replica.log.nextLsn);
    expect(c.replica.log.nextLsn).toBe(a.replica.log.nextLsn);
  });

  it('flushes the master log before commit returns when the send fails', async () => {
    const a = await makeSite('a', ['b'], 'none');
    await a.replica.becomeMaster(1);
    const receipt = await a.replica.commit([put('x', '1')]);
    expect(receipt.localFlushForced).toBe(true);
    expect(receipt.sentTo).toEqual([]);
    expect(a.replica.log.durableLsn).toBeGreaterThan(receipt.lsn);
  });

  it('catches a late client up from the log and applies only whole transactions', async () => {
    const a = await makeSite('a', ['b']);
    await a.replica.becomeMaster(1);
    for (let index = 0; index < 50; index++)
      await a.replica.commit([put(`k${index}`, 'x'), put(`j${index}`, 'y')]);
    const b = await makeSite('b', ['a']);
    const applied: number[] = [];
    b.replica.on('applied', (txn) => applied.push(txn.payloads.length));
    await b.replica.becomeClient();
    connect(a, b);
    await a.replica.peerUp('b');
    await until(() => b.kv.size === 100, 'late client caught up');
    expect(applied.every((count) => count === 2)).toBe(true);
    expect(b.replica.log.nextLsn).toBe(a.replica.log.nextLsn);
  });

  it('brings a client whose records the master trimmed away up to date with an internal init', async () => {
    const a = await makeSite('a', ['b']);
    await a.replica.becomeMaster(1);
    for (let index = 0; index < 200; index++) await a.replica.commit([put(`k${index}`, `v${index}`)]);
    const trimmed = await a.replica.trimLog();
    expect(trimmed.removed.length).toBeGreaterThan(0);
    expect(a.replica.log.firstLsn).toBeGreaterThan(1);
    for (let index = 200; index < 210; index++) await a.replica.commit([put(`k${index}`, `v${index}`)]);

    const b = await makeSite('b', ['a']);
    const restored: number[] = [];
    b.replica.on('restored', (event) => restored.push(event.lsn));
    await b.replica.becomeClient();
    connect(a, b);
    await a.replica.peerUp('b');
    await until(() => b.kv.size === 210, 'client restored and caught up');
    // One init, from a snapshot the master takes for it (at its log end then, past the trim point).
    expect(restored).toHaveLength(1);
    expect(restored[0]).toBeGreaterThanOrEqual(trimmed.snapshotLsn);
    expect(Buffer.from(b.kv.get('k3')!).toString()).toBe('v3');
    expect(b.replica.log.firstLsn).toBe(restored[0]);
    expect(b.replica.log.nextLsn).toBe(a.replica.log.nextLsn);
  });

  it('reports JOIN_FAILURE instead of an internal init when autoInit is off', async () => {
    const a = await makeSite('a', ['b']);
    await a.replica.becomeMaster(1);
    for (let index = 0; index < 200; index++) await a.replica.commit([put(`k${index}`, 'x')]);
    await a.replica.trimLog();
    const b = await makeSite('b', ['a'], 'fsync', { autoInit: false });
    const failures: string[] = [];
    b.replica.on('joinFailure', (event) => failures.push(event.reason));
    await b.replica.becomeClient();
    connect(a, b);
    await a.replica.peerUp('b');
    await until(() => b.results.some((result) => result.code === 'JOIN_FAILURE'), 'JOIN_FAILURE');
    expect(failures.length).toBeGreaterThan(0);
    expect(b.kv.size).toBe(0);
    expect(b.replica.log.nextLsn).toBe(1);
  });

  it('recovers its state from the stored snapshot and the log after it on restart', async () => {
    const storage = new MemoryStorage('a');
    const a = await makeSite('a', [], 'fsync', { storage });
    await a.replica.becomeMaster(1);
    for (let index = 0; index < 150; index++) await a.replica.commit([put(`k${index % 40}`, `v${index}`)]);
    await a.replica.trimLog();
    for (let index = 150; index < 160; index++) await a.replica.commit([put(`k${index % 40}`, `v${index}`)]);
    const expected = [...a.kv.entries()].map(([key, value]) => [key, Buffer.from(value).toString()]);
    sites.splice(sites.indexOf(a), 1);
    await a.replica.close();

    const again = await makeSite('a', [], 'fsync', { storage: storage.crash({ kind: 'power' }) });
    expect([...again.kv.entries()].map(([key, value]) => [key, Buffer.from(value).toString()])).toEqual(
      expected,
    );
  });

  it('waitApplied says rolledBack for a commit a failover discarded, and honours its AbortSignal', async () => {
    const a = await makeSite('a', ['b']);
    const b = await makeSite('b', ['a']);
    // a and b are not connected: a commits alone in generation 1, b alone in generation 2.
    await a.replica.becomeMaster(1);
    const lost = await a.replica.commit([put('lost', 'a')]);
    await b.replica.becomeMaster(2);
    for (let index = 0; index < 5; index++) await b.replica.commit([put(`b${index}`, 'b')]);
    const rollbacks: number[] = [];
    a.replica.on('rollback', (event) => rollbacks.push(event.transactions.length));
    connect(a, b);
    await a.replica.becomeClient();
    await b.replica.peerUp('a');
    await until(() => a.kv.size === 5, 'a follows b');
    expect(rollbacks).toEqual([1]);
    expect(a.kv.get('lost')).toBeUndefined();
    expect(await a.replica.waitApplied(lost.token)).toBe('rolledBack');
    expect(await b.replica.waitApplied(lost.token)).toBe('rolledBack');

    const controller = new AbortController();
    const pending = a.replica.waitApplied('2:999999999', { signal: controller.signal });
    controller.abort();
    await expect(pending).rejects.toThrow(/abort/i);
  });

  it('stops for good on a failed write: the commit rejects, fatal fires once, nothing more is stepped', async () => {
    const storage = new MemoryStorage('a');
    const a = await makeSite('a', ['b'], 'write', { storage });
    const fatal: Error[] = [];
    a.replica.on('fatal', (error) => fatal.push(error));
    await a.replica.becomeMaster(1);
    storage.injectFault({ op: 'write' });
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      await expect(a.replica.commit([put('x', '1')])).rejects.toMatchObject({
        code: 'ERR_ACKORD_LOG_FAILED',
      });
      await expect(a.replica.commit([put('y', '2')])).rejects.toMatchObject({
        code: 'ERR_ACKORD_LOG_FAILED',
      });
      await new Promise((resolve) => setTimeout(resolve, 10));
      expect(fatal).toHaveLength(1);
      expect(a.replica.failure).toBe(fatal[0]);
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  it('rejects waitApplied waiters when the replica closes', async () => {
    const a = await makeSite('a', []);
    const waiting = a.replica.waitApplied('1:999999');
    sites.splice(sites.indexOf(a), 1);
    await a.replica.close();
    await expect(waiting).rejects.toMatchObject({ code: 'ERR_ACKORD_INVALID_STATE' });
  });
});
