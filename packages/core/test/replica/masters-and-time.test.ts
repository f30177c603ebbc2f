/**
 * Two masters (DUPMASTER), election messages (HOLDELECTION), the master's heartbeats, and time: a
 * clock that jumps back changes nothing.
 */
import { describe, expect, it } from 'vitest';
import { type Message, ReplicaCore } from '../../src/index.js';
import {
  bulk,
  coreConfig,
  drive,
  LogBuilder,
  logMessage,
  message,
  ofType,
  readyClient,
  sendsOf,
} from './harness.js';

/** A master `A` of generation 3 that already knows site B (so B's next message is not NEWSITE). */
function masterA(): ReplicaCore {
  const core = new ReplicaCore(coreConfig('A', { peers: ['B'], heartbeatIntervalMs: 100 }));
  core.step({ type: 'becomeMaster', generation: 3 });
  core.step(message('B', { type: 'masterRequest', generation: 0 }));
  core.takeEffects();
  return core;
}

/** What another master B of `generation` may send: its announcement, a heartbeat, or records. */
function fromOtherMaster(kind: 'newMaster' | 'heartbeat' | 'log', generation: number): Message {
  switch (kind) {
    case 'newMaster':
      return { type: 'newMaster', generation, nextLsn: 500 };
    case 'heartbeat':
      return { type: 'heartbeat', generation, nextLsn: 500, permLsn: 0 };
    case 'log': {
      const log = new LogBuilder(500);
      return logMessage(generation, generation, log.txn(generation, ['from B']).bytes);
    }
  }
}

const kinds = ['newMaster', 'heartbeat', 'log'] as const;

describe('DUPMASTER', () => {
  it.each(kinds)(
    'a master hearing %s from another master of its generation steps down and asks for an election',
    (kind) => {
      const core = masterA();
      const { result, effects } = drive(core, message('B', fromOtherMaster(kind, 3)));
      expect(result).toEqual({ code: 'DUPMASTER' });
      expect(ofType(effects, 'roleChanged')).toEqual([
        { type: 'roleChanged', role: 'client', generation: 3, master: undefined },
      ]);
      expect(ofType(effects, 'holdElection')).toHaveLength(1);
      expect(ofType(effects, 'append')).toEqual([]);
      expect(core.role).toBe('client');
      expect(core.master).toBeUndefined();
      expect(() => core.propose([Buffer.from('x')])).toThrow();
    },
  );

  it.each(kinds)('a master hearing %s from a master of a higher generation becomes its client', (kind) => {
    const core = masterA();
    const { result, effects } = drive(core, message('B', fromOtherMaster(kind, 4)));
    expect(result).toEqual({ code: 'DUPMASTER' });
    expect(ofType(effects, 'roleChanged')).toEqual([
      { type: 'roleChanged', role: 'client', generation: 4, master: 'B' },
    ]);
    expect(ofType(effects, 'holdElection')).toEqual([]);
    expect(sendsOf(effects, 'syncRequest')).toEqual([
      expect.objectContaining({ to: 'B', message: expect.objectContaining({ generation: 4, nextLsn: 37 }) }),
    ]);
    expect(ofType(effects, 'append')).toEqual([]); // verifies its log before taking anything
    expect(core.generation).toBe(4);
    expect(core.master).toBe('B');
  });

  it.each(['newMaster', 'heartbeat'] as const)(
    'a master hearing %s from a master of a lower generation stays master and re-announces itself',
    (kind) => {
      const core = masterA();
      const { result, effects } = drive(core, message('B', fromOtherMaster(kind, 2)));
      expect(result.code).toBe('IGNORE');
      expect(sendsOf(effects, 'newMaster')).toEqual([
        { type: 'send', to: 'B', message: { type: 'newMaster', generation: 3, nextLsn: 37 }, flags: 0 },
      ]);
      expect(ofType(effects, 'roleChanged')).toEqual([]);
      expect(core.role).toBe('master');
    },
  );

  it('a master ignores records of a lower generation and stays master', () => {
    const core = masterA();
    const { result, effects } = drive(core, message('B', fromOtherMaster('log', 2)));
    expect(result.code).toBe('IGNORE');
    expect(ofType(effects, 'append')).toEqual([]);
    expect(ofType(effects, 'roleChanged')).toEqual([]);
    expect(core.role).toBe('master');
  });

  it('a master ignores its own announcement coming back', () => {
    const core = masterA();
    const { result, effects } = drive(core, message('A', { type: 'newMaster', generation: 3, nextLsn: 37 }));
    expect(result.code).toBe('NEWSITE');
    expect(ofType(effects, 'roleChanged')).toEqual([]);
    expect(core.role).toBe('master');
  });
});

