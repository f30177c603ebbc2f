/**
 * The chaos clients' HTTP: node:http with keep-alive and a hard deadline per request. node:http never
 * re-sends a request by itself (a re-sent PUT could land after a newer write and fake a lost update), and
 * tells a connection that was refused (the request never left: the write did nothing) from one that broke
 * after the request was written (the outcome is unknown).
 */
import { Agent, request } from 'node:http';

export interface HttpAnswer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: Buffer;
}

export type HttpFailure =
  /** The connection was refused or could not be made: nothing was sent. */
  | { readonly kind: 'refused'; readonly message: string }
  /** No complete answer in time, or the connection broke after the request went out. */
  | { readonly kind: 'timeout' | 'broken'; readonly message: string };

export type HttpResult =
  | { readonly ok: true; readonly answer: HttpAnswer }
  | ({ readonly ok: false } & HttpFailure);

const REFUSED_CODES = new Set(['ECONNREFUSED', 'EADDRNOTAVAIL', 'ENETUNREACH', 'EHOSTUNREACH']);

export class HttpClient {
  readonly #agent = new Agent({ keepAlive: true, maxSockets: 256, keepAliveMsecs: 1000 });

  send(
    url: string,
    options: { method?: string; body?: string | Buffer; timeoutMs: number },
  ): Promise<HttpResult> {
    return new Promise((resolve) => {
      let settled = false;
      let written = false;
      const finish = (result: HttpResult) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(result);
      };
      const body = options.body === undefined ? undefined : Buffer.from(options.body);
      const req = request(url, {
        method: options.method ?? 'GET',
        agent: this.#agent,
        headers: body === undefined ? {} : { 'content-length': body.length },
      });
      const timer = setTimeout(() => {
        finish({ ok: false, kind: 'timeout', message: `no answer in ${options.timeoutMs} ms` });
        req.destroy();
      }, options.timeoutMs);
      req.on('socket', (socket) => {
        // A reused keep-alive socket is connected already; a new one is written once it connects.
        if (!socket.connecting) written = true;
        else socket.once('connect', () => (written = true));
      });
      req.on('error', (error: NodeJS.ErrnoException) => {
        const refused = !written && REFUSED_CODES.has(error.code ?? '');
        finish(
          refused
            ? { ok: false, kind: 'refused', message: error.code ?? error.message }
            : { ok: false, kind: 'broken', message: error.code ?? error.message },
        );
      });
      req.on('response', (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () =>
          finish({
            ok: true,
            answer: {
              status: response.statusCode ?? 0,
              headers: response.headers,
              body: Buffer.concat(chunks),
            },
          }),
        );
        response.on('error', (error) => finish({ ok: false, kind: 'broken', message: error.message }));
        response.on('aborted', () => finish({ ok: false, kind: 'broken', message: 'response aborted' }));
      });
      req.end(body);
    });
  }

  async json(url: string, timeoutMs: number): Promise<Record<string, unknown> | undefined> {
    const result = await this.send(url, { timeoutMs });
    if (!result.ok || result.answer.status !== 200) return undefined;
    try {
      return JSON.parse(result.answer.body.toString('utf8')) as Record<string, unknown>;
    } catch {
      return undefined;
    }
  }

  close(): void {
    this.#agent.destroy();
  }
}
