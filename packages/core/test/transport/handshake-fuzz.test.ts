/**
 * Bad bytes never throw and never authenticate: garbage, truncations and bit flips give a typed
 * `HandshakeError` or leave the handshake waiting for more bytes.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  HANDSHAKE_ERROR_REASONS,
  Handshake,
  HandshakeError,
  type HandshakeOutcome,
} from '../../src/transport/index.js';
import { concatAll, options, runPair, seededBytes } from './handshake-helpers.js';

function expectTypedFailureOrPending(outcome: HandshakeOutcome | undefined): void {
  if (outcome === undefined) return;
  expect(outcome.ok).toBe(false);
  if (outcome.ok) return;
  expect(outcome.error).toBeInstanceOf(HandshakeError);
  expect(HANDSHAKE_ERROR_REASONS).toContain(outcome.error.reason);
}

function fresh(role: 'initiator' | 'responder'): Handshake {
  const handshake = new Handshake(
    options({ role, siteId: role === 'initiator' ? 'a' : 'b', randomBytes: seededBytes(7) }),
  );
  handshake.start();
  return handshake;
}

describe('handshake parser fuzzing', () => {
  it('garbage in any chunking gives a typed error or waits, never an exception', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 600 }), { maxLength: 6 }),
        fc.constantFrom('initiator' as const, 'responder' as const),
        (chunks, role) => {
          const handshake = fresh(role);
          for (const chunk of chunks) handshake.push(chunk);
          expectTypedFailureOrPending(handshake.outcome);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('garbage after a valid magic and header gives a typed error or waits', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 5 }), fc.uint8Array({ maxLength: 600 }), (type, body) => {
        const handshake = fresh('responder');
        const header = Uint8Array.of(0x41, 0x4b, 0x48, 0x53, type, body.length >> 8, body.length & 0xff);
        handshake.push(concatAll([header, body]));
        expectTypedFailureOrPending(handshake.outcome);
      }),
      { numRuns: 500 },
    );
  });

  it('a truncated recording never succeeds', () => {
    const recording = concatAll(runPair({}, {}).initiatorBytes);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: recording.length - 1 }), (length) => {
        const handshake = fresh('responder');
        handshake.push(recording.subarray(0, length));
        expectTypedFailureOrPending(handshake.outcome);
      }),
    );
  });

  it('one flipped bit anywhere in the initiator bytes fails the live handshake on the responder', () => {
    const total = concatAll(runPair({}, {}).initiatorBytes).length;
    fc.assert(
      fc.property(fc.integer({ min: 0, max: total * 8 - 1 }), (bitIndex) => {
        let seen = 0;
        const result = runPair({}, {}, (chunk) => {
          const copy = chunk.slice();
          const local = bitIndex - seen * 8;
          if (local >= 0 && local < copy.length * 8) copy[local >> 3]! ^= 1 << (local & 7);
          seen += chunk.length;
          return copy;
        });
        expectTypedFailureOrPending(result.responder);
        // The initiator may have finished first (a flip in its own final OK): it then sees the close.
        if (result.initiator?.ok !== true) expectTypedFailureOrPending(result.initiator);
      }),
      { numRuns: 300 },
    );
  });

  it('control: the unmodified handshake succeeds (the properties above can fail)', () => {
    expect(runPair({}, {}).responder?.ok).toBe(true);
  });
});
