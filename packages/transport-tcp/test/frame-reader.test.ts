import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeTcpFrame, FrameReader } from '../src/index.js';

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

  it('refuses an oversize length from the header alone', () => {
    const reader = new FrameReader(10);
    expect(reader.push(Uint8Array.of(0, 0, 0, 11))).toEqual({ ok: false, length: 11 });
    expect(reader.push(Uint8Array.of(1)).ok).toBe(false);
  });
});
