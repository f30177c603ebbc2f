/**
 * The shared peer table with fake links: whom it dials and redials, which peers it accepts, one live
 * link per peer (a newer one replaces it), frames only from the live link, and a close that stops it all.
 */
import type { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { type Logger, silentLogger } from '../../src/logger.js';
import type { SiteId } from '../../src/replica/types.js';
import { EventRecorder, waitFor } from '../../src/testing/index.js';
import {
  type ConnectionContext,
  ConnectionError,
  HandshakeError,
  type Link,
  type LinkError,
  type LinkSetup,
  PeerLinks,
  type PeerLinksOptions,
} from '../../src/transport/index.js';
import type { SendOutcome } from '../../src/transport.js';

class FakeLink implements Link {
  readonly setup: LinkSetup;
  readonly remoteAddress = '192.0.2.1';
  readonly closed: Promise<void>;
  readonly sent: Uint8Array[] = [];
  peer: SiteId | undefined;
  destroyed = false;
  #resolve!: () => void;

  constructor(setup: LinkSetup) {
    this.setup = setup;
    this.closed = new Promise((resolve) => {
      this.#resolve = resolve;
    });
  }

  send(frame: Uint8Array): SendOutcome {
    if (this.peer === undefined || this.destroyed) return 'peerDown';
    this.sent.push(frame);
    return 'queued';
  }

  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.setup.events.closed(this);
    this.#resolve();
  }

  authenticate(peer: SiteId): void {
    this.peer = peer;
    this.setup.events.authenticated(this, peer);
  }
}

function table(overrides: Partial<PeerLinksOptions> = {}) {
  const dials: { peer: SiteId; link: FakeLink }[] = [];
  const errors: { error: LinkError; context: ConnectionContext }[] = [];
  const links = new PeerLinks({
    siteId: 'b',
    clusterId: 'cluster',
    secret: 'a secret of sixteen bytes',
    peers: ['a', 'c', 'd'],
    dialing: ['c', 'd'],
    handshakeTimeoutMs: 1_000,
    maxUnauthenticated: 4,
    reconnect: { minMs: 1, maxMs: 1 },
    randomBytes: (size) => new Uint8Array(size),
    random: () => 0,
    logger: silentLogger,
    dial: (peer, setup) => {
      const link = new FakeLink(setup);
      dials.push({ peer, link });
      return link;
    },
    onError: (error, context) => errors.push({ error, context }),
    ...overrides,
  });
  const recorder = new EventRecorder();
  return { links, dials, errors, recorder };
}

