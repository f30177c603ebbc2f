/**
 * The relay on loopback, in this process: it forwards both ways, a stalled partition holds bytes (and
 * new connections) until it heals and then delivers them in order, a reset partition closes, a delay
 * delays, a cut closes, and one direction can be stalled while the other flows.
 */
import { once } from 'node:events';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { Relay } from './relay.js';

let relay: Relay | undefined;
let target: Server | undefined;
const sockets: Socket[] = [];

afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.destroy();
  await relay?.close();
  relay = undefined;
  await new Promise((resolve) => (target ? target.close(resolve) : resolve(undefined)));
  target = undefined;
});

/** An echo server that upper-cases, as the site `b`; the relay's link a→b in front of it. */
async function setup(): Promise<{ port: number; serverSide: Promise<Socket> }> {
  let accepted: (socket: Socket) => void = () => undefined;
  const serverSide = new Promise<Socket>((resolve) => (accepted = resolve));
  target = createServer((socket) => {
    sockets.push(socket);
    accepted(socket);
    socket.on('data', (chunk: Buffer) => socket.write(chunk.toString().toUpperCase()));
    socket.on('error', () => undefined);
  });
  target.listen(0, '127.0.0.1');
  await once(target, 'listening');
  relay = new Relay(() => 0.5);
  const port = await relay.addLink({
    from: 'a',
    to: 'b',
    targetHost: '127.0.0.1',
    targetPort: (target.address() as { port: number }).port,
    listenHost: '127.0.0.1',
  });
  return { port, serverSide };
}

function dial(port: number): { socket: Socket; received: () => string; closed: Promise<void> } {
  const socket = connect(port, '127.0.0.1');
  sockets.push(socket);
  let text = '';
  socket.on('data', (chunk: Buffer) => (text += chunk.toString()));
  socket.on('error', () => undefined);
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  return { socket, received: () => text, closed };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(condition: () => boolean, timeoutMs = 2_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await sleep(5);
  }
}

describe('the relay', () => {
  it('forwards both ways', async () => {
    const { port } = await setup();
    const client = dial(port);
    client.socket.write('hello');
    await until(() => client.received() === 'HELLO');
    expect(relay!.stats()).toMatchObject({ links: 1, connections: 1, accepted: 1 });
  });

  it('a stalled partition holds the bytes and delivers them in order once healed', async () => {
    const { port } = await setup();
    const client = dial(port);
    client.socket.write('one ');
    await until(() => client.received() === 'ONE ');
    relay!.set('a', 'b', { blocked: true, mode: 'stall' });
    client.socket.write('two ');
    client.socket.write('three');
    await sleep(100);
    expect(client.received()).toBe('ONE ');
    relay!.set('a', 'b', { blocked: false });
    await until(() => client.received() === 'ONE TWO THREE');
  });

  it('one direction stalled: requests arrive, answers wait', async () => {
    const { port, serverSide } = await setup();
    const client = dial(port);
    client.socket.write('x');
    await until(() => client.received() === 'X');
    const server = await serverSide;
    let arrived = '';
    server.on('data', (chunk: Buffer) => (arrived += chunk.toString()));
    relay!.set('b', 'a', { blocked: true, mode: 'stall' });
    client.socket.write('y');
    await until(() => arrived === 'y');
    await sleep(50);
    expect(client.received()).toBe('X');
    relay!.healAll();
    await until(() => client.received() === 'XY');
  });

  it('a new connection during a stall waits, and goes through once healed', async () => {
    const { port } = await setup();
    relay!.set('a', 'b', { blocked: true, mode: 'stall' });
    const client = dial(port);
    client.socket.write('late');
    await sleep(100);
    expect(client.received()).toBe('');
    relay!.healAll();
    await until(() => client.received() === 'LATE');
  });

  it('a reset partition closes connections and refuses new ones', async () => {
    const { port } = await setup();
    const first = dial(port);
    first.socket.write('a');
    await until(() => first.received() === 'A');
    relay!.set('a', 'b', { blocked: true, mode: 'reset' });
    await first.closed;
    const second = dial(port);
    await second.closed;
    relay!.set('a', 'b', { blocked: false });
    const third = dial(port);
    third.socket.write('b');
    await until(() => third.received() === 'B');
  });

  it('delays each chunk, keeping the order', async () => {
    const { port } = await setup();
    const client = dial(port);
    client.socket.write('warm');
    await until(() => client.received() === 'WARM');
    relay!.set('a', 'b', { delayMs: 150, jitterMs: 0 });
    const started = Date.now();
    client.socket.write('1');
    client.socket.write('2');
    await until(() => client.received() === 'WARM12');
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
  });

  it('a cut closes the connection; the dialer may connect again', async () => {
    const { port } = await setup();
    const client = dial(port);
    client.socket.write('q');
    await until(() => client.received() === 'Q');
    expect(relay!.cut('b', 'a')).toBe(1);
    await client.closed;
    const again = dial(port);
    again.socket.write('r');
    await until(() => again.received() === 'R');
    expect(relay!.stats().cut).toBe(1);
  });
});
