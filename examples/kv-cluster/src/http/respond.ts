/** Responses: JSON bodies, and the `{ error, message }` shape every refusal has. */
import type { OutgoingHttpHeader, ServerResponse } from 'node:http';

/** A refusal with a status, a stable machine-readable code and a sentence for people. */
export class HttpError extends Error {
  override readonly name = 'HttpError';
  readonly status: number;
  readonly code: string;
  readonly extra: Record<string, unknown>;
  readonly headers: Record<string, string>;

  constructor(
    status: number,
    code: string,
    message: string,
    extra: Record<string, unknown> = {},
    headers: Record<string, string> = {},
  ) {
    super(message);
    this.status = status;
    this.code = code;
    this.extra = extra;
    this.headers = headers;
  }
}

export function sendJson(
  response: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  sendJsonText(response, status, JSON.stringify(body), headers);
}

const JSON_CONTENT_TYPE = 'application/json; charset=utf-8';

/**
 * `sendJson` for a body already serialized (`json`: one JSON value, no trailing newline). The headers go
 * to writeHead as one flat list, the form node:http stores without a setHeader call per header.
 */
export function sendJsonText(
  response: ServerResponse,
  status: number,
  json: string,
  headers?: Record<string, string>,
): void {
  if (response.headersSent) {
    response.end();
    return;
  }
  const text = `${json}\n`;
  const list: OutgoingHttpHeader[] = [
    'content-type',
    JSON_CONTENT_TYPE,
    'content-length',
    Buffer.byteLength(text),
    'cache-control',
    'no-store',
  ];
  if (headers !== undefined) for (const name in headers) list.push(name, headers[name]!);
  response.writeHead(status, list);
  response.end(text);
}

export function sendError(response: ServerResponse, error: HttpError): void {
  sendJson(
    response,
    error.status,
    { error: error.code, message: error.message, ...error.extra },
    error.headers,
  );
}
