/**
 * The socket-level abuse suite (TESTPLAN H4, P16–P18) against the live TCP listeners of a running
 * 3-process cluster whose master commits in a loop throughout. Every attack must end in a typed error
 * the site reports and a closed connection; every process stays up, its RSS grows by less than 64 MiB,
 * the master's commits keep being acknowledged, and nothing a peer sends before it is authenticated is
 * ever delivered.
 *
 * The group has a fourth configured site, `_view` (a view, so no ack policy counts it), with no address:
 * its id sorts below every real site's, so it is the one that dials them. The attackers claim to be
 * `_view` — without the secret, from another cluster, with replayed bytes — and the insider attacks
 * (an oversize length prefix, a malformed frame, a peer that never reads) hold the secret and are it.
 */
import { randomBytes } from 'node:crypto';
import { encodeMessage, HANDSHAKE_ERROR_REASONS, Handshake } from '@ackord/core';
import { encodeTcpFrame } from '@ackord/transport-tcp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProcCluster, type SiteProcess, TEST_SECRET, waitUntil } from '../cluster-proc/driver.js';
import type { SiteEvent, SiteStats } from '../cluster-proc/protocol.js';
import {
  HANDSHAKE_OK_FRAME,
  halfOpen,
  markerFrame,
  RawConnection,
  readMessages,
  runHandshake,
  trickle,
} from './attacker.js';

const CLUSTER_ID = 'abuse-cluster';
const INSIDER = '_view';
const HANDSHAKE_TIMEOUT_MS = 1_000;
const MAX_UNAUTHENTICATED = 32;
const SEND_QUEUE_BYTES = 4 * 1024 * 1024;
const LOOP_VALUE_BYTES = 16 * 1024;
const RSS_GROWTH_LIMIT = 64 * 1024 * 1024;
/** After every attack the master must acknowledge at least this many more loop commits. */
const COMMITS_AFTER = 20;
const CAP_REFUSAL = 'connection refused: too many unauthenticated';

const SITE_ARGS = [
  ...['--cluster-id', CLUSTER_ID, '--durability', 'write', '--ack-timeout-ms', '5000'],
  ...['--handshake-timeout-ms', String(HANDSHAKE_TIMEOUT_MS)],
  ...['--max-unauthenticated', String(MAX_UNAUTHENTICATED)],
  ...['--send-queue-bytes', String(SEND_QUEUE_BYTES), '--reconnect-max-ms', '200'],
];

const insider = { siteId: INSIDER, clusterId: CLUSTER_ID, secret: TEST_SECRET };

interface Row {
  attack: string;
  target: string;
  ms: number;
  commitsDuring: number;
  maxRssGrowthMiB: number;
  detail: string;
}

