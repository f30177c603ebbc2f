/**
 * One WebSocket as a link. The shared handshake runs over the first messages (one handshake frame per
 * message; nothing else is parsed until it passes), then each binary message is one frame. Text
 * messages close the connection. `send` watches the socket's `bufferedAmount`: above the high watermark
 * (`sendQueueBytes`) it reports `backpressure`, and keeps doing so until the buffer drains to the low
 * watermark, so a slow peer holds at most about `sendQueueBytes` of ours. The frames sent in one
 * event-loop iteration leave the TCP socket together (see `#batchWrites`), still one message each.
 */
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import {
  ConnectionError,
  HandshakeError,
  type HandshakeOutcome,
  type Link,
  type LinkError,
  type LinkEvents,
  LinkHandshake,
  type LinkSetup,
  Liveness,
  type LivenessOptions,
  type OutboundProgress,
  type SendOutcome,
  type SiteId,
  socketOutbound,
  tlsErrorFrom,
} from '@ackord/core';
import { WebSocket } from 'ws';
import { limitUnauthenticatedBytes, WS_UNAUTHENTICATED_MAX_BYTES } from './unauthenticated-bytes.js';

/** After we start a close, a peer that does not answer it within this long is cut off. */
export const WS_CLOSE_GRACE_MS = 1_000;

/** Before a dialer knows its socket: nothing waits, nothing stalls. */
const NOTHING_WAITING: OutboundProgress = { waiting: false, flushed: 0 };

/** WebSocket close codes (RFC 6455 §7.4.1). */
const CLOSE_UNSUPPORTED_DATA = 1003;
const CLOSE_POLICY_VIOLATION = 1008;
const CLOSE_MESSAGE_TOO_BIG = 1009;

export interface WsConnectionOptions {
  readonly maxFrameBytes: number;
  /** The high watermark of `bufferedAmount`. */
  readonly sendQueueBytes: number;
  /** The low watermark: sending resumes once `bufferedAmount` is down to it. */
  readonly sendQueueLowBytes: number;
  readonly ping: LivenessOptions;
  /** The peer's address as we know it (the upgraded socket's, or the host we dialed). */
  readonly remoteAddress: string;
  /** The upgraded socket, on the accepting side; a dialer learns it from the upgrade response. */
  readonly socket?: Socket;
}

export class WsConnection implements Link {
  readonly closed: Promise<void>;
  readonly remoteAddress: string;
  readonly #ws: WebSocket;
  readonly #options: WsConnectionOptions;
  readonly #events: LinkEvents;
  readonly #handshake: LinkHandshake;
  readonly #liveness: Liveness;
  /** The upgraded TCP (or TLS) socket under the WebSocket, once known: the liveness check's stall probe. */
  #socket: Socket | undefined;
  #stopCounting: () => void = () => undefined;
  #graceTimer: NodeJS.Timeout | undefined;
  #blocked = false;
  #failed = false;
  /** The socket is corked until the current event-loop iteration ends (`#batchWrites`). */
  #corked = false;

