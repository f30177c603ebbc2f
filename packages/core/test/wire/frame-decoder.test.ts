import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_MAX_FRAME_BYTES,
  type DecodedMessage,
  decodeFrame,
  encodeMessage,
  FrameDecoder,
  type Message,
} from '../../src/wire/index.js';
import { message, plain, rawFrame, splitAt } from './wire-helpers.js';

function feed(decoder: FrameDecoder, chunks: readonly Uint8Array[]): DecodedMessage[] {
  const messages: DecodedMessage[] = [];
  for (const chunk of chunks) {
    const result = decoder.push(chunk);
    messages.push(...result.messages);
    if (result.error) throw result.error;
  }
  return messages;
}

const header = (bodyLength: number): Buffer =>
  rawFrame({ type: 6, body: Buffer.alloc(0), bodyLength, crc: 0 });

describe('FrameDecoder', () => {
  it('gives the same messages as whole-frame decoding, however the stream is split', () => {
    fc.assert(
      fc.property(
        fc.array(message(), { minLength: 1, maxLength: 6 }),
        fc.array(fc.nat(), { maxLength: 16 }),
        (messages, cuts) => {
          const frames = messages.map(encodeMessage);
          const expected = frames.map((frame) => {
            const result = decodeFrame(frame);
            if (!result.ok) throw result.error;
            return plain(result.message);
          });
          const decoder = new FrameDecoder();
          const decoded = feed(decoder, splitAt(Buffer.concat(frames), cuts));
          expect(decoded.map(plain)).toEqual(expected);
          expect(decoded.map((m) => (m.type === 'log' ? m.batch : undefined))).toEqual(
            frames.map((frame) => {
              const result = decodeFrame(frame);
              return result.ok && result.message.type === 'log' ? result.message.batch : undefined;
            }),
          );
          expect(decoder.bufferedBytes).toBe(0);
          expect(decoder.end()).toBeUndefined();
          expect(decoder.framesDecoded).toBe(messages.length);
        },
      ),
      { numRuns: 400 },
    );
  });

  it('decodes a stream fed one byte at a time', () => {
    const messages: Message[] = [
      { type: 'masterRequest', generation: 1 },
      {
        type: 'init',
        generation: 2,
        snapshotLsn: 3,
        history: [{ generation: 1, lsn: 1 }],
        snapshot: Buffer.from('s'),
      },
      { type: 'vote2', generation: 3, electionGeneration: 3, candidate: 'b' },
    ];
    const stream = Buffer.concat(messages.map(encodeMessage));
    const decoder = new FrameDecoder();
    const decoded: DecodedMessage[] = [];
    for (let index = 0; index < stream.length; index++) {
      decoded.push(...feed(decoder, [stream.subarray(index, index + 1)]));
      expect(decoder.bufferedBytes).toBeLessThanOrEqual(stream.length);
    }
    expect(decoded.map(plain)).toEqual(messages.map(plain));
  });

  it.each([
    ['0xFFFFFFFF', 0xffff_ffff],
    ['max + 1', 1024 - 16 + 1],
  ])('rejects a length of %s after the 16 header bytes alone, having buffered only them', (_, bodyLength) => {
    const decoder = new FrameDecoder({ maxFrameBytes: 1024 });
    const bytes = header(bodyLength);
    for (let index = 0; index < 15; index++) {
      const result = decoder.push(bytes.subarray(index, index + 1));
      expect(result.error).toBeUndefined();
      expect(decoder.bufferedBytes).toBe(index + 1);
    }
    const result = decoder.push(bytes.subarray(15, 16));
    expect(result.error?.reason).toBe('frame-too-large');
    expect(decoder.bufferedBytes).toBe(0);
  });

  it('rejects an oversize length from the header with the default limit too, before any body byte', () => {
    const decoder = new FrameDecoder();
    expect(decoder.maxFrameBytes).toBe(DEFAULT_MAX_FRAME_BYTES);
    const result = decoder.push(Buffer.concat([header(DEFAULT_MAX_FRAME_BYTES - 15), Buffer.alloc(100)]));
    expect(result.error?.reason).toBe('frame-too-large');
    expect(decoder.bufferedBytes).toBe(0);
  });

  it('allocates nothing for a large declared body until its bytes arrive', () => {
    const decoder = new FrameDecoder({ maxFrameBytes: 2 ** 30 });
    const before = process.memoryUsage().arrayBuffers;
    expect(decoder.push(header(2 ** 30 - 16)).error).toBeUndefined();
    expect(decoder.push(Buffer.alloc(10)).error).toBeUndefined();
    expect(decoder.bufferedBytes).toBe(26);
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(64 * 1024 * 1024);
    expect(decoder.end()?.reason).toBe('truncated-frame');
  });

  it('never buffers more than maxFrameBytes, for valid streams and garbage alike', () => {
    const big = fc.record({
      type: fc.constant('init' as const),
      generation: fc.nat(),
      snapshotLsn: fc.nat(),
      history: fc.constant([]),
      snapshot: fc.uint8Array({ minLength: 900, maxLength: 1024 - 32 }),
    });
    fc.assert(
      fc.property(
        fc.oneof(
          fc
            .array(fc.oneof(big, message()), { minLength: 1, maxLength: 5 })
            .map((ms) => Buffer.concat(ms.map(encodeMessage))),
          fc.uint8Array({ maxLength: 3000 }).map((bytes) => Buffer.from(bytes)),
        ),
        fc.array(fc.nat(), { maxLength: 20 }),
        (stream, cuts) => {
          const decoder = new FrameDecoder({ maxFrameBytes: 1024 });
          for (const chunk of splitAt(stream, cuts)) {
            const result = decoder.push(chunk);
            expect(decoder.bufferedBytes).toBeLessThanOrEqual(1024);
            if (result.error) break;
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('returns the messages before an error, then refuses all input', () => {
    const good = encodeMessage({ type: 'newMaster', generation: 4, nextLsn: 100 });
    const bad = Buffer.from(good);
    bad[bad.length - 1]! ^= 0x01;
    const decoder = new FrameDecoder();
    const first = decoder.push(Buffer.concat([good, bad, good]));
    expect(first.messages.map(plain)).toEqual([{ type: 'newMaster', generation: 4, nextLsn: 100 }]);
    expect(first.error?.reason).toBe('bad-checksum');
    expect(first.error?.action).toBe('drop');
    const second = decoder.push(good);
    expect(second.messages).toEqual([]);
    expect(second.error).toBe(first.error);
    expect(decoder.error).toBe(first.error);
    expect(decoder.end()).toBe(first.error);
    expect(decoder.bufferedBytes).toBe(0);
  });

  it('end() reports a stream cut inside a frame, and nothing at a frame boundary', () => {
    const frame = encodeMessage({ type: 'heartbeat', generation: 1, nextLsn: 2, permLsn: 1 });
    for (const cut of [1, 15, 16, 17, frame.length - 1]) {
      const decoder = new FrameDecoder();
      expect(decoder.push(frame.subarray(0, cut)).error).toBeUndefined();
      expect(decoder.bufferedBytes).toBe(cut);
      expect(decoder.end()?.reason).toBe('truncated-frame');
    }
    const decoder = new FrameDecoder();
    feed(decoder, [frame]);
    expect(decoder.end()).toBeUndefined();
  });

  it('decodes a body that arrived in one chunk in place, and joins a split one', () => {
    const frame = encodeMessage({
      type: 'init',
      generation: 1,
      snapshotLsn: 1,
      history: [],
      snapshot: Buffer.from('abc'),
    });
    const whole = new FrameDecoder().push(frame).messages[0];
    expect(whole?.type === 'init' && whole.snapshot.buffer).toBe(frame.buffer);
    const decoder = new FrameDecoder();
    const split = feed(decoder, [frame.subarray(0, 20), frame.subarray(20)])[0];
    expect(split?.type === 'init' && Buffer.from(split.snapshot).toString()).toBe('abc');
  });
});
