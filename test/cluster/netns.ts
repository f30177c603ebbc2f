/**
 * Kernel isolation for partitions (root only): every site runs in its own network namespace with one
 * veth link to a bridge in the controller's namespace. The relay stays in the path for delays and cuts:
 * it listens on one "front" address per destination site and connects from one "back" address per
 * origin site, so a partition is routing inside the namespaces:
 *
 *   link x→y cut off  =  in x's namespace, blackhole routes to front(y) and back(y)
 *
 * (x's packets towards y vanish whichever side dialed). Established connections stall until the
 * transports' heartbeats give up; a new connection fails at once (the kernel answers EINVAL), as after
 * an ICMP unreachable. `mode: 'reset'` uses `prohibit` routes (EACCES). No nftables or tc netem is
 * needed (neither is available everywhere); only `ip` (iproute2).
 *
 * Names carry the controller's pid, so concurrent runs do not collide, and namespaces a dead controller
 * left behind are removed at the next start. Everything created is removed on close and, synchronously,
 * if the controller exits early.
 */
import { execFileSync } from 'node:child_process';
import type { HostPort, Network, PartitionMode } from './network.js';
import { linkName } from './network.js';
import type { RelayClient } from './relay-client.js';

const SITE_PORT = 7000;
const HTTP_PORT = 8000;
const PREFIX = 'ackchaos';

