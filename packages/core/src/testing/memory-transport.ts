/**
 * An in-memory network of transports, for unit tests and the simulator's manager runs. Frames are
 * delivered asynchronously through the given `Clock` (after a per-link delay), so a test can slow a
 * site, pause it, cut links and heal them, and see the manager react to peer up/down.
 */
import { type Clock, systemClock } from '../clock.js';
import type { SiteId } from '../replica/types.js';
import type { SendOutcome, Transport, TransportHandlers } from '../transport.js';

/** Frames in flight per link beyond which `send` reports backpressure. */
export const MEMORY_LINK_MAX_QUEUED = 10_000;
export const MEMORY_MAX_FRAME_BYTES = 16 * 1024 * 1024;

export class MemoryNetwork {
  readonly clock: Clock;
  readonly #transports = new Map<SiteId, MemoryTransport>();
  readonly #cut = new Set<string>();
  readonly #delayMs = new Map<string, number>();
  readonly #paused = new Set<SiteId>();
  readonly #heldOutgoing = new Map<SiteId, { to: SiteId; frame: Uint8Array }[]>();
  #defaultDelayMs: number;

  /** On the real clock a zero delay means "next turn" (setImmediate), not a 1 ms timer. */
  readonly #immediate: boolean;

  constructor(options: { clock?: Clock; delayMs?: number } = {}) {
    this.clock = options.clock ?? systemClock;
    this.#immediate = options.clock === undefined;
    this.#defaultDelayMs = options.delayMs ?? 0;
  }

  createTransport(siteId: SiteId): MemoryTransport {
    const transport = new MemoryTransport(this, siteId);
    this.#transports.set(siteId, transport);
    return transport;
  }

  /** Delay for frames from `from` to `to` (both directions when `symmetric`). */
  setDelay(from: SiteId, to: SiteId, delayMs: number, symmetric = true): void {
    this.#delayMs.set(`${from}>${to}`, delayMs);
    if (symmetric) this.#delayMs.set(`${to}>${from}`, delayMs);
  }

  setDefaultDelay(delayMs: number): void {
    this.#defaultDelayMs = delayMs;
  }

  /** Cuts the link between two sites: both see the other go down. */
  cut(a: SiteId, b: SiteId): void {
    this.#cut.add(linkKey(a, b));
    this.#transports.get(a)?._peerDown(b);
    this.#transports.get(b)?._peerDown(a);
  }

  heal(a: SiteId, b: SiteId): void {
    this.#cut.delete(linkKey(a, b));
    this.#connect(a, b);
  }

  /**
   * A paused site (SIGSTOP) keeps its connections but processes nothing and sends nothing: frames to and
   * from it wait until it resumes. Its peers do not see it go down.
   */
  pause(site: SiteId): void {
    this.#paused.add(site);
  }

  resume(site: SiteId): void {
    this.#paused.delete(site);
    this.#transports.get(site)?._drainPaused();
    // What it "sent" while stopped goes out now, as a resumed process flushes its sockets.
    const outgoing = this.#heldOutgoing.get(site) ?? [];
    this.#heldOutgoing.delete(site);
    for (const { to, frame } of outgoing) this._deliver(site, to, frame);
  }

  isPaused(site: SiteId): boolean {
    return this.#paused.has(site);
  }

