/**
 * Two sites on this machine exchange frames over the example Unix-socket transport:
 *
 *   pnpm demo:custom-transport          (from the repository root)
 *   pnpm --filter @ackord/example-custom-transport start
 *
 * A real application hands the transport to `createReplicationManager({ transport, … })`; here we drive
 * it by hand to show the contract: start, peer-up, send and its outcomes, frames, close, peer-down.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SiteId, TransportHandlers } from '@ackord/core';
import { UnixSocketTransport } from './src/unix-socket-transport.js';

const directory = mkdtempSync(join(tmpdir(), 'ackord-demo-'));
const pathOf = (site: SiteId) => join(directory, `${site}.sock`);
const text = new TextDecoder();

function site(siteId: SiteId, other: SiteId, onFrame: (frame: Uint8Array) => void) {
  const transport = new UnixSocketTransport({
    siteId,
    path: pathOf(siteId),
    peers: [{ id: other, path: pathOf(other) }],
    clusterId: 'demo',
    secret: 'demo secret: use 32 random bytes in production',
    maxFrameBytes: 64 * 1024,
    onHandshakeError: (error) => console.log(`${siteId}: handshake failed (${error.reason})`),
  });
  const up = deferred();
  const down = deferred();
  const handlers: TransportHandlers = {
    frame: (_from, frame) => onFrame(frame),
    peerUp: (peer) => {
      console.log(`${siteId}: ${peer} is up`);
      up.resolve();
    },
    peerDown: (peer) => {
      console.log(`${siteId}: ${peer} is down`);
      down.resolve();
    },
  };
  return { transport, handlers, up: up.promise, down: down.promise };
}

function deferred() {
  let resolve: () => void = () => undefined;
  const promise = new Promise<void>((settle) => {
    resolve = settle;
  });
  return { promise, resolve: () => resolve() };
}

const ROUNDS = 3;
const lastPong = deferred();

// b answers every ping with a pong; a counts the pongs.
const a = site('a', 'b', (frame) => {
  console.log(`a: got "${text.decode(frame)}"`);
  if (text.decode(frame) === `pong ${ROUNDS}`) lastPong.resolve();
});
const b = site('b', 'a', (frame) => {
  console.log(`b: got "${text.decode(frame)}"`);
  const outcome = b.transport.send('a', Buffer.from(text.decode(frame).replace('ping', 'pong')));
  if (outcome !== 'queued') console.log(`b: reply not sent (${outcome})`);
});

try {
  await b.transport.start(b.handlers);
  await a.transport.start(a.handlers);
  await Promise.all([a.up, b.up]);

  for (let round = 1; round <= ROUNDS; round++)
    console.log(`a: send ping ${round} → ${a.transport.send('b', Buffer.from(`ping ${round}`))}`);
  // The other outcomes: send never throws, it says what happened.
  console.log(`a: send 100 KiB → ${a.transport.send('b', new Uint8Array(100 * 1024))}`); // tooLarge
  console.log(`a: send to "c" → ${a.transport.send('c', Buffer.from('hello'))}`); // peerDown
  await lastPong.promise;

  await b.transport.close();
  await a.down; // a notices when b's socket closes
  console.log(`a: send after b closed → ${a.transport.send('b', Buffer.from('ping'))}`); // peerDown
} finally {
  await Promise.all([a.transport.close(), b.transport.close()]);
  rmSync(directory, { recursive: true, force: true });
}
