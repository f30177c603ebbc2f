/**
 * The unauthenticated cap on real sockets: slots are taken at the accept and given back on release or
 * close; an unclaimed socket is closed at the deadline; a claim reports the budget left.
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { waitFor } from '../../src/testing/index.js';
import { Admissions } from '../../src/transport/index.js';

let server: Server | undefined;
const clients: Socket[] = [];

afterEach(async () => {
  for (const client of clients.splice(0)) client.destroy();
  await new Promise((resolve) => (server === undefined ? resolve(undefined) : server.close(resolve)));
  server = undefined;
});

/** A listener that hands each accepted socket to `onSocket`; returns a function that connects to it. */
async function listen(onSocket: (socket: Socket) => void): Promise<() => Promise<Socket>> {
  server = createServer(onSocket);
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return async () => {
    const client = createConnection({ host: '127.0.0.1', port });
    client.on('error', () => undefined);
    clients.push(client);
    await new Promise((resolve) => client.once('connect', resolve));
    return client;
  };
}

describe('Admissions', () => {
  it('holds one slot per unauthenticated socket, refuses past the cap, frees a slot on close', async () => {
    const refused: string[] = [];
    const admissions = new Admissions({
      maxUnauthenticated: 2,
      handshakeTimeoutMs: 10_000,
      onTimeout: () => undefined,
      onRefused: (remoteAddress) => refused.push(remoteAddress),
    });
    const accepted: Socket[] = [];
    const verdicts: boolean[] = [];
    const connect = await listen((socket) => {
      accepted.push(socket);
      verdicts.push(admissions.admit(socket));
    });
    for (let index = 0; index < 3; index++) await connect();
    await waitFor(() => verdicts.length === 3, 'three accepts');
    expect(verdicts).toEqual([true, true, false]);
    expect(refused).toEqual(['127.0.0.1']);
    expect(accepted[2]!.destroyed).toBe(true);
    expect(admissions.held).toBe(2);
    accepted[0]!.destroy();
    await waitFor(() => admissions.held === 1, 'the slot freed');
    await connect();
    await waitFor(() => verdicts.length === 4, 'a fourth accept');
    expect(verdicts[3]).toBe(true);
    expect(refused).toHaveLength(1);
    admissions.destroyAll();
    await waitFor(() => admissions.held === 0, 'every slot freed');
  });

  it('closes a socket nobody claimed by the deadline, and reports it', async () => {
    const timeouts: string[] = [];
    const admissions = new Admissions({
      maxUnauthenticated: 4,
      handshakeTimeoutMs: 50,
      onTimeout: (remoteAddress) => timeouts.push(remoteAddress),
      onRefused: () => undefined,
    });
    const connect = await listen((socket) => void admissions.admit(socket));
    const client = await connect();
    await new Promise((resolve) => client.once('close', resolve));
    expect(timeouts).toEqual(['127.0.0.1']);
    await waitFor(() => admissions.held === 0, 'the slot freed');
  });

  it('a claim stops the deadline, reports the time left, and its release frees the slot', async () => {
    const timeouts: string[] = [];
    const admissions = new Admissions({
      maxUnauthenticated: 1,
      handshakeTimeoutMs: 60,
      onTimeout: (remoteAddress) => timeouts.push(remoteAddress),
      onRefused: () => undefined,
    });
    const claims: ({ remainingMs: number; release(): void } | undefined)[] = [];
    const connect = await listen((socket) => {
      admissions.admit(socket);
      claims.push(admissions.claim(socket), admissions.claim(socket));
    });
    const client = await connect();
    await waitFor(() => claims.length === 2, 'the claims');
    const [claim, again] = claims;
    expect(again).toBeUndefined();
    expect(claim!.remainingMs).toBeGreaterThan(0);
    expect(claim!.remainingMs).toBeLessThanOrEqual(60);
    await new Promise((resolve) => setTimeout(resolve, 120));
    expect(timeouts).toEqual([]);
    expect(client.destroyed).toBe(false);
    expect(admissions.held).toBe(1);
    claim!.release();
    claim!.release();
    expect(admissions.held).toBe(0);
  });
});
