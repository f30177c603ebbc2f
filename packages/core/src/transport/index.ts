export * from './handshake.js';
export * from './handshake-error.js';
export {
  HANDSHAKE_MAX_FRAME_BYTES,
  HANDSHAKE_MAX_ID_BYTES,
  HANDSHAKE_NONCE_BYTES,
  HANDSHAKE_VERSION,
} from './handshake-frame.js';
export type { HandshakeRole } from './handshake-proof.js';
