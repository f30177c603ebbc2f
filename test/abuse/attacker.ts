/**
 * Attackers on raw sockets, for the abuse suite. The almost-right ones (wrong secret, wrong cluster id,
 * replayed bytes, an insider that stops reading) run the real handshake from @ackord/core, so they fail
 * exactly where the check under test is, not earlier.
 */
import { randomBytes } from 'node:crypto';
import { createConnection, type Socket } from 'node:net';
import { type DecodedMessage, decodeFrame, Handshake, type HandshakeOutcome } from '@ackord/core';
import { encodeTcpFrame, FrameReader } from '@ackord/transport-tcp';
import { ATTACK_MARKER } from '../cluster-proc/protocol.js';

export const HOST = '127.0.0.1';

/** A frame no site may ever deliver: a site counts any frame starting with ATTACK_MARKER. */
export function markerFrame(note: string): Buffer {
  return encodeTcpFrame(Buffer.from(`${ATTACK_MARKER} ${note}`));
}

/** The bytes of a handshake OK frame ("AKHS", type 3, empty body): what a cheater sends without checking. */
export const HANDSHAKE_OK_FRAME = Uint8Array.of(0x41, 0x4b, 0x48, 0x53, 3, 0, 0);

/** A socket plus what we learn about how it ended. */
export class RawConnection {
  readonly socket: Socket;
  readonly connected: Promise<void>;
  /** Resolves when the socket is fully closed (by either side), with the time it took from connecting. */
  readonly closed: Promise<{ afterMs: number }>;
  received = 0;
  #startedAt = Date.now();

  constructor(port: number) {
    this.socket = createConnection({ host: HOST, port });
    this.socket.on('error', () => undefined);
    this.connected = new Promise((resolve, reject) => {
      this.socket.once('connect', () => {
        this.#startedAt = Date.now();
        resolve();
      });
      this.socket.once('error', reject);
    });
    this.closed = new Promise((resolve) =>
      this.socket.once('close', () => resolve({ afterMs: Date.now() - this.#startedAt })),
    );
    this.socket.on('data', (chunk: Buffer) => {
      this.received += chunk.length;
    });
  }

  get isClosed(): boolean {
    return this.socket.destroyed;
  }

  /** Writes unless the socket is gone (a refused attacker's later writes just vanish). */
  write(bytes: Uint8Array): void {
    if (!this.socket.destroyed && this.socket.writable) this.socket.write(bytes);
  }

  destroy(): void {
    this.socket.destroy();
  }
}

export interface HandshakeIdentity {
  readonly siteId: string;
  readonly clusterId: string;
  readonly secret: string;
}

export interface HandshakeRun {
  readonly connection: RawConnection;
  /** Every byte chunk our side wrote during the handshake, in order: what a replay sends. */
  readonly sent: readonly Uint8Array[];
  /** Our side's outcome; undefined if the site closed the connection first. */
  readonly outcome: HandshakeOutcome | undefined;
  /** Bytes that arrived after the site's OK: its first frames. */
  readonly rest: Uint8Array;
}

/**
 * Dials the site and runs the real handshake as the initiator. `afterHello` is written right after our
 * HELLO and `afterProof` right after our PROOF, without waiting for the site's verdict: a peer trying to
 * slip frames in before it is authenticated.
 */
export async function runHandshake(
  port: number,
  identity: HandshakeIdentity,
  options: {
    readonly afterHello?: readonly Uint8Array[];
    readonly afterProof?: readonly Uint8Array[];
    readonly timeoutMs?: number;
  } = {},
): Promise<HandshakeRun> {
  const connection = new RawConnection(port);
  const handshake = new Handshake({
    role: 'initiator',
    clusterId: identity.clusterId,
    siteId: identity.siteId,
    secret: identity.secret,
    randomBytes: (size) => randomBytes(size),
    acceptPeer: () => true,
  });
  const sent: Uint8Array[] = [];
  const send = (chunks: readonly Uint8Array[]) => {
    for (const chunk of chunks) {
      sent.push(chunk);
      connection.write(chunk);
    }
  };
  const smuggle = (chunks: readonly Uint8Array[] | undefined) => {
    for (const bytes of chunks ?? []) connection.write(bytes);
  };
  let proofSent = false;
  const result = await new Promise<{ outcome: HandshakeOutcome | undefined; rest: Uint8Array }>((resolve) => {
    const empty = new Uint8Array(0);
    const timer = setTimeout(() => finish(undefined, empty), options.timeoutMs ?? 5_000);
    function finish(outcome: HandshakeOutcome | undefined, rest: Uint8Array) {
      clearTimeout(timer);
      connection.socket.off('data', onData);
      resolve({ outcome, rest });
    }
    function onData(chunk: Buffer) {
      const step = handshake.push(chunk);
      send(step.send);
      if (!proofSent && step.send.length > 0) {
        proofSent = true;
        smuggle(options.afterProof);
      }
      if (step.outcome !== undefined) finish(step.outcome, step.rest);
    }
    connection.socket.on('data', onData);
    void connection.closed.then(() => finish(handshake.outcome, empty));
    void connection.connected.then(
      () => {
        send(handshake.start().send);
        smuggle(options.afterHello);
      },
      () => finish(undefined, empty),
    );
  });
  return { connection, sent, outcome: result.outcome, rest: result.rest };
}

/**
 * An authenticated peer's view of the stream after the handshake: decodes the site's frames until
 * `until` accepts one.
 */
export function readMessages(
  connection: RawConnection,
  first: Uint8Array,
  until: (message: DecodedMessage) => boolean,
  timeoutMs = 5_000,
): Promise<DecodedMessage> {
  const reader = new FrameReader(64 * 1024 * 1024);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      connection.socket.off('data', onData);
      reject(new Error('no matching message from the site'));
    }, timeoutMs);
    const onData = (chunk: Uint8Array) => {
      const result = reader.push(chunk);
      if (!result.ok) {
        reject(new Error('the site sent a bad frame length'));
        return;
      }
      for (const frame of result.frames) {
        const decoded = decodeFrame(frame);
        if (decoded.ok && until(decoded.message)) {
          clearTimeout(timer);
          connection.socket.off('data', onData);
          resolve(decoded.message);
          return;
        }
      }
    };
    connection.socket.on('data', onData);
    onData(first);
  });
}

/** Opens `count` connections at once and sends nothing on any of them. */
export async function halfOpen(port: number, count: number): Promise<RawConnection[]> {
  const connections = Array.from({ length: count }, () => new RawConnection(port));
  await Promise.allSettled(connections.map((connection) => connection.connected));
  return connections;
}

/** Writes `bytes` one byte per `intervalMs` until done or the site closes the connection. */
export async function trickle(
  connection: RawConnection,
  bytes: Uint8Array,
  intervalMs: number,
): Promise<number> {
  await connection.connected;
  let written = 0;
  for (const byte of bytes) {
    if (connection.isClosed) break;
    connection.write(Uint8Array.of(byte));
    written++;
    const closedEarly = await Promise.race([
      connection.closed.then(() => true),
      new Promise<boolean>((resolve) => setTimeout(() => resolve(false), intervalMs)),
    ]);
    if (closedEarly) break;
  }
  return written;
}
