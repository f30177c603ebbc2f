import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  encodeTcpFrame,
  FrameReader,
  TCP_KEEPALIVE_LENGTH,
  TCP_MAX_FRAME_BYTES_LIMIT,
} from '../src/index.js';

const KEEPALIVE = Buffer.from([0xff, 0xff, 0xff, 0xfe]);

describe('FrameReader', () => {
  it('reassembles frames from any chunking', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 8 }),
        fc.array(fc.integer({ min: 1, max: 50 }), { minLength: 1, maxLength: 20 }),
        (frames, cuts) => {
          const stream = Buffer.concat(frames.map(encodeTcpFrame));
          const reader = new FrameReader(300);
          const out: Uint8Array[] = [];
          let offset = 0;
          for (let index = 0; offset < stream.length; index++) {
            const size = cuts[index % cuts.length]!;
            const result = reader.push(stream.subarray(offset, offset + size));
            offset += size;
            expect(result.ok).toBe(true);
            if (result.ok) out.push(...result.frames);
          }
          expect(out.map((frame) => [...frame])).toEqual(frames.map((frame) => [...frame]));
        },
      ),
    );
  });

  it('drops keepalives wherever they fall and however the stream is cut; empty frames still arrive', () => {
    fc.assert(
      fc.property(
        fc.array(fc.option(fc.uint8Array({ maxLength: 40 }), { nil: undefined, freq: 3 }), { maxLength: 12 }),
        fc.array(fc.integer({ min: 1, max: 9 }), { minLength: 1, maxLength: 20 }),
        (units, cuts) => {
          // undefined: a keepalive; anything else (empty arrays included) a frame.
          const stream = Buffer.concat(
            units.map((unit) => (unit === undefined ? KEEPALIVE : encodeTcpFrame(unit))),
          );
          const reader = new FrameReader(40);
          const out: number[][] = [];
          let offset = 0;
          for (let index = 0; offset < stream.length; index++) {
            const size = cuts[index % cuts.length]!;
            const result = reader.push(stream.subarray(offset, offset + size));
            offset += size;
            expect(result.ok).toBe(true);
            if (result.ok) out.push(...result.frames.map((frame) => [...frame]));
          }
          expect(out).toEqual(units.filter((unit) => unit !== undefined).map((frame) => [...frame]));
        },
      ),
    );
  });

  it('takes the keepalive length for a keepalive even at the largest frame limit, and only that length', () => {
    expect(TCP_KEEPALIVE_LENGTH).toBeGreaterThan(TCP_MAX_FRAME_BYTES_LIMIT);
    const reader = new FrameReader(TCP_MAX_FRAME_BYTES_LIMIT);
    expect(reader.push(Buffer.concat([KEEPALIVE, KEEPALIVE, encodeTcpFrame(new Uint8Array(0))]))).toEqual({
      ok: true,
      frames: [new Uint8Array(0)],
    });
    expect(reader.push(Uint8Array.of(0xff, 0xff, 0xff, 0xff))).toEqual({ ok: false, length: 0xffff_ffff });
  });

  it('refuses an oversize length from the header alone', () => {
    const reader = new FrameReader(10);
    expect(reader.push(Uint8Array.of(0, 0, 0, 11))).toEqual({ ok: false, length: 11 });
    expect(reader.push(Uint8Array.of(1)).ok).toBe(false);
  });
});
