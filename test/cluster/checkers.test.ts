/**
 * The chaos checkers on synthetic histories, including the must-fail controls: a checker that never
 * fails proves nothing, so each one is shown a history with exactly the bug it exists to catch — an
 * acknowledged write that is gone, a read of a value that was rolled back, two masters in one
 * generation, a generation that goes back, a wiped site that voted.
 */
import { describe, expect, it } from 'vitest';
import {
  checkGenerationsMonotonic,
  checkLinearizable,
  checkNoStaleAcks,
  checkOneMasterPerGeneration,
  checkWipedVotes,
  maxUnavailableMs,
} from './checks.js';
import type { Claim, Explanation } from './cluster.js';
import { History, isAcked, type Operation } from './history.js';
import { checkRegister, type RegisterOp } from './linearizability.js';

const INF = Number.POSITIVE_INFINITY;
let nextId = 1;
const write = (value: string, invokeMs: number, completeMs: number): RegisterOp => ({
  id: nextId++,
  kind: 'write',
  value,
  invokeMs,
  completeMs,
});
const read = (value: string | null, invokeMs: number, completeMs: number): RegisterOp => ({
  id: nextId++,
  kind: 'read',
  value,
  invokeMs,
  completeMs,
});

describe('checkRegister (Wing & Gong over a register)', () => {
  it('accepts sequential and concurrent histories that have a linearization', () => {
    expect(
      checkRegister([write('a', 0, 1), read('a', 2, 3), write('b', 4, 5), read('b', 6, 7)]).verdict,
    ).toBe('linearizable');
    // Overlapping writes: a read may see either, later reads must agree with one order.
    expect(
      checkRegister([write('a', 0, 10), write('b', 1, 9), read('b', 11, 12), read('b', 13, 14)]).verdict,
    ).toBe('linearizable');
    expect(checkRegister([read(null, 0, 1), write('a', 2, 3)]).verdict).toBe('linearizable');
  });

  it('an indeterminate write may have happened, or never', () => {
    expect(checkRegister([write('a', 0, 1), write('b', 2, INF), read('a', 5, 6)]).verdict).toBe(
      'linearizable',
    );
    expect(checkRegister([write('a', 0, 1), write('b', 2, INF), read('b', 5, 6)]).verdict).toBe(
      'linearizable',
    );
    // ... but not both: once seen, it cannot disappear.
    expect(
      checkRegister([write('a', 0, 1), write('b', 2, INF), read('b', 5, 6), read('a', 7, 8)]).verdict,
    ).toBe('violation');
  });

  it('must fail: a stale read after a completed write', () => {
    expect(checkRegister([write('a', 0, 1), write('b', 2, 3), read('a', 4, 5)]).verdict).toBe('violation');
  });

  it('must fail: an acknowledged write the final read does not show (a lost write)', () => {
    expect(checkRegister([write('a', 0, 1), write('b', 2, 3), read('a', 100, 100)]).verdict).toBe(
      'violation',
    );
  });

  it('must fail: a dirty read (a value read, then rolled back)', () => {
    // The pattern chaos found (seed 3, before the lease-read fix): a lease read saw an unacknowledged
    // write that an election then rolled back; the final read shows the older value.
    const history = [write('old', 0, 5), write('dirty', 10, INF), read('dirty', 11, 12), read('old', 50, 50)];
    expect(checkRegister(history).verdict).toBe('violation');
  });

  it('must fail: a read of a value nobody wrote', () => {
    expect(checkRegister([write('a', 0, 1), read('z', 2, 3)]).verdict).toBe('violation');
  });

  it('gives up (unknown, not a verdict) past its step budget', () => {
    const ops: RegisterOp[] = [];
    for (let index = 0; index < 14; index++) ops.push(write(`v${index}`, 0, INF));
    ops.push(read('never', 1, 2));
    expect(checkRegister(ops, null, 1_000).verdict).toBe('unknown');
  });
});

function operation(partial: Partial<Operation> & Pick<Operation, 'kind' | 'key' | 'value'>): Operation {
  return {
    id: nextId++,
    client: 0,
    site: 'a',
    invokeMs: 0,
    completeMs: 1,
    outcome: 'ok',
    ...partial,
  };
}

describe('checkLinearizable (per key, from the history)', () => {
  it('leaves out failed operations and unanswered reads, and treats indeterminate writes as open', () => {
    const history = [
      operation({ kind: 'write', key: 'k', value: 'a', invokeMs: 0, completeMs: 1 }),
      operation({ kind: 'write', key: 'k', value: 'never', invokeMs: 2, completeMs: 3, outcome: 'fail' }),
      operation({ kind: 'read', key: 'k', value: null, invokeMs: 2, completeMs: 3, outcome: 'info' }),
      operation({ kind: 'write', key: 'k', value: 'b', invokeMs: 4, completeMs: 5, outcome: 'info' }),
      operation({ kind: 'read', key: 'k', value: 'a', invokeMs: 6, completeMs: 7 }),
      operation({ kind: 'write', key: 'j', value: 'x', invokeMs: 0, completeMs: 1 }),
    ];
    const result = checkLinearizable(history);
    expect(result.ok, result.findings.join('\n')).toBe(true);
  });

  it('must fail: the final read misses an acknowledged write', () => {
    const history = [
      operation({ kind: 'write', key: 'k', value: 'a', invokeMs: 0, completeMs: 1 }),
      operation({ kind: 'write', key: 'k', value: 'b', invokeMs: 2, completeMs: 3 }),
      operation({ kind: 'read', key: 'k', value: 'a', invokeMs: 10, completeMs: 10, client: -1 }),
    ];
    const result = checkLinearizable(history);
    expect(result.ok).toBe(false);
    expect(result.findings[0]).toContain('key k');
  });
});

