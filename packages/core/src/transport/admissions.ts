/**
 * The cap on inbound connections that are not authenticated yet, counted from the TCP accept: a
 * connection holds its slot through TLS, a WebSocket upgrade and the handshake, and gives it back when
 * it authenticates or closes. Until the transport opens a link on it (`claim`), a timer closes a socket
 * that never gets that far — a TLS handshake or an HTTP request that never completes.
 *
 * A TLS listener hands out a TLS socket over the raw one it accepted; both report the same remote
 * address and port, which is how `claim` finds the slot.
 */
import type { Socket } from 'node:net';

export interface Admission {
  /** The handshake budget left: the deadline counts from the TCP accept. */
  readonly remainingMs: number;
  /** Gives the slot back (the connection authenticated). Idempotent. */
  release(): void;
}

interface Slot {
  readonly key: string;
  readonly admittedAtMs: number;
  timer: NodeJS.Timeout | undefined;
  claimed: boolean;
  released: boolean;
}

export interface AdmissionsOptions {
  readonly maxUnauthenticated: number;
  readonly handshakeTimeoutMs: number;
  /** A socket is being closed because no link was opened on it in time. */
  readonly onTimeout: (remoteAddress: string) => void;
  /** A new socket is being closed at once because `maxUnauthenticated` slots are held. */
  readonly onRefused: (remoteAddress: string) => void;
}

export class Admissions {
  readonly #options: AdmissionsOptions;
  readonly #slots = new Map<string, Slot>();
  /** Every inbound socket still open, authenticated or not, so `destroyAll` reaches them all. */
  readonly #sockets = new Set<Socket>();
  #held = 0;

  constructor(options: AdmissionsOptions) {
    this.#options = options;
  }

  /** Slots held by connections that have not authenticated. */
  get held(): number {
    return this.#held;
  }

  /**
   * A new inbound socket. False (and the socket destroyed) when the cap is reached — reported with
   * `onRefused` — or when the socket is already gone (no remote address) or its address already holds
   * a slot.
   */
  admit(socket: Socket): boolean {
    const key = addressKey(socket);
    if (this.#held >= this.#options.maxUnauthenticated) {
      const remoteAddress = socket.remoteAddress ?? '';
      socket.destroy();
      this.#options.onRefused(remoteAddress);
      return false;
    }
    if (key === undefined || this.#slots.has(key)) {
      socket.destroy();
      return false;
    }
    const slot: Slot = {
      key,
      admittedAtMs: performance.now(),
      timer: undefined,
      claimed: false,
      released: false,
    };
    this.#held++;
    this.#slots.set(key, slot);
    this.#sockets.add(socket);
    socket.once('close', () => {
      this.#sockets.delete(socket);
      this.#release(slot);
    });
    slot.timer = setTimeout(() => {
      if (slot.claimed) return;
      this.#options.onTimeout(socket.remoteAddress ?? '');
      socket.destroy();
    }, this.#options.handshakeTimeoutMs);
    slot.timer.unref();
    return true;
  }

  /** The slot of an admitted socket that reached the handshake: that socket, or the TLS socket over it. */
  claim(socket: Socket): Admission | undefined {
    const key = addressKey(socket);
    const slot = key === undefined ? undefined : this.#slots.get(key);
    if (slot === undefined || slot.claimed || slot.released) return undefined;
    slot.claimed = true;
    clearTimeout(slot.timer);
    const elapsedMs = performance.now() - slot.admittedAtMs;
    return {
      remainingMs: Math.max(1, Math.ceil(this.#options.handshakeTimeoutMs - elapsedMs)),
      release: () => this.#release(slot),
    };
  }

  destroyAll(): void {
    for (const socket of [...this.#sockets]) socket.destroy();
  }

  #release(slot: Slot): void {
    if (slot.released) return;
    slot.released = true;
    clearTimeout(slot.timer);
    this.#held--;
    if (this.#slots.get(slot.key) === slot) this.#slots.delete(slot.key);
  }
}

function addressKey(socket: Socket): string | undefined {
  if (socket.remoteAddress === undefined || socket.remotePort === undefined) return undefined;
  return `${socket.remoteAddress}|${socket.remotePort}`;
}
