/**
 * BaseReplica's turns and its ship outcome: an input runs at once when nothing else is running or
 * waiting, else after what is, first in first out — its asynchronous part included — and a commit
 * reports what the application's `send` answered, at once or later.
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  type AppliedTransaction,
  BaseReplica,
  encodeMessage,
  MemoryStorage,
  type Message,
  openLog,
  type SendFunction,
  type StateMachine,
  type StorageFile,
} from '../../src/index.js';

const replicas: BaseReplica[] = [];

afterEach(async () => {
  for (const replica of replicas.splice(0)) await replica.close();
});

/** A state machine that records the first byte of each transaction's first payload, as a letter. */
class Recorder implements StateMachine {
  readonly applied: string[] = [];
  apply(txn: AppliedTransaction): void {
    this.applied.push(Buffer.from(txn.payloads[0] ?? []).toString('utf8'));
  }
  snapshot(): Uint8Array {
    return Buffer.from(this.applied.join(','));
  }
  restore(): void {
    this.applied.length = 0;
  }
}

/** A master with peer `c` in sync (it claimed to hold the master's whole log). */
async function masterWithClient(
  send: SendFunction,
  recorder = new Recorder(),
  storage = new MemoryStorage('m'),
): Promise<{ master: BaseReplica; recorder: Recorder }> {
  const log = await openLog(storage, { durability: 'none' });
  const master = BaseReplica.open({ siteId: 'm', peers: ['c'], log, stateMachine: recorder, send });
  replicas.push(master);
  await master.becomeMaster(1);
  await master.peerUp('c');
  await master.processMessage(syncRequestAt(master.log.nextLsn), 'c');
  expect(master.core.peerProgress().get('c')?.synced).toBe(true);
  return { master, recorder };
}

function syncRequestAt(nextLsn: number, generation = 1): Uint8Array {
  const message: Message = { type: 'syncRequest', generation, lastLsn: nextLsn, lastGeneration: 1, nextLsn };
  return encodeMessage(message);
}

const text = (value: string): Buffer => Buffer.from(value, 'utf8');

/** Storage whose syncs take a few milliseconds, as a disk's do: asynchronous parts of a turn really wait. */
class SlowSyncStorage extends MemoryStorage {
  override open(name: string, options: { create: boolean; dsync: boolean }): StorageFile {
    const file = super.open(name, options);
    const sync = file.sync.bind(file);
    file.sync = () => new Promise<void>((resolve) => setTimeout(resolve, 5)).then(sync);
    return file;
  }
}

describe('BaseReplica: inputs in turn', () => {
  it('a commit with nothing else running is proposed and performed before commit() returns', async () => {
    const { master, recorder } = await masterWithClient(() => true);
    const before = master.log.nextLsn;
    const receipt = master.commit([text('a')]);
    // Appended and applied already: no turn of the event loop was needed.
    expect(master.log.nextLsn).toBeGreaterThan(before);
    expect(recorder.applied).toEqual(['a']);
    expect((await receipt).endLsn).toBe(master.log.nextLsn);
  });

  it('an input started while another runs waits for it, and for every input started before it', async () => {
    const { master, recorder } = await masterWithClient(() => true);
    const nested: Promise<unknown>[] = [];
    master.once('applied', () => {
      // Started from inside the first commit's turn (a listener): it must wait for that turn to end.
      nested.push(master.commit([text('b')]));
      expect(recorder.applied).toEqual(['a']);
    });
    const first = master.commit([text('a')]);
    // Started after `b` was: it must run after `b`, although nothing is running any more.
    const third = master.commit([text('c')]);
    expect(recorder.applied).toEqual(['a']);
    await Promise.all([first, ...nested, third]);
    expect(recorder.applied).toEqual(['a', 'b', 'c']);
    // And the log holds them in that order too.
    const order: string[] = [];
    for await (const record of master.log.read(1)) {
      if (record.type === 1) order.push(Buffer.from(record.payload).toString('utf8'));
    }
    expect(order).toEqual(['a', 'b', 'c']);
  });

  it('an input started during a turn waits for the turn’s asynchronous part too', async () => {
    // The master's log no longer reaches back to a joining client: answering it takes a snapshot, an
    // asynchronous effect (the log is flushed first). A commit started by a listener during that turn,
    // before the snapshot, must not be performed until the turn is over (the init has gone out).
    const events: string[] = [];
    const recorder = new Recorder();
    const apply = recorder.apply.bind(recorder);
    recorder.apply = (txn) => {
      apply(txn);
      events.push(`applied ${recorder.applied.at(-1)}`);
    };
    const { master } = await masterWithClient(
      (bytes, target) => {
        if (target === 'd' && bytes[3] === 6) events.push('init sent to d');
        return true;
      },
      recorder,
      new SlowSyncStorage('m'),
    );
    await master.commit([text('a')]);
    await master.trimLog();
    // Not yet durable (`none`): the snapshot's flush must really sync, which takes a while.
    await master.commit([text('a2')]);
    expect(master.log.durableLsn).toBeLessThan(master.log.nextLsn);
    events.length = 0;
    let nested: Promise<unknown> | undefined;
    master.once('newSite', ({ site }) => {
      events.push(`newSite ${site}`);
      nested = master.commit([text('b')]);
    });
    const answered = master.processMessage(syncRequestAt(1), 'd');
    expect(events).toEqual(['newSite d']);
    await answered;
    await nested;
    expect(events).toEqual(['newSite d', 'init sent to d', 'applied b']);
  });
});

