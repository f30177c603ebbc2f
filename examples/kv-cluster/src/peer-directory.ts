/**
 * What a site knows about its peers beyond replication: each peer's HTTP URL (so a client can answer
 * `421` with the master's URL), the priority it runs with, when we last heard from it, how often its
 * connection came and went, and the explanation of the last election it won.
 *
 * It wraps the transport: when a peer connects, each side sends a small "hello" frame with its own HTTP
 * URL, priority and last election won, over the same authenticated connection replication uses, and the
 * wrapper takes those frames out before the manager sees any frame. Nothing has to be configured twice
 * (`--peer-http` still overrides, e.g. behind a proxy), and a restarted peer on a new HTTP port is known
 * at once. A hello starts with bytes no Ackord frame starts with (frames begin with the magic "AK").
 */
import type {
  ElectionExplanation,
  Logger,
  SendOutcome,
  SiteId,
  Transport,
  TransportHandlers,
} from '@ackord/core';
import { z } from 'zod';
import { type HostPort, httpUrl, isWildcard, parseHostPort, urlHost } from './address.js';

const HELLO_PREFIX = Buffer.from('KVHELLO1');
/** A hello is a few hundred bytes; an explanation lists at most 64 sites. Anything larger is refused. */
export const MAX_HELLO_BYTES = 64 * 1024;
const MAX_LISTED_SITES = 64;

const siteId = z.string().min(1).max(64);
const explanationSchema = z.object({
  electionGeneration: z.number().int().min(0),
  winner: siteId,
  candidates: z
    .array(
      z.object({
        site: siteId,
        dataGeneration: z.number(),
        lastLsn: z.number(),
        priority: z.number(),
        tiebreaker: z.number(),
        electable: z.boolean(),
      }),
    )
    .max(MAX_LISTED_SITES),
  votes: z.array(z.object({ voter: siteId, candidate: siteId })).max(MAX_LISTED_SITES),
  votesNeeded: z.number().int(),
  missing: z.array(siteId).max(MAX_LISTED_SITES),
  reason: z.string().max(2000),
  full: z.boolean(),
  transfer: z.boolean(),
  startedAt: z.number(),
  endedAt: z.number(),
});

const helloSchema = z.object({
  /** `host:port` of the sender's HTTP API. */
  http: z.string().max(300),
  priority: z.number().int().min(0).max(1_000_000),
  lastElection: explanationSchema.optional(),
});

export interface Hello {
  readonly http: string;
  readonly priority: number;
  readonly lastElection?: ElectionExplanation;
}

export interface PeerInfo {
  readonly id: SiteId;
  /** The transport address from --peer. */
  readonly address: HostPort;
  readonly configuredHttp: HostPort | undefined;
  readonly configuredPriority: number;
  announcedHttp: HostPort | undefined;
  announcedPriority: number | undefined;
  lastHeardAt: number | undefined;
  connects: number;
  disconnects: number;
}

export interface PeerDirectoryOptions {
  readonly inner: Transport;
  readonly peers: readonly {
    readonly id: SiteId;
    readonly address: HostPort;
    readonly http: HostPort | undefined;
    readonly priority: number;
  }[];
  /** What this site says about itself, built fresh for every hello. */
  readonly hello: () => Hello;
  /** A peer told us about an election it won. */
  readonly onElection: (explanation: ElectionExplanation) => void;
  readonly logger: Logger;
  readonly now?: () => number;
}

export class PeerDirectory implements Transport {
  readonly siteId: SiteId;
  readonly #inner: Transport;
  readonly #peers = new Map<SiteId, PeerInfo>();
  readonly #options: PeerDirectoryOptions;
  readonly #now: () => number;

