/** Option validation: one ConfigError listing every issue; the same shape as the TCP transport's. */
import { ConfigError } from '@ackord/core';
import { describe, expect, it } from 'vitest';
// From source: the two transports must accept the same common options (a cluster harness passes either).
import { createTcpTransport } from '../../transport-tcp/src/index.js';
import { createWsTransport, type WsTransportOptions } from '../src/index.js';
import { SECRET } from './ws-fixture.js';

const base: WsTransportOptions = {
  siteId: 'b',
  listen: { host: '127.0.0.1', port: 0 },
  peers: [{ id: 'a' }, { id: 'c', host: '127.0.0.1', port: 7000 }],
  clusterId: 'options',
  secret: SECRET,
};

function problems(options: WsTransportOptions): string[] {
  try {
    createWsTransport(options);
    return [];
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
  }
}

describe('ws transport options', () => {
  it('accepts the options the TCP transport takes, unchanged', () => {
    // What a cluster harness passes to either transport.
    const common = {
      ...base,
      maxFrameBytes: 1024,
      handshakeTimeoutMs: 1_000,
      maxUnauthenticated: 8,
      sendQueueBytes: 4096,
      reconnect: { minMs: 10, maxMs: 100 },
    };
    expect(() => createTcpTransport(common)).not.toThrow();
    expect(problems(common)).toEqual([]);
  });

  it('lists every field issue at once', () => {
    const found = problems({
      ...base,
      listen: { port: 0, path: 'no-slash' },
      ping: { intervalMs: 1_000, timeoutMs: 500 },
      wss: { ca: 'pem', cert: 'pem' } as never,
    });
    expect(found.sort()).toEqual([
      'listen.path: an absolute URL path without query or fragment',
      'ping: timeoutMs must exceed intervalMs',
      'wss.key: Invalid input',
    ]);
  });

  it('checks the peers once the fields are valid', () => {
    expect(problems({ ...base, peers: [{ id: 'c', host: '127.0.0.1' }, { id: 'b' }] })).toEqual([
      'peers.0: host and port are required: this site dials peers whose id sorts above its own',
      'peers.1.id: a site is not its own peer',
    ]);
  });

  it('refuses a host no URL can name, and a low watermark above the high one', () => {
    expect(problems({ ...base, peers: [{ id: 'c', host: 'bad host', port: 1 }] })).toEqual([
      'peers.0.host: not a host a URL can name',
    ]);
    expect(problems({ ...base, sendQueueBytes: 1_000, sendQueueLowBytes: 2_000 })).toEqual([
      'sendQueueLowBytes: the low watermark must not exceed sendQueueBytes',
    ]);
  });
});
