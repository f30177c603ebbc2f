/**
 * A byte budget for a WebSocket before its handshake passes. `ws` buffers a whole message (up to
 * `maxPayload`, the frame limit) before it hands it over, so without this a stranger could make us hold
 * megabytes per unauthenticated connection. The handshake's messages are a few hundred bytes; anything
 * past the budget closes the connection, counted on the socket as the bytes arrive.
 */
import type { Duplex } from 'node:stream';
import { HANDSHAKE_MAX_FRAME_BYTES } from '@ackord/core';

/** HELLO, PROOF, OK (or REFUSE) with their WebSocket headers, a few pings, and room to spare. */
export const WS_UNAUTHENTICATED_MAX_BYTES = 8 * HANDSHAKE_MAX_FRAME_BYTES;

/**
 * Counts `socket`'s inbound bytes; past `maxBytes` while `authenticated()` is false, calls `exceeded`.
 * Returns the function that stops counting.
 */
export function limitUnauthenticatedBytes(
  socket: Duplex,
  maxBytes: number,
  authenticated: () => boolean,
  exceeded: (bytes: number) => void,
): () => void {
  let seen = 0;
  const onData = (chunk: Buffer) => {
    seen += chunk.length;
    if (seen <= maxBytes) return;
    // Judged once ws has parsed this chunk: the chunk that completes the handshake may carry frames too.
    queueMicrotask(() => {
      if (!authenticated()) exceeded(seen);
    });
  };
  socket.on('data', onData);
  return () => socket.off('data', onData);
}
