/**
 * The pure election core in a deterministic world (harness.ts): who wins and why, what never happens
 * (two masters of one generation, two votes in one election, a stale master keeping its lease), and how
 * the group recovers from partitions, restarts and transfers.
 */
import { describe, expect, it } from 'vitest';
import { ElectionCore, votesToWin } from '../src/index.js';
import { World } from './harness.js';

const log = (dataGeneration: number, lastLsn: number) => ({ dataGeneration, lastLsn });

/** No generation ever had two masters (P4). */
function expectOneMasterPerGeneration(world: World): void {
  const byGeneration = new Map<number, string>();
  for (const { site, generation } of world.masters) {
    const other = byGeneration.get(generation);
    expect(other === undefined || other === site, `generation ${generation}: ${other} and ${site}`).toBe(
      true,
    );
    byGeneration.set(generation, site);
  }
}

describe('who wins', () => {
  it('elects exactly one master in a new, empty group, and explains it', () => {
    const world = new World([{ id: 'a' }, { id: 'b' }, { id: 'c' }]);
    const master = world.runUntilMaster();
    expect(master).toBeDefined();
    world.run(500);
    expect(world.currentMasters()).toEqual([master]);
    const explanation = world.elected[0]!;
    expect(explanation.winner).toBe(master);
    expect(explanation.candidates.map((c) => c.site).sort()).toEqual(['a', 'b', 'c']);
    expect(explanation.votes.length).toBeGreaterThanOrEqual(2);
    expect(explanation.full).toBe(true);
    expect(explanation.missing).toEqual([]);
    expectOneMasterPerGeneration(world);
  });

  it('the most up-to-date log wins over a higher priority', () => {
    const world = new World([
      { id: 'a', priority: 100, log: log(3, 100) },
      { id: 'b', priority: 1, log: log(3, 200) },
      { id: 'c', priority: 50, log: log(2, 900) },
    ]);
    expect(world.runUntilMaster()).toBe('b');
    expect(world.elected[0]!.reason).toContain('most up-to-date log');
  });

  it('a higher data generation beats a longer log', () => {
    const world = new World([
      { id: 'a', log: log(2, 5000) },
      { id: 'b', log: log(3, 100) },
      { id: 'c', log: log(2, 4000) },
    ]);
    expect(world.runUntilMaster()).toBe('b');
    expect(world.elected[0]!.reason).toContain('highest data generation');
  });

  it('priority breaks a tie between equal logs', () => {
    const world = new World([
      { id: 'a', priority: 1, log: log(1, 100) },
      { id: 'b', priority: 5, log: log(1, 100) },
      { id: 'c', priority: 3, log: log(1, 100) },
    ]);
    expect(world.runUntilMaster()).toBe('b');
    expect(world.elected[0]!.reason).toContain('higher priority');
  });

  it('a priority-0 site votes but never wins, even with the best log', () => {
    const world = new World([
      { id: 'a', log: log(1, 100) },
      { id: 'b', log: log(1, 100) },
      { id: 'z', priority: 0, log: log(1, 100) },
    ]);
    const master = world.runUntilMaster();
    expect(['a', 'b']).toContain(master);
    for (let seed = 2; seed < 12; seed++) {
      const other = new World(
        [
          { id: 'a', log: log(1, 50) },
          { id: 'b', log: log(1, 60) },
          { id: 'z', priority: 0, log: log(1, 900) },
        ],
        {},
        { seed },
      );
      other.run(10_000);
      expect(other.masters.every((m) => m.site !== 'z')).toBe(true);
      // z is ahead of both, so it votes for neither; a and b still make the electable majority.
      expect(other.currentMasters()).toEqual(['b']);
    }
  });

  it('a site votes only for a log at least as up to date as its own (and the mutant does not)', () => {
    // c is behind and has the highest priority: it never gets a or b's votes.
    const specs = [
      { id: 'a', priority: 1, log: log(4, 300) },
      { id: 'b', priority: 1, log: log(4, 300) },
      { id: 'c', priority: 1000, log: log(4, 100) },
    ];
    for (let seed = 1; seed <= 20; seed++) {
      const world = new World(specs, {}, { seed });
      world.run(8000);
      expect(world.masters.some((m) => m.site === 'c')).toBe(false);
    }
    // The deliberately broken build elects the behind site when its priority is highest.
    let behindWon = 0;
    for (let seed = 1; seed <= 20; seed++) {
      const world = new World(specs, { mutations: { electWithoutUpToDateCheck: true } }, { seed });
      world.run(8000);
      if (world.masters.some((m) => m.site === 'c')) behindWon++;
    }
    expect(behindWon).toBeGreaterThan(0);
  });
});