  constructor(ws: WebSocket, setup: LinkSetup, options: WsConnectionOptions) {
    this.#ws = ws;
    this.#options = options;
    this.#events = setup.events;
    this.remoteAddress = options.remoteAddress;
    this.#handshake = new LinkHandshake(setup, {
      write: (bytes) => {
        if (ws.readyState === WebSocket.OPEN) ws.send(bytes, { binary: true });
      },
      finished: (outcome, rest) => this.#finished(outcome, rest),
    });
    // WebSocket never reports sends to the liveness check, so it pings on every tick.
    this.#liveness = new Liveness(options.ping, {
      keepalive: () => ws.ping(),
      dead: (error) => {
        this.#fail(error);
        ws.terminate();
      },
      outbound: () => (this.#socket === undefined ? NOTHING_WAITING : socketOutbound(this.#socket)),
    });
    this.closed = new Promise((resolve) => {
      ws.once('close', () => {
        this.#handshake.dispose();
        this.#liveness.stop();
        this.#stopCounting();
        clearTimeout(this.#graceTimer);
        this.#events.closed(this);
        resolve();
      });
    });
    ws.on('error', (error) => this.#onError(error));
    ws.on('message', (data, isBinary) => this.#onMessage(data as Buffer, isBinary));
    ws.on('pong', () => this.#liveness.heard());
    ws.on('ping', () => this.#liveness.heard());
    ws.on('unexpected-response', (_request, response) => {
      this.#fail(new ConnectionError('upgrade-refused', `the listener answered HTTP ${response.statusCode}`));
      ws.terminate();
    });
    if (options.socket !== undefined) this.#attach(options.socket);
    else ws.once('upgrade', (response) => ws.once('open', () => this.#attach(response.socket)));
    if (ws.readyState === WebSocket.OPEN) this.#handshake.start();
    else ws.once('open', () => this.#handshake.start());
  }

  get peer(): SiteId | undefined {
    return this.#handshake.peer;
  }

  send(frame: Uint8Array): SendOutcome {
    if (this.peer === undefined || this.#ws.readyState !== WebSocket.OPEN) return 'peerDown';
    if (frame.length > this.#options.maxFrameBytes) return 'tooLarge';
    const buffered = this.#ws.bufferedAmount;
    if (this.#blocked) {
      if (buffered > this.#options.sendQueueLowBytes) return 'backpressure';
      this.#blocked = false;
    }
    // One frame always fits in an empty buffer, so a frame above the watermark can still go out.
    if (buffered > 0 && buffered + frame.length > this.#options.sendQueueBytes) {
      this.#blocked = true;
      return 'backpressure';
    }
    // A copy: ws hands an unmasked (server-side) buffer to the socket as it is, and the caller may reuse it.
    this.#ws.send(Buffer.from(frame), { binary: true });
    this.#batchWrites();
    return 'queued';
  }

  /**
   * Write batching, as in the TCP transport's connection. The first frame of an event-loop iteration
   * leaves at once; the frames sent after it in the same iteration are corked and leave together in one
   * writev when the iteration ends (setImmediate), or sooner once half the socket's high-water mark
   * waits. Without it every `ws.send` is its own write syscall (ws corks only around one message's
   * header and payload), which is what a pipelined burst paid (`pnpm bench:transport`, WS c=64). The
   * first frame is not held back: the code that sent it may block the event loop before the iteration
   * ends (the log's fdatasync), and a lone frame — a commit at concurrency 1, an ack — would wait.
   *
   * Why cork the TCP socket rather than pack several frames into one WebSocket message: each frame stays
   * one binary message, so the wire format is unchanged and a peer running an older version (one
   * message, one frame) reads a batch as it always did; nothing needs versioning. Corking already saves
   * the syscalls, which is where the sender's time went; packing would also save the receiver a
   * WebSocket header and a 'message' event per frame, but at the price of a new message format.
   *
   * The socket is the public one from the upgrade (the listener's 'upgrade' event, the dialer's
   * upgrade response), the very object ws writes to, not ws's private `_socket`. `cork` nests, so ws's
   * own cork around a header and its payload inside our batch does not end it. The bounds are untouched:
   * corked bytes count in `bufferedAmount` (ws adds the socket's writable length), so the watermarks in
   * `send` see them, and the flush at half the high-water mark keeps a batch small.
   */
  #batchWrites(): void {
    const socket = this.#socket;
    if (socket === undefined) return;
    if (!this.#corked) {
      this.#corked = true;
      socket.cork();
      setImmediate(() => {
        this.#corked = false;
        socket.uncork();
      });
    } else if (socket.writableLength >= socket.writableHighWaterMark / 2) {
      // A bounded batch: a long burst, or code that never yields to the event loop, still gets its
      // bytes out in writev-sized batches.
      socket.uncork();
      socket.cork();
    }
  }

  destroy(): void {
    this.#ws.terminate();
  }

  /** The TCP (or TLS) socket under the WebSocket, once known. */
  #attach(socket: Socket): void {
    this.#socket = socket;
    this.#countUnauthenticated(socket);
  }

  #countUnauthenticated(socket: Duplex): void {
    this.#stopCounting = limitUnauthenticatedBytes(
      socket,
      WS_UNAUTHENTICATED_MAX_BYTES,
      () => this.#handshake.finished,
      (bytes) => {
        this.#fail(new HandshakeError('oversize', `${bytes} bytes arrived before the handshake ended`));
        this.#ws.terminate();
      },
    );
  }

  #onMessage(data: Buffer, isBinary: boolean): void {
    this.#liveness.heard();
    if (this.#failed) return;
    if (!isBinary) {
      this.#fail(new ConnectionError('not-binary', 'a text message; Ackord frames are binary'));
      this.#close(CLOSE_UNSUPPORTED_DATA);
      return;
    }
    if (!this.#handshake.finished) {
      this.#handshake.push(data);
      return;
    }
    if (this.peer === undefined) return;
    if (data.length > this.#options.maxFrameBytes) {
      this.#fail(
        new ConnectionError(
          'frame-too-large',
          `a frame of ${data.length} bytes is above maxFrameBytes ${this.#options.maxFrameBytes}`,
        ),
      );
      this.#close(CLOSE_MESSAGE_TOO_BIG);
      return;
    }
    this.#events.frame(this, ownBytes(data));
  }

  #finished(outcome: HandshakeOutcome, rest: Uint8Array): void {
    this.#stopCounting();
    if (!outcome.ok) {
      this.#fail(outcome.error);
      // The refusal went out as a message; the close frame follows it.
      this.#close(CLOSE_POLICY_VIOLATION);
      return;
    }
    if (rest.length > 0) {
      this.#fail(new ConnectionError('websocket-protocol', 'a frame in the same message as the handshake'));
      this.#close(CLOSE_POLICY_VIOLATION);
      return;
    }
    this.#events.authenticated(this, outcome.peer);
    this.#liveness.start();
  }

  #onError(error: Error): void {
    const code = (error as { code?: unknown }).code;
    const tls = tlsErrorFrom(error);
    if (tls !== undefined) this.#fail(tls);
    else if (code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH')
      this.#fail(new ConnectionError('frame-too-large', error.message, { cause: error }));
    else if (typeof code === 'string' && code.startsWith('WS_ERR_'))
      this.#fail(new ConnectionError('websocket-protocol', `${code}: ${error.message}`, { cause: error }));
    // Anything else (refused, reset, closed while connecting) just ends in 'close'; ws closes the
    // socket itself after every error it reports.
  }

  /** Reports the first failure only: one broken connection, one event. */
  #fail(error: LinkError): void {
    if (this.#failed) return;
    this.#failed = true;
    this.#events.failed(this, error);
  }

  /** Starts the closing handshake; a peer that does not complete it in time is cut off. */
  #close(code: number): void {
    if (this.#ws.readyState !== WebSocket.OPEN) {
      this.#ws.terminate();
      return;
    }
    this.#ws.close(code);
    this.#graceTimer ??= setTimeout(() => this.#ws.terminate(), WS_CLOSE_GRACE_MS);
    this.#graceTimer.unref();
  }
}

/**
 * A frame the receiver may keep, as a plain Uint8Array (a Buffer's `slice` is a view, not a copy). A
 * message that owns its whole buffer is handed over without a copy; a slice of a shared buffer (a small
 * message, Node's pool) is copied so it does not pin the rest.
 */
function ownBytes(data: Buffer): Uint8Array {
  if (data.byteOffset === 0 && data.byteLength === data.buffer.byteLength)
    return new Uint8Array(data.buffer, 0, data.byteLength);
  return new Uint8Array(data);
}
