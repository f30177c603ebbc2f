/** The TCP transport's own option: `heartbeat`, with its defaults and its rule, in one ConfigError. */
import { ConfigError } from '@ackord/core';
import { describe, expect, it } from 'vitest';
import {
  createTcpTransport,
  TCP_HEARTBEAT_INTERVAL_MS_DEFAULT,
  TCP_HEARTBEAT_TIMEOUT_MS_DEFAULT,
  type TcpTransportOptions,
} from '../src/index.js';
import { parseTcpOptions } from '../src/options.js';
import { SECRET } from './tcp-fixture.js';

const base: TcpTransportOptions = {
  siteId: 'b',
  listen: { host: '127.0.0.1', port: 0 },
  peers: [{ id: 'a' }],
  clusterId: 'options',
  secret: SECRET,
};

function problems(options: TcpTransportOptions): string[] {
  try {
    createTcpTransport(options);
    return [];
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
  }
}

describe('tcp transport options', () => {
  it('defaults the heartbeat to a keepalive every second and a five-second timeout', () => {
    expect([TCP_HEARTBEAT_INTERVAL_MS_DEFAULT, TCP_HEARTBEAT_TIMEOUT_MS_DEFAULT]).toEqual([1_000, 5_000]);
    expect(parseTcpOptions(base).heartbeat).toEqual({ intervalMs: 1_000, timeoutMs: 5_000 });
    expect(parseTcpOptions({ ...base, heartbeat: { intervalMs: 200 } }).heartbeat).toEqual({
      intervalMs: 200,
      timeoutMs: 5_000,
    });
  });

  it('wants the timeout above two intervals (a quiet peer writes that seldom), with the other issues', () => {
    expect(problems({ ...base, heartbeat: { intervalMs: 1_000, timeoutMs: 2_000 } })).toEqual([
      'heartbeat: timeoutMs must exceed 2 × intervalMs',
    ]);
    expect(
      problems({ ...base, heartbeat: { intervalMs: 0, timeoutMs: 1.5 }, maxFrameBytes: 0 }).sort(),
    ).toEqual([
      'heartbeat.intervalMs: Too small: expected number to be >=10',
      'heartbeat.timeoutMs: Invalid input: expected int, received number',
      'maxFrameBytes: Too small: expected number to be >=1',
    ]);
    expect(problems({ ...base, heartbeat: { intervalMs: 100, timeoutMs: 201 } })).toEqual([]);
  });
});
