/**
 * Liveness for one authenticated connection, shared by the built-in transports. Once started, a timer
 * ticks every `intervalMs` (unref'd: the socket keeps the process alive, not its liveness check):
 *
 * - **keepalive**: a tick that finds nothing sent since the previous tick calls `keepalive()` (TCP
 *   writes a keepalive frame; WebSocket never reports sends, so it pings on every tick). A quiet side
 *   therefore writes something at least every 2 × `intervalMs`;
 * - **silence**: a peer we heard nothing from — no byte, frame, ping or pong — for `timeoutMs` is dead;
 * - **stall**: so is a peer that reads nothing we send: our bytes wait in the socket's buffer (above its
 *   high watermark, no 'drain' yet) and none of them leaves it for `timeoutMs`. A peer that authenticates
 *   and then stops reading, while still writing to us, would otherwise hold its connection, and up to
 *   the send queue of our memory, forever.
 *
 * `heard()` and `sent()` only set a flag, so the hot paths pay a store each; times are taken at ticks,
 * which makes every verdict late by at most one interval, never early.
 */
import type { Socket } from 'node:net';
import { ConnectionError } from './connection-error.js';

export interface LivenessOptions {
  readonly intervalMs: number;
  readonly timeoutMs: number;
}

/** What the connection's outbound side looks like now. */
export interface OutboundProgress {
  /** Our bytes are waiting for the peer: the socket's buffer went above its high watermark, no 'drain' yet. */
  readonly waiting: boolean;
  /** A count that moves whenever some of our bytes leave the socket's buffer. */
  readonly flushed: number;
}

export interface LivenessProbe {
  /** Nothing went out since the previous tick: send something the peer will hear. */
  keepalive(): void;
  /** The peer is dead; the connection must be closed (once: the ticks have stopped). */
  dead(error: ConnectionError): void;
  /** The outbound side, for the stall check; without it only silence is checked. */
  outbound?(): OutboundProgress;
}

/** The outbound side of a Node socket: bytes whose write completed, and whether it waits for 'drain'. */
export function socketOutbound(socket: Socket): OutboundProgress {
  return { waiting: socket.writableNeedDrain, flushed: socket.bytesWritten - socket.writableLength };
}

export class Liveness {
  readonly #options: LivenessOptions;
  readonly #probe: LivenessProbe;
  #timer: NodeJS.Timeout | undefined;
  #heard = false;
  #sent = false;
  #lastHeardMs = 0;
  /** Since when our bytes have waited without any of them leaving, and the count they wait at. */
  #stall: { readonly sinceMs: number; readonly flushed: number } | undefined;

  constructor(options: LivenessOptions, probe: LivenessProbe) {
    this.#options = options;
    this.#probe = probe;
  }

  get running(): boolean {
    return this.#timer !== undefined;
  }

  /** Something came from the peer. */
  heard(): void {
    this.#heard = true;
  }

  /** Something went to the peer. */
  sent(): void {
    this.#sent = true;
  }

  start(): void {
    if (this.#timer !== undefined) return;
    this.#lastHeardMs = performance.now();
    this.#heard = false;
    this.#sent = false;
    this.#stall = undefined;
    this.#timer = setInterval(() => this.#tick(), this.#options.intervalMs);
    this.#timer.unref();
  }

  /** Idempotent; call it when the connection closes. */
  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  #tick(): void {
    const now = performance.now();
    if (this.#heard) {
      this.#heard = false;
      this.#lastHeardMs = now;
    }
    // Compared unrounded: a rounded 199.6 ms would pass for a 200 ms timeout and end the link early.
    const silentMs = now - this.#lastHeardMs;
    if (silentMs >= this.#options.timeoutMs) {
      this.#die(
        new ConnectionError('unresponsive', `nothing heard from the peer for ${Math.round(silentMs)} ms`),
      );
      return;
    }
    const stalledMs = this.#stalledMs(now);
    if (stalledMs >= this.#options.timeoutMs) {
      this.#die(
        new ConnectionError(
          'unresponsive',
          `the peer read none of what we sent for ${Math.round(stalledMs)} ms (the socket's write buffer stayed full)`,
        ),
      );
      return;
    }
    if (!this.#sent) this.#probe.keepalive();
    this.#sent = false;
  }

  #stalledMs(now: number): number {
    const outbound = this.#probe.outbound?.();
    if (outbound === undefined || !outbound.waiting) {
      this.#stall = undefined;
      return 0;
    }
    if (this.#stall === undefined || this.#stall.flushed !== outbound.flushed) {
      this.#stall = { sinceMs: now, flushed: outbound.flushed };
      return 0;
    }
    return now - this.#stall.sinceMs;
  }

  #die(error: ConnectionError): void {
    this.stop();
    this.#probe.dead(error);
  }
}
