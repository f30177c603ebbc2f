/**
 * The socket-level abuse suite (TESTPLAN H4, P16–P18) against the live listeners of a running 3-process
 * cluster whose master commits in a loop throughout, over TCP and over WebSocket. Every attack must end
 * in a typed error the site reports and a closed connection; every process stays up, its RSS grows by
 * less than 64 MiB, the master's commits keep being acknowledged, and nothing a peer sends before it is
 * authenticated is ever delivered.
 *
 * The group has a fourth configured site, `_view` (a view, so no ack policy counts it), with no address:
 * its id sorts below every real site's, so it is the one that dials them. The attackers claim to be
 * `_view` — without the secret, from another cluster, with replayed bytes — and the insider attacks
 * (an oversize length prefix, a malformed frame, a peer that never reads) hold the secret and are it.
 *
 * Every verdict is checked through the typed events the sites report (handshakeError, connectionError,
 * forwarded by site.ts), never through log text.
 */
import { randomBytes } from 'node:crypto';
import {
  CONNECTION_ERROR_REASONS,
  encodeMessage,
  HANDSHAKE_ERROR_REASONS,
  Handshake,
  TRANSPORT_MAX_FRAME_BYTES_DEFAULT,
} from '@ackord/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProcCluster, SiteProcess, TEST_SECRET, waitUntil } from '../cluster-proc/driver.js';
import type { SiteEvent, SiteStats, TransportKind } from '../cluster-proc/protocol.js';
import {
  HANDSHAKE_OK_FRAME,
  halfOpen,
  markerFrame,
  RawConnection,
  readMessages,
  runHandshake,
  trickle,
  WIRES,
} from './attacker.js';

const TRANSPORTS: readonly TransportKind[] = ['tcp', 'ws'];

const CLUSTER_ID = 'abuse-cluster';
const INSIDER = '_view';
const HANDSHAKE_TIMEOUT_MS = 1_000;
const MAX_UNAUTHENTICATED = 32;
/**
 * A production-sized per-peer queue: one default maximum frame (16 MiB), a quarter of the transports'
 * default. Liveness, not a tiny queue, is what ends a peer that never reads. (With the full 64 MiB
 * default, the master's loop can queue all of it within the liveness timeout, and the queue alone would
 * take a site past P18's 64 MiB.)
 */
const SEND_QUEUE_BYTES = TRANSPORT_MAX_FRAME_BYTES_DEFAULT;
/** The loop's values: small, so the logs stay small (the loop runs at hundreds of commits a second). */
const LOOP_VALUE_BYTES = 2 * 1024;
/** While a peer never reads, bigger values, so the master has plenty to push at it. */
const FLOOD_VALUE_BYTES = 16 * 1024;
const FLOOD_KEYS = 16;
/**
 * Liveness on both transports (TCP heartbeat, WebSocket ping): a keepalive or ping every interval; a
 * peer heard from not at all, or reading nothing, for the timeout is closed as unresponsive.
 */
const LIVENESS_INTERVAL_MS = 250;
const LIVENESS_TIMEOUT_MS = 4_000;
/** P18: what one attack may add to a site's RSS. */
const RSS_GROWTH_LIMIT = 64 * 1024 * 1024;
const MiB = 1024 * 1024;
/** After every attack the master must acknowledge at least this many more loop commits. */
const COMMITS_AFTER = 20;
/** A handshake frame header ("AKHS", HELLO) claiming the largest body its u16 length allows. */
const OVERSIZE_HANDSHAKE_HEADER = Uint8Array.of(0x41, 0x4b, 0x48, 0x53, 1, 0xff, 0xff);

