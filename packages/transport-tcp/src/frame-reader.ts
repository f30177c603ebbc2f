/**
 * Splits a byte stream into frames: u32 BE length, then that many bytes. The length is checked against
 * the maximum from the header, before any of the body is buffered. Fed bytes, never touches a socket.
 */
export const FRAME_LENGTH_BYTES = 4;

export type ReadResult =
  | { readonly ok: true; readonly frames: Uint8Array[] }
  | { readonly ok: false; readonly length: number };

export class FrameReader {
  readonly #maxFrameBytes: number;
  #chunks: Uint8Array[] = [];
  #buffered = 0;
  /** Length of the frame being read, once its header is in. */
  #expected: number | undefined;
  #failed = false;

  constructor(maxFrameBytes: number) {
    this.#maxFrameBytes = maxFrameBytes;
  }

  /** The whole frames completed by `chunk` (each a fresh copy), or the oversize length that stops the stream. */
  push(chunk: Uint8Array): ReadResult {
    if (this.#failed) return { ok: false, length: -1 };
    if (chunk.length > 0) {
      this.#chunks.push(chunk);
      this.#buffered += chunk.length;
    }
    const frames: Uint8Array[] = [];
    for (;;) {
      if (this.#expected === undefined) {
        if (this.#buffered < FRAME_LENGTH_BYTES) break;
        const header = this.#take(FRAME_LENGTH_BYTES);
        const length = new DataView(header.buffer, header.byteOffset, 4).getUint32(0);
        if (length > this.#maxFrameBytes) {
          this.#failed = true;
          this.#chunks = [];
          return { ok: false, length };
        }
        this.#expected = length;
      }
      if (this.#buffered < this.#expected) break;
      frames.push(this.#take(this.#expected));
      this.#expected = undefined;
    }
    return { ok: true, frames };
  }

  /** Copies `size` bytes off the front of the buffered chunks. */
  #take(size: number): Uint8Array {
    const out = new Uint8Array(size);
    let filled = 0;
    while (filled < size) {
      const head = this.#chunks[0]!;
      const used = Math.min(head.length, size - filled);
      out.set(head.subarray(0, used), filled);
      filled += used;
      if (used === head.length) this.#chunks.shift();
      else this.#chunks[0] = head.subarray(used);
    }
    this.#buffered -= size;
    return out;
  }
}

/** The bytes on the wire for one frame: its u32 length, then a copy of it. */
export function encodeTcpFrame(frame: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(FRAME_LENGTH_BYTES + frame.length);
  out.writeUInt32BE(frame.length, 0);
  out.set(frame, FRAME_LENGTH_BYTES);
  return out;
}
