/**
 * The handshake as a pure state machine: two sides with the same secret and cluster id agree; a wrong
 * secret, a wrong cluster id, a replayed recording or a stranger are refused with a typed reason.
 */
import { describe, expect, it } from 'vitest';
import { AckordError } from '../../src/errors.js';
import { HANDSHAKE_VERSION } from '../../src/transport/handshake-frame.js';
import { Handshake, HandshakeError, type HandshakeOutcome } from '../../src/transport/index.js';
import { concatAll, options, runPair, seededBytes } from './handshake-helpers.js';

function reason(outcome: HandshakeOutcome | undefined): string | undefined {
  return outcome?.ok === false ? outcome.error.reason : undefined;
}

describe('handshake', () => {
  it('succeeds between two sites with the same secret and cluster id', () => {
    const result = runPair({}, {});
    expect(result.initiator).toEqual({ ok: true, peer: 'b' });
    expect(result.responder).toEqual({ ok: true, peer: 'a' });
  });

  it('refuses a wrong secret on both sides with bad-proof', () => {
    const result = runPair({ secret: 'the wrong secret' }, {});
    expect(reason(result.responder)).toBe('bad-proof');
    expect(reason(result.initiator)).toBe('bad-proof');
  });

  it('refuses a wrong cluster id, and the peer learns why', () => {
    const result = runPair({ clusterId: 'cluster-2' }, {});
    expect(reason(result.responder)).toBe('wrong-cluster');
    expect(reason(result.initiator)).toBe('wrong-cluster');
  });

  it('tells the peer why it was refused', () => {
    const result = runPair({}, { acceptPeer: (site) => site === 'c' });
    expect(result.responder?.ok === false && result.responder.error.remote).toBe(false);
    expect(reason(result.initiator)).toBe('unknown-peer');
    expect(result.initiator?.ok === false && result.initiator.error.remote).toBe(true);
  });

  it('refuses a replayed recording of a good handshake: the fresh nonce changes the proof', () => {
    const recorded = runPair({}, {});
    expect(recorded.responder?.ok).toBe(true);
    const victim = new Handshake(options({ role: 'responder', siteId: 'b', randomBytes: seededBytes(99) }));
    victim.start();
    const step = victim.push(concatAll(recorded.initiatorBytes));
    expect(reason(step.outcome)).toBe('bad-proof');
  });

  it('refuses its own site id and peers that acceptPeer rejects', () => {
    expect(reason(runPair({ siteId: 'b' }, {}).responder)).toBe('unknown-peer');
    expect(reason(runPair({}, { acceptPeer: (site) => site === 'c' }).responder)).toBe('unknown-peer');
  });

  it('hands back the bytes that follow the peer OK', () => {
    const responder = new Handshake(options({ role: 'responder', siteId: 'b', randomBytes: seededBytes(2) }));
    const initiator = new Handshake(options({ role: 'initiator', siteId: 'a' }));
    const helloA = initiator.start().send;
    const helloB = responder.start().send;
    const proofA = initiator.push(concatAll(helloB)).send;
    const afterProof = responder.push(concatAll([...helloA, ...proofA])).send; // PROOF b, OK b
    const okA = initiator.push(concatAll(afterProof));
    expect(okA.outcome).toEqual({ ok: true, peer: 'b' });
    const final = responder.push(concatAll([...okA.send, Uint8Array.of(1, 2, 3)]));
    expect(final.outcome).toEqual({ ok: true, peer: 'a' });
    expect([...final.rest]).toEqual([1, 2, 3]);
    expect([...responder.push(Uint8Array.of(4)).rest]).toEqual([4]);
  });

  it('expires with timeout and sends a refusal', () => {
    const handshake = new Handshake(options());
    handshake.start();
    const step = handshake.expire();
    expect(reason(step.outcome)).toBe('timeout');
    expect(step.send).toHaveLength(1);
  });

  it('refuses a HELLO of another version and a frame whose length field is above the cap', () => {
    const hello = concatAll(new Handshake(options()).start().send);
    const versioned = hello.slice();
    versioned[8] = HANDSHAKE_VERSION + 1;
    // A site of the previous wire protocol (version 1: forward results without receipts) is refused too.
    const previous = hello.slice();
    previous[8] = 1;
    const responder = () => {
      const handshake = new Handshake(options({ role: 'responder', siteId: 'b' }));
      handshake.start();
      return handshake;
    };
    expect(reason(responder().push(versioned).outcome)).toBe('unsupported-version');
    expect(reason(responder().push(previous).outcome)).toBe('unsupported-version');
    // The header alone is enough: the body is never waited for.
    expect(reason(responder().push(Uint8Array.of(0x41, 0x4b, 0x48, 0x53, 1, 0xff, 0xff)).outcome)).toBe(
      'oversize',
    );
    expect(reason(responder().push(Uint8Array.of(0x47, 0x45, 0x54)).outcome)).toBe('bad-magic');
  });

  it('rejects bad options when constructed', () => {
    expect(() => new Handshake(options({ secret: '' }))).toThrow(AckordError);
    expect(() => new Handshake(options({ siteId: 'x'.repeat(200) }))).toThrow(AckordError);
    expect(new HandshakeError('timeout', 'x').code).toBe('ERR_ACKORD_HANDSHAKE');
  });
});