describe('election messages', () => {
  const vote1: Message = {
    type: 'vote1',
    generation: 3,
    electionGeneration: 4,
    dataGeneration: 3,
    lastLsn: 37,
    priority: 1,
    tiebreaker: 7,
    nsites: 3,
    nvotes: 2,
  };
  const vote2: Message = { type: 'vote2', generation: 3, electionGeneration: 4, candidate: 'B' };

  it.each([vote1, vote2])(
    '$type → HOLDELECTION with a holdElection effect, on a master and on a client',
    (vote) => {
      for (const core of [masterA(), readyClient({}, 3).core]) {
        core.step(message('B', { type: 'masterRequest', generation: 0 }));
        core.takeEffects();
        const { result, effects } = drive(core, message('B', vote));
        expect(result).toEqual({ code: 'HOLDELECTION' });
        expect(ofType(effects, 'holdElection')).toHaveLength(1);
      }
    },
  );

  it('a vote of an older generation is IGNOREd', () => {
    const core = masterA();
    const { result, effects } = drive(core, message('B', { ...vote2, generation: 2 } as Message));
    expect(result.code).toBe('IGNORE');
    expect(effects).toEqual([]);
  });
});

describe('heartbeats', () => {
  /** Master M of generation 1 at time 0; B synced, C connected but not synced, D never connected. */
  function masterWithPeers(): ReplicaCore {
    const core = new ReplicaCore(
      coreConfig('M', {
        peers: ['B', 'C', 'D'],
        heartbeatIntervalMs: 100,
        bulk: bulk({ enabled: false }),
      }),
    );
    core.step({ type: 'becomeMaster', generation: 1 });
    core.step({ type: 'peerUp', site: 'C' });
    core.step(
      message('B', { type: 'syncRequest', generation: 1, lastLsn: 37, lastGeneration: 1, nextLsn: 37 }),
    );
    core.takeEffects();
    return core;
  }
  const sendsAt = (core: ReplicaCore, now: number) =>
    ofType(drive(core, { type: 'tick', now }).effects, 'send').map((send) => ({
      to: send.to,
      type: send.message.type,
    }));

  it('every heartbeatIntervalMs: heartbeat to connected synced peers, newMaster to connected unsynced ones', () => {
    const core = masterWithPeers();
    expect(core.nextDeadline()).toBe(100);
    expect(sendsAt(core, 99)).toEqual([]);
    expect(sendsAt(core, 100)).toEqual([
      { to: 'B', type: 'heartbeat' },
      { to: 'C', type: 'newMaster' },
    ]);
    expect(core.nextDeadline()).toBe(200);
    expect(sendsAt(core, 150)).toEqual([]);
    expect(sendsAt(core, 199)).toEqual([]);
    expect(sendsAt(core, 200)).toHaveLength(2);
    // A peer that goes down gets nothing.
    core.step({ type: 'peerDown', site: 'B' });
    expect(sendsAt(core, 300)).toEqual([{ to: 'C', type: 'newMaster' }]);
  });

  it('a heartbeat carries the log end and the last permanent LSN', () => {
    const core = masterWithPeers();
    const proposed = core.propose([Buffer.from('x')]);
    core.takeEffects();
    const heartbeat = sendsOf(drive(core, { type: 'tick', now: 100 }).effects, 'heartbeat');
    expect(heartbeat.map((send) => send.message)).toEqual([
      { type: 'heartbeat', generation: 1, nextLsn: proposed.endLsn, permLsn: proposed.commitLsn },
    ]);
  });

  it('a client does not send heartbeats', () => {
    const { core } = readyClient({ heartbeatIntervalMs: 100 });
    for (let now = 0; now <= 1000; now += 50) {
      expect(ofType(drive(core, { type: 'tick', now }).effects, 'send')).toEqual([]);
    }
  });
});