function ip(args: readonly string[]): string {
  return execFileSync('ip', [...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function tryIp(args: readonly string[]): boolean {
  try {
    ip(args);
    return true;
  } catch {
    return false;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Namespaces and bridges a controller that died without cleaning up left behind. */
function removeStale(): void {
  let listing = '';
  try {
    listing = ip(['netns', 'list']);
  } catch {
    return;
  }
  for (const line of listing.split('\n')) {
    const name = line.split(' ')[0] ?? '';
    const match = new RegExp(`^${PREFIX}-(\\d+)-`).exec(name);
    if (match !== null && !alive(Number(match[1]))) tryIp(['netns', 'del', name]);
  }
  let links = '';
  try {
    links = ip(['-o', 'link', 'show', 'type', 'bridge']);
  } catch {
    return;
  }
  for (const match of links.matchAll(/\d+: (ackb([0-9a-z]+)):/g)) {
    if (!alive(Number.parseInt(match[2]!, 36))) tryIp(['link', 'del', match[1]!]);
  }
}

/** A /24 in 10.0.0.0/8 no interface or route here uses yet. */
function freeSubnet(): string {
  const used = `${ip(['-4', '-o', 'addr', 'show'])}\n${ip(['-4', 'route', 'show', 'table', 'all'])}`;
  for (let attempt = 0; attempt < 200; attempt++) {
    const second = 200 + Math.floor(Math.random() * 50);
    const third = Math.floor(Math.random() * 256);
    const subnet = `10.${second}.${third}`;
    if (!used.includes(`${subnet}.`)) return subnet;
  }
  throw new Error('no free 10.x.y.0/24 subnet found');
}

export class NetnsNetwork implements Network {
  readonly kind = 'netns';
  readonly description =
    'partitions: kernel isolation (each site in its own network namespace; blackhole/prohibit routes)';
  readonly relay: RelayClient;
  readonly #ids: readonly string[];
  readonly #subnet: string;
  readonly #tag: string;
  readonly #bridge: string;
  readonly #namespaces = new Map<string, string>();
  readonly #peers = new Map<string, HostPort>();
  /** Routes in place, per namespace: "type address". */
  readonly #routes = new Map<string, Set<string>>();
  #closed = false;
  readonly #exitHook = () => this.#teardown();

  private constructor(relay: RelayClient, ids: readonly string[]) {
    this.relay = relay;
    this.#ids = ids;
    this.#tag = process.pid.toString(36);
    this.#bridge = `ackb${this.#tag}`;
    this.#subnet = freeSubnet();
    ids.forEach((id) => {
      this.#namespaces.set(id, `${PREFIX}-${process.pid}-${id}`);
      this.#routes.set(id, new Set());
    });
  }

  /** Whether this process can build namespaces (root, iproute2, and the kernel lets it): the reason if not. */
  static unavailable(): string | undefined {
    if (process.getuid?.() !== 0) return 'not running as root';
    try {
      ip(['-V']);
    } catch {
      return 'the ip command (iproute2) is missing';
    }
    // Root in a container may still lack CAP_NET_ADMIN or bridge/veth support: try what a run needs.
    const probe = `${PREFIX}-${process.pid}-probe`;
    const bridge = `ackp${process.pid.toString(36)}`;
    try {
      ip(['netns', 'add', probe]);
      ip(['link', 'add', bridge, 'type', 'bridge']);
      ip(['link', 'add', `${bridge}a`, 'type', 'veth', 'peer', 'name', `${bridge}b`]);
      ip(['link', 'set', `${bridge}b`, 'netns', probe]);
    } catch (error) {
      return `cannot build namespaces here: ${String((error as { stderr?: string }).stderr ?? error).trim()}`;
    } finally {
      tryIp(['link', 'del', `${bridge}a`]);
      tryIp(['link', 'del', bridge]);
      tryIp(['netns', 'del', probe]);
    }
    return undefined;
  }

  static async create(relay: RelayClient, ids: readonly string[], _dir: string): Promise<NetnsNetwork> {
    const reason = NetnsNetwork.unavailable();
    if (reason !== undefined) throw new Error(`network namespaces unavailable: ${reason}`);
    removeStale();
    const network = new NetnsNetwork(relay, ids);
    process.on('exit', network.#exitHook);
    try {
      network.#build();
      const links = ids.flatMap((from) =>
        ids
          .filter((to) => to !== from)
          .map((to) => ({
            from,
            to,
            targetHost: network.#siteAddress(to),
            targetPort: SITE_PORT,
            listenHost: network.#front(to),
            localAddress: network.#back(from),
          })),
      );
      const ports = await relay.addLinks(links);
      links.forEach((link, index) => {
        network.#peers.set(linkName(link.from, link.to), { host: link.listenHost, port: ports[index]! });
      });
    } catch (error) {
      network.#teardown();
      throw error;
    }
    return network;
  }

  #index(id: string): number {
    return this.#ids.indexOf(id);
  }
  #siteAddress(id: string): string {
    return `${this.#subnet}.${10 + this.#index(id)}`;
  }
  #front(id: string): string {
    return `${this.#subnet}.${100 + this.#index(id)}`;
  }
  #back(id: string): string {
    return `${this.#subnet}.${150 + this.#index(id)}`;
  }

  #build(): void {
    const bridge = this.#bridge;
    ip(['link', 'add', bridge, 'type', 'bridge']);
    ip(['addr', 'add', `${this.#subnet}.1/24`, 'dev', bridge]);
    for (const id of this.#ids) {
      ip(['addr', 'add', `${this.#front(id)}/24`, 'dev', bridge]);
      ip(['addr', 'add', `${this.#back(id)}/24`, 'dev', bridge]);
    }
    ip(['link', 'set', bridge, 'up']);
    this.#ids.forEach((id, index) => {
      const ns = this.#namespaces.get(id)!;
      const host = `ack${this.#tag}${index}h`;
      const inside = `ack${this.#tag}${index}n`;
      ip(['netns', 'add', ns]);
      ip(['link', 'add', host, 'type', 'veth', 'peer', 'name', inside]);
      ip(['link', 'set', inside, 'netns', ns]);
      ip(['link', 'set', host, 'master', bridge]);
      ip(['link', 'set', host, 'up']);
      ip(['-n', ns, 'link', 'set', inside, 'name', 'eth0']);
      ip(['-n', ns, 'addr', 'add', `${this.#siteAddress(id)}/24`, 'dev', 'eth0']);
      ip(['-n', ns, 'link', 'set', 'eth0', 'up']);
      ip(['-n', ns, 'link', 'set', 'lo', 'up']);
    });
  }

  listen(site: string): HostPort {
    return { host: this.#siteAddress(site), port: SITE_PORT };
  }
  http(site: string): HostPort {
    return { host: this.#siteAddress(site), port: HTTP_PORT };
  }
  peer(from: string, to: string): HostPort {
    return this.#peers.get(linkName(from, to))!;
  }
  command(site: string, command: string, args: readonly string[]) {
    return { command: 'ip', args: ['netns', 'exec', this.#namespaces.get(site)!, command, ...args] };
  }

  async partition(blocked: ReadonlySet<string>, mode: PartitionMode): Promise<void> {
    const type = mode === 'stall' ? 'blackhole' : 'prohibit';
    for (const from of this.#ids) {
      const ns = this.#namespaces.get(from)!;
      const wanted = new Set<string>();
      for (const to of this.#ids) {
        if (to === from || !blocked.has(linkName(from, to))) continue;
        wanted.add(`${type} ${this.#front(to)}`);
        wanted.add(`${type} ${this.#back(to)}`);
      }
      const current = this.#routes.get(from)!;
      for (const route of [...current]) {
        if (wanted.has(route)) continue;
        const [kind, address] = route.split(' ');
        ip(['-n', ns, 'route', 'del', kind!, `${address}/32`]);
        current.delete(route);
      }
      for (const route of wanted) {
        if (current.has(route)) continue;
        const [kind, address] = route.split(' ');
        ip(['-n', ns, 'route', 'add', kind!, `${address}/32`]);
        current.add(route);
      }
    }
  }

  #teardown(): void {
    if (this.#closed) return;
    this.#closed = true;
    process.off('exit', this.#exitHook);
    for (const ns of this.#namespaces.values()) tryIp(['netns', 'del', ns]);
    tryIp(['link', 'del', this.#bridge]);
  }

  async close(): Promise<void> {
    await this.relay.close();
    this.#teardown();
  }
}
