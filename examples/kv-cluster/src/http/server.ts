/**
 * The site's HTTP API on node:http: routing, limits, and the rule that bad input gets a JSON refusal
 * (`400`, `404`, `405`, `413`, …) and never takes the process down. Routes: `/kv/:key` (routes-kv.ts),
 * `/status` (status.ts), `/metrics` (metrics.ts) and `/` (the status page).
 */
import { readFileSync } from 'node:fs';
import {
  createServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
  STATUS_CODES,
} from 'node:http';
import type { Socket } from 'node:net';
import type { Logger } from '@ackord/core';
import type { Site } from '../site.js';
import { RequestAbortedError } from './body.js';
import { renderMetrics } from './metrics.js';
import { HttpError, sendError, sendJson } from './respond.js';
import { handleRead, handleWrite, parseKey, parseQuery, type Query } from './routes-kv.js';
import { statusBody } from './status.js';

/** Open connections at once; more wait in the kernel's backlog. */
export const MAX_HTTP_CONNECTIONS = 1024;
/** Headers must arrive within this, the whole request within REQUEST_TIMEOUT_MS. */
export const HEADERS_TIMEOUT_MS = 10_000;
export const REQUEST_TIMEOUT_MS = 30_000;
export const MAX_HEADER_BYTES = 16 * 1024;
/**
 * After an early answer (e.g. 413), the rest of the body is read and dropped for at most this long and
 * this many bytes; past either the connection is closed.
 */
export const DRAIN_GRACE_MS = 2_000;
export const DRAIN_MAX_BYTES = 8 * 1024 * 1024;

// From src/http/ (run through tsx) and from dist/http/ (compiled: tsc does not copy the page) alike.
const STATUS_PAGE = readFileSync(new URL('../../src/status-page.html', import.meta.url), 'utf8');

/** The page fetches every site's /status: its own origin and its peers'. */
const PAGE_HEADERS = {
  'content-type': 'text/html; charset=utf-8',
  'cache-control': 'no-store',
  'content-security-policy':
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src *; img-src data:",
};
/** Status and metrics are read-only and public within the cluster: any page may read them. */
const READ_ONLY_HEADERS = { 'access-control-allow-origin': '*' };

interface Route {
  readonly methods: readonly string[];
  readonly handle: (context: RequestContext) => Promise<void> | void;
}

interface RequestContext {
  readonly site: Site;
  readonly request: IncomingMessage;
  readonly response: ServerResponse;
  readonly path: string;
  readonly query: Query;
}

const routes: Record<string, Route> = {
  '/': {
    methods: ['GET', 'HEAD'],
    handle: ({ response }) => {
      response.writeHead(200, { ...PAGE_HEADERS, 'content-length': Buffer.byteLength(STATUS_PAGE) });
      response.end(STATUS_PAGE);
    },
  },
  '/status': {
    methods: ['GET', 'HEAD'],
    handle: ({ site, response }) => sendJson(response, 200, statusBody(site), READ_ONLY_HEADERS),
  },
  '/metrics': {
    methods: ['GET', 'HEAD'],
    handle: ({ site, response }) => {
      const text = renderMetrics({
        siteId: site.options.id,
        stats: site.manager.stats(),
        counters: site.counters(),
        peers: site.directory.peers(),
        permLsn: site.permLsn(),
      });
      response.writeHead(200, {
        'content-type': 'text/plain; version=0.0.4; charset=utf-8',
        'content-length': Buffer.byteLength(text),
        ...READ_ONLY_HEADERS,
      });
      response.end(text);
    },
  },
};

const kvRoute: Route = {
  methods: ['GET', 'HEAD', 'PUT', 'DELETE'],
  handle: ({ site, request, response, path, query }) => {
    const key = parseKey(path.slice('/kv/'.length));
    if (request.method === 'PUT') return handleWrite(site, 'put', key, query, request, response);
    if (request.method === 'DELETE') return handleWrite(site, 'delete', key, query, request, response);
    return handleRead(site, key, query, response);
  },
};

function routeFor(path: string): Route | undefined {
  return path.startsWith('/kv/') ? kvRoute : routes[path];
}

export function createHttpServer(site: Site, logger: Logger): Server {
  // One listener for every response (not a closure per request): counts what each was answered with.
  const counted = function (this: ServerResponse): void {
    site.noteHttpStatus(this.statusCode);
  };
  const server = createServer(
    {
      headersTimeout: HEADERS_TIMEOUT_MS,
      requestTimeout: REQUEST_TIMEOUT_MS,
      maxHeaderSize: MAX_HEADER_BYTES,
    },
    (request, response) => {
      response.on('finish', counted);
      handle(site, request, response).catch((error: unknown) =>
        answerError(error, request, response, logger),
      );
    },
  );
  server.maxConnections = MAX_HTTP_CONNECTIONS;
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Socket) => {
    // A request node:http could not parse (or that timed out): answer if the socket still can.
    if (!socket.writable || (error.code === 'ECONNRESET' && socket.destroyed)) {
      socket.destroy();
      return;
    }
    const status =
      error.code === 'HPE_HEADER_OVERFLOW' ? 431 : error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
    const body = JSON.stringify({
      error: 'bad_request',
      message: `malformed HTTP request (${error.code ?? 'unknown'})`,
    });
    socket.end(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nconnection: close\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
  });
  return server;
}

async function handle(site: Site, request: IncomingMessage, response: ServerResponse): Promise<void> {
  const url = request.url ?? '/';
  const queryAt = url.indexOf('?');
  const path = queryAt === -1 ? url : url.slice(0, queryAt);
  const query = parseQuery(queryAt === -1 ? '' : url.slice(queryAt + 1));
  const route = routeFor(path);
  if (route === undefined) throw new HttpError(404, 'no_route', `no route ${path}`);
  const method = request.method ?? 'GET';
  if (!route.methods.includes(method)) {
    throw new HttpError(
      405,
      'method_not_allowed',
      `${method} is not allowed on ${path}`,
      {},
      {
        allow: route.methods.join(', '),
      },
    );
  }
  await route.handle({ site, request, response, path, query });
}

function answerError(
  error: unknown,
  request: IncomingMessage,
  response: ServerResponse,
  logger: Logger,
): void {
  if (error instanceof RequestAbortedError || response.destroyed) {
    request.destroy();
    return;
  }
  const refusal =
    error instanceof HttpError
      ? error
      : new HttpError(500, 'internal', 'the site failed to handle this request (see its log)');
  if (!(error instanceof HttpError))
    logger.error(
      { err: error instanceof Error ? error.message : String(error), url: request.url },
      'request failed',
    );
  // The body was not read to its end (a refusal before reading it, or one past its limit): read and
  // drop the rest for a bounded while, never buffering it, so the client can finish sending and read the
  // answer — closing at once would reset the connection under it (the lingering close of web servers).
  if (!request.complete) drainRest(request);
  sendError(response, refusal);
}

function drainRest(request: IncomingMessage): void {
  const socket = request.socket;
  let dropped = 0;
  const timer = setTimeout(() => socket.destroy(), DRAIN_GRACE_MS);
  timer.unref();
  request.on('data', (chunk: Buffer) => {
    dropped += chunk.length;
    if (dropped > DRAIN_MAX_BYTES) socket.destroy();
  });
  request.once('end', () => clearTimeout(timer));
  request.once('close', () => clearTimeout(timer));
  request.resume();
}
