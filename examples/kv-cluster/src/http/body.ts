/**
 * Reads a request body up to a limit, counting bytes as they arrive: a declared Content-Length above the
 * limit is refused before reading anything, a body that grows past it is refused as soon as it does, and
 * nothing beyond the limit is ever buffered.
 */
import type { IncomingMessage } from 'node:http';
import { HttpError } from './respond.js';

/** The request was cut off by its client: there is nobody to answer. */
export class RequestAbortedError extends Error {
  override readonly name = 'RequestAbortedError';
}

export function tooLarge(limit: number, what: string): HttpError {
  return new HttpError(413, 'value_too_large', `${what} is larger than ${limit} bytes`, {
    limitBytes: limit,
  });
}

export function readBody(request: IncomingMessage, limit: number, what: string): Promise<Buffer> {
  const declared = request.headers['content-length'];
  if (declared !== undefined && Number(declared) > limit) return Promise.reject(tooLarge(limit, what));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const cleanup = () => {
      request.off('data', onData);
      request.off('end', onEnd);
      request.off('error', onError);
      request.off('aborted', onAborted);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        cleanup();
        // Stop buffering; the server answers 413 and closes the connection (see server.ts).
        reject(tooLarge(limit, what));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      // A small value comes in one chunk: no copy (the caller copies it into the log record anyway).
      resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
    };
    const onError = (error: Error) => {
      cleanup();
      reject(new RequestAbortedError(error.message));
    };
    const onAborted = () => {
      cleanup();
      reject(new RequestAbortedError('the client closed the request'));
    };
    request.on('data', onData);
    request.on('end', onEnd);
    request.on('error', onError);
    request.on('aborted', onAborted);
  });
}
