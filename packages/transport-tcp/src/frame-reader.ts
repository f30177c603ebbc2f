/**
 * Splits a byte stream into frames: u32 BE length, then that many bytes. The length is checked against
 * the maximum from the header, before any of the body is buffered. Fed bytes, never touches a socket.
 *
 * One length is reserved: `TCP_KEEPALIVE_LENGTH` (0xFFFFFFFE), alone with no body, is a keepalive.
 * It is above any frame size limit (256 MiB at most), so it never stands for a real frame; the reader
 * drops it and never hands it over. An empty frame (length 0) is an ordinary frame.
 */
export const FRAME_LENGTH_BYTES = 4;

/** The length prefix that, with no body after it, is a keepalive (see the TCP transport's heartbeat). */
export const TCP_KEEPALIVE_LENGTH = 0xffff_fffe;

/** The 4 bytes of a keepalive on the wire. */
export const TCP_KEEPALIVE: Readonly<Uint8Array> = Uint8Array.of(0xff, 0xff, 0xff, 0xfe);

export type ReadResult =
  | { readonly ok: true; readonly frames: Uint8Array[] }
  | { readonly ok: false; readonly length: number };

export class FrameReader {
  readonly #maxFrameBytes: number;
  /** Bytes of an incomplete frame (or header) left over from earlier chunks. */
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
    const frames: Uint8Array[] = [];
    let rest = chunk;
    if (this.#buffered === 0 && this.#expected === undefined) {
      // Nothing left over: the usual case. Whole frames are copied straight out of the chunk, and only
      // an incomplete tail is kept for the next one.
      let offset = 0;
      while (chunk.length - offset >= FRAME_LENGTH_BYTES) {
        const length = readLength(chunk, offset);
        if (length === TCP_KEEPALIVE_LENGTH) {
          offset += FRAME_LENGTH_BYTES;
          continue;
        }
        if (length > this.#maxFrameBytes) return this.#fail(length);
        const end = offset + FRAME_LENGTH_BYTES + length;
        if (end > chunk.length) break;
        const frame = new Uint8Array(length);
        frame.set(chunk.subarray(offset + FRAME_LENGTH_BYTES, end));
        frames.push(frame);
        offset = end;
      }
      if (offset === chunk.length) return { ok: true, frames };
      rest = chunk.subarray(offset);
    }
    if (rest.length > 0) {
      this.#chunks.push(rest);
      this.#buffered += rest.length;
    }
    for (;;) {
      if (this.#expected === undefined) {
        if (this.#buffered < FRAME_LENGTH_BYTES) break;
        const length = this.#takeLength();
        if (length === TCP_KEEPALIVE_LENGTH) continue;
        if (length > this.#maxFrameBytes) return this.#fail(length);
        this.#expected = length;
      }
      if (this.#buffered < this.#expected) break;
      frames.push(this.#take(this.#expected));
      this.#expected = undefined;
    }
    return { ok: true, frames };
  }

  #fail(length: number): ReadResult {
    this.#failed = true;
    this.#chunks = [];
    this.#buffered = 0;
    return { ok: false, length };
  }

  /** Takes a length header off the front of the buffered chunks (at least 4 bytes are buffered). */
  #takeLength(): number {
    const head = this.#chunks[0]!;
    if (head.length < FRAME_LENGTH_BYTES) return readLength(this.#take(FRAME_LENGTH_BYTES), 0);
    if (head.length === FRAME_LENGTH_BYTES) this.#chunks.shift();
    else this.#chunks[0] = head.subarray(FRAME_LENGTH_BYTES);
    this.#buffered -= FRAME_LENGTH_BYTES;
    return readLength(head, 0);
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

/** The u32 BE at `offset`, without a DataView per frame. */
function readLength(bytes: Uint8Array, offset: number): number {
  return (
    bytes[offset]! * 0x1000000 + ((bytes[offset + 1]! << 16) | (bytes[offset + 2]! << 8) | bytes[offset + 3]!)
  );
}

/** The bytes on the wire for one frame: its u32 length, then a copy of it. */
export function encodeTcpFrame(frame: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(FRAME_LENGTH_BYTES + frame.length);
  out.writeUInt32BE(frame.length, 0);
  out.set(frame, FRAME_LENGTH_BYTES);
  return out;
}
