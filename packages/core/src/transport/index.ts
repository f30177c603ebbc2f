export * from './admissions.js';
export * from './backoff.js';
export * from './connection-error.js';
export * from './handshake.js';
export * from './handshake-error.js';
export {
  HANDSHAKE_MAX_FRAME_BYTES,
  HANDSHAKE_MAX_ID_BYTES,
  HANDSHAKE_NONCE_BYTES,
  HANDSHAKE_VERSION,
} from './handshake-frame.js';
export type { HandshakeRole } from './handshake-proof.js';
export * from './link.js';
export * from './link-handshake.js';
export * from './liveness.js';
export * from './peer-links.js';
export * from './tls-error.js';
export * from './tls-options.js';
export * from './transport-options.js';