describe('safety', () => {
  it('simultaneous candidates and split votes still end with one master per generation', () => {
    for (let seed = 1; seed <= 30; seed++) {
      const world = new World(
        [{ id: 'a' }, { id: 'b' }, { id: 'c' }, { id: 'd' }, { id: 'e' }],
        { preVote: false, vote1WaitMs: 0 },
        { seed, delayMs: 3 },
      );
      world.run(15_000);
      expect(world.currentMasters().length, `seed ${seed}`).toBe(1);
      expectOneMasterPerGeneration(world);
    }
  });

  it('never votes twice in one election, even across a crash', () => {
    const world = new World([
      { id: 'a', log: log(1, 10) },
      { id: 'b', log: log(1, 10) },
      { id: 'c', log: log(1, 10) },
    ]);
    world.runUntilMaster();
    const voter = ['a', 'b', 'c'].find(
      (id) => world.persisted.get(id)?.votedFor !== undefined && world.currentMasters()[0] !== id,
    )!;
    const { electionGeneration, votedFor } = world.persisted.get(voter)!;
    world.crash(voter);
    // It crashed right after its vote was written, before it learned the winner's generation (which it
    // would store too): its record is the vote's, and its replica restarts at the generation of its
    // last record (the master wrote none yet).
    const vote = world.persists.find((p) => p.site === voter && p.state.votedFor !== undefined)!;
    expect(vote.state).toMatchObject({ electionGeneration, votedFor });
    world.persisted.set(voter, vote.state);
    world.generation.delete(voter);
    const restarted = world.start(voter);
    expect(restarted.stats().votedFor).toBe(votedFor);
    expect(restarted.electionGeneration).toBe(electionGeneration);
    // Another candidate asks for a vote in the same election: refused.
    restarted.tick(world.now + 10_000);
    restarted.receive(
      'x' === voter ? 'a' : [...['a', 'b', 'c']].find((id) => id !== voter && id !== votedFor)!,
      {
        type: 'vote1',
        generation: 0,
        electionGeneration,
        dataGeneration: 9,
        lastLsn: 999,
        priority: 1,
        tiebreaker: 1,
        nsites: 3,
        nvotes: 2,
      },
      world.now + 10_000,
    );
    expect(restarted.stats().lastRefusal).toBe('alreadyVoted');
    expect(restarted.drainEffects().filter((e) => e.type === 'persist')).toEqual([]);
  });

  it('a partitioned master steps down (check-quorum) and the majority elects a newer generation', () => {
    const world = new World([
      { id: 'a', log: log(1, 10) },
      { id: 'b', log: log(1, 10) },
      { id: 'c', log: log(1, 10) },
    ]);
    const first = world.runUntilMaster()!;
    world.run(300);
    const firstGeneration = world.generation.get(first)!;
    world.isolate(first);
    world.run(4000, () => world.masters.length > 1);
    const second = world.masters.at(-1)!;
    expect(second.site).not.toBe(first);
    expect(second.generation).toBeGreaterThan(firstGeneration);
    world.run(1500);
    expect(world.stepDowns.some((s) => s.site === first && s.reason.includes('check-quorum'))).toBe(true);
    expect(world.currentMasters()).toEqual([second.site]);
    // Healed: the old master follows the new one, and nobody disrupts it.
    world.isolate(first, false);
    world.run(3000);
    expect(world.currentMasters()).toEqual([second.site]);
    expectOneMasterPerGeneration(world);
  });

  it('a stale master loses its read lease before anyone else can be elected', () => {
    const world = new World([{ id: 'a' }, { id: 'b' }, { id: 'c' }]);
    // After the first election every site has an election record: empty logs no longer stop votes.
    const first = world.runUntilMaster()!;
    world.run(300);
    const core = world.cores.get(first)!;
    expect(core.hasReadLease(world.now)).toBe(true);
    world.isolate(first);
    world.run(4000, () => world.masters.length > 1);
    const electedAt = world.masters.at(-1)!.at;
    const leaseUntil = core.stats().leaseValidUntil ?? -Infinity;
    expect(leaseUntil).toBeLessThan(electedAt);
    expect(core.hasReadLease(world.now)).toBe(false);
  });

  it('a client within its lease neither votes nor grants a pre-vote', () => {
    const world = new World([{ id: 'a' }, { id: 'b' }, { id: 'c' }]);
    const master = world.runUntilMaster()!;
    world.run(300);
    const client = ['a', 'b', 'c'].find((id) => id !== master)!;
    const core = world.cores.get(client)!;
    core.receive(
      ['a', 'b', 'c'].find((id) => id !== master && id !== client)!,
      {
        type: 'election',
        generation: 0,
        electionGeneration: 99,
        kind: 'preVote',
        granted: false,
        dataGeneration: 99,
        lastLsn: 99,
        time: 0,
        site: '',
      },
      world.now,
    );
    expect(core.stats().lastRefusal).toBe('leaseLive');
    const reply = core.drainEffects().find((e) => e.type === 'send');
    expect(reply).toMatchObject({ message: { kind: 'preVoteReply', granted: false } });
  });
});

