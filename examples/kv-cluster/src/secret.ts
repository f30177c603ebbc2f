/** The cluster secret: from --secret-file, or a fixed development secret that says so in the log. */
import { readFile } from 'node:fs/promises';
import { TRANSPORT_MIN_SECRET_BYTES } from '@ackord/core';
import { UsageError } from './usage-error.js';

/** Public, in this repository: anyone can join a cluster that runs with it. For trying things out only. */
export const DEVELOPMENT_SECRET = 'ackord-kv development secret: not a secret';

export async function loadSecret(file: string | undefined, warn: (message: string) => void): Promise<string> {
  if (file === undefined) {
    warn('no --secret-file: using the public development secret; anyone who has this repository can join');
    return DEVELOPMENT_SECRET;
  }
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new UsageError(`kv node: --secret-file: cannot read ${file}: ${(error as Error).message}`);
  }
  // A trailing newline from `echo … > file` is not part of the secret.
  const secret = text.replace(/\r?\n$/, '');
  if (Buffer.byteLength(secret) < TRANSPORT_MIN_SECRET_BYTES)
    throw new UsageError(
      `kv node: --secret-file: the secret must be at least ${TRANSPORT_MIN_SECRET_BYTES} bytes`,
    );
  return secret;
}
