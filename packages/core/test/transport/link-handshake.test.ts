/** The handshake driver: two drivers agree; a silent peer times out with a refusal sent; one outcome only. */
import { describe, expect, it } from 'vitest';
import { type HandshakeOutcome, LinkHandshake } from '../../src/transport/index.js';
import { options, seededBytes } from './handshake-helpers.js';

function driver(
  role: 'initiator' | 'responder',
  siteId: string,
  handshakeTimeoutMs: number,
  outbox: Uint8Array[],
  outcomes: HandshakeOutcome[],
): LinkHandshake {
  return new LinkHandshake(
    {
      handshake: options({ role, siteId, randomBytes: seededBytes(siteId.charCodeAt(0)) }),
      handshakeTimeoutMs,
    },
    { write: (bytes) => outbox.push(bytes), finished: (outcome) => outcomes.push(outcome) },
  );
}

describe('LinkHandshake', () => {
  it('authenticates two sides and reports each outcome once', () => {
    const toB: Uint8Array[] = [];
    const toA: Uint8Array[] = [];
    const outcomesA: HandshakeOutcome[] = [];
    const outcomesB: HandshakeOutcome[] = [];
    const a = driver('initiator', 'a', 1_000, toB, outcomesA);
    const b = driver('responder', 'b', 1_000, toA, outcomesB);
    a.start();
    b.start();
    for (let round = 0; round < 5; round++) {
      for (const bytes of toB.splice(0)) b.push(bytes);
      for (const bytes of toA.splice(0)) a.push(bytes);
    }
    a.push(Uint8Array.of(1, 2, 3));
    expect(outcomesA).toEqual([{ ok: true, peer: 'b' }]);
    expect(outcomesB).toEqual([{ ok: true, peer: 'a' }]);
    expect(a.peer).toBe('b');
    expect(a.finished).toBe(true);
  });

  it('times out a silent peer: a refusal goes out, the outcome is a timeout', async () => {
    const outbox: Uint8Array[] = [];
    const outcomes: HandshakeOutcome[] = [];
    const a = driver('initiator', 'a', 20, outbox, outcomes);
    a.start();
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(outcomes.length).toBe(1);
    expect(outcomes[0]!.ok === false && outcomes[0]!.error.reason).toBe('timeout');
    // HELLO, then REFUSE: the last frame is type 4.
    expect(outbox.length).toBe(2);
    expect(outbox[1]![4]).toBe(4);
    expect(a.peer).toBeUndefined();
  });

  it('reports nothing after dispose (the connection closed first)', async () => {
    const outcomes: HandshakeOutcome[] = [];
    const a = driver('initiator', 'a', 20, [], outcomes);
    a.start();
    a.dispose();
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(outcomes).toEqual([]);
  });
});