describe('BaseReplica: what a commit says about its ship', () => {
  const cases: { name: string; send: SendFunction; sentTo: string[]; forced: boolean }[] = [
    { name: 'send answers true at once', send: () => true, sentTo: ['c'], forced: false },
    { name: 'send answers true later', send: () => Promise.resolve(true), sentTo: ['c'], forced: false },
    { name: 'send answers false at once', send: () => false, sentTo: ['c'], forced: true },
    { name: 'send answers false later', send: () => Promise.resolve(false), sentTo: ['c'], forced: true },
    {
      name: 'send throws',
      send: () => {
        throw new Error('wire cut');
      },
      sentTo: ['c'],
      forced: true,
    },
    {
      name: 'send rejects',
      send: () => Promise.reject(new Error('wire cut')),
      sentTo: ['c'],
      forced: true,
    },
  ];
  for (const { name, send, sentTo, forced } of cases) {
    it(`${name}: sentTo ${JSON.stringify(sentTo)}, local flush ${forced ? 'forced' : 'not forced'}`, async () => {
      let sending = true;
      let logFrames = 0;
      const { master } = await masterWithClient((bytes, ...rest) => {
        if (sending) return true;
        if (bytes[3] === 1) logFrames++;
        return send(bytes, ...rest);
      });
      sending = false;
      const receipts = await Promise.all([master.commit([text('a')]), master.commit([text('b')])]);
      // Both commits left in one batch, and both learned its outcome.
      expect(logFrames).toBe(1);
      for (const receipt of receipts) {
        expect(receipt.sentTo).toEqual(sentTo);
        expect(receipt.localFlushForced).toBe(forced);
        if (forced) expect(master.log.durableLsn).toBeGreaterThan(receipt.lsn);
      }
    });
  }

  it('a commit that does not wait for its batch reports it sent to nobody yet', async () => {
    const { master } = await masterWithClient(() => true);
    const receipt = await master.commit([text('a')], { waitForShip: false });
    expect(receipt.sentTo).toEqual([]);
    expect(receipt.localFlushForced).toBe(false);
  });
});

describe('BaseReplica: when a batch leaves (bulk.shipAt)', () => {
  /** A master in sync with `c`; counts the log frames sent to it and the syncs done before each. */
  async function shippingMaster(
    durability: 'none' | 'fsync',
    shipAt: 'turn' | 'iteration',
    groupCommit: 'turn' | 'iteration' = 'iteration',
  ) {
    const storage = new MemoryStorage('m');
    const log = await openLog(storage, { durability, groupCommit });
    const frames: { syncsBefore: number }[] = [];
    let counting = false;
    const send: SendFunction = (bytes) => {
      if (counting && bytes[3] === 1) frames.push({ syncsBefore: storage.syncCount });
      return true;
    };
    const master = BaseReplica.open({
      siteId: 'm',
      peers: ['c'],
      log,
      stateMachine: new Recorder(),
      send,
      // No shipping by age (1 ms by default): a loaded machine must not split the batches counted here.
      bulk: { enabled: true, shipAt, maxDelayMs: 60_000 },
    });
    replicas.push(master);
    await master.becomeMaster(1);
    await master.peerUp('c');
    await master.processMessage(syncRequestAt(master.log.nextLsn), 'c');
    counting = true;
    return { master, frames, storage };
  }

  /** One commit in each of `count` separate callbacks of one check phase (as a server's requests). */
  function commitsInSeparateCallbacks(master: BaseReplica, count: number) {
    return Promise.all(
      Array.from(
        { length: count },
        (_, index) =>
          new Promise<unknown>((resolve, reject) => {
            setImmediate(() => master.commit([text(String.fromCharCode(97 + index))]).then(resolve, reject));
          }),
      ),
    );
  }

  it("'iteration': commits from 3 callbacks of one iteration leave in one frame", async () => {
    const { master, frames } = await shippingMaster('none', 'iteration');
    await commitsInSeparateCallbacks(master, 3);
    expect(frames.length).toBe(1);
  });

  it("'turn': the same commits leave in a frame each", async () => {
    const { master, frames } = await shippingMaster('none', 'turn');
    await commitsInSeparateCallbacks(master, 3);
    expect(frames.length).toBe(3);
  });

  for (const [groupCommit, framesExpected] of [
    ['iteration', 1],
    ['turn', 3],
  ] as const) {
    it(`under fsync with the log's groupCommit '${groupCommit}': ${framesExpected} frame(s), each before the sync that covers it`, async () => {
      const { master, frames, storage } = await shippingMaster('fsync', 'iteration', groupCommit);
      await new Promise((resolve) => setImmediate(resolve)); // the setup's own flush
      const syncsBefore = storage.syncCount;
      const writesBefore = master.log.stats().writes;
      const receipts = await commitsInSeparateCallbacks(master, 3);
      expect(receipts.length).toBe(3);
      // 'iteration': one batch for the iteration; 'turn': the log syncs at the end of each turn, so each
      // commit's batch leaves at the end of its turn, ahead of that sync.
      expect(frames.length).toBe(framesExpected);
      // Frame i left after the syncs of the turns before it ('turn'), or before any ('iteration').
      expect(frames.map((frame) => frame.syncsBefore)).toEqual(
        frames.map((_, index) => syncsBefore + (groupCommit === 'turn' ? index : 0)),
      );
      if (groupCommit === 'iteration') {
        // The three commits shared one write and one sync.
        expect(storage.syncCount - syncsBefore).toBe(1);
        expect(master.log.stats().writes - writesBefore).toBe(1);
      }
    });
  }
});
