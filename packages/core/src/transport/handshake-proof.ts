/**
 * The proof each side sends: HMAC-SHA256 with the cluster secret over both nonces, both site ids, the
 * cluster id and the direction. Each side's nonce is fresh, so a recorded proof never matches again;
 * the direction byte stops a peer from reflecting our own proof back at us.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { SiteId } from '../replica/types.js';

export type HandshakeRole = 'initiator' | 'responder';

export interface ProofInput {
  readonly clusterId: string;
  readonly initiator: { readonly siteId: SiteId; readonly nonce: Uint8Array };
  readonly responder: { readonly siteId: SiteId; readonly nonce: Uint8Array };
  /** Who proves: the initiator to the responder, or the other way. */
  readonly prover: HandshakeRole;
}

const LABEL = 'ackord-handshake-v1';
const utf8 = new TextEncoder();

export function computeProof(secret: Uint8Array, input: ProofInput): Uint8Array {
  const hmac = createHmac('sha256', secret);
  hmac.update(LABEL);
  hmac.update(Uint8Array.of(input.prover === 'initiator' ? 1 : 2));
  // Every variable-length field carries its length, so no two inputs hash the same bytes.
  for (const text of [input.clusterId, input.initiator.siteId, input.responder.siteId]) {
    const bytes = utf8.encode(text);
    hmac.update(Uint8Array.of(bytes.length >> 8, bytes.length & 0xff));
    hmac.update(bytes);
  }
  hmac.update(input.initiator.nonce);
  hmac.update(input.responder.nonce);
  return new Uint8Array(hmac.digest());
}

export function proofsEqual(expected: Uint8Array, received: Uint8Array): boolean {
  return expected.length === received.length && timingSafeEqual(expected, received);
}
