/**
 * Bad bytes never throw: every input gives a typed `ProtocolError` or a valid message — and a valid
 * message from bad bytes re-encodes to exactly those bytes (the encoding is canonical), so nothing the
 * decoder accepts is ambiguous. Ends with a must-fail control: the properties catch a broken decoder.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type DecodeResult,
  decodeFrame,
  encodeMessage,
  FRAME_HEADER_BYTES,
  FrameDecoder,
  FrameFlags,
  PROTOCOL_ERROR_REASONS,
  PROTOCOL_VERSION,
  ProtocolError,
} from '../../src/wire/index.js';
import { fixCrc, message, rawFrame, splitAt } from './wire-helpers.js';

type Decode = (bytes: Buffer) => DecodeResult;

/** ok: the message re-encodes to the same bytes; not ok: a ProtocolError with a documented reason. */
function expectTyped(bytes: Buffer, result: DecodeResult): void {
  if (result.ok) {
    expect(encodeMessage(result.message).equals(bytes)).toBe(true);
  } else {
    expect(result.error).toBeInstanceOf(ProtocolError);
    expect(Object.keys(PROTOCOL_ERROR_REASONS)).toContain(result.error.reason);
  }
}

const validFrame = (): fc.Arbitrary<Buffer> => message().map(encodeMessage);

type Mutation =
  | { kind: 'flip'; index: number; bit: number }
  | { kind: 'truncate'; length: number }
  | { kind: 'length'; value: number }
  | { kind: 'version'; value: number }
  | { kind: 'type'; value: number }
  | { kind: 'flags'; value: number }
  | { kind: 'reserved'; index: number; value: number }
  | { kind: 'append'; bytes: Uint8Array }
  | { kind: 'overwrite'; index: number; bytes: Uint8Array };

const mutation = (): fc.Arbitrary<Mutation> =>
  fc.oneof(
    {
      weight: 4,
      arbitrary: fc.record({ kind: fc.constant('flip' as const), index: fc.nat(), bit: fc.nat({ max: 7 }) }),
    },
    fc.record({ kind: fc.constant('truncate' as const), length: fc.nat() }),
    fc.record({
      kind: fc.constant('length' as const),
      value: fc.oneof(fc.nat({ max: 0xffff_ffff }), fc.constantFrom(0, 0xffff_ffff, 16 * 1024 * 1024 - 15)),
    }),
    // Any other version, the previous one (1) included.
    fc.record({
      kind: fc.constant('version' as const),
      value: fc.nat({ max: 255 }).filter((value) => value !== PROTOCOL_VERSION),
    }),
    fc.record({ kind: fc.constant('type' as const), value: fc.nat({ max: 255 }) }),
    fc.record({ kind: fc.constant('flags' as const), value: fc.nat({ max: 255 }) }),
    fc.record({
      kind: fc.constant('reserved' as const),
      index: fc.nat({ max: 2 }),
      value: fc.integer({ min: 1, max: 255 }),
    }),
    fc.record({
      kind: fc.constant('append' as const),
      bytes: fc.uint8Array({ minLength: 1, maxLength: 20 }),
    }),
    fc.record({
      kind: fc.constant('overwrite' as const),
      index: fc.nat(),
      bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }),
    }),
  );

function mutate(frame: Buffer, change: Mutation): Buffer {
  const bytes = Buffer.from(frame);
  switch (change.kind) {
    case 'flip':
      bytes[change.index % bytes.length]! ^= 1 << change.bit;
      return bytes;
    case 'truncate':
      return bytes.subarray(0, change.length % bytes.length);
    case 'length':
      bytes.writeUInt32LE(change.value, 8);
      return bytes;
    case 'version':
      bytes[2] = change.value;
      return bytes;
    case 'type':
      bytes[3] = change.value;
      return bytes;
    case 'flags':
      bytes[4] = change.value;
      return bytes;
    case 'reserved':
      bytes[5 + change.index] = change.value;
      return bytes;
    case 'append':
      return Buffer.concat([bytes, change.bytes]);
    case 'overwrite': {
      const at = change.index % bytes.length;
      bytes.set(change.bytes.subarray(0, bytes.length - at), at);
      return bytes;
    }
  }
}

