/**
 * Attackers on raw sockets, for the abuse suite. The almost-right ones (wrong secret, wrong cluster id,
 * replayed bytes, an insider that stops reading) run the real handshake from @ackord/core, so they fail
 * exactly where the check under test is, not earlier.
 *
 * A `Wire` says how bytes travel on one transport: over TCP the handshake frames go as they are and
 * replication frames carry a u32 length; over WebSocket the connection starts with an HTTP upgrade and
 * every handshake frame or replication frame is one binary message (client frames masked, RFC 6455).
 */
import { randomBytes } from 'node:crypto';
import { createConnection, type Socket } from 'node:net';
import { type DecodedMessage, decodeFrame, Handshake, type HandshakeOutcome } from '@ackord/core';
import { encodeTcpFrame, FrameReader } from '@ackord/transport-tcp';
import { ATTACK_MARKER, type TransportKind } from '../cluster-proc/protocol.js';

export const HOST = '127.0.0.1';
/** The path the WebSocket listener upgrades (the transport's default). */
const WS_PATH = '/ackord';
/** The most a fake peer buffers of what a site sends it. */
const MAX_INBOUND_BYTES = 64 * 1024 * 1024;

/** The bytes of a handshake OK frame ("AKHS", type 3, empty body): what a cheater sends without checking. */
export const HANDSHAKE_OK_FRAME = Uint8Array.of(0x41, 0x4b, 0x48, 0x53, 3, 0, 0);

/**
 * A socket plus what we learn about how it ended. Inbound bytes go to one consumer at a time; bytes
 * that arrive while nobody consumes wait for the next one (bounded), so nothing is lost between steps.
 */
