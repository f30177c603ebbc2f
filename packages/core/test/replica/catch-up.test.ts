/**
 * Catch-up of a client far behind (reads chunked by catchUpChunkBytes, bounded by catchUpWindowBytes
 * ahead of what the client acknowledged) and internal init when the master's log no longer reaches
 * back to the client's end.
 */
import { describe, expect, it } from 'vitest';
import { ReplicaCore, SendFlags } from '../../src/index.js';
import {
  Cluster,
  coreConfig,
  decodeRecords,
  drive,
  LogBuilder,
  MemoryLog,
  message,
  ofType,
  sendsOf,
  stateTexts,
} from './harness.js';

const CHUNK = 300;
const WINDOW = 1000;

/** A log of generation 1 with `count` small transactions (48 + 36 = 84 bytes each). */
function longLog(count: number): LogBuilder {
  const log = new LogBuilder();
  log.newGeneration(1);
  for (let index = 0; index < count; index++) log.txn(1, [`v${`${index}`.padStart(14, '0')}`]);
  return log;
}

describe('catch-up', () => {
  it('reads in chunks of catchUpChunkBytes, at most catchUpWindowBytes ahead of the acknowledged end', () => {
    const built = longLog(40);
    const store = MemoryLog.of(built);
    const master = new ReplicaCore(
      coreConfig('M', {
        peers: ['C'],
        log: built.position(),
        catchUpChunkBytes: CHUNK,
        catchUpWindowBytes: WINDOW,
      }),
    );
    for (const effect of drive(master, { type: 'becomeMaster', generation: 2 }).effects) {
      if (effect.type === 'append') store.append(effect.firstLsn, effect.bytes);
    }
    const end = store.nextLsn;
    let { effects } = drive(
      master,
      message('C', { type: 'syncRequest', generation: 2, lastLsn: 1, lastGeneration: 0, nextLsn: 1 }),
    );
    expect(sendsOf(effects, 'syncVerify')).toHaveLength(1);

    let acknowledged = 1; // the client's log end as the master last heard it
    let streamed = 1;
    const chunks: Buffer[] = [];
    let stalls = 0;
    for (let round = 0; round < 1000 && streamed < end; round++) {
      const reads = ofType(effects, 'readLog');
      if (reads.length === 0) {
        // Stalled: the window is full. Nothing moves until the client acknowledges.
        expect(streamed - acknowledged).toBeGreaterThanOrEqual(WINDOW);
        stalls++;
        // The client acks everything streamed so far (its last commit, its log end).
        const records = decodeRecords(Buffer.concat(chunks));
        const lastCommit = records.filter((record) => record.type === 2).at(-1)!;
        acknowledged = streamed;
        effects = drive(
          master,
          message('C', {
            type: 'ack',
            generation: 2,
            lsn: lastCommit.lsn,
            level: 'flushed',
            nextLsn: acknowledged,
          }),
        ).effects;
        expect(ofType(effects, 'acked')).toEqual([
          { type: 'acked', site: 'C', lsn: lastCommit.lsn, level: 'flushed' },
        ]);
        continue;
      }
      expect(reads).toHaveLength(1); // one read in flight per client
      const read = reads[0]!;
      expect(read).toMatchObject({ fromLsn: streamed, maxBytes: CHUNK });
      expect(read.toLsn).toBe(end);
      expect(read.fromLsn - acknowledged).toBeLessThan(WINDOW);
      const bytes = store.read(read.fromLsn, read.toLsn, read.maxBytes)!;
      expect(bytes.length).toBeLessThanOrEqual(CHUNK);
      effects = drive(master, {
        type: 'logRead',
        requestId: read.requestId,
        bytes,
        fromLsn: read.fromLsn,
      }).effects;
      const sends = ofType(effects, 'send');
      expect(sends).toHaveLength(1);
      const body = sends[0]!.message;
      if (body.type !== 'log') throw new Error('expected a log message');
      const hasCommit = decodeRecords(body.records).some((record) => record.type === 2);
      expect(body.flags).toBe(SendFlags.REREQUEST | (hasCommit ? SendFlags.PERMANENT : 0));
      expect(sends[0]!.to).toBe('C');
      expect(Buffer.from(body.records)).toEqual(bytes);
      chunks.push(bytes);
      streamed += bytes.length;
    }
    expect(streamed).toBe(end);
    expect(stalls).toBeGreaterThanOrEqual(2);
    expect(Buffer.concat(chunks)).toEqual(store.bytes);
    // Everything streamed: the next ack (or the last read) makes it a synced peer; live records follow.
    drive(master, message('C', { type: 'ack', generation: 2, lsn: 0, level: 'flushed', nextLsn: end }));
    expect(master.peerProgress().get('C')?.synced).toBe(true);
    master.step({ type: 'flushBulk' });
    master.takeEffects();
    master.propose([Buffer.from('live')]);
    master.step({ type: 'flushBulk' });
    expect(ofType(master.takeEffects(), 'ship').map((ship) => ship.to)).toEqual([['C']]);
  });

  it('a client far behind catches up through the cluster, becomes synced and then gets live ships', () => {
    const built = longLog(60);
    const cluster = new Cluster(['M', 'C']);
    const config = { catchUpChunkBytes: CHUNK, catchUpWindowBytes: WINDOW };
    const m = cluster.add('M', { log: built, config });
    const c = cluster.add('C', { config });
    cluster.step('M', { type: 'becomeMaster', generation: 2 });
    cluster.connect('M', 'C');
    cluster.run();
    expect(c.log.bytes).toEqual(m.log.bytes);
    expect(stateTexts(c)).toEqual(stateTexts(m));
    expect(stateTexts(c)).toHaveLength(60);
    const reads = m.effectsOf('readLog');
    expect(reads.length).toBeGreaterThanOrEqual(Math.ceil(built.bytes.length / CHUNK));
    for (const read of reads) expect(read.maxBytes).toBeLessThanOrEqual(CHUNK);
    expect(m.core.peerProgress().get('C')?.synced).toBe(true);

    const live = cluster.propose('M', ['live']);
    const ships = m.effectsOf('ship').filter((ship) => ship.endLsn === live.endLsn);
    expect(ships).toHaveLength(1);
    expect(ships[0]!.to).toEqual(['C']);
    cluster.run();
    expect(stateTexts(c).at(-1)).toBe('live');
    expect(m.effectsOf('acked').at(-1)).toMatchObject({ site: 'C', lsn: live.commitLsn });
  });

  it('records proposed while a client catches up reach it too', () => {
    const built = longLog(30);
    const cluster = new Cluster(['M', 'C']);
    const config = { catchUpChunkBytes: CHUNK, catchUpWindowBytes: WINDOW };
    const m = cluster.add('M', { log: built, config });
    const c = cluster.add('C', { config });
    cluster.step('M', { type: 'becomeMaster', generation: 2 });
    cluster.connect('M', 'C');
    // Interleave proposals with the catch-up, one delivery at a time.
    let proposals = 0;
    while (cluster.queue.length > 0) {
      cluster.deliver(cluster.queue.shift()!);
      if (proposals < 10 && cluster.deliveries.length % 3 === 0) {
        cluster.propose('M', [`during ${proposals++}`]);
      }
    }
    expect(proposals).toBe(10);
    expect(c.log.bytes).toEqual(m.log.bytes);
    expect(stateTexts(c)).toEqual(stateTexts(m));
  });
});