describe('fuzzing the decoders', () => {
  it('random garbage gives a typed error, never an exception (decodeFrame and FrameDecoder)', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 300 }),
          // Garbage behind a plausible start, to get past the magic and version checks.
          fc
            .uint8Array({ maxLength: 300 })
            .map((tail) => Uint8Array.from([0x41, 0x4b, PROTOCOL_VERSION, ...tail])),
        ),
        fc.array(fc.nat(), { maxLength: 5 }),
        (garbage, cuts) => {
          const bytes = Buffer.from(garbage);
          expectTyped(bytes, decodeFrame(bytes));
          const decoder = new FrameDecoder({ maxFrameBytes: 1024 });
          for (const chunk of splitAt(bytes, cuts)) {
            const result = decoder.push(chunk);
            if (result.error) expect(result.error).toBeInstanceOf(ProtocolError);
          }
          const end = decoder.end();
          if (end) expect(end).toBeInstanceOf(ProtocolError);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('random bodies behind a valid header and checksum give a typed error or a canonical message', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 14 }),
        fc.oneof(fc.constantFrom(0, FrameFlags.PERMANENT, FrameFlags.ANYWHERE), fc.nat({ max: 15 })),
        fc.uint8Array({ maxLength: 120 }),
        (type, flags, body) => {
          const frame = rawFrame({ type, flags, body });
          expectTyped(frame, decodeFrame(frame));
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('mutated valid frames give a typed error or a valid message, never an exception', () => {
    fc.assert(
      fc.property(validFrame(), mutation(), fc.boolean(), (frame, change, recomputeCrc) => {
        // With the CRC recomputed the mutation reaches the body decoders and the record checks.
        const mutated = recomputeCrc ? fixCrc(mutate(frame, change)) : mutate(frame, change);
        const result = decodeFrame(mutated);
        expectTyped(mutated, result);
        const stream = new FrameDecoder().push(mutated);
        expect(stream.error === undefined || stream.error instanceof ProtocolError).toBe(true);
        if (recomputeCrc) return;
        const reason = result.ok ? 'ok' : result.error.reason;
        switch (change.kind) {
          case 'truncate':
            expect(reason).toBe('truncated-frame');
            break;
          case 'version':
            expect(reason).toBe('unsupported-version');
            break;
          case 'reserved':
            expect(reason).toBe('bad-reserved');
            break;
          case 'append':
            expect(reason).toBe('excess-frame-bytes');
            break;
          case 'length':
            if (change.value !== frame.length - FRAME_HEADER_BYTES) {
              expect(['frame-too-large', 'truncated-frame', 'excess-frame-bytes']).toContain(reason);
            }
            break;
          case 'flip':
            // A flipped bit is always caught, except an allowed flag bit (NOBUFFER, REREQUEST, ANYWHERE) and,
            // very rarely, a type bit that makes the same body valid as another type (the CRC covers the body).
            if (change.index % frame.length > 4) expect(reason).not.toBe('ok');
            if (change.index % frame.length < 3) expect(reason).not.toBe('ok');
            break;
          default:
            break;
        }
      }),
      { numRuns: 3000 },
    );
  });
});

describe('must-fail control', () => {
  /** A single flipped bit in the body or its CRC field never yields a message. */
  const bodyFlipsAreCaught = (decode: Decode) =>
    fc.property(validFrame(), fc.nat(), fc.nat({ max: 7 }), (frame, index, bit) => {
      const mutated = Buffer.from(frame);
      mutated[12 + (index % (frame.length - 12))]! ^= 1 << bit;
      return !decode(mutated).ok;
    });

  it('the property holds for the real decoder', () => {
    fc.assert(bodyFlipsAreCaught(decodeFrame), { numRuns: 1000 });
  });

  it('the same property finds a counterexample in a decoder without the CRC check', () => {
    // The broken variant: as if the CRC comparison were deleted (the CRC is made to match whatever arrives).
    const withoutCrcCheck: Decode = (bytes) => decodeFrame(fixCrc(Buffer.from(bytes)));
    const result = fc.check(bodyFlipsAreCaught(withoutCrcCheck), { numRuns: 1000 });
    expect(result.failed).toBe(true);
    // And the counterexample is a real one: a damaged frame accepted as a message.
    const [frame, index, bit] = result.counterexample!;
    const damaged = Buffer.from(frame);
    damaged[12 + (index % (frame.length - 12))]! ^= 1 << bit;
    expect(withoutCrcCheck(damaged).ok).toBe(true);
    expect(decodeFrame(damaged).ok).toBe(false);
  });
});