describe('the history', () => {
  it('counts acknowledged writes only under quorum, all and all_peers with perm true', () => {
    const history = new History();
    const policies = ['quorum', 'all', 'all_peers', 'one', 'none'];
    for (const policy of policies) {
      const op = history.invoke({
        client: 0,
        kind: 'write',
        key: 'k',
        value: policy,
        site: 'a',
        invokeMs: 0,
      });
      history.complete(op, 1, 'ok', {
        status: 200,
        receipt: { lsn: 1, generation: 1, perm: true, policy, token: '1:1' },
      });
    }
    const pending = history.invoke({
      client: 0,
      kind: 'write',
      key: 'k',
      value: 'x',
      site: 'a',
      invokeMs: 0,
    });
    history.complete(pending, 5, 'info', { status: 504 });
    expect(history.operations.filter(isAcked).map((op) => op.value)).toEqual(['quorum', 'all', 'all_peers']);
    expect(pending.completeMs).toBe(INF);
    expect(history.counts()).toMatchObject({ ops: 6, acked: 3, indeterminate: 1 });
  });

  it('max unavailability is the longest stretch without an acknowledged write', () => {
    const history = new History();
    for (const at of [100, 200, 1_700, 1_800]) {
      const op = history.invoke({
        client: 0,
        kind: 'write',
        key: 'k',
        value: String(at),
        site: 'a',
        invokeMs: at - 5,
      });
      history.complete(op, at, 'ok', {
        status: 200,
        receipt: { lsn: at, generation: 1, perm: true, policy: 'quorum', token: `1:${at}` },
      });
    }
    expect(maxUnavailableMs(history.operations, 100, 2_000)).toBe(1_500);
    expect(maxUnavailableMs(history.operations, 100, 5_000)).toBe(3_200);
  });
});

const claim = (site: string, role: string, generation: number, master: string | null, atMs = 0): Claim => ({
  atMs,
  site,
  role,
  generation,
  master,
  lsn: 0,
  appliedLsn: 0,
  start: 1,
});

describe('claims and elections', () => {
  it('one master per generation, and followers name it', () => {
    const claims = [
      claim('a', 'master', 1, 'a'),
      claim('b', 'client', 1, 'a'),
      claim('b', 'master', 2, 'b'),
      claim('a', 'client', 2, 'b'),
    ];
    expect(checkOneMasterPerGeneration(claims).ok).toBe(true);
  });

  it('must fail: two masters in one generation', () => {
    const result = checkOneMasterPerGeneration([claim('a', 'master', 3, 'a'), claim('b', 'master', 3, 'b')]);
    expect(result.ok).toBe(false);
    expect(result.findings[0]).toContain('generation 3 has masters a, b');
  });

  it('must fail: a client that follows another master than the one claiming the generation', () => {
    const result = checkOneMasterPerGeneration([claim('a', 'master', 3, 'a'), claim('c', 'client', 3, 'b')]);
    expect(result.ok).toBe(false);
  });

  it('must fail: a write acknowledged under a generation older than a master seen before it began', () => {
    const acked = (generation: number, invokeMs: number): Operation =>
      operation({
        kind: 'write',
        key: 'k',
        value: `v${invokeMs}`,
        invokeMs,
        completeMs: invokeMs + 5,
        receipt: {
          lsn: invokeMs,
          generation,
          perm: true,
          policy: 'quorum',
          token: `${generation}:${invokeMs}`,
        },
      });
    const claims = [claim('a', 'master', 1, 'a', 0), claim('b', 'master', 2, 'b', 100)];
    // Invoked before b was seen master: fine (the claim may have come later than the election, not earlier).
    expect(checkNoStaleAcks([acked(1, 50), acked(2, 150)], claims).ok).toBe(true);
    const stale = checkNoStaleAcks([acked(1, 150)], claims);
    expect(stale.ok).toBe(false);
    expect(stale.findings[0]).toContain('generation 1');
  });

  it('must fail: a generation that goes back on a site, unless it was wiped', () => {
    const back = [claim('a', 'master', 4, 'a', 10), claim('a', 'client', 2, 'b', 20)];
    expect(checkGenerationsMonotonic(back, []).ok).toBe(false);
    expect(checkGenerationsMonotonic(back, [{ site: 'a', atMs: 15 }]).ok).toBe(true);
  });

  it('must fail: a site with an empty log voted while a candidate had records', () => {
    const explanation: Explanation = {
      electionGeneration: 5,
      winner: 'b',
      candidates: [
        { site: 'b', dataGeneration: 4, lastLsn: 900, electable: true },
        { site: 'c', dataGeneration: 0, lastLsn: 0, electable: true },
      ],
      votes: [
        { voter: 'b', candidate: 'b' },
        { voter: 'c', candidate: 'b' },
      ],
      startedAt: 0,
      endedAt: 1,
    };
    expect(checkWipedVotes([explanation]).ok).toBe(false);
    const fresh = { ...explanation, candidates: explanation.candidates.map((c) => ({ ...c, lastLsn: 0 })) };
    expect(checkWipedVotes([fresh]).ok).toBe(true);
  });
});
