/** What the driver needs from each side of an echo, whatever carries it. */

/** The client end: sends frames and hears the echoes, in order. */
export interface EchoLink {
  /** Hands one frame to the link; throws if the link refuses it (a benchmark self-check). */
  send(frame: Uint8Array): void;
  /** Set by the driver: called once per echoed frame. */
  onReply: (frame: Uint8Array) => void;
  close(): Promise<void>;
}

/** The echoing end, in the server process. */
export interface EchoServer {
  readonly port: number;
  close(): Promise<void>;
}

/** Both Ackord ends share these. The client is site `a`, the echo server site `b` (lower id dials). */
export const CLUSTER_ID = 'bench';
export const SECRET = 'bench secret, sixteen bytes or more';
export const CLIENT_SITE = 'a';
export const SERVER_SITE = 'b';
export const HOST = '127.0.0.1';

/** Waits until `condition` holds, polling; fails after `timeoutMs`. */
export async function until(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
