/**
 * FrameReader's two paths: whole frames taken straight out of a chunk when nothing is left over, and
 * the buffered path for frames (and headers) split across chunks. Both hand out copies.
 */
import { describe, expect, it } from 'vitest';
import { encodeTcpFrame, FrameReader } from '../src/index.js';

function framesOf(result: ReturnType<FrameReader['push']>): number[][] {
  if (!result.ok) throw new Error(`unexpected oversize ${result.length}`);
  return result.frames.map((frame) => [...frame]);
}

describe('FrameReader chunk handling', () => {
  it('hands out copies, not views of the chunk, on both paths', () => {
    const reader = new FrameReader(16);
    const whole = Buffer.concat([encodeTcpFrame(Uint8Array.of(1, 2)), encodeTcpFrame(Uint8Array.of(3))]);
    const split = Buffer.from(encodeTcpFrame(Uint8Array.of(4, 5, 6)));
    const first = reader.push(whole);
    const second = reader.push(split.subarray(0, 5));
    const third = reader.push(split.subarray(5));
    whole.fill(0);
    split.fill(0);
    expect([first, second, third].flatMap(framesOf)).toEqual([[1, 2], [3], [4, 5, 6]]);
  });

  it('keeps a split header or body from the fast path for the next chunk', () => {
    const stream = Buffer.concat([
      encodeTcpFrame(Uint8Array.of(1)),
      encodeTcpFrame(new Uint8Array(0)),
      encodeTcpFrame(Uint8Array.of(2, 3, 4, 5)),
      encodeTcpFrame(Uint8Array.of(6)),
    ]);
    for (let cut = 0; cut <= stream.length; cut++) {
      const reader = new FrameReader(16);
      const got = [stream.subarray(0, cut), stream.subarray(cut)].flatMap((chunk) =>
        framesOf(reader.push(chunk)),
      );
      expect(got, `cut at ${cut}`).toEqual([[1], [], [2, 3, 4, 5], [6]]);
    }
  });

  it('stops at an oversize header behind whole frames in the same chunk', () => {
    const reader = new FrameReader(4);
    const chunk = Buffer.concat([encodeTcpFrame(Uint8Array.of(1)), Buffer.from([0, 0, 0, 5, 1, 2, 3, 4, 5])]);
    expect(reader.push(chunk)).toEqual({ ok: false, length: 5 });
    expect(reader.push(encodeTcpFrame(Uint8Array.of(1))).ok).toBe(false);
  });
});
