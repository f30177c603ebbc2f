/**
 * Runs the pure `Handshake` on one connection under a deadline. The link feeds it what arrives and
 * gives it a way to write; it reports the outcome exactly once: passed, refused either way, or timed out.
 */
import type { SiteId } from '../replica/types.js';
import { Handshake, type HandshakeOutcome, type HandshakeStep } from './handshake.js';
import type { LinkSetup } from './link.js';

export interface LinkHandshakeIo {
  write(bytes: Uint8Array): void;
  /** The handshake is over; `rest` holds bytes that followed the peer's OK (its first frames). */
  finished(outcome: HandshakeOutcome, rest: Uint8Array): void;
}

export class LinkHandshake {
  readonly #handshake: Handshake;
  readonly #io: LinkHandshakeIo;
  #timer: NodeJS.Timeout | undefined;
  #finished = false;

  /** The deadline starts now, so a dial's budget covers connecting (and TLS) too. */
  constructor(setup: Pick<LinkSetup, 'handshake' | 'handshakeTimeoutMs'>, io: LinkHandshakeIo) {
    this.#handshake = new Handshake(setup.handshake);
    this.#io = io;
    this.#timer = setTimeout(() => this.#apply(this.#handshake.expire()), setup.handshakeTimeoutMs);
    // The deadline alone must not keep a process alive; the socket it guards does that.
    this.#timer.unref();
  }

  get finished(): boolean {
    return this.#finished;
  }

  /** The authenticated peer, once the handshake passed. */
  get peer(): SiteId | undefined {
    const outcome = this.#handshake.outcome;
    return outcome?.ok === true ? outcome.peer : undefined;
  }

  /** Sends our HELLO: call once the connection can carry bytes. */
  start(): void {
    this.#apply(this.#handshake.start());
  }

  push(chunk: Uint8Array): void {
    if (!this.#finished) this.#apply(this.#handshake.push(chunk));
  }

  /** Stops the deadline (the connection closed first). */
  dispose(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #apply(step: HandshakeStep): void {
    if (this.#finished) return;
    for (const bytes of step.send) this.#io.write(bytes);
    if (step.outcome === undefined) return;
    this.#finished = true;
    this.dispose();
    this.#io.finished(step.outcome, step.rest);
  }
}
