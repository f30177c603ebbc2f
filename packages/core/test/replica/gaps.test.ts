/**
 * Gaps: the bounded buffer of records after a gap, re-requests with a doubling back-off (from the
 * master, or every other time from another client with ANYWHERE), the immediate next request after an
 * answer that made progress, and a client serving an ANYWHERE request.
 */
import { describe, expect, it } from 'vitest';
import { type ReplicaCore, type ReplicaCoreConfig, SendFlags } from '../../src/index.js';
import {
  drive,
  type LogBuilder,
  logMessage,
  message,
  ofType,
  readyClient,
  type SendEffect,
  sendsOf,
  type TxnSpan,
  text,
} from './harness.js';

/** Same-size transactions (one 64-byte payload each: 96 + 36 bytes). */
function txns(master: LogBuilder, count: number): TxnSpan[] {
  return Array.from({ length: count }, (_, index) => master.txn(1, [`${index}`.padEnd(64, '.')]));
}

/** Ticks every `stepMs` from the core's start up to `untilMs` and returns the logRequest sends with their times. */
function tickUntil(
  core: ReplicaCore,
  fromMs: number,
  untilMs: number,
  stepMs = 5,
): { at: number; send: SendEffect & { message: { type: 'logRequest' } } }[] {
  const requests: { at: number; send: SendEffect & { message: { type: 'logRequest' } } }[] = [];
  for (let now = fromMs; now <= untilMs; now += stepMs) {
    for (const send of sendsOf(drive(core, { type: 'tick', now }).effects, 'logRequest')) {
      requests.push({ at: now, send });
    }
  }
  return requests;
}

describe('gap buffer', () => {
  it('is bounded by gapBufferBytes and drops the batches furthest from the gap first', () => {
    const { core, master } = readyClient({ gapBufferBytes: 2 * 132, ackLevel: 'received' });
    const [t1, t2, t3, t4] = txns(master, 4) as [TxnSpan, TxnSpan, TxnSpan, TxnSpan];
    expect(t1.bytes.length).toBe(132);
    expect(core.step(message('M', logMessage(1, 1, t3.bytes))).code).toBe('NOTPERM');
    expect(core.step(message('M', logMessage(1, 1, t4.bytes))).code).toBe('NOTPERM');
    expect(core.gapBufferedBytes).toBe(264);
    // t2 is nearer the gap than t4: t4 goes.
    expect(core.step(message('M', logMessage(1, 1, t2.bytes)))).toEqual({
      code: 'NOTPERM',
      lsn: t2.commitLsn,
      missingFrom: t1.firstLsn,
      missingTo: t2.firstLsn,
    });
    expect(core.gapBufferedBytes).toBe(264);
    core.takeEffects();

    const { effects } = drive(core, message('M', logMessage(1, 1, t1.bytes)));
    expect(ofType(effects, 'append').map((append) => append.firstLsn)).toEqual([
      t1.firstLsn,
      t2.firstLsn,
      t3.firstLsn,
    ]);
    expect(core.nextLsn).toBe(t3.endLsn);
    expect(core.gapBufferedBytes).toBe(0);
    // t4 was really dropped: sent again, it is appended (not a duplicate).
    const again = drive(core, message('M', logMessage(1, 1, t4.bytes)));
    expect(again.result).toEqual({ code: 'ISPERM', lsn: t4.commitLsn });
    expect(ofType(again.effects, 'append').map((append) => append.firstLsn)).toEqual([t4.firstLsn]);
  });

  it('a batch that is itself the furthest away when the buffer is full is not kept', () => {
    const { core, master } = readyClient({ gapBufferBytes: 132 });
    const [, t2] = txns(master, 2) as [TxnSpan, TxnSpan];
    const data = master.data(1, 99, 'beyond');
    core.step(message('M', logMessage(1, 1, t2.bytes)));
    const { result } = drive(core, message('M', logMessage(1, 1, data.bytes)));
    expect(result).toEqual({ code: 'IGNORE', reason: expect.any(String) });
    expect(core.gapBufferedBytes).toBe(132);
  });

  it('a batch already held after the gap is not held twice', () => {
    const { core, master } = readyClient();
    const [, t2] = txns(master, 2) as [TxnSpan, TxnSpan];
    core.step(message('M', logMessage(1, 1, t2.bytes)));
    core.step(message('M', logMessage(1, 1, t2.bytes)));
    expect(core.gapBufferedBytes).toBe(t2.bytes.length);
  });
});