const SITE_ARGS = [
  ...['--cluster-id', CLUSTER_ID, '--durability', 'write', '--ack-timeout-ms', '5000'],
  ...['--handshake-timeout-ms', String(HANDSHAKE_TIMEOUT_MS)],
  ...['--max-unauthenticated', String(MAX_UNAUTHENTICATED)],
  ...['--send-queue-bytes', String(SEND_QUEUE_BYTES), '--reconnect-max-ms', '200'],
  ...['--heartbeat-interval-ms', String(LIVENESS_INTERVAL_MS)],
  ...['--heartbeat-timeout-ms', String(LIVENESS_TIMEOUT_MS)],
];

const insider = { siteId: INSIDER, clusterId: CLUSTER_ID, secret: TEST_SECRET };

type TypedErrorEvent = Extract<SiteEvent, { event: 'handshakeError' | 'connectionError' }>;

interface Row {
  transport: TransportKind;
  attack: string;
  target: string;
  ms: number;
  commitsDuring: number;
  /** The most any site's RSS grew during the attack (asserted below 64 MiB). */
  rssGrowthMiB: number;
  /** The most any site's RSS grew since the suite's baseline (reported only). */
  rssSinceStartMiB: number;
  detail: string;
}

const rows: Row[] = [];

afterAll(() => {
  if (rows.length > 0) console.table(rows);
});