describe('liveness and disruption', () => {
  it('pre-vote: an isolated site does not bump generations or disrupt the group when it returns', () => {
    const world = new World([{ id: 'a' }, { id: 'b' }, { id: 'c' }]);
    const master = world.runUntilMaster()!;
    world.run(300);
    const loner = ['a', 'b', 'c'].find((id) => id !== master)!;
    const egenBefore = world.cores.get(loner)!.electionGeneration;
    world.isolate(loner);
    world.run(10_000);
    expect(world.cores.get(loner)!.electionGeneration).toBe(egenBefore);
    world.isolate(loner, false);
    world.run(3000);
    expect(world.currentMasters()).toEqual([master]);
    expect(world.masters.length).toBe(1);
  });

  it('without pre-vote, a returning site with a higher election generation cannot unseat a live master', () => {
    const world = new World([{ id: 'a' }, { id: 'b' }, { id: 'c' }], { preVote: false });
    const master = world.runUntilMaster()!;
    world.run(300);
    const loner = ['a', 'b', 'c'].find((id) => id !== master)!;
    world.isolate(loner);
    world.run(10_000);
    expect(world.cores.get(loner)!.electionGeneration).toBeGreaterThan(world.generation.get(master)!);
    world.isolate(loner, false);
    world.run(3000);
    // Clients in their lease ignore it and the master does not step down.
    expect(world.currentMasters()).toEqual([master]);
  });

  it('a whole-group restart waits for every site, then settles for a majority after the full timeout', () => {
    const specs = [
      { id: 'a', log: log(2, 100) },
      { id: 'b', log: log(2, 300) },
      { id: 'c', log: log(2, 200) },
    ];
    const all = new World(specs);
    expect(all.runUntilMaster()).toBe('b');
    expect(all.elected[0]!.full).toBe(true);

    const partial = new World(specs);
    partial.crash('b');
    const master = partial.runUntilMaster(20_000)!;
    expect(master).toBe('c');
    const explanation = partial.elected[0]!;
    expect(explanation.missing).toEqual(['b']);
    // It waited the full-election timeout for b before settling.
    expect(explanation.endedAt - explanation.startedAt).toBeGreaterThanOrEqual(
      partial.config.fullElectionTimeoutMs,
    );
  });

  it('a site with an empty log (wiped) does not vote, so the behind site cannot win with it', () => {
    // a holds the acked data and is down; c is behind; b was wiped. c + b would be a majority.
    const world = new World([
      { id: 'a', log: log(3, 500) },
      { id: 'b', log: log(0, 0) },
      { id: 'c', log: log(3, 100) },
    ]);
    world.crash('a');
    world.run(15_000);
    expect(world.masters).toEqual([]);
    expect(world.cores.get('b')!.stats().lastRefusal).toBe('emptyLog');
    world.start('a');
    expect(world.runUntilMaster()).toBe('a');
  });

  it('two-site groups: strict never elects a lone site; non-strict does', () => {
    const strict = new World([
      { id: 'a', log: log(1, 10) },
      { id: 'b', log: log(1, 10) },
    ]);
    strict.crash('b');
    strict.run(15_000);
    expect(strict.masters).toEqual([]);
    expect(votesToWin(2, true)).toBe(2);

    const loose = new World(
      [
        { id: 'a', log: log(1, 10) },
        { id: 'b', log: log(1, 10) },
      ],
      { twoSiteStrict: false },
    );
    loose.crash('b');
    expect(loose.runUntilMaster(15_000)).toBe('a');
  });

  it('a strict two-site master keeps mastership (and its lease) when its peer goes: nobody else can win', () => {
    const world = new World([
      { id: 'a', log: log(1, 10) },
      { id: 'b', log: log(1, 10) },
    ]);
    const master = world.runUntilMaster()!;
    const other = master === 'a' ? 'b' : 'a';
    world.crash(other);
    world.run(5_000);
    expect(world.currentMasters()).toEqual([master]);
    expect(world.stepDowns).toEqual([]);
    expect(world.cores.get(master)!.hasReadLease(world.now)).toBe(true);
  });

  it('views never vote and never win', () => {
    const world = new World([
      { id: 'a', log: log(1, 10) },
      { id: 'b', log: log(1, 10) },
      { id: 'v', view: true, log: log(1, 99) },
    ]);
    const master = world.runUntilMaster()!;
    expect(master).not.toBe('v');
    // A view stores the generations it learns (P4 across restarts), never a vote.
    expect(world.persisted.get('v')?.votedFor).toBeUndefined();
    expect(world.persists.filter((p) => p.site === 'v' && p.state.votedFor !== undefined)).toEqual([]);
    expect(world.elected[0]!.candidates.map((c) => c.site)).not.toContain('v');
  });

  it('a one-site group elects itself', () => {
    const world = new World([{ id: 'solo' }]);
    expect(world.runUntilMaster()).toBe('solo');
  });
});