describe('PeerLinks', () => {
  it('dials the higher ids, as initiator, accepting only the peer it dialed', async () => {
    const { links, dials, recorder } = table();
    links.start(recorder.handlers);
    expect(dials.map(({ peer }) => peer)).toEqual(['c', 'd']);
    const { handshake } = dials[0]!.link.setup;
    expect(handshake.role).toBe('initiator');
    expect(handshake.siteId).toBe('b');
    expect(['a', 'c', 'd', 'x'].filter((site) => handshake.acceptPeer!(site))).toEqual(['c']);
    await links.close();
  });

  it('reports peer up and down once per link, and routes frames and sends through the live one', async () => {
    const { links, dials, recorder } = table();
    links.start(recorder.handlers);
    const c = dials[0]!.link;
    expect(links.send('c', Uint8Array.of(1))).toBe('peerDown');
    c.authenticate('c');
    expect(links.connectedPeers().has('c')).toBe(true);
    expect(links.send('c', Uint8Array.of(2))).toBe('queued');
    expect(c.sent.map((frame) => [...frame])).toEqual([[2]]);
    c.setup.events.frame(c, Uint8Array.of(3));
    c.destroy();
    expect(recorder.events.map(({ kind, site }) => `${kind}:${site}`)).toEqual([
      'peerUp:c',
      'frame:c',
      'peerDown:c',
    ]);
    expect(links.connectedPeers().has('c')).toBe(false);
    await links.close();
  });

  it('redials a closed link after the back-off, and stops redialing on close', async () => {
    const { links, dials, recorder } = table();
    links.start(recorder.handlers);
    dials[0]!.link.destroy();
    await waitFor(() => dials.filter(({ peer }) => peer === 'c').length === 2, 'a redial of c');
    await links.close();
    const dialsAtClose = dials.length;
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(dials.length).toBe(dialsAtClose);
    expect(dials.every(({ link }) => link.destroyed)).toBe(true);
  });

  it('lets a newer link for the same peer replace the older: down, then up; the old one is ignored', async () => {
    const { links, dials, recorder } = table();
    links.start(recorder.handlers);
    const first = dials[0]!.link;
    first.authenticate('c');
    first.destroyed = false; // pretend the old link lingers, to check that it is no longer listened to
    const second = new FakeLink(first.setup);
    second.authenticate('c');
    second.setup.events.frame(first, Uint8Array.of(1));
    second.setup.events.frame(second, Uint8Array.of(2));
    expect(recorder.events.map(({ kind, site }) => `${kind}:${site}`)).toEqual([
      'peerUp:c',
      'peerDown:c',
      'peerUp:c',
      'frame:c',
    ]);
    expect([...recorder.frames('c')[0]!]).toEqual([2]);
    expect(links.send('c', Uint8Array.of(9))).toBe('queued');
    expect(second.sent.length).toBe(1);
    await links.close();
  });

  it('reports typed failures with the dialed peer as context', async () => {
    const { links, dials, errors, recorder } = table();
    links.start(recorder.handlers);
    const error = new HandshakeError('bad-proof', 'test');
    dials[1]!.link.setup.events.failed(dials[1]!.link, error);
    expect(errors).toEqual([{ error, context: { peer: 'd', remoteAddress: '192.0.2.1' } }]);
    await links.close();
  });

  it('refuses a socket past the unauthenticated cap with a typed error, and keeps its warning', async () => {
    const warnings: { fields: object; message: string | undefined }[] = [];
    const logger: Logger = {
      ...silentLogger,
      warn: (fields, message) => warnings.push({ fields, message }),
      child: () => logger,
    };
    const { links, errors, recorder } = table({ dialing: [], maxUnauthenticated: 1, logger });
    links.start(recorder.handlers);
    const destroyed: number[] = [];
    const socket = (port: number) =>
      ({
        remoteAddress: '192.0.2.9',
        remotePort: port,
        destroy: () => destroyed.push(port),
        once: () => undefined,
      }) as unknown as Socket;
    expect(links.admit(socket(4001))).toBe(true);
    expect(errors).toEqual([]);
    expect(links.admit(socket(4002))).toBe(false);
    expect(destroyed).toEqual([4002]);
    expect(errors).toHaveLength(1);
    const [{ error, context }] = errors as [{ error: ConnectionError; context: ConnectionContext }];
    expect(error).toBeInstanceOf(ConnectionError);
    expect(error.code).toBe('ERR_ACKORD_CONNECTION');
    expect(error.reason).toBe('unauthenticated-cap');
    expect(context).toEqual({ peer: undefined, remoteAddress: '192.0.2.9' });
    expect(warnings).toEqual([
      { fields: { remoteAddress: '192.0.2.9' }, message: 'connection refused: too many unauthenticated' },
    ]);
    await links.close();
  });

  it('refuses to accept a socket it did not admit, and admits nothing once closing', async () => {
    const { links, recorder } = table({ dialing: [] });
    links.start(recorder.handlers);
    let destroyed = 0;
    const socket = {
      remoteAddress: '192.0.2.9',
      remotePort: 4000,
      destroy: () => destroyed++,
      once: () => undefined,
    } as unknown as Socket;
    expect(links.accept(socket, (setup) => new FakeLink(setup))).toBeUndefined();
    expect(destroyed).toBe(1);
    await links.close();
    expect(links.admit(socket)).toBe(false);
    expect(destroyed).toBe(2);
  });
});
