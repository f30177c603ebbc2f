import {
  Handshake,
  type HandshakeOptions,
  type HandshakeOutcome,
  type HandshakeStep,
} from '../../src/transport/index.js';

/** Deterministic nonces: each call returns `size` bytes from a counter seeded with `seed`. */
export function seededBytes(seed: number): (size: number) => Uint8Array {
  let state = seed;
  const nextByte = () => {
    state = (state * 1103515245 + 12345) >>> 0;
    return state >>> 24;
  };
  return (size) => Uint8Array.from({ length: size }, nextByte);
}

export function options(overrides: Partial<HandshakeOptions> = {}): HandshakeOptions {
  return {
    role: 'initiator',
    clusterId: 'cluster-1',
    siteId: 'a',
    secret: 'correct horse battery staple',
    randomBytes: seededBytes(1),
    ...overrides,
  };
}

export interface PairResult {
  readonly initiator: HandshakeOutcome | undefined;
  readonly responder: HandshakeOutcome | undefined;
  /** Every byte the initiator sent, in order: a recording an attacker could replay. */
  readonly initiatorBytes: Uint8Array[];
  readonly initiatorRest: Uint8Array[];
  readonly responderRest: Uint8Array[];
}

/**
 * Runs two handshakes against each other until both stop. `tamper` may rewrite what the initiator sends
 * (chunk by chunk) before the responder sees it.
 */
export function runPair(
  initiatorOptions: Partial<HandshakeOptions>,
  responderOptions: Partial<HandshakeOptions>,
  tamper: (chunk: Uint8Array) => Uint8Array = (chunk) => chunk,
): PairResult {
  const initiator = new Handshake(
    options({ siteId: 'a', randomBytes: seededBytes(1), ...initiatorOptions, role: 'initiator' }),
  );
  const responder = new Handshake(
    options({ siteId: 'b', randomBytes: seededBytes(2), ...responderOptions, role: 'responder' }),
  );
  const toResponder: Uint8Array[] = [];
  const toInitiator: Uint8Array[] = [];
  const initiatorBytes: Uint8Array[] = [];
  const initiatorRest: Uint8Array[] = [];
  const responderRest: Uint8Array[] = [];
  const collect = (
    step: HandshakeStep,
    outbox: Uint8Array[],
    rest: Uint8Array[],
    recording?: Uint8Array[],
  ) => {
    for (const bytes of step.send) {
      recording?.push(bytes);
      outbox.push(bytes);
    }
    if (step.rest.length > 0) rest.push(step.rest);
  };
  collect(initiator.start(), toResponder, initiatorRest, initiatorBytes);
  collect(responder.start(), toInitiator, responderRest);
  for (let round = 0; round < 20 && (toResponder.length > 0 || toInitiator.length > 0); round++) {
    for (const chunk of toResponder.splice(0))
      collect(responder.push(tamper(chunk)), toInitiator, responderRest);
    for (const chunk of toInitiator.splice(0))
      collect(initiator.push(chunk), toResponder, initiatorRest, initiatorBytes);
  }
  return {
    initiator: initiator.outcome,
    responder: responder.outcome,
    initiatorBytes,
    initiatorRest,
    responderRest,
  };
}

export function concatAll(chunks: readonly Uint8Array[]): Uint8Array {
  return Uint8Array.from(chunks.flatMap((chunk) => [...chunk]));
}
