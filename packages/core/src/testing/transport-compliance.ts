/**
 * The transport compliance suite: every transport (the built-in ones and an integrator's own) runs it.
 * It registers vitest `describe`/`it` blocks; call it at the top level of a test file.
 *
 * @example
 * ```ts
 * import { transportComplianceTests } from '@ackord/core/testing';
 * transportComplianceTests('my transport', async () => myFixture());
 * ```
 */
import { describe, expect, it } from 'vitest';
import type { SiteId } from '../replica/types.js';
import type { SendOutcome, Transport, TransportHandlers } from '../transport.js';

/** What the suite needs from a transport: create sites that find each other, restart one, tear down. */
export interface TransportFixture {
  /** The largest frame `send` accepts; one byte more must give `tooLarge`. */
  readonly maxFrameBytes: number;
  /** Creates and starts one transport per site, in whatever order the transport needs. */
  start(
    sites: readonly SiteId[],
    handlers: (site: SiteId) => TransportHandlers,
  ): Promise<Map<SiteId, Transport>>;
  /** Closes `site`'s transport (if still open) and starts a new one for it at the same address. */
  restart(site: SiteId, handlers: TransportHandlers): Promise<Transport>;
  /** Closes every transport still open; idempotent. */
  close(): Promise<void>;
}

export type TransportFixtureFactory = () => TransportFixture | Promise<TransportFixture>;

export interface RecordedEvent {
  readonly kind: 'frame' | 'peerUp' | 'peerDown';
  readonly site: SiteId;
  readonly frame?: Uint8Array;
}

/** Handlers that record everything a site hears. */
export class EventRecorder {
  readonly events: RecordedEvent[] = [];
  readonly handlers: TransportHandlers = {
    frame: (site, frame) => this.events.push({ kind: 'frame', site, frame }),
    peerUp: (site) => this.events.push({ kind: 'peerUp', site }),
    peerDown: (site) => this.events.push({ kind: 'peerDown', site }),
  };

  count(kind: RecordedEvent['kind'], site: SiteId): number {
    return this.events.filter((event) => event.kind === kind && event.site === site).length;
  }

  frames(from: SiteId): Uint8Array[] {
    return this.events
      .filter((event) => event.kind === 'frame' && event.site === from)
      .map((event) => event.frame!);
  }
}

/** Polls `condition` until it holds, failing after `timeoutMs`. */
export async function waitFor(condition: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

/** Sends, retrying `backpressure` (the transport is allowed to push back on a burst). */
async function sendAll(transport: Transport, to: SiteId, frames: readonly Uint8Array[]): Promise<void> {
  for (const frame of frames) {
    let outcome: SendOutcome = transport.send(to, frame);
    for (let tries = 0; outcome === 'backpressure' && tries < 10_000; tries++) {
      await new Promise((resolve) => setTimeout(resolve, 1));
      outcome = transport.send(to, frame);
    }
    expect(outcome).toBe('queued');
  }
}

function pattern(length: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let index = 0; index < length; index++) bytes[index] = (index * 31 + seed) & 0xff;
  return bytes;
}

/** Counts what would keep the process alive (sockets, servers, timers), by resource type. */
function activeResources(): Map<string, number> {
  const counts = new Map<string, number>();
  for (const type of process.getActiveResourcesInfo()) counts.set(type, (counts.get(type) ?? 0) + 1);
  return counts;
}

function leaked(before: Map<string, number>): string[] {
  const after = activeResources();
  return [...after].filter(([type, count]) => count > (before.get(type) ?? 0)).map(([type]) => type);
}