describe('a site fenced above the master', () => {
  it('makes the master step down, and the group re-elects above it', () => {
    const world = new World([
      { id: 'a', log: log(1, 10) },
      { id: 'b', log: log(1, 10) },
      { id: 'c', log: log(1, 10) },
    ]);
    const master = world.runUntilMaster()!;
    world.run(300);
    const generation = world.generation.get(master)!;
    const stuck = ['a', 'b', 'c'].find((id) => id !== master)!;
    // The stuck site joined an election at generation + 3 that failed: it asks to pre-vote above it.
    world.cores.get(master)!.receive(
      stuck,
      {
        type: 'election',
        generation,
        electionGeneration: generation + 4,
        kind: 'preVote',
        granted: false,
        dataGeneration: 1,
        lastLsn: 10,
        time: 0,
        site: '',
      },
      world.now,
    );
    const effects = world.cores.get(master)!.drainEffects();
    expect(effects.find((e) => e.type === 'stepDown')).toMatchObject({
      reason: expect.stringContaining('cannot follow us'),
    });
    // A pre-vote at the next generation (an ordinary one) does not.
    world.cores.get(master)!.receive(
      stuck,
      {
        type: 'election',
        generation,
        electionGeneration: generation + 1,
        kind: 'preVote',
        granted: false,
        dataGeneration: 1,
        lastLsn: 10,
        time: 0,
        site: '',
      },
      world.now,
    );
    expect(
      world.cores
        .get(master)!
        .drainEffects()
        .some((e) => e.type === 'stepDown'),
    ).toBe(false);
  });
});

