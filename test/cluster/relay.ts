/**
 * A TCP relay between sites: one listener per directed link (site `from` dials site `to` through it),
 * so the controller can cut, stall, delay and throttle site-to-site traffic without root. The
 * transports are reliable streams, so the relay never drops or duplicates bytes inside a connection
 * (that would only corrupt frames, which the CRCs would catch, not exercise the protocol): a
 * *partition* stalls the stream (bytes wait, as a silent network drops packets; heartbeats time out)
 * or resets it (`mode: 'reset'`, as an ICMP unreachable would), *loss* is a connection cut, and
 * *delay/duplication* (retransmission) is a per-chunk delay with jitter, order kept. A connection
 * carries both directions: bytes from the dialer follow the state of link from→to, the answers the
 * state of link to→from.
 *
 * Runs inside relay-process.ts (its own process, so the controller's work never stalls the network);
 * the class has no process-level state and can also run in a test.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';

export interface LinkSpec {
  readonly from: string;
  readonly to: string;
  /** Where `to` listens. */
  readonly targetHost: string;
  readonly targetPort: number;
  /** Where the relay listens for `from` (port 0: any). */
  readonly listenHost: string;
  readonly listenPort?: number;
  /** Source address of the relay's connection to `to` (network namespaces: one per origin). */
  readonly localAddress?: string;
}

export interface LinkState {
  /** A partition: this direction delivers nothing. */
  readonly blocked: boolean;
  /** How a partition treats connections: stall them (bytes wait) or reset them. */
  readonly mode: 'stall' | 'reset';
  readonly delayMs: number;
  readonly jitterMs: number;
  /** 0: unlimited. */
  readonly rateBytesPerSec: number;
}

export const OPEN_LINK: LinkState = {
  blocked: false,
  mode: 'stall',
  delayMs: 0,
  jitterMs: 0,
  rateBytesPerSec: 0,
};

/** Bytes queued in one direction before the relay stops reading from its source. */
const HIGH_WATER_BYTES = 4 * 1024 * 1024;
/** A connection held while its link is partitioned is dropped after this (a dialer gave up long ago). */
const HELD_CONNECTION_MAX_MS = 60_000;

const key = (from: string, to: string) => `${from}>${to}`;

/** One direction of one connection: chunks wait here until due, in order. */
class Pipe {
  readonly #source: Socket;
  readonly #sink: Socket;
  readonly #state: () => LinkState;
  readonly #random: () => number;
  readonly #queue: { due: number; chunk: Buffer }[] = [];
  #queuedBytes = 0;
  #lastDue = 0;
  #timer: NodeJS.Timeout | undefined;
  #sinkFull = false;
  #ended = false;
  bytes = 0;

  constructor(source: Socket, sink: Socket, state: () => LinkState, random: () => number) {
    this.#source = source;
    this.#sink = sink;
    this.#state = state;
    this.#random = random;
    source.on('data', (chunk: Buffer) => this.#onData(chunk));
    source.on('end', () => {
      this.#ended = true;
      this.poke();
    });
    sink.on('drain', () => {
      this.#sinkFull = false;
      this.poke();
    });
  }

  #onData(data: Buffer): void {
    const state = this.#state();
    // Throttled: small pieces, so a big read trickles out instead of waiting whole.
    const piece =
      state.rateBytesPerSec > 0 ? Math.max(256, Math.floor(state.rateBytesPerSec / 20)) : data.length;
    for (let offset = 0; offset < data.length; offset += piece)
      this.#enqueue(data.subarray(offset, offset + piece), state);
    this.poke();
  }

