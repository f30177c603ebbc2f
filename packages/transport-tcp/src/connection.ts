/**
 * One TCP (or TLS) connection as a link: the shared handshake first (nothing else is parsed until it
 * passes, under its deadline), then u32 length-prefixed frames both ways. Writes honour `write()`
 * returning false: later frames wait in a bounded queue until 'drain', and `send` reports
 * `backpressure` when that queue is full. Once authenticated, the shared `Liveness` runs: a keepalive
 * (the reserved length prefix, no body) when we wrote nothing for an interval, and the connection
 * closed as `unresponsive` when the peer goes silent, or reads nothing we send, for the timeout.
 */
import type { Socket } from 'node:net';
import {
  ConnectionError,
  type HandshakeOutcome,
  type Link,
  type LinkError,
  type LinkEvents,
  LinkHandshake,
  type LinkSetup,
  Liveness,
  type LivenessOptions,
  type SendOutcome,
  type SiteId,
  socketOutbound,
  tlsErrorFrom,
} from '@ackord/core';
import { encodeTcpFrame, FRAME_LENGTH_BYTES, FrameReader, TCP_KEEPALIVE } from './frame-reader.js';

export interface ConnectionOptions {
  readonly maxFrameBytes: number;
  readonly sendQueueBytes: number;
  readonly heartbeat: LivenessOptions;
  /** Named in events until the socket knows its remote address (a dial still connecting). */
  readonly dialedAddress?: string;
}

export class Connection implements Link {
  readonly socket: Socket;
  readonly closed: Promise<void>;
  readonly #options: ConnectionOptions;
  readonly #events: LinkEvents;
  readonly #handshake: LinkHandshake;
  readonly #reader: FrameReader;
  readonly #liveness: Liveness;
  #blocked = false;
  #corked = false;
  #queue: Buffer[] = [];
  #queuedBytes = 0;

  constructor(socket: Socket, setup: LinkSetup, options: ConnectionOptions) {
    this.socket = socket;
    this.#options = options;
    this.#events = setup.events;
    this.#reader = new FrameReader(options.maxFrameBytes);
    this.#handshake = new LinkHandshake(setup, {
      write: (bytes) => socket.write(bytes),
      finished: (outcome, rest) => this.#finished(outcome, rest),
    });
    this.#liveness = new Liveness(options.heartbeat, {
      keepalive: () => this.#keepalive(),
      dead: (error) => this.#fail(error),
      outbound: () => socketOutbound(socket),
    });
    this.closed = new Promise((resolve) => {
      socket.once('close', () => {
        this.#handshake.dispose();
        this.#liveness.stop();
        this.#queue = [];
        this.#events.closed(this);
        resolve();
      });
    });
    // Errors end in 'close'. TLS failures are worth an event; the rest (reset, refused) are not.
    socket.on('error', (error) => {
      const tls = tlsErrorFrom(error);
      if (tls !== undefined) this.#fail(tls);
    });
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('drain', () => this.#drain());
    socket.setNoDelay(true);
  }

  /** Sends our HELLO: call once the socket is connected (after the TLS handshake, with TLS). */
  begin(): void {
    this.#handshake.start();
  }

  get peer(): SiteId | undefined {
    return this.#handshake.peer;
  }

  get remoteAddress(): string {
    return this.socket.remoteAddress ?? this.#options.dialedAddress ?? '';
  }

  send(frame: Uint8Array): SendOutcome {
    if (this.peer === undefined || this.socket.destroyed) return 'peerDown';
    if (frame.length > this.#options.maxFrameBytes) return 'tooLarge';
    const size = FRAME_LENGTH_BYTES + frame.length;
    if (this.#blocked) {
      if (this.#queuedBytes + size > this.#options.sendQueueBytes) return 'backpressure';
      this.#queue.push(encodeTcpFrame(frame));
      this.#queuedBytes += size;
      return 'queued';
    }
    if (!this.socket.write(encodeTcpFrame(frame))) this.#blocked = true;
    if (!this.#corked) this.#corkUntilImmediate();
    else if (this.socket.writableLength >= this.socket.writableHighWaterMark / 2) {
      // A bounded batch: flushed at half the socket's high-water mark, before write() would report it
      // full (which sends later frames to the queue above until 'drain') — so a long burst, or code that
      // never yields to the event loop, still gets its bytes out in writev-sized batches.
      this.socket.uncork();
      this.socket.cork();
    }
    this.#liveness.sent();
    return 'queued';
  }

  /**
   * Write batching. The first frame of an event-loop iteration leaves at once; the frames sent after it
   * in the same iteration are corked and leave together in one writev when the iteration ends
   * (setImmediate), or sooner once half the socket's high-water mark waits. Without it a pipelined burst pays a
   * syscall per frame (`pnpm bench:transport`), and so do commits made by separate I/O callbacks of one
   * iteration — e.g. one per HTTP request in examples/kv-cluster (`pnpm bench`, HTTP). The first frame
   * is not held back: the code that sent it may block the event loop before the iteration ends (the
   * log's fdatasync runs right after a commit is shipped: in a microtask, or at the end of the iteration
   * under the manager's `batching: 'iteration'`), and a lone frame — a commit at concurrency 1, an ack —
   * would wait for it; sent now, the peer's work overlaps ours.
   */
  #corkUntilImmediate(): void {
    this.#corked = true;
    this.socket.cork();
    setImmediate(() => {
      this.#corked = false;
      this.socket.uncork();
    });
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
      this.#liveness.sent();
    }
  }

  /** Nothing went out for an interval. While our bytes wait for the peer to read, they will do. */
  #keepalive(): void {
    if (this.#blocked || this.socket.destroyed) return;
    if (!this.socket.write(TCP_KEEPALIVE)) this.#blocked = true;
  }

  #onData(chunk: Buffer): void {
    this.#liveness.heard();
    if (!this.#handshake.finished) this.#handshake.push(chunk);
    else if (this.peer !== undefined) this.#onFrames(chunk);
  }

  #finished(outcome: HandshakeOutcome, rest: Uint8Array): void {
    if (!outcome.ok) {
      this.#events.failed(this, outcome.error);
      // Let the refusal go out, then close.
      this.socket.end(() => this.socket.destroy());
      return;
    }
    this.#events.authenticated(this, outcome.peer);
    if (this.socket.destroyed) return;
    this.#liveness.start();
    if (rest.length > 0) this.#onFrames(rest);
  }

  #onFrames(chunk: Uint8Array): void {
    const result = this.#reader.push(chunk);
    if (!result.ok) {
      // The boundaries can no longer be trusted: the stream is closed, the peer reconnects.
      this.#fail(
        new ConnectionError(
          'frame-too-large',
          `a frame of ${result.length} bytes is above maxFrameBytes ${this.#options.maxFrameBytes}`,
        ),
      );
      return;
    }
    for (const frame of result.frames) {
      if (this.socket.destroyed) return;
      this.#events.frame(this, frame);
    }
  }

  #fail(error: LinkError): void {
    this.#events.failed(this, error);
    this.socket.destroy();
  }
}
