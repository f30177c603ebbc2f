/**
 * Framing: a socket is a byte stream, so every frame goes out as a u32 big-endian length followed by
 * that many bytes. The reader is fed whatever chunks arrive and hands back whole frames. It checks the
 * length against the maximum as soon as the 4 header bytes are in, before it allocates the body, so a
 * peer cannot make us buffer more than `maxFrameBytes`.
 */
export const LENGTH_BYTES = 4;

/** The bytes on the wire for one frame. A fresh buffer: the caller may reuse `frame` at once. */
export function encodeFrame(frame: Uint8Array): Buffer {
  const bytes = Buffer.allocUnsafe(LENGTH_BYTES + frame.length);
  bytes.writeUInt32BE(frame.length, 0);
  bytes.set(frame, LENGTH_BYTES);
  return bytes;
}

/** What the reader says when a length header is above the maximum: the stream cannot be trusted. */
export interface FrameTooLarge {
  readonly tooLarge: number;
}

export class FrameReader {
  readonly #maxFrameBytes: number;
  readonly #header = Buffer.alloc(LENGTH_BYTES);
  #headerFilled = 0;
  /** The frame being read, allocated once its length is known and checked. */
  #body: Uint8Array | undefined;
  #bodyFilled = 0;

  constructor(maxFrameBytes: number) {
    this.#maxFrameBytes = maxFrameBytes;
  }

  /** The frames completed by `chunk`, in order, each a copy the receiver may keep. */
  push(chunk: Uint8Array): Uint8Array[] | FrameTooLarge {
    const frames: Uint8Array[] = [];
    let offset = 0;
    while (offset < chunk.length) {
      if (this.#body === undefined) {
        const used = Math.min(LENGTH_BYTES - this.#headerFilled, chunk.length - offset);
        this.#header.set(chunk.subarray(offset, offset + used), this.#headerFilled);
        this.#headerFilled += used;
        offset += used;
        if (this.#headerFilled < LENGTH_BYTES) break;
        const length = this.#header.readUInt32BE(0);
        if (length > this.#maxFrameBytes) return { tooLarge: length };
        this.#headerFilled = 0;
        this.#body = new Uint8Array(length);
        this.#bodyFilled = 0;
      }
      // An empty frame is complete as soon as its header is: zero bytes to copy.
      const used = Math.min(this.#body.length - this.#bodyFilled, chunk.length - offset);
      this.#body.set(chunk.subarray(offset, offset + used), this.#bodyFilled);
      this.#bodyFilled += used;
      offset += used;
      if (this.#bodyFilled === this.#body.length) {
        frames.push(this.#body);
        this.#body = undefined;
      }
    }
    return frames;
  }
}