describe('time', () => {
  it('a tick earlier than the last one changes nothing (client: the re-request deadline stays put)', () => {
    const { core, master } = readyClient({ now: 0 });
    master.txn(1, ['lost']);
    const later = master.txn(1, ['arrives']);
    core.step({ type: 'tick', now: 5000 });
    expect(drive(core, { type: 'tick', now: 10 }).effects).toEqual([]); // the clock jumps back
    core.step(message('M', logMessage(1, 1, later.bytes)));
    core.takeEffects();
    // Armed from 5000, the latest time seen, not from 10.
    expect(core.nextDeadline()).toBe(5040);
    expect(drive(core, { type: 'tick', now: 60 }).effects).toEqual([]);
    expect(drive(core, { type: 'tick', now: 5039 }).effects).toEqual([]);
    expect(sendsOf(drive(core, { type: 'tick', now: 5040 }).effects, 'logRequest')).toHaveLength(1);
  });

  it('a tick earlier than the last one changes nothing (master: heartbeats and bulk)', () => {
    const core = new ReplicaCore(
      coreConfig('M', {
        peers: ['B'],
        heartbeatIntervalMs: 100,
        bulk: bulk({ enabled: true, maxDelayMs: 20 }),
      }),
    );
    core.step({ type: 'becomeMaster', generation: 1 });
    core.step(
      message('B', { type: 'syncRequest', generation: 1, lastLsn: 37, lastGeneration: 1, nextLsn: 37 }),
    );
    core.step({ type: 'tick', now: 1000 }); // ships the bulk, heartbeats; next heartbeat at 1100
    core.takeEffects();
    expect(core.nextDeadline()).toBe(1100);
    expect(drive(core, { type: 'tick', now: 0 }).effects).toEqual([]);
    core.propose([Buffer.from('x')]); // the bulk starts at 1000, not at 0
    core.takeEffects();
    expect(core.nextDeadline()).toBe(1020);
    expect(drive(core, { type: 'tick', now: 500 }).effects).toEqual([]);
    expect(drive(core, { type: 'tick', now: 1019 }).effects).toEqual([]);
    expect(ofType(drive(core, { type: 'tick', now: 1020 }).effects, 'ship')).toHaveLength(1);
    expect(sendsOf(drive(core, { type: 'tick', now: 1099 }).effects, 'heartbeat')).toEqual([]);
    expect(sendsOf(drive(core, { type: 'tick', now: 1100 }).effects, 'heartbeat')).toHaveLength(1);
  });

  it('a client without a master asks for one with the same back-off', () => {
    const core = new ReplicaCore(coreConfig('C', { peers: ['A', 'B'], now: 0 }));
    core.step({ type: 'becomeClient' });
    core.takeEffects();
    expect(core.nextDeadline()).toBe(40);
    const times: number[] = [];
    for (let now = 0; now <= 700; now += 5) {
      const requests = sendsOf(drive(core, { type: 'tick', now }).effects, 'masterRequest');
      if (requests.length > 0) {
        times.push(now);
        expect(requests[0]!.to).toBe('broadcast');
      }
    }
    expect(times).toEqual([40, 120, 280, 600]);
  });
});