describe('re-requests', () => {
  function clientWithGap(overrides: Partial<ReplicaCoreConfig> = {}): {
    core: ReplicaCore;
    master: LogBuilder;
    spans: TxnSpan[];
  } {
    const { core, master } = readyClient({ now: 1000, peers: ['M', 'B', 'D'], ...overrides });
    const spans = txns(master, 4);
    // t1 and t2 are lost; t3 arrives at 1000.
    core.step(message('M', logMessage(1, 1, spans[2]!.bytes)));
    core.takeEffects();
    return { core, master, spans };
  }

  it('back off from rerequestMinMs, doubling up to rerequestMaxMs', () => {
    const { core, spans } = clientWithGap({ clientToClientSync: false });
    expect(core.nextDeadline()).toBe(1040);
    const requests = tickUntil(core, 1000, 7000);
    expect(requests.map((request) => request.at)).toEqual([1040, 1120, 1280, 1600, 2240, 3520, 4800, 6080]);
    for (const { send } of requests) {
      expect(send).toEqual({
        type: 'send',
        to: 'M',
        message: {
          type: 'logRequest',
          generation: 1,
          flags: 0,
          fromLsn: spans[0]!.firstLsn,
          toLsn: 0,
          lastLsn: spans[0]!.firstLsn,
          lastGeneration: 1,
        },
        flags: 0,
      });
    }
  });

  it('follow the configured bounds', () => {
    const { core } = clientWithGap({ clientToClientSync: false, rerequestMinMs: 10, rerequestMaxMs: 50 });
    const times = tickUntil(core, 1000, 1300, 1).map((request) => request.at);
    const gaps = times.map((time, index) => time - (index === 0 ? 1000 : times[index - 1]!));
    expect(gaps.slice(0, 7)).toEqual([10, 20, 40, 50, 50, 50, 50]);
  });

  it('with clientToClientSync, every other attempt goes to another connected client, with ANYWHERE', () => {
    const { core } = clientWithGap();
    core.step({ type: 'peerUp', site: 'B' });
    core.step({ type: 'peerUp', site: 'D' });
    core.takeEffects();
    const requests = tickUntil(core, 1000, 9000);
    expect(requests.length).toBeGreaterThanOrEqual(8);
    requests.forEach(({ send }, index) => {
      if (index % 2 === 0) {
        expect(send.to).toBe('M');
        expect(send.flags).toBe(0);
        expect(send.message.flags).toBe(0);
      } else {
        expect(['B', 'D']).toContain(send.to);
        expect(send.flags).toBe(SendFlags.ANYWHERE);
        expect(send.message.flags).toBe(SendFlags.ANYWHERE);
      }
    });
    // Both other clients get asked in turn.
    expect(new Set(requests.filter((_, index) => index % 2 === 1).map(({ send }) => send.to))).toEqual(
      new Set(['B', 'D']),
    );
  });

  it('only clients that are connected are asked; with none, every attempt goes to the master', () => {
    const { core } = clientWithGap();
    core.step({ type: 'peerUp', site: 'B' });
    core.step({ type: 'peerUp', site: 'D' });
    core.step({ type: 'peerDown', site: 'D' });
    core.takeEffects();
    const targets = tickUntil(core, 1000, 5000).map(({ send }) => send.to);
    expect(targets).toEqual(targets.map((_, index) => (index % 2 === 0 ? 'M' : 'B')));

    const alone = clientWithGap();
    const aloneTargets = tickUntil(alone.core, 1000, 5000).map(({ send }) => send.to);
    expect(aloneTargets.length).toBeGreaterThan(4);
    expect(new Set(aloneTargets)).toEqual(new Set(['M']));
  });

  it('an answer that makes progress triggers the next request at once, and the back-off starts over', () => {
    const { core, spans } = clientWithGap({ clientToClientSync: false });
    const [t1, t2, t3] = spans as [TxnSpan, TxnSpan, TxnSpan];
    // Let the back-off grow first: requests at 1040 and 1120.
    expect(tickUntil(core, 1000, 1200).map((request) => request.at)).toEqual([1040, 1120]);
    // The answer carries t1 only (a chunk).
    const answer = drive(core, message('M', logMessage(1, 1, t1.bytes, SendFlags.REREQUEST)));
    expect(answer.result).toEqual({ code: 'ISPERM', lsn: t1.commitLsn });
    const next = sendsOf(answer.effects, 'logRequest');
    expect(next).toHaveLength(1);
    expect(next[0]!.message).toMatchObject({ fromLsn: t2.firstLsn, lastLsn: t2.firstLsn, lastGeneration: 1 });
    expect(core.nextDeadline()).toBe(1200 + 40);
    // The rest fills the gap: t2 appended, t3 drained; nothing more to ask.
    const rest = drive(core, message('M', logMessage(1, 1, t2.bytes, SendFlags.REREQUEST)));
    expect(ofType(rest.effects, 'append').map((append) => append.firstLsn)).toEqual([
      t2.firstLsn,
      t3.firstLsn,
    ]);
    expect(sendsOf(rest.effects, 'logRequest')).toEqual([]);
    expect(core.nextDeadline()).toBeUndefined();
    expect(tickUntil(core, 1200, 5000)).toEqual([]);
  });

  it('an answer that makes no progress does not trigger a request', () => {
    const { core, master } = readyClient({ now: 0, clientToClientSync: false });
    const [t1, , t3] = txns(master, 3) as [TxnSpan, TxnSpan, TxnSpan];
    core.step(message('M', logMessage(1, 1, t1.bytes)));
    core.step(message('M', logMessage(1, 1, t3.bytes)));
    core.takeEffects();
    const { effects } = drive(core, message('M', logMessage(1, 1, t1.bytes, SendFlags.REREQUEST)));
    expect(sendsOf(effects, 'logRequest')).toEqual([]);
    expect(core.nextDeadline()).toBe(40);
  });

  it('a client that learns from a heartbeat of records it lacks requests them', () => {
    const { core, master } = readyClient({ now: 500, clientToClientSync: false });
    const from = core.nextLsn;
    const [, t2] = txns(master, 2) as [TxnSpan, TxnSpan];
    const { result, effects } = drive(
      core,
      message('M', { type: 'heartbeat', generation: 1, nextLsn: t2.endLsn, permLsn: t2.commitLsn }),
    );
    expect(result).toEqual({ code: 'OK' });
    expect(ofType(effects, 'send')).toEqual([]);
    expect(core.nextDeadline()).toBe(540);
    const requests = tickUntil(core, 500, 600);
    expect(requests.map((request) => request.at)).toEqual([540]);
    expect(requests[0]!.send).toMatchObject({ to: 'M', message: { fromLsn: from } });
    // A heartbeat saying nothing new arms nothing.
    const quiet = readyClient({ now: 500 });
    quiet.core.step(
      message('M', { type: 'heartbeat', generation: 1, nextLsn: quiet.core.nextLsn, permLsn: 0 }),
    );
    expect(quiet.core.nextDeadline()).toBeUndefined();
  });
});

