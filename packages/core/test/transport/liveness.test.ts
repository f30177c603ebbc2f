/**
 * The shared liveness check, on real (short) timers: a keepalive on every tick with nothing sent; a
 * peer silent for the timeout is dead, once; so is one whose outbound bytes wait without moving; and
 * `stop` ends it all. `socketOutbound` on a real socket pair whose reader stops reading.
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { waitFor } from '../../src/testing/index.js';
import {
  type ConnectionError,
  Liveness,
  type LivenessProbe,
  type OutboundProgress,
  socketOutbound,
} from '../../src/transport/index.js';

const OPTIONS = { intervalMs: 20, timeoutMs: 200 };

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function probed(outbound?: () => OutboundProgress) {
  const record = { keepalives: 0, deaths: [] as { error: ConnectionError; atMs: number }[] };
  const probe: LivenessProbe = {
    keepalive: () => record.keepalives++,
    dead: (error) => record.deaths.push({ error, atMs: performance.now() }),
    ...(outbound === undefined ? {} : { outbound }),
  };
  return { record, probe };
}

let stopAll: (() => void)[] = [];
afterEach(() => {
  for (const stop of stopAll) stop();
  stopAll = [];
});

function started(probe: LivenessProbe, options = OPTIONS): Liveness {
  const liveness = new Liveness(options, probe);
  liveness.start();
  stopAll.push(() => liveness.stop());
  return liveness;
}

describe('Liveness', () => {
  it('sends a keepalive on each tick that found nothing sent, and none while we send', async () => {
    const { record, probe } = probed();
    const liveness = started(probe);
    const hearing = setInterval(() => liveness.heard(), 5);
    stopAll.push(() => clearInterval(hearing));
    await sleep(10 * OPTIONS.intervalMs);
    expect(record.keepalives).toBeGreaterThanOrEqual(5);
    const sending = setInterval(() => liveness.sent(), 5);
    stopAll.push(() => clearInterval(sending));
    await sleep(2 * OPTIONS.intervalMs);
    const whileSending = record.keepalives;
    await sleep(10 * OPTIONS.intervalMs);
    // A loaded event loop may run a tick before a due send now and then, not on every tick.
    expect(record.keepalives - whileSending).toBeLessThanOrEqual(2);
    expect(record.deaths).toEqual([]);
  });

  it('declares a silent peer dead once, no earlier than the timeout, then stops ticking', async () => {
    const { record, probe } = probed();
    const startedAt = performance.now();
    const liveness = started(probe);
    await waitFor(() => record.deaths.length === 1, 'the verdict', 2_000);
    const [death] = record.deaths;
    expect(death!.atMs - startedAt).toBeGreaterThanOrEqual(OPTIONS.timeoutMs);
    expect(death!.error.code).toBe('ERR_ACKORD_CONNECTION');
    expect(death!.error.reason).toBe('unresponsive');
    expect(death!.error.detail).toMatch(/^nothing heard from the peer for \d+ ms$/);
    expect(liveness.running).toBe(false);
    const keepalives = record.keepalives;
    await sleep(5 * OPTIONS.intervalMs);
    expect(record.deaths).toHaveLength(1);
    expect(record.keepalives).toBe(keepalives);
  });

  it('keeps a peer it hears from, however quiet we are', async () => {
    const { record, probe } = probed();
    const liveness = started(probe);
    const hearing = setInterval(() => liveness.heard(), OPTIONS.intervalMs);
    stopAll.push(() => clearInterval(hearing));
    await sleep(3 * OPTIONS.timeoutMs);
    expect(record.deaths).toEqual([]);
    expect(liveness.running).toBe(true);
  });

  it('declares dead a peer that reads none of our waiting bytes, even while we hear from it', async () => {
    let outbound: OutboundProgress = { waiting: true, flushed: 7 };
    const { record, probe } = probed(() => outbound);
    const liveness = started(probe);
    const hearing = setInterval(() => liveness.heard(), 5);
    stopAll.push(() => clearInterval(hearing));
    // Bytes leave now and then: a slow reader, not a stalled one.
    const moving = setInterval(() => {
      outbound = { waiting: true, flushed: outbound.flushed + 1 };
    }, OPTIONS.intervalMs);
    await sleep(3 * OPTIONS.timeoutMs);
    expect(record.deaths).toEqual([]);
    clearInterval(moving);
    const stuckAt = performance.now();
    await waitFor(() => record.deaths.length === 1, 'the stall verdict', 2_000);
    expect(record.deaths[0]!.atMs - stuckAt).toBeGreaterThanOrEqual(OPTIONS.timeoutMs - OPTIONS.intervalMs);
    expect(record.deaths[0]!.error.reason).toBe('unresponsive');
    expect(record.deaths[0]!.error.detail).toMatch(/read none of what we sent/);
  });

  it('sends no keepalive and fears nothing once stopped, and a buffer that does not wait is no stall', async () => {
    const { record, probe } = probed(() => ({ waiting: false, flushed: 0 }));
    const liveness = started(probe, { intervalMs: 20, timeoutMs: 100 });
    const hearing = setInterval(() => liveness.heard(), 5);
    stopAll.push(() => clearInterval(hearing));
    await sleep(300);
    expect(record.deaths).toEqual([]);
    liveness.stop();
    liveness.stop();
    const keepalives = record.keepalives;
    clearInterval(hearing);
    await sleep(300);
    expect(record.keepalives).toBe(keepalives);
    expect(record.deaths).toEqual([]);
  });
});

describe('socketOutbound', () => {
  let server: Server | undefined;
  const sockets: Socket[] = [];
  afterEach(async () => {
    for (const socket of sockets.splice(0)) socket.destroy();
    await new Promise((resolve) => (server === undefined ? resolve(undefined) : server.close(resolve)));
    server = undefined;
  });

  it('waits, without moving, while the reader reads nothing; moves once it reads', async () => {
    let reader: Socket | undefined;
    server = createServer((socket) => {
      socket.pause();
      reader = socket;
      sockets.push(socket);
    });
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    const writer = createConnection({ host: '127.0.0.1', port: (server.address() as { port: number }).port });
    sockets.push(writer);
    await new Promise((resolve) => writer.once('connect', resolve));
    expect(socketOutbound(writer)).toEqual({ waiting: false, flushed: 0 });
    const chunk = Buffer.alloc(256 * 1024);
    while (writer.write(chunk));
    // Write until the kernel's buffers are full too: no write completes any more.
    let previous = -1;
    for (let round = 0; ; round++) {
      if (round > 200) throw new Error('the writer never stalled');
      for (let index = 0; index < 8; index++) writer.write(chunk);
      await sleep(50);
      const { flushed } = socketOutbound(writer);
      if (flushed === previous) break;
      previous = flushed;
    }
    const stalled = socketOutbound(writer);
    expect(stalled.waiting).toBe(true);
    await sleep(100);
    expect(socketOutbound(writer)).toEqual(stalled);
    reader!.resume();
    await waitFor(() => socketOutbound(writer).flushed > stalled.flushed, 'bytes to leave');
  });
});
