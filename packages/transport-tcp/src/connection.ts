/**
 * One TCP connection: the handshake first (nothing else is parsed until it passes, under a timer), then
 * length-prefixed frames both ways. Writes honour `write()` returning false: later frames wait in a
 * bounded queue until 'drain', and `send` reports `backpressure` when that queue is full.
 */
import type { Socket } from 'node:net';
import {
  Handshake,
  type HandshakeError,
  type HandshakeOptions,
  type SendOutcome,
  type SiteId,
} from '@ackord/core';
import { encodeTcpFrame, FRAME_LENGTH_BYTES, FrameReader } from './frame-reader.js';

export interface ConnectionOptions {
  readonly handshake: HandshakeOptions;
  readonly handshakeTimeoutMs: number;
  readonly maxFrameBytes: number;
  readonly sendQueueBytes: number;
  readonly onAuthenticated: (connection: Connection, peer: SiteId) => void;
  readonly onHandshakeError: (connection: Connection, error: HandshakeError) => void;
  readonly onFrame: (connection: Connection, frame: Uint8Array) => void;
  /** Exactly once, when the socket is gone (whatever the reason). */
  readonly onClose: (connection: Connection) => void;
}

export class Connection {
  readonly socket: Socket;
  readonly #options: ConnectionOptions;
  readonly #handshake: Handshake;
  readonly #reader: FrameReader;
  #timer: NodeJS.Timeout | undefined;
  #peer: SiteId | undefined;
  #blocked = false;
  #queue: Buffer[] = [];
  #queuedBytes = 0;
  readonly closed: Promise<void>;

  constructor(socket: Socket, options: ConnectionOptions) {
    this.socket = socket;
    this.#options = options;
    this.#handshake = new Handshake(options.handshake);
    this.#reader = new FrameReader(options.maxFrameBytes);
    this.closed = new Promise((resolve) => {
      socket.once('close', () => {
        this.#clearTimer();
        this.#queue = [];
        options.onClose(this);
        resolve();
      });
    });
    // Errors end in 'close'; the listener only stops Node from throwing them.
    socket.on('error', () => undefined);
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('drain', () => this.#drain());
    socket.setNoDelay(true);
    this.#timer = setTimeout(
      () => this.#finishHandshake(this.#handshake.expire()),
      options.handshakeTimeoutMs,
    );
    this.#timer.unref();
  }

  /** Sends our HELLO: call once the socket is connected. */
  begin(): void {
    for (const bytes of this.#handshake.start().send) this.socket.write(bytes);
  }

  get peer(): SiteId | undefined {
    return this.#peer;
  }

  send(frame: Uint8Array): SendOutcome {
    if (this.#peer === undefined || this.socket.destroyed) return 'peerDown';
    if (frame.length > this.#options.maxFrameBytes) return 'tooLarge';
    const size = FRAME_LENGTH_BYTES + frame.length;
    if (this.#blocked) {
      if (this.#queuedBytes + size > this.#options.sendQueueBytes) return 'backpressure';
      this.#queue.push(encodeTcpFrame(frame));
      this.#queuedBytes += size;
      return 'queued';
    }
    if (!this.socket.write(encodeTcpFrame(frame))) this.#blocked = true;
    return 'queued';
  }

  destroy(): void {
    this.socket.destroy();
  }

  #drain(): void {
    this.#blocked = false;
    while (!this.#blocked && this.#queue.length > 0) {
      const bytes = this.#queue.shift()!;
      this.#queuedBytes -= bytes.length;
      if (!this.socket.write(bytes)) this.#blocked = true;
    }
  }

  #onData(chunk: Buffer): void {
    if (this.#handshake.outcome === undefined) {
      this.#finishHandshake(this.#handshake.push(chunk));
      return;
    }
    if (this.#peer !== undefined) this.#onFrames(chunk);
  }

  #finishHandshake(step: ReturnType<Handshake['push']>): void {
    for (const bytes of step.send) this.socket.write(bytes);
    const outcome = step.outcome;
    if (outcome === undefined) return;
    this.#clearTimer();
    if (!outcome.ok) {
      this.#options.onHandshakeError(this, outcome.error);
      // Let the refusal go out, then close.
      this.socket.end(() => this.socket.destroy());
      return;
    }
    this.#peer = outcome.peer;
    this.#options.onAuthenticated(this, outcome.peer);
    if (step.rest.length > 0 && !this.socket.destroyed) this.#onFrames(step.rest);
  }

  #onFrames(chunk: Uint8Array): void {
    const result = this.#reader.push(chunk);
    if (!result.ok) {
      // The boundaries can no longer be trusted: the stream is closed, the peer reconnects.
      this.socket.destroy();
      return;
    }
    for (const frame of result.frames) {
      if (this.socket.destroyed) return;
      this.#options.onFrame(this, frame);
    }
  }

  #clearTimer(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