export function transportComplianceTests(name: string, factory: TransportFixtureFactory): void {
  describe(`transport compliance: ${name}`, () => {
    async function connected(sites: readonly SiteId[] = ['a', 'b']) {
      const fixture = await factory();
      const recorders = new Map(sites.map((site) => [site, new EventRecorder()]));
      const transports = await fixture.start(sites, (site) => recorders.get(site)!.handlers);
      for (const site of sites)
        await waitFor(
          () => sites.every((other) => other === site || transports.get(site)!.connectedPeers().has(other)),
          `${site} connected to every other site`,
        );
      return { fixture, recorders, transports, at: (site: SiteId) => transports.get(site)! };
    }

    it('connects and reports peer-up on both sides, once', async () => {
      const { fixture, recorders, at } = await connected(['a', 'b', 'c']);
      try {
        for (const [site, recorder] of recorders)
          for (const other of recorders.keys())
            if (other !== site) expect(recorder.count('peerUp', other), `${site} hears ${other} up`).toBe(1);
        expect([...at('a').connectedPeers()].sort()).toEqual(['b', 'c']);
        expect(at('b').siteId).toBe('b');
      } finally {
        await fixture.close();
      }
    });

    it('round-trips empty, 1-byte, 64 KiB and maximum-size frames byte-exact', async () => {
      const { fixture, recorders, at } = await connected();
      try {
        const sizes = [0, 1, 64 * 1024, fixture.maxFrameBytes];
        const frames = sizes.map((size, index) => pattern(size, index));
        await sendAll(at('a'), 'b', frames);
        await sendAll(at('b'), 'a', frames);
        await waitFor(() => recorders.get('b')!.frames('a').length === frames.length, 'frames at b', 20_000);
        await waitFor(() => recorders.get('a')!.frames('b').length === frames.length, 'frames at a', 20_000);
        for (const received of [recorders.get('b')!.frames('a'), recorders.get('a')!.frames('b')])
          received.forEach((frame, index) => {
            expect(frame.length).toBe(sizes[index]);
            expect(Buffer.from(frame).equals(Buffer.from(frames[index]!))).toBe(true);
          });
      } finally {
        await fixture.close();
      }
    });

    it('delivers 10,000 small frames in order', async () => {
      const { fixture, recorders, at } = await connected();
      try {
        const count = 10_000;
        const frames = Array.from({ length: count }, (_, index) =>
          Uint8Array.of(index >> 8, index & 0xff, 7),
        );
        await sendAll(at('a'), 'b', frames);
        await waitFor(() => recorders.get('b')!.frames('a').length === count, 'all frames', 20_000);
        const order = recorders
          .get('b')!
          .frames('a')
          .map((frame) => (frame[0]! << 8) | frame[1]!);
        expect(order).toEqual(frames.map((_, index) => index));
      } finally {
        await fixture.close();
      }
    });

    it('refuses an oversize frame with tooLarge and stays usable', async () => {
      const { fixture, recorders, at } = await connected();
      try {
        expect(at('a').send('b', new Uint8Array(fixture.maxFrameBytes + 1))).toBe('tooLarge');
        await sendAll(at('a'), 'b', [Uint8Array.of(42)]);
        await waitFor(() => recorders.get('b')!.frames('a').length === 1, 'the next frame');
        expect([...recorders.get('b')!.frames('a')[0]!]).toEqual([42]);
        expect(at('a').connectedPeers().has('b')).toBe(true);
      } finally {
        await fixture.close();
      }
    });

    it('reports peerDown for a site that is not connected', async () => {
      const { fixture, at } = await connected();
      try {
        expect(at('a').send('nobody', Uint8Array.of(1))).toBe('peerDown');
        await at('b').close();
        await waitFor(() => !at('a').connectedPeers().has('b'), 'b down at a');
        expect(at('a').send('b', Uint8Array.of(1))).toBe('peerDown');
        expect(at('b').send('a', Uint8Array.of(1))).toBe('peerDown');
      } finally {
        await fixture.close();
      }
    });

    it('reports exactly one peer-down when the remote closes', async () => {
      const { fixture, recorders, at } = await connected();
      try {
        await at('b').close();
        await waitFor(() => recorders.get('a')!.count('peerDown', 'b') >= 1, 'peer-down at a');
        await new Promise((resolve) => setTimeout(resolve, 100));
        expect(recorders.get('a')!.count('peerDown', 'b')).toBe(1);
        expect(at('a').connectedPeers().has('b')).toBe(false);
      } finally {
        await fixture.close();
      }
    });

    it('close() is idempotent, also when called concurrently', async () => {
      const { fixture, at } = await connected();
      try {
        await Promise.all([at('a').close(), at('a').close()]);
        await at('a').close();
        expect(at('a').connectedPeers().size).toBe(0);
      } finally {
        await fixture.close();
        await fixture.close();
      }
    });

    it('reconnects after a drop, and frames flow again', async () => {
      const { fixture, recorders, at } = await connected();
      try {
        const newB = new EventRecorder();
        const restarted = await fixture.restart('b', newB.handlers);
        await waitFor(() => recorders.get('a')!.count('peerDown', 'b') === 1, 'b down at a');
        await waitFor(
          () => at('a').connectedPeers().has('b') && restarted.connectedPeers().has('a'),
          'reconnected',
        );
        expect(recorders.get('a')!.count('peerUp', 'b')).toBe(2);
        await sendAll(at('a'), 'b', [Uint8Array.of(9)]);
        await sendAll(restarted, 'a', [Uint8Array.of(8)]);
        await waitFor(
          () => newB.frames('a').length === 1 && recorders.get('a')!.frames('b').length === 1,
          'frames',
        );
      } finally {
        await fixture.close();
      }
    });

    it('leaves no handles behind after close', async () => {
      const before = activeResources();
      const { fixture, at } = await connected(['a', 'b', 'c']);
      await sendAll(at('a'), 'b', [Uint8Array.of(1)]);
      await fixture.close();
      await waitFor(() => leaked(before).length === 0, 'handles to be released', 2_000).catch(
        () => undefined,
      );
      expect(leaked(before)).toEqual([]);
    });
  });
}