describe('abuse: hostile connections against a live 3-process TCP cluster', () => {
  let cluster: ProcCluster;
  let master: SiteProcess;
  const baselineRss = new Map<string, number>();
  const rows: Row[] = [];

  beforeAll(async () => {
    cluster = await ProcCluster.start({ transport: 'tcp', views: [INSIDER], args: SITE_ARGS });
    master = cluster.master;
    await cluster.waitConnected();
    await master.request({ cmd: 'startLoop', policy: 'quorum', valueBytes: LOOP_VALUE_BYTES });
    // Warm up (the JIT, the log's buffers, the state machine at its full key count) before measuring.
    await waitUntil(
      async () => (await master.stats()).loop.acknowledged >= 600,
      'the loop warmed up',
      30_000,
    );
    for (const id of cluster.ids) baselineRss.set(id, (await cluster.site(id).stats()).rss);
  }, 60_000);

  afterAll(async () => {
    if (rows.length > 0) console.table(rows);
    await cluster?.close();
  });

  function port(id: string): number {
    return cluster.ports.get(id)!;
  }

  /** The first event from `site` after index `since` that matches, waiting for it if need be. */
  function eventAfter(
    site: SiteProcess,
    since: number,
    predicate: (event: SiteEvent) => boolean,
    what: string,
  ) {
    return site.waitForEvent(predicate, what, 5_000, since);
  }

  function handshakeErrorAfter(site: SiteProcess, since: number, reason: string) {
    return eventAfter(
      site,
      since,
      (event) => event.event === 'handshakeError' && event.reason === reason,
      `${site.id} reports a ${reason} handshake error`,
    ) as Promise<Extract<SiteEvent, { event: 'handshakeError' }>>;
  }

  /**
   * Runs one attack and then checks what must hold after any attack: every site up and answering, RSS
   * within bounds of its baseline, no stranger's or attacker's frame delivered, frames attributed to
   * the insider only when `insiderFrames` says so, and the master still acknowledging every commit.
   */
  async function underAttack(
    attack: string,
    target: SiteProcess,
    run: () => Promise<string | undefined>,
    options: { insiderFrames?: boolean } = {},
  ): Promise<void> {
    const before = new Map<string, SiteStats>();
    for (const site of cluster.clients.concat(master)) before.set(site.id, await site.stats());
    const startedAt = Date.now();
    const detail = (await run()) ?? '';
    const ms = Date.now() - startedAt;
    const commitsDuring = (await master.stats()).loop.acknowledged - before.get(master.id)!.loop.acknowledged;
    await waitUntil(
      async () =>
        (await master.stats()).loop.acknowledged >=
        before.get(master.id)!.loop.acknowledged + commitsDuring + COMMITS_AFTER,
      `the master to keep acknowledging commits after ${attack}`,
      15_000,
    );
    let maxGrowth = 0;
    for (const site of cluster.clients.concat(master)) {
      expect(site.alive, `${site.id} is still running after ${attack}`).toBe(true);
      const stats = await site.stats();
      expect(stats.pid).toBe(before.get(site.id)!.pid);
      const growth = stats.rss - baselineRss.get(site.id)!;
      maxGrowth = Math.max(maxGrowth, growth);
      expect(growth, `${site.id} RSS growth after ${attack}`).toBeLessThan(RSS_GROWTH_LIMIT);
      expect(stats.framesFromStrangers).toBe(0);
      expect(stats.attackFramesDelivered, `${site.id}: attacker frames delivered`).toBe(0);
      if (!options.insiderFrames)
        expect(stats.framesFrom[INSIDER] ?? 0).toBe(before.get(site.id)!.framesFrom[INSIDER] ?? 0);
    }
    const loop = (await master.stats()).loop;
    expect(loop).toMatchObject({ running: true, permFailed: 0, unknown: 0, errors: 0 });
    rows.push({
      attack,
      target: target.id,
      ms,
      commitsDuring,
      maxRssGrowthMiB: Math.round((maxGrowth / 1024 / 1024) * 10) / 10,
      detail,
    });
  }

  for (const target of ['a', 'c']) {
    it(`random garbage gets bad-magic and a closed connection (${target})`, async () => {
      const site = cluster.site(target);
      await underAttack('random garbage', site, async () => {
        const since = site.events.length;
        const connection = new RawConnection(port(target));
        await connection.connected;
        const garbage = randomBytes(64 * 1024);
        garbage[0] = 0; // never the handshake magic's first byte, so the reason is certain
        connection.write(garbage);
        connection.write(markerFrame('after garbage'));
        const error = await handshakeErrorAfter(site, since, 'bad-magic');
        expect(error).toMatchObject({ code: 'ERR_ACKORD_HANDSHAKE', remote: false });
        const { afterMs } = await connection.closed;
        return `bad-magic, closed after ${afterMs} ms`;
      });
    });

    it(`a 4 GiB length prefix is refused from the header (${target})`, async () => {
      const site = cluster.site(target);
      await underAttack('4 GiB length prefix', site, async () => {
        // As a replication frame's u32 prefix, before any handshake: not a handshake at all.
        const since = site.events.length;
        const raw = new RawConnection(port(target));
        await raw.connected;
        raw.write(Uint8Array.of(0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4));
        await handshakeErrorAfter(site, since, 'bad-magic');
        await raw.closed;
        // As a handshake frame claiming the largest body its u16 allows: refused from the 7-byte header,
        // while the body never comes.
        const oversize = new RawConnection(port(target));
        await oversize.connected;
        oversize.write(Uint8Array.of(0x41, 0x4b, 0x48, 0x53, 1, 0xff, 0xff));
        const error = await handshakeErrorAfter(site, since, 'oversize');
        expect(error.code).toBe('ERR_ACKORD_HANDSHAKE');
        await oversize.closed;
        return 'u32 prefix: bad-magic; u16 handshake length: oversize';
      });
    });

    it(`a wrong secret gets bad-proof and nothing it sent is delivered (${target})`, async () => {
      const site = cluster.site(target);
      await underAttack('wrong secret', site, async () => {
        const since = site.events.length;
        const run = await runHandshake(
          port(target),
          { ...insider, secret: 'not the cluster secret, but long enough' },
          { afterProof: [HANDSHAKE_OK_FRAME, markerFrame('after a wrong proof')] },
        );
        expect(run.outcome?.ok).toBe(false);
        const error = await handshakeErrorAfter(site, since, 'bad-proof');
        expect(error).toMatchObject({ code: 'ERR_ACKORD_HANDSHAKE', remote: false });
        await run.connection.closed;
        return 'bad-proof';
      });
    });

    it(`a wrong cluster id gets wrong-cluster and nothing it sent is delivered (${target})`, async () => {
      const site = cluster.site(target);
      await underAttack('wrong cluster id', site, async () => {
        const since = site.events.length;
        const run = await runHandshake(
          port(target),
          { ...insider, clusterId: 'another-cluster' },
          { afterHello: [HANDSHAKE_OK_FRAME, markerFrame('after a foreign hello')] },
        );
        expect(run.outcome?.ok).toBe(false);
        const error = await handshakeErrorAfter(site, since, 'wrong-cluster');
        expect(error).toMatchObject({ code: 'ERR_ACKORD_HANDSHAKE', remote: false });
        await run.connection.closed;
        return 'wrong-cluster';
      });
    });
  }

  it('a replayed handshake fails on the fresh nonce (bad-proof)', async () => {
    await underAttack('replayed handshake', master, async () => {
      // A real connection with the secret: capture every byte our side sent.
      const legit = await runHandshake(port('a'), insider);
      expect(legit.outcome).toEqual({ ok: true, peer: 'a' });
      expect(legit.sent).toHaveLength(3); // HELLO, PROOF, OK
      const gone = master.events.length;
      legit.connection.destroy();
      await eventAfter(
        master,
        gone,
        (event) => event.event === 'connectBroken' && event.site === INSIDER,
        'the master sees the legit connection go',
      );
      // The same bytes on a new connection, with a frame right behind them.
      const since = master.events.length;
      const replay = new RawConnection(port('a'));
      await replay.connected;
      replay.write(Buffer.concat([...legit.sent, markerFrame('after a replayed handshake')]));
      const error = await handshakeErrorAfter(master, since, 'bad-proof');
      expect(error).toMatchObject({ code: 'ERR_ACKORD_HANDSHAKE', remote: false });
      await replay.closed;
      expect(
        master.events.slice(since).some((event) => event.event === 'connectEstablished'),
        'the replay never comes up',
      ).toBe(false);
      return 'bad-proof';
    });
  });

  it('a byte-per-second trickle during the handshake times out', async () => {
    await underAttack('byte-per-second trickle', master, async () => {
      const since = master.events.length;
      const hello = new Handshake({
        role: 'initiator',
        clusterId: CLUSTER_ID,
        siteId: INSIDER,
        secret: TEST_SECRET,
        randomBytes: (size) => randomBytes(size),
      }).start().send[0]!;
      const connection = new RawConnection(port('a'));
      const written = await trickle(connection, hello, 1_000);
      const { afterMs } = await connection.closed;
      expect(written).toBeLessThan(hello.length);
      expect(afterMs).toBeLessThan(HANDSHAKE_TIMEOUT_MS + 2_000);
      const error = await handshakeErrorAfter(master, since, 'timeout');
      expect(error.code).toBe('ERR_ACKORD_HANDSHAKE');
      return `timeout after ${written} of ${hello.length} bytes, closed at ${afterMs} ms`;
    });
  });

  it('1,000 half-open sockets: the cap refuses most at once, the timeout frees the rest', async () => {
    await underAttack('1,000 half-open sockets', master, async () => {
      const before = await master.stats();
      const connections = await halfOpen(port('a'), 1_000);
      let detail: string;
      try {
        const closings = await Promise.all(connections.map((connection) => connection.closed));
        const refusedAtOnce = closings.filter(({ afterMs }) => afterMs < HANDSHAKE_TIMEOUT_MS / 2).length;
        const after = await master.stats();
        const refusals = (after.warnings[CAP_REFUSAL] ?? 0) - (before.warnings[CAP_REFUSAL] ?? 0);
        const timeouts = (after.handshakeErrors.timeout ?? 0) - (before.handshakeErrors.timeout ?? 0);
        // Every socket is accounted for: refused by the cap, or admitted and then timed out.
        expect(refusals + timeouts).toBe(1_000);
        expect(timeouts).toBeGreaterThanOrEqual(1);
        expect(refusals).toBeGreaterThanOrEqual(1_000 - 4 * MAX_UNAUTHENTICATED);
        const lastMs = Math.max(...closings.map(({ afterMs }) => afterMs));
        expect(lastMs).toBeLessThan(HANDSHAKE_TIMEOUT_MS + 5_000);
        detail = `${refusals} refused by the cap, ${timeouts} timed out; ${refusedAtOnce} closed in under ${HANDSHAKE_TIMEOUT_MS / 2} ms, all by ${lastMs} ms`;
      } finally {
        for (const connection of connections) connection.destroy();
      }
      // The slots are free again: a peer with the secret gets in.
      const legit = await runHandshake(port('a'), insider);
      expect(legit.outcome).toEqual({ ok: true, peer: 'a' });
      legit.connection.destroy();
      return detail;
    });
  });

  it('an authenticated peer’s malformed frame is dropped with a typed reason; the connection stays', async () => {
    await underAttack(
      'malformed frame from an authenticated peer',
      master,
      async () => {
        const since = master.events.length;
        const run = await runHandshake(port('a'), insider);
        expect(run.outcome?.ok).toBe(true);
        try {
          const garbage = randomBytes(1024);
          garbage[0] = 0;
          run.connection.write(encodeTcpFrame(garbage));
          const bad = (await eventAfter(
            master,
            since,
            (event) => event.event === 'badMessage' && event.from === INSIDER,
            'the master reports the bad frame',
          )) as Extract<SiteEvent, { event: 'badMessage' }>;
          expect(bad.reason).toMatch(/protocol error \(bad-magic\)/);
          expect(run.connection.isClosed).toBe(false);
          expect((await master.stats()).connected).toContain(INSIDER);
          return `badMessage: ${bad.reason.slice(0, 40)}…`;
        } finally {
          run.connection.destroy();
        }
      },
      { insiderFrames: true },
    );
  });

  it('an authenticated peer’s 4 GiB length prefix closes its connection from the header', async () => {
    await underAttack('post-handshake 4 GiB length prefix', master, async () => {
      const run = await runHandshake(port('a'), insider);
      expect(run.outcome?.ok).toBe(true);
      await waitUntil(async () => (await master.stats()).connected.includes(INSIDER), 'the insider up');
      const since = master.events.length;
      run.connection.write(Uint8Array.of(0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4));
      const { afterMs } = await run.connection.closed;
      expect(afterMs).toBeLessThan(5_000);
      const error = (await eventAfter(
        master,
        since,
        (event) => event.event === 'connectionError',
        'the master reports a connection error',
      )) as Extract<SiteEvent, { event: 'connectionError' }>;
      expect(error).toMatchObject({ code: 'ERR_ACKORD_CONNECTION', reason: 'frame-too-large' });
      await eventAfter(
        master,
        since,
        (event) => event.event === 'connectBroken' && event.site === INSIDER,
        'the master drops the insider',
      );
      return `${error.reason}, closed after ${afterMs} ms`;
    });
  });

  it('a peer that never reads: the master’s per-peer queue stays bounded and commits go on', async () => {
    await underAttack(
      'authenticated peer that never reads',
      master,
      async () => {
        const before = await master.stats();
        const run = await runHandshake(port('a'), insider);
        expect(run.outcome?.ok).toBe(true);
        try {
          // Behave like a client just long enough to be sent every live record: learn where the
          // master's log ends and ask to sync from exactly there, then stop reading.
          const announced = await readMessages(
            run.connection,
            run.rest,
            (message) => message.type === 'newMaster',
          );
          if (announced.type !== 'newMaster') throw new Error('expected newMaster');
          run.connection.write(
            encodeTcpFrame(
              encodeMessage({
                type: 'syncRequest',
                generation: announced.generation,
                lastLsn: 0,
                lastGeneration: announced.generation,
                nextLsn: announced.nextLsn,
              }),
            ),
          );
          run.connection.socket.pause();
          await waitUntil(
            async () => (await master.stats()).sendsRefused.backpressure > before.sendsRefused.backpressure,
            'the master to push back on the peer that never reads',
            20_000,
          );
          // Keep it stuck while the loop writes as much again as the queue holds.
          const stuckAt = (await master.stats()).loop.acknowledged;
          await waitUntil(
            async () =>
              (await master.stats()).loop.acknowledged >= stuckAt + SEND_QUEUE_BYTES / LOOP_VALUE_BYTES,
            'commits while the peer is stuck',
            20_000,
          );
          const stuck = await master.stats();
          expect(stuck.connected).toContain(INSIDER);
          expect(stuck.sendsRefused.backpressure).toBeGreaterThan(before.sendsRefused.backpressure);
          expect(stuck.rss - baselineRss.get('a')!).toBeLessThan(RSS_GROWTH_LIMIT);
          const refused = stuck.sendsRefused.backpressure - before.sendsRefused.backpressure;
          return `${refused} sends refused with backpressure (queue ${SEND_QUEUE_BYTES / 1024 / 1024} MiB)`;
        } finally {
          run.connection.destroy();
        }
      },
      { insiderFrames: true },
    );
  });

  it('every handshake error the sites reported carries a documented reason', async () => {
    for (const site of cluster.clients.concat(master)) {
      const stats = await site.stats();
      for (const reason of Object.keys(stats.handshakeErrors))
        expect(HANDSHAKE_ERROR_REASONS as readonly string[]).toContain(reason);
      expect(site.events.some((event) => event.event === 'fatal')).toBe(false);
    }
    // The real peers never lost each other.
    expect((await master.stats()).connected).toEqual(expect.arrayContaining(['b', 'c']));
  });
});
