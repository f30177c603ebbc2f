/**
 * The authentication handshake every Ackord transport runs on a new connection before anything else is
 * parsed. A pure state machine: feed it the bytes that arrive (`push`), send the bytes it returns, stop
 * at its outcome. It never touches a socket, a timer or a global random source.
 *
 * Both sides send HELLO {version, cluster id, site id, 32-byte nonce} at once. On the peer's HELLO each
 * side checks version and cluster id, then sends PROOF (see handshake-proof.ts). On a good PROOF it
 * sends OK; the handshake succeeds when the peer's OK arrives too. Any failure sends REFUSE with a
 * typed reason and ends in a `HandshakeError`. Bytes after the peer's OK belong to the transport: they
 * come back as `rest`.
 */
import { AckordError, InvalidStateError } from '../errors.js';
import type { SiteId } from '../replica/types.js';
import { HandshakeError, type HandshakeErrorReason } from './handshake-error.js';
import {
  checkId,
  decodeHello,
  decodeRefusal,
  encodeHandshakeFrame,
  encodeHello,
  encodeRefusal,
  HANDSHAKE_MAX_FRAME_BYTES,
  HANDSHAKE_NONCE_BYTES,
  HANDSHAKE_VERSION,
  HandshakeType,
  type Hello,
  takeHandshakeFrame,
} from './handshake-frame.js';
import { computeProof, type HandshakeRole, proofsEqual } from './handshake-proof.js';

export interface HandshakeOptions {
  /** `initiator`: this side opened the connection. */
  readonly role: HandshakeRole;
  readonly clusterId: string;
  readonly siteId: SiteId;
  /** The cluster secret; both sides must hold the same bytes. */
  readonly secret: Uint8Array | string;
  /** `crypto.randomBytes` in production; a seeded source in tests. */
  readonly randomBytes: (size: number) => Uint8Array;
  /** Whether to accept a peer with this site id (default: any other than our own). */
  readonly acceptPeer?: (site: SiteId) => boolean;
}

export type HandshakeOutcome =
  | { readonly ok: true; readonly peer: SiteId }
  | { readonly ok: false; readonly error: HandshakeError };

export interface HandshakeStep {
  /** Bytes to write to the peer, in order. */
  readonly send: readonly Uint8Array[];
  /** Set once the handshake is over; no later step changes it. */
  readonly outcome: HandshakeOutcome | undefined;
  /** Bytes that followed the peer's OK: the transport's first frames. Empty otherwise. */
  readonly rest: Uint8Array;
}

type State = 'new' | 'await-hello' | 'await-proof' | 'await-ok' | 'done';

const EMPTY = new Uint8Array(0);

export class Handshake {
  readonly #options: HandshakeOptions;
  readonly #secret: Uint8Array;
  readonly #nonce: Uint8Array;
  #state: State = 'new';
  #buffer: Uint8Array = EMPTY;
  #peer: Hello | undefined;
  #expectedProof: Uint8Array | undefined;
  #outcome: HandshakeOutcome | undefined;