  #enqueue(chunk: Buffer, state: LinkState): void {
    const now = Date.now();
    let due = now + state.delayMs + (state.jitterMs > 0 ? this.#random() * state.jitterMs : 0);
    if (state.rateBytesPerSec > 0)
      due = Math.max(due, this.#lastDue + (chunk.length * 1000) / state.rateBytesPerSec);
    due = Math.max(due, this.#lastDue);
    this.#lastDue = due;
    this.#queue.push({ due, chunk });
    this.#queuedBytes += chunk.length;
  }

  /** Delivers what is due, unless the link is blocked; re-arms the timer; applies backpressure. */
  poke(): void {
    if (this.#sink.destroyed) return;
    const state = this.#state();
    if (!state.blocked && !this.#sinkFull) {
      const now = Date.now();
      while (this.#queue.length > 0 && this.#queue[0]!.due <= now) {
        const { chunk } = this.#queue.shift()!;
        this.#queuedBytes -= chunk.length;
        this.bytes += chunk.length;
        if (!this.#sink.write(chunk)) {
          this.#sinkFull = true;
          break;
        }
      }
    }
    const hold = state.blocked || this.#sinkFull || this.#queuedBytes > HIGH_WATER_BYTES;
    if (hold) this.#source.pause();
    else this.#source.resume();
    if (this.#queue.length === 0 && this.#ended && !state.blocked) {
      this.#sink.end();
      return;
    }
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (!state.blocked && !this.#sinkFull && this.#queue.length > 0) {
      this.#timer = setTimeout(() => this.poke(), Math.max(0, this.#queue[0]!.due - Date.now()));
    }
  }

  stop(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#queue.length = 0;
    this.#queuedBytes = 0;
  }
}

class Connection {
  readonly from: string;
  readonly to: string;
  readonly client: Socket;
  server: Socket | undefined;
  #pipes: Pipe[] = [];
  #closed = false;
  readonly #onClose: (connection: Connection) => void;
  readonly #heldTimer: NodeJS.Timeout;

  constructor(from: string, to: string, client: Socket, onClose: (connection: Connection) => void) {
    this.from = from;
    this.to = to;
    this.client = client;
    this.#onClose = onClose;
    client.pause();
    client.on('error', () => this.close());
    client.on('close', () => this.close());
    this.#heldTimer = setTimeout(() => {
      if (this.server === undefined) this.close();
    }, HELD_CONNECTION_MAX_MS);
  }

  /** Connects upstream and starts both pipes. */
  open(spec: LinkSpec, state: (from: string, to: string) => LinkState, random: () => number): void {
    if (this.#closed || this.server !== undefined) return;
    clearTimeout(this.#heldTimer);
    const server = connect({
      host: spec.targetHost,
      port: spec.targetPort,
      ...(spec.localAddress === undefined ? {} : { localAddress: spec.localAddress }),
    });
    this.server = server;
    server.setNoDelay(true);
    this.client.setNoDelay(true);
    server.on('error', () => this.close());
    server.on('close', () => this.close());
    this.#pipes = [
      new Pipe(this.client, server, () => state(this.from, this.to), random),
      new Pipe(server, this.client, () => state(this.to, this.from), random),
    ];
    for (const pipe of this.#pipes) pipe.poke();
  }

  poke(): void {
    for (const pipe of this.#pipes) pipe.poke();
  }

  get bytes(): number {
    return this.#pipes.reduce((sum, pipe) => sum + pipe.bytes, 0);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#heldTimer);
    for (const pipe of this.#pipes) pipe.stop();
    this.client.destroy();
    this.server?.destroy();
    this.#onClose(this);
  }
}

export interface RelayStats {
  readonly links: number;
  readonly connections: number;
  readonly accepted: number;
  readonly cut: number;
  readonly bytes: number;
}

export class Relay {
  readonly #specs = new Map<string, LinkSpec>();
  readonly #servers = new Map<string, Server>();
  readonly #states = new Map<string, LinkState>();
  readonly #connections = new Set<Connection>();
  readonly #random: () => number;
  #accepted = 0;
  #cut = 0;
  #closedBytes = 0;

  constructor(random: () => number = Math.random) {
    this.#random = random;
  }

  /** Listens for `spec.from` → `spec.to`; resolves with the port. */
  async addLink(spec: LinkSpec): Promise<number> {
    const name = key(spec.from, spec.to);
    if (this.#specs.has(name)) throw new Error(`link ${name} exists`);
    this.#specs.set(name, spec);
    const server = createServer({ noDelay: true }, (socket) => this.#accept(spec, socket));
    this.#servers.set(name, server);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: spec.listenHost, port: spec.listenPort ?? 0 }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    return (server.address() as { port: number }).port;
  }

  state(from: string, to: string): LinkState {
    return this.#states.get(key(from, to)) ?? OPEN_LINK;
  }

  /** Changes the state of link from→to; connections react at once. */
  set(from: string, to: string, patch: Partial<LinkState>): void {
    const next = { ...this.state(from, to), ...patch };
    this.#states.set(key(from, to), next);
    for (const connection of [...this.#connections]) {
      const involved =
        (connection.from === from && connection.to === to) ||
        (connection.from === to && connection.to === from);
      if (!involved) continue;
      if (next.blocked && next.mode === 'reset') {
        this.#cut++;
        connection.close();
      } else this.#reopen(connection);
    }
  }

  /** Every link back to open, every held connection let through. */
  healAll(): void {
    this.#states.clear();
    for (const connection of [...this.#connections]) this.#reopen(connection);
  }

  /** Loss: closes every connection between `from` and `to` (either direction); the dialer redials. */
  cut(from: string, to: string): number {
    let count = 0;
    for (const connection of [...this.#connections]) {
      if (
        (connection.from === from && connection.to === to) ||
        (connection.from === to && connection.to === from)
      ) {
        connection.close();
        count++;
      }
    }
    this.#cut += count;
    return count;
  }

  stats(): RelayStats {
    let bytes = this.#closedBytes;
    for (const connection of this.#connections) bytes += connection.bytes;
    return {
      links: this.#specs.size,
      connections: this.#connections.size,
      accepted: this.#accepted,
      cut: this.#cut,
      bytes,
    };
  }

  #blocked(from: string, to: string): LinkState | undefined {
    const forward = this.state(from, to);
    if (forward.blocked) return forward;
    const back = this.state(to, from);
    return back.blocked ? back : undefined;
  }

  #accept(spec: LinkSpec, socket: Socket): void {
    this.#accepted++;
    const connection = new Connection(spec.from, spec.to, socket, (closed) => {
      this.#closedBytes += closed.bytes;
      this.#connections.delete(closed);
    });
    this.#connections.add(connection);
    const blocked = this.#blocked(spec.from, spec.to);
    if (blocked?.mode === 'reset') {
      connection.close();
      return;
    }
    // A partitioned link holds a new connection (a SYN that gets no answer) until it heals.
    if (blocked === undefined) connection.open(spec, (a, b) => this.state(a, b), this.#random);
  }

  #reopen(connection: Connection): void {
    if (connection.server === undefined) {
      if (this.#blocked(connection.from, connection.to) === undefined) {
        const spec = this.#specs.get(key(connection.from, connection.to))!;
        connection.open(spec, (a, b) => this.state(a, b), this.#random);
      }
      return;
    }
    connection.poke();
  }

  async close(): Promise<void> {
    for (const connection of [...this.#connections]) connection.close();
    await Promise.all(
      [...this.#servers.values()].map((server) => new Promise((resolve) => server.close(resolve))),
    );
  }
}