  constructor(options: PeerDirectoryOptions) {
    this.#inner = options.inner;
    this.siteId = options.inner.siteId;
    this.#options = options;
    this.#now = options.now ?? Date.now;
    for (const peer of options.peers) {
      this.#peers.set(peer.id, {
        id: peer.id,
        address: peer.address,
        configuredHttp: peer.http,
        configuredPriority: peer.priority,
        announcedHttp: undefined,
        announcedPriority: undefined,
        lastHeardAt: undefined,
        connects: 0,
        disconnects: 0,
      });
    }
  }

  start(handlers: TransportHandlers, options?: { readonly signal?: AbortSignal }): Promise<void> {
    return this.#inner.start(
      {
        frame: (from, frame) => {
          const peer = this.#peers.get(from);
          if (peer !== undefined) peer.lastHeardAt = this.#now();
          if (isHello(frame)) this.#receiveHello(from, frame);
          else handlers.frame(from, frame);
        },
        peerUp: (site) => {
          const peer = this.#peers.get(site);
          if (peer !== undefined) {
            peer.connects++;
            peer.lastHeardAt = this.#now();
          }
          this.#sendHello(site);
          handlers.peerUp(site);
        },
        peerDown: (site) => {
          const peer = this.#peers.get(site);
          if (peer !== undefined) peer.disconnects++;
          handlers.peerDown(site);
        },
      },
      options,
    );
  }

  send(to: SiteId, frame: Uint8Array): SendOutcome {
    return this.#inner.send(to, frame);
  }
  connectedPeers(): ReadonlySet<SiteId> {
    return this.#inner.connectedPeers();
  }
  close(): Promise<void> {
    return this.#inner.close();
  }

  /** Sends our hello again to every connected peer (after winning an election). */
  announce(): void {
    for (const site of this.#inner.connectedPeers()) this.#sendHello(site);
  }

  peers(): readonly Readonly<PeerInfo>[] {
    return [...this.#peers.values()];
  }

  /** A peer's HTTP URL: --peer-http, else what it announced; undefined while unknown. */
  httpUrl(site: SiteId): string | undefined {
    const peer = this.#peers.get(site);
    if (peer === undefined) return undefined;
    const address = peer.configuredHttp ?? peer.announcedHttp;
    if (address === undefined) return undefined;
    // A peer listening on a wildcard address is reachable where its transport is.
    return httpUrl(isWildcard(address.host) ? { host: peer.address.host, port: address.port } : address);
  }

  #sendHello(site: SiteId): void {
    const body = Buffer.from(JSON.stringify(this.#options.hello()));
    const outcome = this.#inner.send(site, Buffer.concat([HELLO_PREFIX, body]));
    if (outcome !== 'queued') this.#options.logger.debug({ peer: site, outcome }, 'hello not sent');
  }

  #receiveHello(from: SiteId, frame: Uint8Array): void {
    const peer = this.#peers.get(from);
    if (peer === undefined) return;
    let hello: Hello;
    try {
      if (frame.length > MAX_HELLO_BYTES) throw new Error(`${frame.length} bytes`);
      const text = Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength).toString(
        'utf8',
        HELLO_PREFIX.length,
      );
      hello = helloSchema.parse(JSON.parse(text));
    } catch (error) {
      this.#options.logger.warn(
        { peer: from, err: (error as Error).message },
        'bad hello from a peer: ignored',
      );
      return;
    }
    peer.announcedHttp = parseHostPort(hello.http);
    if (hello.priority !== peer.configuredPriority && hello.priority !== peer.announcedPriority) {
      this.#options.logger.warn(
        { peer: from, announced: hello.priority, configured: peer.configuredPriority },
        `peer ${from} runs with priority ${hello.priority} but this site counts it as ${peer.configuredPriority}: pass --peer-priority ${from}=${hello.priority} (acks and votes count by the configured value)`,
      );
    }
    peer.announcedPriority = hello.priority;
    if (hello.lastElection !== undefined) this.#options.onElection(hello.lastElection);
  }
}

function isHello(frame: Uint8Array): boolean {
  if (frame.length < HELLO_PREFIX.length) return false;
  for (let index = 0; index < HELLO_PREFIX.length; index++)
    if (frame[index] !== HELLO_PREFIX[index]) return false;
  return true;
}

/** How this site names its own HTTP API in a hello. */
export function helloAddress(address: HostPort): string {
  return `${urlHost(address.host)}:${address.port}`;
}
