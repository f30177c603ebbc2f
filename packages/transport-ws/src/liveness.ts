/**
 * Ping/pong liveness for one WebSocket: ping every `intervalMs`; a peer we heard nothing from — no pong,
 * no frame — for `timeoutMs` is declared dead. Any inbound traffic counts, so a pong queued behind a
 * burst of frames on a busy link does not get a live peer dropped.
 */
export interface LivenessOptions {
  readonly intervalMs: number;
  readonly timeoutMs: number;
}

export class Liveness {
  readonly #options: LivenessOptions;
  readonly #ping: () => void;
  readonly #dead: (silentMs: number) => void;
  #lastHeardMs = performance.now();
  #timer: NodeJS.Timeout | undefined;

  constructor(options: LivenessOptions, ping: () => void, dead: (silentMs: number) => void) {
    this.#options = options;
    this.#ping = ping;
    this.#dead = dead;
  }

  heard(): void {
    this.#lastHeardMs = performance.now();
  }

  start(): void {
    if (this.#timer !== undefined) return;
    this.heard();
    this.#timer = setInterval(() => this.#tick(), this.#options.intervalMs);
    // The socket keeps the process alive, not its liveness check.
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  #tick(): void {
    const silentMs = performance.now() - this.#lastHeardMs;
    if (silentMs < this.#options.timeoutMs) {
      this.#ping();
      return;
    }
    this.stop();
    this.#dead(Math.round(silentMs));
  }
}
