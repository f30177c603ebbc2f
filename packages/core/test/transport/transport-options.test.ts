/** The shared option rules: defaults, bounds, and the peer rules every transport enforces. */
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  checkPeers,
  livenessSchema,
  peerAddressShape,
  TRANSPORT_MAX_FRAME_BYTES_LIMIT,
  transportOptionsShape,
  transportTlsSchema,
} from '../../src/transport/index.js';

const schema = z
  .object({ ...transportOptionsShape, peers: z.array(z.object(peerAddressShape).strict()) })
  .strict()
  .superRefine(checkPeers);

const base = { siteId: 'b', clusterId: 'cluster', secret: 'sixteen bytes ok', peers: [] };

function issues(input: unknown): string[] {
  const result = schema.safeParse(input);
  return result.success
    ? []
    : result.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
}

describe('shared transport options', () => {
  it('fills the documented defaults', () => {
    const parsed = schema.parse(base);
    expect(parsed.maxFrameBytes).toBe(16 * 1024 * 1024);
    expect(parsed.sendQueueBytes).toBe(32 * 1024 * 1024);
    expect(parsed.handshakeTimeoutMs).toBe(5_000);
    expect(parsed.maxUnauthenticated).toBe(64);
    expect(parsed.reconnect).toEqual({ minMs: 100, maxMs: 10_000 });
  });

  it('enforces the peer rules: not itself, no duplicates, an address for each id it dials', () => {
    expect(issues({ ...base, peers: [{ id: 'a' }, { id: 'c', host: 'c.internal', port: 1 }] })).toEqual([]);
    expect(issues({ ...base, peers: [{ id: 'b' }] })).toEqual(['peers.0.id: a site is not its own peer']);
    expect(issues({ ...base, peers: [{ id: 'a' }, { id: 'a' }] })).toEqual([
      'peers.1.id: a peer is listed twice',
    ]);
    expect(issues({ ...base, peers: [{ id: 'c', host: 'c.internal' }] })).toEqual([
      'peers.0: host and port are required: this site dials peers whose id sorts above its own',
    ]);
  });

  it('refuses a short secret, a frame limit past the cap, inverted reconnect bounds, unknown keys', () => {
    expect(issues({ ...base, secret: 'short' })).toHaveLength(1);
    expect(issues({ ...base, secret: new Uint8Array(15) })).toHaveLength(1);
    expect(issues({ ...base, maxFrameBytes: TRANSPORT_MAX_FRAME_BYTES_LIMIT + 1 })).toHaveLength(1);
    expect(issues({ ...base, reconnect: { minMs: 10, maxMs: 5 } })).toEqual([
      'reconnect: minMs must not exceed maxMs',
    ]);
    expect(issues({ ...base, typo: 1 })).toHaveLength(1);
  });

  it('takes TLS material as PEM text or bytes, and one CA or several', () => {
    expect(transportTlsSchema.safeParse({ ca: 'pem', cert: 'pem', key: 'pem' }).success).toBe(true);
    expect(
      transportTlsSchema.safeParse({ ca: ['a', Buffer.from('b')], cert: Buffer.from('c'), key: 'k' }).success,
    ).toBe(true);
    expect(transportTlsSchema.safeParse({ ca: [], cert: 'c', key: 'k' }).success).toBe(false);
    expect(transportTlsSchema.safeParse({ ca: 'a', cert: '', key: 'k' }).success).toBe(false);
    expect(transportTlsSchema.safeParse({ ca: 'a', cert: 'c' }).success).toBe(false);
  });

  it('fills liveness defaults and wants the timeout above the given number of intervals', () => {
    const twice = livenessSchema({ intervalMs: 1_000, timeoutMs: 5_000 }, 2);
    expect(twice.parse(undefined)).toEqual({ intervalMs: 1_000, timeoutMs: 5_000 });
    expect(twice.parse({ intervalMs: 100 })).toEqual({ intervalMs: 100, timeoutMs: 5_000 });
    expect(twice.safeParse({ intervalMs: 100, timeoutMs: 201 }).success).toBe(true);
    const refused = twice.safeParse({ intervalMs: 100, timeoutMs: 200 });
    expect(refused.success ? [] : refused.error.issues.map((issue) => issue.message)).toEqual([
      'timeoutMs must exceed 2 × intervalMs',
    ]);
    const once = livenessSchema({ intervalMs: 5_000, timeoutMs: 15_000 }, 1);
    expect(once.safeParse({ intervalMs: 100, timeoutMs: 101 }).success).toBe(true);
    const equal = once.safeParse({ intervalMs: 100, timeoutMs: 100 });
    expect(equal.success ? [] : equal.error.issues.map((issue) => issue.message)).toEqual([
      'timeoutMs must exceed intervalMs',
    ]);
    expect(twice.safeParse({ intervalMs: 5, timeoutMs: 100 }).success).toBe(false);
    expect(twice.safeParse({ intervalMs: 100, timeoutMs: 500, typo: 1 }).success).toBe(false);
  });
});