  /** @internal A frame in flight keeps the process running, as a socket would. */
  _schedule(callback: () => void, delayMs: number): void {
    if (delayMs === 0 && this.#immediate) setImmediate(callback);
    else this.clock.setTimeout(callback, delayMs, { keepAlive: true });
  }

  /** @internal */
  _started(site: SiteId): void {
    for (const other of this.#transports.keys()) if (other !== site) this.#connect(site, other);
  }

  /** @internal */
  _closed(site: SiteId): void {
    this.#transports.delete(site);
    for (const other of this.#transports.values()) other._peerDown(site);
  }

  /** @internal */
  _deliver(from: SiteId, to: SiteId, frame: Uint8Array): SendOutcome {
    const target = this.#transports.get(to);
    if (target === undefined || !target._isUp(from) || this.#cut.has(linkKey(from, to))) return 'peerDown';
    if (this.#paused.has(from)) {
      // A stopped process sends nothing: hold its frames until it resumes (bounded like a link queue).
      const held = this.#heldOutgoing.get(from) ?? [];
      if (held.length >= MEMORY_LINK_MAX_QUEUED) return 'backpressure';
      held.push({ to, frame: frame.slice() });
      this.#heldOutgoing.set(from, held);
      return 'queued';
    }
    const delay = this.#delayMs.get(`${from}>${to}`) ?? this.#defaultDelayMs;
    return target._enqueue(from, frame.slice(), delay);
  }

  #connect(a: SiteId, b: SiteId): void {
    const ta = this.#transports.get(a);
    const tb = this.#transports.get(b);
    if (ta === undefined || tb === undefined || !ta._started || !tb._started || this.#cut.has(linkKey(a, b)))
      return;
    ta._peerUp(b);
    tb._peerUp(a);
  }
}

function linkKey(a: SiteId, b: SiteId): string {
  return a < b ? `${a}|${b}` : `${b}|${a}`;
}

export class MemoryTransport implements Transport {
  readonly siteId: SiteId;
  readonly #network: MemoryNetwork;
  #handlers: TransportHandlers | undefined;
  readonly #up = new Set<SiteId>();
  #queued = 0;
  #held: { from: SiteId; frame: Uint8Array }[] = [];
  #closed = false;

  /** @internal use MemoryNetwork.createTransport */
  constructor(network: MemoryNetwork, siteId: SiteId) {
    this.#network = network;
    this.siteId = siteId;
  }

  /** @internal */
  get _started(): boolean {
    return this.#handlers !== undefined && !this.#closed;
  }

  async start(handlers: TransportHandlers, options: { signal?: AbortSignal } = {}): Promise<void> {
    options.signal?.throwIfAborted();
    this.#handlers = handlers;
    this.#network._started(this.siteId);
  }

  send(to: SiteId, frame: Uint8Array): SendOutcome {
    if (this.#closed || !this.#up.has(to)) return 'peerDown';
    if (frame.length > MEMORY_MAX_FRAME_BYTES) return 'tooLarge';
    return this.#network._deliver(this.siteId, to, frame);
  }

  connectedPeers(): ReadonlySet<SiteId> {
    return this.#up;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const peer of [...this.#up]) this._peerDown(peer);
    this.#network._closed(this.siteId);
  }

  /** @internal */
  _isUp(from: SiteId): boolean {
    return !this.#closed && this.#up.has(from);
  }

  /** @internal */
  _enqueue(from: SiteId, frame: Uint8Array, delayMs: number): SendOutcome {
    if (this.#queued >= MEMORY_LINK_MAX_QUEUED) return 'backpressure';
    this.#queued++;
    this.#network._schedule(() => {
      this.#queued--;
      if (this.#closed || !this.#up.has(from)) return;
      if (this.#network.isPaused(this.siteId)) this.#held.push({ from, frame });
      else this.#handlers?.frame(from, frame);
    }, delayMs);
    return 'queued';
  }

  /** @internal */
  _drainPaused(): void {
    const held = this.#held;
    this.#held = [];
    for (const { from, frame } of held) if (this.#up.has(from)) this.#handlers?.frame(from, frame);
  }

  /** @internal */
  _peerUp(site: SiteId): void {
    if (this.#closed || this.#up.has(site)) return;
    this.#up.add(site);
    this.#handlers?.peerUp(site);
  }

  /** @internal */
  _peerDown(site: SiteId): void {
    if (!this.#up.delete(site)) return;
    this.#handlers?.peerDown(site);
  }
}