describe('learned generations are durable (P4 across restarts)', () => {
  const sites = [
    { id: 'a', priority: 1, view: false },
    { id: 'b', priority: 1, view: false },
    { id: 'c', priority: 1, view: false },
  ];
  const config = { ...new World([{ id: 'a' }]).config, siteId: 'b', sites };

  function lonelyCore(logInfo = { dataGeneration: 0, lastLsn: 0 }): ElectionCore {
    return new ElectionCore({ config, logInfo: () => logInfo, random: () => 0.5 });
  }

  it('persists a learned generation once, before anything else; repeats, pings and losing the master write nothing', () => {
    // A wiped site: no record, empty log.
    const core = lonelyCore();
    core.start(0, { electionGeneration: 0, votedFor: undefined }, 0);
    expect(core.drainEffects()).toEqual([]);
    core.roleChanged('client', 'a', 10, 5);
    const effects = core.drainEffects();
    expect(effects).toEqual([
      {
        type: 'persist',
        state: { electionGeneration: 10, votedFor: undefined, generation: 10, unrecorded: true },
      },
    ]);
    const [persist] = effects;
    if (persist?.type !== 'persist') throw new Error('expected a persist effect');
    core.persisted(persist.state, 5);
    core.roleChanged('client', 'a', 10, 6);
    core.receive(
      'a',
      {
        type: 'election',
        generation: 10,
        electionGeneration: 10,
        kind: 'ping',
        granted: false,
        dataGeneration: 10,
        lastLsn: 500, // the master's log end: this empty log has not caught up, so nothing is recorded
        time: 6,
        site: '',
      },
      7,
    );
    core.roleChanged('client', undefined, 10, 8);
    core.tick(9);
    expect(core.drainEffects().filter((e) => e.type === 'persist')).toEqual([]);
    // The next generation is persisted once more.
    core.roleChanged('client', 'c', 11, 10);
    expect(core.drainEffects().filter((e) => e.type === 'persist')).toEqual([
      {
        type: 'persist',
        state: { electionGeneration: 11, votedFor: undefined, generation: 11, unrecorded: true },
      },
    ]);
  });

  it('a recorded site keeps its vote in the record and is not marked unrecorded', () => {
    const core = lonelyCore({ dataGeneration: 4, lastLsn: 50 });
    core.start(0, { electionGeneration: 5, votedFor: 'a', generation: 4, unrecorded: false }, 4);
    expect(core.drainEffects()).toEqual([]);
    // The master of the election it voted in announces itself: generation 5, vote kept.
    core.roleChanged('client', 'a', 5, 1);
    expect(core.drainEffects()).toEqual([
      { type: 'persist', state: { electionGeneration: 5, votedFor: 'a', generation: 5, unrecorded: false } },
    ]);
  });

  it('at start, records a generation above the stored one (from the log, or learned before start) once', () => {
    const core = lonelyCore({ dataGeneration: 7, lastLsn: 90 });
    core.roleChanged('client', 'a', 8, 0); // before start: nothing is known to be stored yet
    expect(core.drainEffects()).toEqual([]);
    core.start(1, { electionGeneration: 6, votedFor: 'c', generation: 0, unrecorded: false }, 8);
    expect(core.drainEffects()).toEqual([
      {
        type: 'persist',
        state: { electionGeneration: 8, votedFor: undefined, generation: 8, unrecorded: false },
      },
    ]);
    expect(core.electionGeneration).toBe(8);
  });

  it('every site persists each generation once: the winner with its win, the others when they learn it', () => {
    const world = new World([
      { id: 'a', log: log(1, 10) },
      { id: 'b', log: log(1, 10) },
      { id: 'c', log: log(1, 10) },
    ]);
    const master = world.runUntilMaster()!;
    world.run(3_000);
    const generation = world.masters[0]!.generation;
    for (const site of ['a', 'b', 'c']) {
      const writes = world.persists.filter((p) => p.site === site && p.state.generation === generation);
      expect(writes, site).toHaveLength(1);
      if (site === master) expect(writes[0]!.state.votedFor).toBe(master);
    }
    // Pings, pongs and heartbeats for 3 s after that wrote nothing more.
    const last = Math.max(...world.persists.map((p) => p.at));
    expect(last).toBeLessThanOrEqual(world.masters[0]!.at);
  });

  it('a wiped site that learned a generation and crashed before re-syncing still does not vote with an empty log', () => {
    // a holds the acked data; c is behind; b was wiped and has just learned a's generation (3).
    const world = new World([
      { id: 'a', log: log(3, 500) },
      { id: 'b', log: log(0, 0) },
      { id: 'c', log: log(3, 100) },
    ]);
    world.cores.get('b')!.roleChanged('client', 'a', 3, world.now);
    world.run(1);
    const stored = world.persisted.get('b')!;
    expect(stored).toMatchObject({ generation: 3, unrecorded: true, votedFor: undefined });
    // b crashes before any record arrives, and a goes down: c + b would be a majority.
    world.crash('b');
    world.crash('a');
    world.generation.delete('b');
    const b = world.start('b');
    expect(b.electionGeneration).toBeGreaterThanOrEqual(3);
    world.run(15_000);
    expect(world.masters).toEqual([]);
    expect(b.stats().lastRefusal).toBe('emptyLog');
    expect(world.persists.filter((p) => p.site === 'b' && p.state.votedFor !== undefined)).toEqual([]);
    world.start('a');
    expect(world.runUntilMaster()).toBe('a');
  });

  /** a holds the acked data and is master; b was wiped and re-syncs from a; c is behind. */
  function wipedSiteResyncing(): World {
    const world = new World([
      { id: 'a', log: log(3, 500) },
      { id: 'b', log: log(0, 0) },
      { id: 'c', log: log(3, 100) },
    ]);
    expect(world.runUntilMaster()).toBe('a');
    return world;
  }

  it('a wiped site that re-synced only part of its log does not vote: the behind site cannot win with it', () => {
    const world = wipedSiteResyncing();
    world.logs.set('b', log(3, 200)); // part of a's log, not the end a's pings announce (500)
    world.run(1_000);
    expect(world.persisted.get('b')?.unrecorded).toBe(true);
    world.crash('a');
    world.run(15_000);
    expect(world.masters.map((m) => m.site)).toEqual(['a']);
    expect(world.cores.get('b')!.stats().lastRefusal).toBe('notCaughtUp');
    world.start('a');
    expect(world.runUntilMaster()).toBe('a');
  });

  it('once caught up to the end of its master’s log it is recorded on disk and votes, after a restart too', () => {
    const world = wipedSiteResyncing();
    world.logs.set('b', log(3, 500));
    world.run(1_000);
    expect(world.persisted.get('b')).toMatchObject({ unrecorded: false });
    world.crash('a');
    world.crash('b');
    world.start('b'); // no master to learn a target from: the stored record alone lets it vote
    world.run(15_000, () => world.currentMasters().length > 0);
    expect(world.currentMasters()).toEqual(['b']);
    expect(world.elected.at(-1)!.winner).toBe('b');
  });

  it('with every voter present, a site re-synced in part votes (a group turning elections on)', () => {
    const world = new World([
      { id: 'a', log: log(3, 500), unrecorded: true },
      { id: 'b', log: log(3, 200), unrecorded: true },
      { id: 'c', log: log(3, 100), unrecorded: true },
    ]);
    expect(world.runUntilMaster()).toBe('a');
  });

  it('control: the same record without the unrecorded mark would let the wiped site elect the behind site', () => {
    const world = new World([
      { id: 'a', log: log(3, 500) },
      { id: 'b', log: log(0, 0) },
      { id: 'c', log: log(3, 100) },
    ]);
    world.cores.get('b')!.roleChanged('client', 'a', 3, world.now);
    world.run(1);
    world.persisted.set('b', { ...world.persisted.get('b')!, unrecorded: false });
    world.crash('b');
    world.crash('a');
    world.generation.delete('b');
    world.start('b');
    expect(world.runUntilMaster(15_000)).toBe('c');
  });
});

