import { describe, expect, it } from 'vitest';
import { encodeFrame, FrameReader } from '../src/frames.js';

const frames = [
  Uint8Array.of(1, 2, 3),
  new Uint8Array(0),
  Uint8Array.of(4),
  new Uint8Array(0),
  Uint8Array.of(5, 6),
];
const stream = Buffer.concat(frames.map(encodeFrame));

function readAll(reader: FrameReader, chunks: readonly Uint8Array[]): number[][] {
  const out: number[][] = [];
  for (const chunk of chunks) {
    const result = reader.push(chunk);
    if (!Array.isArray(result)) throw new Error(`unexpected tooLarge ${result.tooLarge}`);
    out.push(...result.map((frame) => [...frame]));
  }
  return out;
}

describe('FrameReader', () => {
  it('gives back the same frames, empty ones included, wherever the stream is cut', () => {
    const expected = frames.map((frame) => [...frame]);
    for (let cut = 0; cut <= stream.length; cut++) {
      const chunks = [stream.subarray(0, cut), stream.subarray(cut)];
      expect(readAll(new FrameReader(16), chunks), `cut at ${cut}`).toEqual(expected);
    }
    const oneByteChunks = [...stream].map((byte) => Uint8Array.of(byte));
    expect(readAll(new FrameReader(16), oneByteChunks)).toEqual(expected);
  });

  it('hands out copies: the chunk can be reused after push', () => {
    const chunk = Buffer.from(encodeFrame(Uint8Array.of(7, 8)));
    const result = new FrameReader(16).push(chunk);
    chunk.fill(0);
    expect(Array.isArray(result) && [...result[0]!]).toEqual([7, 8]);
  });

  it('refuses a length above the maximum from the 4 header bytes alone', () => {
    const reader = new FrameReader(10);
    expect(reader.push(encodeFrame(new Uint8Array(10)))).toHaveLength(1);
    expect(reader.push(Uint8Array.of(0, 0, 0, 11))).toEqual({ tooLarge: 11 });
  });
});