export class RawConnection {
  readonly socket: Socket;
  readonly connected: Promise<void>;
  /** Resolves when the socket is fully closed (by either side), with the time it took from connecting. */
  readonly closed: Promise<{ afterMs: number }>;
  #startedAt = Date.now();
  #backlog: Buffer[] = [];
  #backlogBytes = 0;
  #consumer: ((chunk: Buffer) => void) | undefined;
  #observer: ((chunk: Buffer) => void) | undefined;

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
      this.#observer?.(chunk);
      if (this.#consumer !== undefined) {
        this.#consumer(chunk);
        return;
      }
      this.#backlogBytes += chunk.length;
      if (this.#backlogBytes > MAX_INBOUND_BYTES) this.socket.destroy();
      else this.#backlog.push(chunk);
    });
  }

  /** Hands every inbound chunk (first those waiting) to `consumer` until the returned function is called. */
  consume(consumer: (chunk: Buffer) => void): () => void {
    if (this.#consumer !== undefined) throw new Error('the connection already has a consumer');
    this.#consumer = consumer;
    const waiting = this.#backlog;
    this.#backlog = [];
    this.#backlogBytes = 0;
    for (const chunk of waiting) if (this.#consumer === consumer) consumer(chunk);
    return () => {
      if (this.#consumer === consumer) this.#consumer = undefined;
    };
  }

  /** Sees every inbound chunk (first those waiting for a consumer), whoever consumes it. */
  observe(observer: (chunk: Buffer) => void): void {
    this.#observer = observer;
    for (const chunk of this.#backlog) observer(chunk);
  }

  /** Puts bytes back in front of whatever arrives next. */
  unshift(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.#backlog.unshift(chunk);
    this.#backlogBytes += chunk.length;
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

/** Splits what a site sends into units: raw bytes for the TCP handshake, whole messages otherwise. */
export interface Inbound {
  push(chunk: Uint8Array): Uint8Array[];
  /** The handshake is over: from now on every unit is one replication frame. */
  authenticated(): void;
}

export interface Wire {
  readonly kind: TransportKind;
  /** Connects; over WebSocket also completes the HTTP upgrade. */
  open(port: number): Promise<RawConnection>;
  /** A handshake frame as it goes on this wire. */
  handshake(bytes: Uint8Array): Buffer;
  /** A replication frame as it goes on this wire. */
  frame(bytes: Uint8Array): Buffer;
  /** A header announcing a frame of `length` bytes (whose body never comes). */
  header(length: number): Buffer;
  inbound(): Inbound;
}

export const tcpWire: Wire = {
  kind: 'tcp',
  async open(port) {
    const connection = new RawConnection(port);
    await connection.connected;
    return connection;
  },
  handshake: (bytes) => Buffer.from(bytes),
  frame: (bytes) => encodeTcpFrame(bytes),
  header(length) {
    const header = Buffer.alloc(4);
    header.writeUInt32BE(length, 0);
    return header;
  },
  inbound() {
    let reader: FrameReader | undefined;
    return {
      push(chunk) {
        if (reader === undefined) return [chunk];
        const result = reader.push(chunk);
        if (!result.ok) throw new Error(`the site sent a frame of ${result.length} bytes`);
        return result.frames;
      },
      authenticated() {
        reader = new FrameReader(MAX_INBOUND_BYTES);
      },
    };
  },
};

/** A masked client-to-server WebSocket frame header (RFC 6455 §5.2) announcing `length` payload bytes. */
function wsHeader(opcode: number, length: number, mask: Uint8Array): Buffer {
  const size = length < 126 ? 2 : length < 65_536 ? 4 : 10;
  const header = Buffer.alloc(size + 4);
  header[0] = 0x80 | opcode;
  if (size === 2) header[1] = 0x80 | length;
  else if (size === 4) {
    header[1] = 0x80 | 126;
    header.writeUInt16BE(length, 2);
  } else {
    header[1] = 0x80 | 127;
    header.writeBigUInt64BE(BigInt(length), 2);
  }
  header.set(mask, size);
  return header;
}

function wsBinary(payload: Uint8Array): Buffer {
  const mask = randomBytes(4);
  const masked = Buffer.alloc(payload.length);
  for (let index = 0; index < payload.length; index++) masked[index] = payload[index]! ^ mask[index % 4]!;
  return Buffer.concat([wsHeader(0x2, payload.length, mask), masked]);
}

/** Server-to-client frames (unmasked), reassembled into binary messages; control frames are dropped. */
class WsMessageReader {
  #buffer = Buffer.alloc(0);
  #fragments: Buffer[] = [];
  /** The site sent a close frame. */
  closeReceived = false;

  push(chunk: Uint8Array): Uint8Array[] {
    this.#buffer = Buffer.concat([this.#buffer, chunk]);
    if (this.#buffer.length > MAX_INBOUND_BYTES) throw new Error('the site sent too much at once');
    const messages: Uint8Array[] = [];
    for (;;) {
      const buffer = this.#buffer;
      if (buffer.length < 2) break;
      const fin = (buffer[0]! & 0x80) !== 0;
      const opcode = buffer[0]! & 0x0f;
      let length = buffer[1]! & 0x7f;
      let offset = 2;
      if (length === 126) {
        if (buffer.length < 4) break;
        length = buffer.readUInt16BE(2);
        offset = 4;
      } else if (length === 127) {
        if (buffer.length < 10) break;
        length = Number(buffer.readBigUInt64BE(2));
        offset = 10;
      }
      if (buffer.length < offset + length) break;
      const payload = buffer.subarray(offset, offset + length);
      this.#buffer = buffer.subarray(offset + length);
      if (opcode === 0x8) this.closeReceived = true;
      if (opcode >= 0x8) continue; // close, ping, pong
      this.#fragments.push(payload);
      if (fin) {
        messages.push(new Uint8Array(Buffer.concat(this.#fragments)));
        this.#fragments = [];
      }
    }
    return messages;
  }
}

export const wsWire: Wire = {
  kind: 'ws',
  async open(port) {
    const connection = new RawConnection(port);
    await connection.connected;
    const key = randomBytes(16).toString('base64');
    connection.write(
      Buffer.from(
        `GET ${WS_PATH} HTTP/1.1\r\nHost: ${HOST}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
      ),
    );
    const head = await new Promise<string>((resolve, reject) => {
      let received = Buffer.alloc(0);
      const stop = connection.consume((chunk) => {
        received = Buffer.concat([received, chunk]);
        const end = received.indexOf('\r\n\r\n');
        if (end < 0) {
          if (received.length > 8192) reject(new Error('an upgrade response without an end'));
          return;
        }
        stop();
        // Whatever follows the response head is the site's first WebSocket frame: keep it.
        connection.unshift(received.subarray(end + 4));
        resolve(received.subarray(0, end).toString('latin1'));
      });
      void connection.closed.then(() => reject(new Error('closed during the upgrade')));
    });
    if (!head.startsWith('HTTP/1.1 101')) throw new Error(`upgrade refused: ${head.split('\r\n')[0]}`);
    // Like any WebSocket client, answer the site's close frame and end, so its close completes at once.
    const closes = new WsMessageReader();
    connection.observe((chunk) => {
      if (closes.closeReceived) return;
      closes.push(chunk);
      if (!closes.closeReceived) return;
      connection.write(Buffer.from(wsHeader(0x8, 0, Uint8Array.of(0, 0, 0, 0))));
      connection.socket.end();
    });
    return connection;
  },
  handshake: (bytes) => wsBinary(bytes),
  frame: (bytes) => wsBinary(bytes),
  header: (length) => wsHeader(0x2, length, randomBytes(4)),
  inbound() {
    const reader = new WsMessageReader();
    return { push: (chunk) => reader.push(chunk), authenticated: () => undefined };
  },
};

export const WIRES: Readonly<Record<TransportKind, Wire>> = { tcp: tcpWire, ws: wsWire };

/** A frame no site may ever deliver: a site counts any frame starting with ATTACK_MARKER. */
export function markerFrame(wire: Wire, note: string): Buffer {
  return wire.frame(Buffer.from(`${ATTACK_MARKER} ${note}`));
}

export interface HandshakeIdentity {
  readonly siteId: string;
  readonly clusterId: string;
  readonly secret: string;
}

/** A fake peer after its handshake: what it sent, how it ended, and the frames the site sent it since. */
export interface HandshakeRun {
  readonly connection: RawConnection;
  /** Every wire chunk our side wrote during the handshake, in order: what a replay sends. */
  readonly sent: readonly Buffer[];
  /** Our side's outcome; undefined if the connection closed first. */
  readonly outcome: HandshakeOutcome | undefined;
  /** Splits the site's later bytes into frames. */
  readonly inbound: Inbound;
  /** Frames that arrived with the end of the handshake. */
  readonly frames: readonly Uint8Array[];
}

/**
 * Connects and runs the real handshake as the initiator. `afterHello` is written right after our HELLO
 * and `afterProof` right after our PROOF, without waiting for the site's verdict: a peer trying to slip
 * frames in before it is authenticated.
 */
export async function runHandshake(
  wire: Wire,
  port: number,
  identity: HandshakeIdentity,
  options: {
    readonly afterHello?: readonly Uint8Array[];
    readonly afterProof?: readonly Uint8Array[];
    readonly timeoutMs?: number;
  } = {},
): Promise<HandshakeRun> {
  const connection = await wire.open(port);
  const handshake = new Handshake({
    role: 'initiator',
    clusterId: identity.clusterId,
    siteId: identity.siteId,
    secret: identity.secret,
    randomBytes: (size) => randomBytes(size),
    acceptPeer: () => true,
  });
  const inbound = wire.inbound();
  const sent: Buffer[] = [];
  const frames: Uint8Array[] = [];
  const send = (chunks: readonly Uint8Array[]) => {
    for (const chunk of chunks) {
      const bytes = wire.handshake(chunk);
      sent.push(bytes);
      connection.write(bytes);
    }
  };
  const smuggle = (chunks: readonly Uint8Array[] | undefined) => {
    for (const bytes of chunks ?? []) connection.write(bytes);
  };
  let proofSent = false;
  const outcome = await new Promise<HandshakeOutcome | undefined>((resolve) => {
    const timer = setTimeout(() => finish(undefined), options.timeoutMs ?? 5_000);
    let stop: () => void = () => undefined;
    let finished = false;
    function finish(result: HandshakeOutcome | undefined) {
      finished = true;
      clearTimeout(timer);
      stop();
      resolve(result);
    }
    function onData(chunk: Buffer) {
      for (const unit of inbound.push(chunk)) {
        if (handshake.outcome !== undefined) {
          frames.push(unit);
          continue;
        }
        const step = handshake.push(unit);
        send(step.send);
        if (!proofSent && step.send.length > 0) {
          proofSent = true;
          smuggle(options.afterProof);
        }
        if (step.outcome?.ok) {
          inbound.authenticated();
          if (step.rest.length > 0) frames.push(...inbound.push(step.rest));
        }
      }
      if (handshake.outcome !== undefined) finish(handshake.outcome);
    }
    send(handshake.start().send);
    smuggle(options.afterHello);
    stop = connection.consume(onData);
    // The backlog may have finished it already, before `stop` was set.
    if (finished) stop();
    void connection.closed.then(() => finish(handshake.outcome));
  });
  return { connection, sent, outcome, inbound, frames };
}

/** Decodes the site's frames to an authenticated fake peer until `until` accepts one. */
export function readMessages(
  run: HandshakeRun,
  until: (message: DecodedMessage) => boolean,
  timeoutMs = 5_000,
): Promise<DecodedMessage> {
  return new Promise((resolve, reject) => {
    let stop: () => void = () => undefined;
    const timer = setTimeout(() => {
      stop();
      reject(new Error('no matching message from the site'));
    }, timeoutMs);
    const consider = (frames: readonly Uint8Array[]) => {
      for (const frame of frames) {
        const decoded = decodeFrame(frame);
        if (decoded.ok && until(decoded.message)) {
          clearTimeout(timer);
          stop();
          resolve(decoded.message);
          return true;
        }
      }
      return false;
    };
    if (consider(run.frames)) return;
    let found = false;
    stop = run.connection.consume((chunk) => {
      if (!found) found = consider(run.inbound.push(chunk));
    });
    if (found) stop();
  });
}

/** Opens `count` TCP connections at once and sends nothing on any of them. */
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