describe('leader transfer', () => {
  it('the target wins the next election, and the explanation says it was a transfer', () => {
    const world = new World([
      { id: 'a', priority: 10, log: log(1, 100) },
      { id: 'b', priority: 1, log: log(1, 100) },
      { id: 'c', priority: 5, log: log(1, 100) },
    ]);
    expect(world.runUntilMaster()).toBe('a');
    world.run(300);
    world.cores.get('a')!.transfer('b', world.now);
    world.run(1, () => false);
    world.run(2000, () => world.masters.length > 1);
    const last = world.masters.at(-1)!;
    expect(last.site).toBe('b');
    expect(world.elected.at(-1)!.transfer).toBe(true);
    expect(last.at - world.masters[0]!.at).toBeGreaterThan(0);
  });

  it('a transfer that did not happen does not bias later elections (no endless split in a pair)', () => {
    const world = new World([
      { id: 'a', priority: 1, log: log(1, 100) },
      { id: 'b', priority: 10, log: log(1, 100) },
    ]);
    expect(world.runUntilMaster()).toBe('b');
    world.run(300);
    // b hands over to a, but a is gone before it can run: the transfer fails.
    world.crash('a');
    world.cores.get('b')!.transfer('a', world.now);
    world.run(3000);
    world.start('a');
    // Later elections rank by priority again: b (10) wins, not a pairwise split forever.
    world.run(20_000, () => world.currentMasters().length > 0);
    expect(world.currentMasters()).toEqual(['b']);
  });

  it('refuses to transfer to itself, a priority-0 site or an unknown one', () => {
    const world = new World([{ id: 'a' }, { id: 'b' }, { id: 'z', priority: 0 }]);
    const master = world.runUntilMaster()!;
    const core = world.cores.get(master)!;
    expect(() => core.transfer(master, world.now)).toThrow(/not an electable peer/);
    expect(() => core.transfer('z', world.now)).toThrow(/not an electable peer/);
    expect(() => core.transfer('nobody', world.now)).toThrow(/not an electable peer/);
  });

  it('rejects a lease timeout at or above the election timeout', () => {
    expect(
      () =>
        new ElectionCore({
          config: {
            ...new World([{ id: 'a' }]).config,
            leaseTimeoutMs: 1000,
            siteId: 'a',
            sites: [{ id: 'a', priority: 1, view: false }],
          },
          logInfo: () => ({ dataGeneration: 0, lastLsn: 0 }),
          random: () => 0.5,
        }),
    ).toThrow(/leaseTimeoutMs/);
  });
});
