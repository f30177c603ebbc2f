/**
 * How the sites reach each other. Every site-to-site connection goes through the relay (one listener per
 * directed link, relay.ts), so delay, throttling and connection cuts work everywhere without root.
 * Partitions:
 * - `relay` (any user): the relay stalls or resets the partitioned links.
 * - `netns` (root only): every site runs in its own network namespace, joined to the controller by a
 *   veth pair on a bridge; a partition is a set of blackhole routes inside the namespaces, so the
 *   kernel drops the packets (the relay stays in the path only for delays and cuts). See netns.ts.
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { RelayClient } from './relay-client.js';

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

export type PartitionMode = 'stall' | 'reset';

export interface Network {
  readonly kind: 'relay' | 'netns';
  /** One line for the run's output: how partitions are made. */
  readonly description: string;
  readonly relay: RelayClient;
  listen(site: string): HostPort;
  http(site: string): HostPort;
  /** What `from` passes as `--peer to=…`. */
  peer(from: string, to: string): HostPort;
  /** The command line that runs `command args` as site `site` (inside its namespace, if any). */
  command(site: string, command: string, args: readonly string[]): { command: string; args: string[] };
  /** Exactly these directed links ("a>b") are cut off from now on; every other link delivers. */
  partition(blocked: ReadonlySet<string>, mode: PartitionMode): Promise<void>;
  close(): Promise<void>;
}

export const linkName = (from: string, to: string) => `${from}>${to}`;

/**
 * Ports for the sites, below the kernel's ephemeral range: a site keeps its ports across restarts, and
 * a port from the ephemeral range (what every `listen(0)` and outgoing connection on this machine draws
 * from, the relay's included) could be taken while the site is down. Each is checked free when chosen.
 */
export async function reservePorts(count: number, host = '127.0.0.1'): Promise<number[]> {
  let ephemeralLow = 32768;
  try {
    ephemeralLow = Number(
      readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0],
    );
  } catch {
    // Not Linux: the usual default.
  }
  const low = 10_000;
  const high = Math.max(low + 1_000, Math.min(ephemeralLow, 65_536) - 1);
  const chosen: number[] = [];
  for (let attempt = 0; chosen.length < count && attempt < 1_000; attempt++) {
    const port = low + Math.floor(Math.random() * (high - low));
    if (chosen.includes(port)) continue;
    const free = await new Promise<boolean>((resolve) => {
      const server = createServer();
      server.once('error', () => resolve(false));
      server.listen({ host, port }, () => server.close(() => resolve(true)));
    });
    if (free) chosen.push(port);
  }
  if (chosen.length < count) throw new Error(`found only ${chosen.length} free ports of ${count}`);
  return chosen;
}

/** Sites on 127.0.0.1; the relay holds the partitions. */
export class RelayNetwork implements Network {
  readonly kind = 'relay';
  readonly description =
    'partitions: relay-based (links stalled or reset in the relay; not kernel isolation)';
  readonly relay: RelayClient;
  readonly #listen = new Map<string, HostPort>();
  readonly #http = new Map<string, HostPort>();
  readonly #peers = new Map<string, HostPort>();
  readonly #ids: readonly string[];
  #blocked = new Set<string>();

  private constructor(relay: RelayClient, ids: readonly string[]) {
    this.relay = relay;
    this.#ids = ids;
  }

  static async create(relay: RelayClient, ids: readonly string[]): Promise<RelayNetwork> {
    const network = new RelayNetwork(relay, ids);
    const ports = await reservePorts(ids.length * 2);
    ids.forEach((id, index) => {
      network.#listen.set(id, { host: '127.0.0.1', port: ports[index]! });
      network.#http.set(id, { host: '127.0.0.1', port: ports[ids.length + index]! });
    });
    const links = ids.flatMap((from) =>
      ids
        .filter((to) => to !== from)
        .map((to) => ({
          from,
          to,
          targetHost: '127.0.0.1',
          targetPort: network.#listen.get(to)!.port,
          listenHost: '127.0.0.1',
        })),
    );
    const relayPorts = await relay.addLinks(links);
    links.forEach((link, index) => {
      network.#peers.set(linkName(link.from, link.to), { host: '127.0.0.1', port: relayPorts[index]! });
    });
    return network;
  }

  listen(site: string): HostPort {
    return this.#listen.get(site)!;
  }
  http(site: string): HostPort {
    return this.#http.get(site)!;
  }
  peer(from: string, to: string): HostPort {
    return this.#peers.get(linkName(from, to))!;
  }
  command(_site: string, command: string, args: readonly string[]) {
    return { command, args: [...args] };
  }

  async partition(blocked: ReadonlySet<string>, mode: PartitionMode): Promise<void> {
    const changes: { from: string; to: string; state: { blocked: boolean; mode: PartitionMode } }[] = [];
    for (const from of this.#ids) {
      for (const to of this.#ids) {
        if (from === to) continue;
        const name = linkName(from, to);
        const now = blocked.has(name);
        if (now || this.#blocked.has(name)) changes.push({ from, to, state: { blocked: now, mode } });
      }
    }
    this.#blocked = new Set(blocked);
    await this.relay.set(changes);
  }

  async close(): Promise<void> {
    await this.relay.close();
  }
}