  constructor(options: HandshakeOptions) {
    for (const [what, id] of [
      ['clusterId', options.clusterId],
      ['siteId', options.siteId],
    ] as const) {
      const problem = checkId(what, id);
      if (problem !== undefined) throw new AckordError('ERR_ACKORD_CONFIG', problem);
    }
    this.#secret =
      typeof options.secret === 'string' ? new TextEncoder().encode(options.secret) : options.secret;
    if (this.#secret.length === 0) throw new AckordError('ERR_ACKORD_CONFIG', 'the cluster secret is empty');
    this.#options = options;
    this.#nonce = options.randomBytes(HANDSHAKE_NONCE_BYTES).slice();
    if (this.#nonce.length !== HANDSHAKE_NONCE_BYTES)
      throw new AckordError('ERR_ACKORD_CONFIG', `randomBytes returned ${this.#nonce.length} bytes`);
  }

  get outcome(): HandshakeOutcome | undefined {
    return this.#outcome;
  }

  /** Our HELLO: send it as soon as the connection opens. */
  start(): HandshakeStep {
    if (this.#state !== 'new') throw new InvalidStateError('the handshake was already started');
    this.#state = 'await-hello';
    const hello = encodeHello({
      version: HANDSHAKE_VERSION,
      clusterId: this.#options.clusterId,
      siteId: this.#options.siteId,
      nonce: this.#nonce,
    });
    return { send: [hello], outcome: undefined, rest: EMPTY };
  }

  /** Bytes from the peer. After the outcome, everything pushed comes back as `rest`. */
  push(chunk: Uint8Array): HandshakeStep {
    if (this.#state === 'new') throw new InvalidStateError('push before start');
    if (this.#state === 'done') return { send: [], outcome: this.#outcome, rest: chunk };
    this.#buffer = concat(this.#buffer, chunk);
    const send: Uint8Array[] = [];
    // Each pass consumes a whole frame; a peer sends at most three (HELLO, PROOF, OK) before we finish.
    for (let frames = 0; frames < 4 && !this.#done(); frames++) {
      const taken = takeHandshakeFrame(this.#buffer);
      if (taken === undefined) break;
      if (taken instanceof HandshakeError) return this.#fail(taken, send);
      this.#buffer = taken.rest;
      const reply = this.#step(taken.frame.type, taken.frame.body);
      if (reply instanceof HandshakeError) return this.#fail(reply, send);
      if (reply !== undefined) send.push(reply);
    }
    if (this.#done()) {
      const rest = this.#buffer;
      this.#buffer = EMPTY;
      return { send, outcome: this.#outcome, rest };
    }
    if (this.#buffer.length > HANDSHAKE_MAX_FRAME_BYTES)
      return this.#fail(new HandshakeError('unexpected', 'too many bytes before the handshake ended'), send);
    return { send, outcome: undefined, rest: EMPTY };
  }

  #done(): boolean {
    return this.#state === 'done';
  }

  /** The transport's handshake timer fired: refuse with `timeout`. */
  expire(): HandshakeStep {
    if (this.#state === 'done') return { send: [], outcome: this.#outcome, rest: EMPTY };
    return this.#fail(new HandshakeError('timeout', 'the handshake did not finish in time'), []);
  }

  #step(type: number, body: Uint8Array): Uint8Array | HandshakeError | undefined {
    if (type === HandshakeType.refuse) return decodeRefusal(body);
    switch (this.#state) {
      case 'await-hello':
        return type === HandshakeType.hello ? this.#onHello(body) : unexpected(type, 'HELLO');
      case 'await-proof':
        return type === HandshakeType.proof ? this.#onProof(body) : unexpected(type, 'PROOF');
      case 'await-ok':
        if (type !== HandshakeType.ok || body.length !== 0) return unexpected(type, 'OK');
        this.#state = 'done';
        this.#outcome = { ok: true, peer: this.#peer!.siteId };
        return undefined;
      default:
        return unexpected(type, 'nothing');
    }
  }

  #onHello(body: Uint8Array): Uint8Array | HandshakeError {
    const hello = decodeHello(body);
    if (hello instanceof HandshakeError) return hello;
    if (hello.clusterId !== this.#options.clusterId)
      return new HandshakeError('wrong-cluster', `peer is in cluster ${JSON.stringify(hello.clusterId)}`);
    const accept = this.#options.acceptPeer ?? (() => true);
    if (hello.siteId === this.#options.siteId || !accept(hello.siteId))
      return new HandshakeError('unknown-peer', `site ${JSON.stringify(hello.siteId)} is not accepted here`);
    this.#peer = hello;
    const us = { siteId: this.#options.siteId, nonce: this.#nonce };
    const them = { siteId: hello.siteId, nonce: hello.nonce };
    const weInitiate = this.#options.role === 'initiator';
    const input = {
      clusterId: this.#options.clusterId,
      initiator: weInitiate ? us : them,
      responder: weInitiate ? them : us,
    };
    this.#expectedProof = computeProof(this.#secret, {
      ...input,
      prover: weInitiate ? 'responder' : 'initiator',
    });
    this.#state = 'await-proof';
    return encodeHandshakeFrame(
      HandshakeType.proof,
      computeProof(this.#secret, { ...input, prover: this.#options.role }),
    );
  }

  #onProof(body: Uint8Array): Uint8Array | HandshakeError {
    if (!proofsEqual(this.#expectedProof!, body))
      return new HandshakeError('bad-proof', 'the peer does not prove the cluster secret');
    this.#state = 'await-ok';
    return encodeHandshakeFrame(HandshakeType.ok, EMPTY);
  }

  #fail(error: HandshakeError, send: Uint8Array[]): HandshakeStep {
    this.#state = 'done';
    this.#buffer = EMPTY;
    this.#outcome = { ok: false, error };
    // A refusal from the peer needs no answer; our own refusal tells the peer why.
    if (!error.remote) send.push(encodeRefusal(error.reason));
    return { send, outcome: this.#outcome, rest: EMPTY };
  }
}

function unexpected(type: number, expected: string): HandshakeError {
  const reason: HandshakeErrorReason = 'unexpected';
  return new HandshakeError(reason, `message type ${type} while expecting ${expected}`);
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.length === 0) return b;
  const joined = new Uint8Array(a.length + b.length);
  joined.set(a, 0);
  joined.set(b, a.length);
  return joined;
}
