/**
 * `kv cluster` flags: its own (--sites, --base-port, --data) plus the node flags every site gets. The
 * per-site flags (--id, --listen, --http, --peer…) are the launcher's to set. Each site's whole flag set
 * is validated here, so a bad value is reported once, before anything starts.
 */
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { NODE_FLAGS, type NodeOptions, type RawNodeFlags, validateNodeFlags } from './node-options.js';
import { formatIssues, UsageError } from './usage-error.js';

/** Site ids a, b, c, …: a local cluster of more than nine sites is a typo. */
export const MAX_CLUSTER_SITES = 9;
export const DEFAULT_BASE_PORT = 7400;
/** HTTP ports sit this far above the transport ports. */
export const HTTP_PORT_OFFSET = 100;
export const DEFAULT_CLUSTER_DATA = path.join(tmpdir(), 'ackord-kv-cluster');

const PER_SITE_FLAGS = ['id', 'listen', 'http', 'data', 'peer', 'peer-http', 'peer-priority'] as const;
const SHARED_FLAGS = Object.fromEntries(
  Object.entries(NODE_FLAGS).filter(([name]) => !(PER_SITE_FLAGS as readonly string[]).includes(name)),
) as Omit<typeof NODE_FLAGS, (typeof PER_SITE_FLAGS)[number]>;

const wholeNumber = (min: number, max: number) =>
  z
    .string()
    .regex(/^\d+$/, 'expected a whole number')
    .transform(Number)
    .pipe(z.number().int().min(min).max(max));

const schema = z.object({
  sites: wholeNumber(1, MAX_CLUSTER_SITES).default(3),
  'base-port': wholeNumber(1, 65_535 - HTTP_PORT_OFFSET - MAX_CLUSTER_SITES).default(DEFAULT_BASE_PORT),
  data: z.string().min(1).default(DEFAULT_CLUSTER_DATA),
});

export interface ClusterSite {
  readonly id: string;
  /** The `kv node` flags for this site. */
  readonly flags: readonly string[];
  readonly options: NodeOptions;
}

export interface ClusterPlan {
  readonly dataDir: string;
  readonly sites: readonly ClusterSite[];
}

export function siteIdAt(index: number): string {
  return String.fromCharCode('a'.charCodeAt(0) + index);
}

export function parseClusterArgs(argv: readonly string[]): ClusterPlan {
  let values: Record<string, string | string[] | undefined>;
  try {
    values = parseArgs({
      args: [...argv],
      options: {
        sites: { type: 'string' },
        'base-port': { type: 'string' },
        data: { type: 'string' },
        ...SHARED_FLAGS,
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (error) {
    throw new UsageError(`kv cluster: ${(error as Error).message}`);
  }
  const { sites: siteCount, 'base-port': basePort, data, ...rest } = values;
  const parsed = schema.safeParse({ sites: siteCount, 'base-port': basePort, data });
  if (!parsed.success)
    throw new UsageError(`kv cluster: invalid options:\n${formatIssues(parsed.error.issues)}`);
  const { sites: count, 'base-port': base } = parsed.data;
  const dataDir = path.resolve(parsed.data.data);
  const shared = rest as RawNodeFlags;
  const ids = Array.from({ length: count }, (_, index) => siteIdAt(index));
  const address = (index: number, offset: number) => `127.0.0.1:${base + offset + index}`;
  const sites = ids.map((id, index): ClusterSite => {
    const others = ids
      .map((other, otherIndex) => ({ other, otherIndex }))
      .filter(({ other }) => other !== id);
    const raw: RawNodeFlags = {
      ...shared,
      id,
      listen: address(index, 0),
      http: address(index, HTTP_PORT_OFFSET),
      data: path.join(dataDir, id),
      peer: others.map(({ other, otherIndex }) => `${other}=${address(otherIndex, 0)}`),
      'peer-http': others.map(({ other, otherIndex }) => `${other}=${address(otherIndex, HTTP_PORT_OFFSET)}`),
    };
    // Every site runs with the same --priority, so it counts its peers with that priority too.
    if (shared.priority !== undefined)
      raw['peer-priority'] = others.map(({ other }) => `${other}=${String(shared.priority)}`);
    return { id, flags: toFlags(raw), options: validateNodeFlags(raw) };
  });
  return { dataDir, sites };
}

/** Flags by name back to an argv. */
function toFlags(raw: RawNodeFlags): string[] {
  const flags: string[] = [];
  for (const [name, value] of Object.entries(raw)) {
    if (value === undefined) continue;
    for (const one of Array.isArray(value) ? value : [value]) flags.push(`--${name}`, one);
  }
  return flags;
}