describe('internal init', () => {
  function trimmedMaster(autoInit: boolean): { cluster: Cluster; trimmedTo: number } {
    const built = longLog(20);
    const cluster = new Cluster(['M', 'C']);
    const m = cluster.add('M', { log: built });
    cluster.add('C', { config: { autoInit } });
    // Segments before the 10th transaction are gone (after a checkpoint).
    const trimmedTo = 37 + 10 * 84;
    m.log.trimBefore(trimmedTo);
    m.core.noteLogTrimmed(trimmedTo);
    expect(m.core.firstLsn).toBe(trimmedTo);
    cluster.step('M', { type: 'becomeMaster', generation: 2 });
    return { cluster, trimmedTo };
  }

  it('the master snapshots, sends init, and the client restores and syncs from the snapshot LSN', () => {
    const { cluster, trimmedTo } = trimmedMaster(true);
    const [m, c] = [cluster.site('M'), cluster.site('C')];
    cluster.connect('M', 'C');
    cluster.run();
    expect(m.effectsOf('takeSnapshot')).toHaveLength(1);
    expect(m.effectsOf('readLog').filter((read) => read.fromLsn < trimmedTo)).toEqual([]);
    const inits = sendsOf(m.effects, 'init');
    expect(inits).toHaveLength(1);
    const snapshotLsn = inits[0]!.message.snapshotLsn;
    expect(snapshotLsn).toBe(m.log.nextLsn);
    expect(inits[0]!.message.history.every((entry) => entry.lsn < snapshotLsn)).toBe(true);
    expect(c.effectsOf('restore')).toEqual([
      // An empty client shares everything it has (nothing): nothing to discard.
      { type: 'restore', lsn: snapshotLsn, snapshot: expect.any(Uint8Array), discardFrom: 1 },
    ]);
    expect(c.core.firstLsn).toBe(snapshotLsn);
    expect(c.core.syncState).toBe('ready');
    expect(stateTexts(c)).toEqual(stateTexts(m));
    // From there on it is an ordinary synced client.
    expect(m.core.peerProgress().get('C')?.synced).toBe(true);
    const live = cluster.propose('M', ['after init']);
    cluster.run();
    expect(stateTexts(c)).toEqual(stateTexts(m));
    expect(c.log.nextLsn).toBe(m.log.nextLsn);
    expect(m.effectsOf('acked').at(-1)).toMatchObject({ site: 'C', lsn: live.commitLsn });
  });

  it('a log request for records the master no longer holds makes the client re-sync (then init), reading nothing', () => {
    const { cluster, trimmedTo } = trimmedMaster(true);
    const m = cluster.site('M');
    const { effects } = drive(
      m.core,
      message('C', {
        type: 'logRequest',
        generation: 2,
        flags: 0,
        fromLsn: trimmedTo - 84,
        toLsn: 0,
        lastLsn: trimmedTo - 84,
        lastGeneration: 1,
      }),
    );
    // The client accepts an init only while syncing: the master re-announces itself, the client re-syncs,
    // and its sync request (below the master's first LSN) is what starts the init.
    expect(sendsOf(effects, 'newMaster').map((send) => send.to)).toEqual(['C']);
    expect(ofType(effects, 'takeSnapshot')).toEqual([]);
    expect(ofType(effects, 'readLog')).toEqual([]);
  });

  it('with autoInit off the client answers JOIN_FAILURE and emits joinFailure; nothing is restored', () => {
    const { cluster } = trimmedMaster(false);
    const c = cluster.site('C');
    cluster.connect('M', 'C');
    cluster.run();
    const init = cluster.resultsAt('C').find((delivery) => delivery.message.type === 'init');
    expect(init?.result).toEqual({ code: 'JOIN_FAILURE' });
    expect(c.effectsOf('joinFailure')).toHaveLength(1);
    expect(c.effectsOf('restore')).toEqual([]);
    expect(c.log.nextLsn).toBe(1);
  });

  it('an init from a site that is not its master is IGNOREd', () => {
    const core = new ReplicaCore(coreConfig('C', { peers: ['M', 'X'] }));
    core.step(message('M', { type: 'newMaster', generation: 2, nextLsn: 1000 }));
    core.step(message('X', { type: 'masterRequest', generation: 0 }));
    core.takeEffects();
    const { result, effects } = drive(
      core,
      message('X', {
        type: 'init',
        generation: 2,
        snapshotLsn: 900,
        history: [],
        snapshot: Buffer.from('x'),
      }),
    );
    expect(result.code).toBe('IGNORE');
    expect(effects).toEqual([]);
  });
});
