/**
 * One socket to one peer. Two phases:
 *
 * 1. The handshake from `@ackord/core`, under a timer. `Handshake` is a pure state machine: we feed it
 *    the bytes that arrive and write the bytes it returns. Nothing else is parsed until it succeeds.
 * 2. Length-prefixed frames both ways (frames.ts).
 *
 * The per-peer send queue is the socket's own write buffer: `socket.writableLength` is how many bytes
 * wait in it. `send` refuses with `backpressure` once that would pass `maxQueuedBytes`, so a slow or
 * stopped peer costs at most that much memory.
 */
import type { Socket } from 'node:net';
import {
  Handshake,
  type HandshakeError,
  type HandshakeOptions,
  type HandshakeStep,
  type SendOutcome,
  type SiteId,
} from '@ackord/core';
import { encodeFrame, FrameReader, LENGTH_BYTES } from './frames.js';

export interface PeerConnectionOptions {
  readonly handshake: HandshakeOptions;
  readonly handshakeTimeoutMs: number;
  readonly maxFrameBytes: number;
  readonly maxQueuedBytes: number;
  readonly onAuthenticated: (peer: SiteId) => void;
  readonly onHandshakeFailed: (error: HandshakeError) => void;
  readonly onFrame: (frame: Uint8Array) => void;
  /** Called exactly once, when the socket is gone, whatever the reason. */
  readonly onClose: () => void;
}

export class PeerConnection {
  readonly #socket: Socket;
  readonly #options: PeerConnectionOptions;
  readonly #handshake: Handshake;
  readonly #reader: FrameReader;
  #handshakeTimer: NodeJS.Timeout | undefined;
  /** Set once the handshake succeeds: who is at the other end. */
  #peer: SiteId | undefined;
  /** Resolves when the socket has closed and `onClose` has run. */
  readonly closed: Promise<void>;

  constructor(socket: Socket, options: PeerConnectionOptions) {
    this.#socket = socket;
    this.#options = options;
    this.#handshake = new Handshake(options.handshake);
    this.#reader = new FrameReader(options.maxFrameBytes);
    this.closed = new Promise((resolve) => {
      socket.once('close', () => {
        clearTimeout(this.#handshakeTimer);
        options.onClose();
        resolve();
      });
    });
    // Every error is followed by 'close', where the cleanup happens. Without a listener Node would
    // throw the error from the event loop and crash the process.
    socket.on('error', () => undefined);
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    this.#handshakeTimer = setTimeout(
      () => this.#onHandshakeStep(this.#handshake.expire()),
      options.handshakeTimeoutMs,
    );
  }

  get peer(): SiteId | undefined {
    return this.#peer;
  }

  /** Sends our HELLO. Call it once the socket is connected (at once for an accepted socket). */
  begin(): void {
    this.#write(this.#handshake.start().send);
  }

  send(frame: Uint8Array): SendOutcome {
    if (this.#peer === undefined || this.#socket.destroyed) return 'peerDown';
    if (frame.length > this.#options.maxFrameBytes) return 'tooLarge';
    if (this.#socket.writableLength + LENGTH_BYTES + frame.length > this.#options.maxQueuedBytes)
      return 'backpressure';
    // write() returning false only means "above the stream's high-water mark": the bytes are queued,
    // and our own bound above is what stops the queue from growing without limit.
    this.#socket.write(encodeFrame(frame));
    return 'queued';
  }

  destroy(): void {
    this.#socket.destroy();
  }

  #onData(chunk: Buffer): void {
    if (this.#handshake.outcome === undefined) this.#onHandshakeStep(this.#handshake.push(chunk));
    else if (this.#peer !== undefined) this.#onFrameBytes(chunk);
    // Otherwise the handshake failed and the socket is closing: ignore what still arrives.
  }

  #onHandshakeStep(step: HandshakeStep): void {
    this.#write(step.send);
    const outcome = step.outcome;
    if (outcome === undefined) return; // more bytes needed
    clearTimeout(this.#handshakeTimer);
    if (!outcome.ok) {
      this.#options.onHandshakeFailed(outcome.error);
      // end() lets our REFUSE (already written by #write) reach the peer, then closes.
      this.#socket.end(() => this.#socket.destroy());
      return;
    }
    this.#peer = outcome.peer;
    this.#options.onAuthenticated(outcome.peer);
    // Frames the peer sent right behind its last handshake message arrive in the same chunk.
    if (step.rest.length > 0) this.#onFrameBytes(step.rest);
  }

  #onFrameBytes(chunk: Uint8Array): void {
    const frames = this.#reader.push(chunk);
    if (!Array.isArray(frames)) {
      // A length above our maximum: we can no longer find frame boundaries, so drop the connection.
      this.#socket.destroy();
      return;
    }
    for (const frame of frames) {
      // A handler may have closed the transport (or replaced this connection) during the loop.
      if (this.#socket.destroyed) return;
      this.#options.onFrame(frame);
    }
  }

  #write(chunks: readonly Uint8Array[]): void {
    for (const bytes of chunks) this.#socket.write(bytes);
  }
}