describe('serving ANYWHERE requests', () => {
  function servingClient(): { core: ReplicaCore; spans: TxnSpan[]; end: number } {
    const { core, master } = readyClient({}, 1, 'B');
    const spans = txns(master, 2);
    core.step(message('M', logMessage(1, 1, Buffer.concat(spans.map((span) => span.bytes)))));
    core.takeEffects();
    return { core, spans, end: master.nextLsn };
  }
  const request = (fromLsn: number, flags: number, generation = 1) =>
    message('C', {
      type: 'logRequest',
      generation,
      flags,
      fromLsn,
      toLsn: 0,
      lastLsn: fromLsn,
      lastGeneration: 1,
    });

  it('a synced client answers with REREQUEST records read from its log', () => {
    const { core, spans, end } = servingClient();
    const [t1, t2] = spans as [TxnSpan, TxnSpan];
    const { effects } = drive(core, request(t1.firstLsn, SendFlags.ANYWHERE));
    const reads = ofType(effects, 'readLog');
    expect(reads).toHaveLength(1);
    expect(reads[0]).toMatchObject({ fromLsn: t1.firstLsn, toLsn: end });
    expect(reads[0]!.maxBytes).toBeGreaterThanOrEqual(t1.bytes.length);
    const records = Buffer.concat([t1.bytes, t2.bytes]);
    const answer = drive(core, {
      type: 'logRead',
      requestId: reads[0]!.requestId,
      bytes: records,
      fromLsn: t1.firstLsn,
    });
    const flags = SendFlags.REREQUEST | SendFlags.PERMANENT;
    expect(ofType(answer.effects, 'send')).toEqual([
      {
        type: 'send',
        to: 'C',
        message: {
          type: 'log',
          generation: 1,
          flags,
          prevLsn: t1.firstLsn - 1,
          prevGeneration: 1,
          records,
        },
        flags,
      },
    ]);

    // The requester takes the answer although it does not come from its master.
    const requester = readyClient();
    const sent = ofType(answer.effects, 'send')[0]!;
    const taken = drive(requester.core, message('B', sent.message));
    // (Its first message from B: the newSite effect, but the result says what the records meant.)
    expect(taken.result).toEqual({ code: 'ISPERM', lsn: t2.commitLsn });
    expect(ofType(taken.effects, 'newSite')).toEqual([{ type: 'newSite', site: 'B' }]);
    expect(ofType(taken.effects, 'apply').map((apply) => apply.txn.payloads.map(text))).toEqual([
      t1.payloads,
      t2.payloads,
    ]);
    expect(requester.core.nextLsn).toBe(end);
    expect(requester.core.master).toBe('M');
  });

  it('a request without ANYWHERE, of another generation, or for records it lacks is not served', () => {
    const { core, end } = servingClient();
    core.step(request(end, SendFlags.ANYWHERE)); // C is known from here on
    core.takeEffects();
    for (const input of [
      request(37, 0),
      request(37, SendFlags.ANYWHERE, 2),
      request(end, SendFlags.ANYWHERE),
    ]) {
      const { result, effects } = drive(core, input);
      expect(result.code).toBe('IGNORE');
      expect(effects).toEqual([]);
    }
  });

  it('a client that is not in sync does not serve', () => {
    const { core, spans } = servingClient();
    core.step(message('M', { type: 'newMaster', generation: 1, nextLsn: 1000 })); // re-sync
    core.takeEffects();
    expect(core.syncState).toBe('syncing');
    const { result, effects } = drive(core, request(spans[0]!.firstLsn, SendFlags.ANYWHERE));
    expect(result.code).toBe('NEWSITE');
    expect(ofType(effects, 'readLog')).toEqual([]);
  });
});
