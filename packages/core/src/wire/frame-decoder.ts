/**
 * The streaming decoder for byte-stream transports (TCP): fed chunks as they arrive, split anywhere,
 * it returns the messages completed so far. Like ws's Receiver it never touches a socket.
 *
 * Limits: it holds at most one incomplete frame — fewer than 16 header bytes, or a header whose length
 * has passed `maxFrameBytes` plus the body bytes received so far — so `bufferedBytes` never exceeds
 * `maxFrameBytes`. Memory grows only as bytes arrive: a header alone allocates nothing. After the first
 * error it refuses all input: the caller closes the connection.
 *
 * No copies on the common path: a body that arrives within one chunk is decoded in place, and the
 * decoder keeps views into pushed chunks for a frame still incomplete. So a pushed chunk must not be
 * reused by the caller (socket 'data' chunks never are), and decoded messages hold views into it
 * (`log.records`, `init.snapshot`). A body split across chunks is joined into one buffer when complete.
 */
import { asBuffer, decodeBody } from './decode.js';
import { FRAME_HEADER_BYTES, type FrameHeader, readFrameHeader } from './frame.js';
import type { DecodedMessage } from './messages.js';
import { type DecoderOptions, type ResolvedDecoderOptions, resolveDecoderOptions } from './options.js';
import { ProtocolError } from './protocol-error.js';

export interface PushResult {
  /** Messages completed by this chunk, in order (those before an error included). */
  readonly messages: DecodedMessage[];
  /** The first error, if this push (or an earlier one) hit one; the decoder then refuses all input. */
  readonly error: ProtocolError | undefined;
}

export class FrameDecoder {
  readonly #limits: ResolvedDecoderOptions;
  /** Header bytes received so far of a header split across chunks. */
  readonly #headerBytes = Buffer.alloc(FRAME_HEADER_BYTES);
  #headerFill = 0;
  /** The header of the frame whose body is being received. */
  #header: FrameHeader | undefined;
  /** Body bytes received so far (views into pushed chunks), and their total. */
  #bodyParts: Buffer[] = [];
  #bodyFill = 0;
  #error: ProtocolError | undefined;
  #framesDecoded = 0;

  /** Throws `ConfigError` for bad options. */
  constructor(options?: DecoderOptions) {
    this.#limits = resolveDecoderOptions(options);
  }

  /** Bytes received of the incomplete frame (its header included): never more than `maxFrameBytes`. */
  get bufferedBytes(): number {
    return this.#header === undefined ? this.#headerFill : FRAME_HEADER_BYTES + this.#bodyFill;
  }

  /** The error that stopped this decoder, if any. */
  get error(): ProtocolError | undefined {
    return this.#error;
  }

  get framesDecoded(): number {
    return this.#framesDecoded;
  }

  get maxFrameBytes(): number {
    return this.#limits.maxFrameBytes;
  }

  /** Feeds the next bytes of the stream. */
  push(chunk: Uint8Array): PushResult {
    const messages: DecodedMessage[] = [];
    if (this.#error !== undefined) return { messages, error: this.#error };
    const bytes = asBuffer(chunk);
    let offset = 0;
    // Bounded: every round consumes a header (16 bytes) or returns; a body may be empty.
    for (;;) {
      if (this.#header === undefined) {
        if (offset === bytes.length) break;
        offset += this.#takeHeader(bytes, offset);
        if (this.#error !== undefined) return { messages, error: this.#error };
        if (this.#header === undefined) break;
      }
      const header: FrameHeader = this.#header;
      const needed = header.bodyLength - this.#bodyFill;
      const available = bytes.length - offset;
      let body: Buffer;
      if (this.#bodyFill === 0 && available >= needed) {
        // The whole body is in this chunk: decode it in place.
        body = bytes.subarray(offset, offset + needed);
        offset += needed;
      } else {
        const take = Math.min(needed, available);
        if (take > 0) this.#bodyParts.push(bytes.subarray(offset, offset + take));
        this.#bodyFill += take;
        offset += take;
        if (take < needed) break;
        body = Buffer.concat(this.#bodyParts, header.bodyLength);
        this.#bodyParts = [];
        this.#bodyFill = 0;
      }
      this.#header = undefined;
      const message = decodeBody(header, body, this.#limits);
      if (message instanceof ProtocolError) return this.#fail(messages, message);
      this.#framesDecoded++;
      messages.push(message);
    }
    return { messages, error: undefined };
  }

  /**
   * The stream ended. Returns an error when it ended inside a frame (`truncated-frame`), or the error
   * that stopped the decoder earlier.
   */
  end(): ProtocolError | undefined {
    if (this.#error === undefined && this.bufferedBytes > 0) {
      this.#error = new ProtocolError(
        'truncated-frame',
        `the stream ended inside a frame, ${this.bufferedBytes} bytes into it`,
      );
      this.#release();
    }
    return this.#error;
  }

  /** Takes header bytes from `bytes` at `offset`; sets `#header` once all 16 are in. Returns bytes consumed. */
  #takeHeader(bytes: Buffer, offset: number): number {
    const available = bytes.length - offset;
    let source = bytes;
    let at = offset;
    let consumed: number;
    if (this.#headerFill === 0 && available >= FRAME_HEADER_BYTES) {
      consumed = FRAME_HEADER_BYTES;
    } else {
      consumed = Math.min(FRAME_HEADER_BYTES - this.#headerFill, available);
      bytes.copy(this.#headerBytes, this.#headerFill, offset, offset + consumed);
      this.#headerFill += consumed;
      if (this.#headerFill < FRAME_HEADER_BYTES) return consumed;
      source = this.#headerBytes;
      at = 0;
    }
    this.#headerFill = 0;
    const header = readFrameHeader(source, at, this.#limits.maxFrameBytes);
    if (header instanceof ProtocolError) {
      this.#error = header;
      this.#release();
    } else {
      this.#header = header;
    }
    return consumed;
  }

  #fail(messages: DecodedMessage[], error: ProtocolError): PushResult {
    this.#error = error;
    this.#release();
    return { messages, error };
  }

  #release(): void {
    this.#header = undefined;
    this.#headerFill = 0;
    this.#bodyParts = [];
    this.#bodyFill = 0;
  }
}