describe.each(TRANSPORTS)('abuse: hostile connections against a live 3-process %s cluster', (transport) => {
  const wire = WIRES[transport];
  let cluster: ProcCluster;
  let master: SiteProcess;
  const baselineRss = new Map<string, number>();

  beforeAll(async () => {
    cluster = await ProcCluster.start({ transport, views: [INSIDER], args: SITE_ARGS });
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
    await cluster?.close();
    await SiteProcess.killAll();
  });

  function port(id: string): number {
    return cluster.ports.get(id)!;
  }

  /** Restarts the master's loop with other values (its counts carry over). */
  async function switchLoop(valueBytes: number, keys?: number): Promise<void> {
    await master.request({ cmd: 'stopLoop' });
    await master.request({
      cmd: 'startLoop',
      policy: 'quorum',
      valueBytes,
      ...(keys === undefined ? {} : { keys }),
    });
  }

  /** The first event from `site` after index `since` that matches, waiting for it if need be. */
  function eventAfter(
    site: SiteProcess,
    since: number,
    predicate: (event: SiteEvent) => boolean,
    what: string,
    timeoutMs = 5_000,
  ): Promise<SiteEvent> {
    return site.waitForEvent(predicate, what, timeoutMs, since);
  }

  /** A typed error (`handshakeError` or `connectionError`) with `reason` reported by `site` after `since`. */
  async function typedErrorAfter(
    site: SiteProcess,
    since: number,
    kind: TypedErrorEvent['event'],
    reason: string,
    timeoutMs = 5_000,
  ): Promise<TypedErrorEvent> {
    const event = (await eventAfter(
      site,
      since,
      (candidate) => candidate.event === kind && candidate.reason === reason,
      `${site.id} reports ${kind} ${reason}`,
      timeoutMs,
    )) as TypedErrorEvent;
    expect(event.code).toBe(kind === 'handshakeError' ? 'ERR_ACKORD_HANDSHAKE' : 'ERR_ACKORD_CONNECTION');
    if (event.event === 'handshakeError') expect(event.remote, 'refused by the site itself').toBe(false);
    return event;
  }

  /**
   * Runs one attack and then checks what must hold after any attack: every site up and answering, RSS
   * within bounds of its baseline, no stranger's or attacker's frame delivered, frames attributed to
   * the insider only when `insiderFrames` says so, and the master still acknowledging every commit.
   */
  async function underAttack(
    attack: string,
    target: SiteProcess,
    run: () => Promise<string>,
    options: { insiderFrames?: boolean } = {},
  ): Promise<void> {
    const sites = [master, ...cluster.clients];
    const before = new Map<string, SiteStats>();
    for (const site of sites) before.set(site.id, await site.stats());
    const acknowledgedBefore = before.get(master.id)!.loop.acknowledged;
    const startedAt = Date.now();
    const detail = await run();
    const ms = Date.now() - startedAt;
    const commitsDuring = (await master.stats()).loop.acknowledged - acknowledgedBefore;
    await waitUntil(
      async () =>
        (await master.stats()).loop.acknowledged >= acknowledgedBefore + commitsDuring + COMMITS_AFTER,
      `the master to keep acknowledging commits after ${attack}`,
      15_000,
    );
    let maxGrowth = 0;
    let maxSinceStart = 0;
    for (const site of sites) {
      expect(site.alive, `${site.id} is still running after ${attack}`).toBe(true);
      const stats = await site.stats();
      expect(stats.pid).toBe(before.get(site.id)!.pid);
      const growth = stats.rss - before.get(site.id)!.rss;
      maxGrowth = Math.max(maxGrowth, growth);
      maxSinceStart = Math.max(maxSinceStart, stats.rss - baselineRss.get(site.id)!);
      expect(growth, `${site.id} RSS growth during ${attack}`).toBeLessThan(RSS_GROWTH_LIMIT);
      expect(stats.framesFromStrangers).toBe(0);
      expect(stats.attackFramesDelivered, `${site.id}: attacker frames delivered`).toBe(0);
      if (!options.insiderFrames)
        expect(stats.framesFrom[INSIDER] ?? 0).toBe(before.get(site.id)!.framesFrom[INSIDER] ?? 0);
    }
    const loop = (await master.stats()).loop;
    expect(loop).toMatchObject({ running: true, permFailed: 0, unknown: 0, errors: 0 });
    rows.push({
      transport,
      attack,
      target: target.id,
      ms,
      commitsDuring,
      rssGrowthMiB: Math.round((maxGrowth / MiB) * 10) / 10,
      rssSinceStartMiB: Math.round((maxSinceStart / MiB) * 10) / 10,
      detail,
    });
  }

  for (const target of ['a', 'c']) {
    it(`random garbage on the stream: a typed error and a closed connection (${target})`, async () => {
      const site = cluster.site(target);
      await underAttack('random garbage', site, async () => {
        const since = site.events.length;
        const connection = await wire.open(port(target));
        const garbage = randomBytes(2048);
        // The first byte fixes the reason: never the handshake magic's (TCP); an invalid opcode (WS).
        garbage[0] = transport === 'tcp' ? 0 : 0x8f;
        connection.write(garbage);
        connection.write(markerFrame(wire, 'after garbage'));
        const error =
          transport === 'tcp'
            ? await typedErrorAfter(site, since, 'handshakeError', 'bad-magic')
            : await typedErrorAfter(site, since, 'connectionError', 'websocket-protocol');
        const { afterMs } = await connection.closed;
        return `${error.reason}, closed after ${afterMs} ms`;
      });
    });

    it(`a 4 GiB length prefix is refused from the header (${target})`, async () => {
      const site = cluster.site(target);
      await underAttack('4 GiB length prefix', site, async () => {
        // The transport's own length header, before any handshake; the body never comes.
        const since = site.events.length;
        const frameHeader = await wire.open(port(target));
        frameHeader.write(wire.header(0xffff_ffff));
        const first =
          transport === 'tcp'
            ? await typedErrorAfter(site, since, 'handshakeError', 'bad-magic')
            : await typedErrorAfter(site, since, 'connectionError', 'frame-too-large');
        await frameHeader.closed;
        // A handshake frame claiming the largest body its u16 allows: refused from its 7-byte header.
        const handshakeHeader = await wire.open(port(target));
        handshakeHeader.write(wire.handshake(OVERSIZE_HANDSHAKE_HEADER));
        const second = await typedErrorAfter(site, since, 'handshakeError', 'oversize');
        await handshakeHeader.closed;
        return `frame header: ${first.reason}; handshake header: ${second.reason}`;
      });
    });

    it(`a wrong secret gets bad-proof and nothing it sent is delivered (${target})`, async () => {
      const site = cluster.site(target);
      await underAttack('wrong secret', site, async () => {
        const since = site.events.length;
        const run = await runHandshake(
          wire,
          port(target),
          { ...insider, secret: 'not the cluster secret, but long enough' },
          { afterProof: [wire.handshake(HANDSHAKE_OK_FRAME), markerFrame(wire, 'after a wrong proof')] },
        );
        // Refused (the site's REFUSE read), or closed before the attacker read it: the smuggled bytes
        // after the HELLO can reach a closed socket, whose reset discards the unread REFUSE. Either way
        // never authenticated; the site's typed error below is the verdict.
        expect(run.outcome?.ok).not.toBe(true);
        const error = await typedErrorAfter(site, since, 'handshakeError', 'bad-proof');
        await run.connection.closed;
        return error.reason;
      });
    });

    it(`a wrong cluster id gets wrong-cluster and nothing it sent is delivered (${target})`, async () => {
      const site = cluster.site(target);
      await underAttack('wrong cluster id', site, async () => {
        const since = site.events.length;
        const run = await runHandshake(
          wire,
          port(target),
          { ...insider, clusterId: 'another-cluster' },
          { afterHello: [wire.handshake(HANDSHAKE_OK_FRAME), markerFrame(wire, 'after a foreign hello')] },
        );
        // Refused (the site's REFUSE read), or closed before the attacker read it: the smuggled bytes
        // after the HELLO can reach a closed socket, whose reset discards the unread REFUSE. Either way
        // never authenticated; the site's typed error below is the verdict.
        expect(run.outcome?.ok).not.toBe(true);
        const error = await typedErrorAfter(site, since, 'handshakeError', 'wrong-cluster');
        await run.connection.closed;
        return error.reason;
      });
    });
  }

  if (transport === 'ws') {
    it('garbage instead of the HTTP upgrade: 400, a typed bad-http, and a closed connection', async () => {
      await underAttack('garbage instead of the HTTP upgrade', master, async () => {
        const since = master.events.length;
        const connection = new RawConnection(port('a'));
        await connection.connected;
        let answer = '';
        connection.consume((chunk) => {
          answer += chunk.toString('latin1');
        });
        const garbage = randomBytes(2048);
        garbage[0] = 0; // never an HTTP method's first byte
        connection.write(garbage);
        const { afterMs } = await connection.closed;
        expect(answer).toMatch(/^HTTP\/1\.1 400 /);
        const error = await typedErrorAfter(master, since, 'connectionError', 'bad-http');
        if (error.event === 'connectionError') expect(error.remoteAddress).toBe('127.0.0.1');
        return `${answer.split('\r\n')[0]}; ${error.reason}; closed after ${afterMs} ms`;
      });
    });

    it('garbage in a well-formed binary message gets bad-magic', async () => {
      await underAttack('garbage message', master, async () => {
        const since = master.events.length;
        const connection = await wire.open(port('a'));
        const garbage = randomBytes(256);
        garbage[0] = 0;
        connection.write(wire.handshake(garbage));
        const error = await typedErrorAfter(master, since, 'handshakeError', 'bad-magic');
        await connection.closed;
        return error.reason;
      });
    });
  }

  it('a replayed handshake fails on the fresh nonce (bad-proof)', async () => {
    await underAttack('replayed handshake', master, async () => {
      // A real connection with the secret: capture every byte our side sent.
      const legit = await runHandshake(wire, port('a'), insider);
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
      const replay = await wire.open(port('a'));
      replay.write(Buffer.concat([...legit.sent, markerFrame(wire, 'after a replayed handshake')]));
      const error = await typedErrorAfter(master, since, 'handshakeError', 'bad-proof');
      await replay.closed;
      expect(
        master.events.slice(since).some((event) => event.event === 'connectEstablished'),
        'the replay never comes up',
      ).toBe(false);
      return error.reason;
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
      const bytes = wire.handshake(hello);
      const connection = await wire.open(port('a'));
      const written = await trickle(connection, bytes, 1_000);
      const { afterMs } = await connection.closed;
      expect(written).toBeLessThan(bytes.length);
      expect(afterMs).toBeLessThan(HANDSHAKE_TIMEOUT_MS + 2_000);
      const error = await typedErrorAfter(master, since, 'handshakeError', 'timeout');
      return `${error.reason} after ${written} of ${bytes.length} bytes, closed at ${afterMs} ms`;
    });
  });

  it('1,000 half-open sockets: the cap refuses most at once, the timeout frees the rest', async () => {
    await underAttack('1,000 half-open sockets', master, async () => {
      const before = await master.stats();
      const since = master.events.length;
      const connections = await halfOpen(port('a'), 1_000);
      let detail: string;
      try {
        const closings = await Promise.all(connections.map((connection) => connection.closed));
        const refusedAtOnce = closings.filter(({ afterMs }) => afterMs < HANDSHAKE_TIMEOUT_MS / 2).length;
        const after = await master.stats();
        const count = (stats: SiteStats, reason: string) => stats.connectionErrors[reason] ?? 0;
        const refusals = count(after, 'unauthenticated-cap') - count(before, 'unauthenticated-cap');
        const timeouts = (after.handshakeErrors.timeout ?? 0) - (before.handshakeErrors.timeout ?? 0);
        // Each refusal was its own typed event, naming where the connection came from (the stats reply
        // came after them on the same stream, so they are all in).
        const refusalEvents = master.events
          .slice(since)
          .filter((event) => event.event === 'connectionError' && event.reason === 'unauthenticated-cap');
        expect(refusalEvents).toHaveLength(refusals);
        for (const event of refusalEvents)
          expect(event).toMatchObject({
            code: 'ERR_ACKORD_CONNECTION',
            peer: null,
            remoteAddress: '127.0.0.1',
          });
        // Every socket is accounted for: refused by the cap, or admitted and then timed out.
        expect(refusals + timeouts).toBe(1_000);
        expect(timeouts).toBeGreaterThanOrEqual(1);
        expect(refusals).toBeGreaterThanOrEqual(1_000 - 4 * MAX_UNAUTHENTICATED);
        const lastMs = Math.max(...closings.map(({ afterMs }) => afterMs));
        expect(lastMs).toBeLessThan(HANDSHAKE_TIMEOUT_MS + 5_000);
        detail =
          `${refusals} refused by the cap, ${timeouts} timed out; ` +
          `${refusedAtOnce} closed in under ${HANDSHAKE_TIMEOUT_MS / 2} ms, all by ${lastMs} ms`;
      } finally {
        for (const connection of connections) connection.destroy();
      }
      // The slots are free again: a peer with the secret gets in.
      const legit = await runHandshake(wire, port('a'), insider);
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
        const run = await runHandshake(wire, port('a'), insider);
        expect(run.outcome?.ok).toBe(true);
        try {
          const garbage = randomBytes(1024);
          garbage[0] = 0;
          run.connection.write(wire.frame(garbage));
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
      const run = await runHandshake(wire, port('a'), insider);
      expect(run.outcome?.ok).toBe(true);
      await waitUntil(async () => (await master.stats()).connected.includes(INSIDER), 'the insider up');
      const since = master.events.length;
      run.connection.write(wire.header(0xffff_ffff));
      const { afterMs } = await run.connection.closed;
      expect(afterMs).toBeLessThan(5_000);
      const error = await typedErrorAfter(master, since, 'connectionError', 'frame-too-large');
      await eventAfter(
        master,
        since,
        (event) => event.event === 'connectBroken' && event.site === INSIDER,
        'the master drops the insider',
      );
      return `${error.reason}, closed after ${afterMs} ms`;
    });
  });

  it('control: the same bigger values with no attacker (the RSS the workload alone adds)', async () => {
    await underAttack('control: bigger values, nobody attacking', master, async () => {
      const before = await master.stats();
      await switchLoop(FLOOD_VALUE_BYTES, FLOOD_KEYS);
      try {
        // As long as the flood against a peer that never reads lasts: until liveness closes it.
        await new Promise((resolve) => setTimeout(resolve, LIVENESS_TIMEOUT_MS + LIVENESS_INTERVAL_MS));
      } finally {
        await switchLoop(LOOP_VALUE_BYTES);
      }
      const after = await master.stats();
      expect(after.loop.acknowledged).toBeGreaterThan(before.loop.acknowledged);
      expect(after.sendsRefused).toEqual(before.sendsRefused);
      return (
        `${after.loop.acknowledged - before.loop.acknowledged} commits of ${FLOOD_VALUE_BYTES / 1024} KiB, ` +
        `master RSS +${Math.round((after.rss - before.rss) / MiB)} MiB, no send refused`
      );
    });
  });

  it('a peer that never reads is closed as unresponsive; the master’s memory stays bounded and commits go on', async () => {
    await underAttack(
      'authenticated peer that never reads',
      master,
      async () => {
        const before = await master.stats();
        const run = await runHandshake(wire, port('a'), insider);
        expect(run.outcome?.ok).toBe(true);
        try {
          // Behave like a client just long enough to be sent every live record: learn where the
          // master's log ends, ask to sync from exactly there (so it is in sync at once), then stop
          // reading — and stop writing: no keepalive, no pong.
          const announced = await readMessages(run, (message) => message.type === 'newMaster');
          if (announced.type !== 'newMaster') throw new Error('expected newMaster');
          const since = master.events.length;
          run.connection.write(
            wire.frame(
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
          const silentFrom = Date.now();
          await switchLoop(FLOOD_VALUE_BYTES, FLOOD_KEYS);
          // The master floods it with records until its liveness check gives up on it.
          const error = await typedErrorAfter(
            master,
            since,
            'connectionError',
            'unresponsive',
            LIVENESS_TIMEOUT_MS + 5_000,
          );
          const closedAfterMs = Date.now() - silentFrom;
          expect(error.peer).toBe(INSIDER);
          // Never before the timeout: the verdict counts from the last byte the master heard.
          expect(closedAfterMs).toBeGreaterThanOrEqual(LIVENESS_TIMEOUT_MS - 50);
          await eventAfter(
            master,
            since,
            (event) => event.event === 'connectBroken' && event.site === INSIDER,
            'the master drops the unresponsive peer',
          );
          const after = await master.stats();
          expect(after.connected).not.toContain(INSIDER);
          expect(after.rss - before.rss).toBeLessThan(RSS_GROWTH_LIMIT);
          // A paused socket never reads the end of the stream: read again to see it closed.
          run.connection.socket.resume();
          await run.connection.closed;
          const refused = after.sendsRefused.backpressure - before.sendsRefused.backpressure;
          return (
            `${error.reason} (${error.event === 'connectionError' ? error.detail : ''}) after ${closedAfterMs} ms; ` +
            `${refused} sends refused with backpressure (queue ${SEND_QUEUE_BYTES / MiB} MiB), ` +
            `master RSS +${Math.round((after.rss - before.rss) / MiB)} MiB`
          );
        } finally {
          run.connection.destroy();
          await switchLoop(LOOP_VALUE_BYTES);
        }
      },
      { insiderFrames: true },
    );
  });

  it('every typed error the sites reported carries a documented reason, and no site failed', async () => {
    for (const site of [master, ...cluster.clients]) {
      const stats = await site.stats();
      for (const reason of Object.keys(stats.handshakeErrors))
        expect(HANDSHAKE_ERROR_REASONS as readonly string[]).toContain(reason);
      for (const reason of Object.keys(stats.connectionErrors))
        expect(CONNECTION_ERROR_REASONS as readonly string[]).toContain(reason);
      expect(site.events.some((event) => event.event === 'fatal')).toBe(false);
    }
    // The real peers never lost each other.
    expect((await master.stats()).connected).toEqual(expect.arrayContaining(['b', 'c']));
  });
});
