/** Small HTTP helpers for the launcher, the demo and the tests: fetch with a deadline, JSON decoded. */

/** A request to a site that is up answers well within this; a stopped site must not hang the caller. */
export const REQUEST_DEADLINE_MS = 10_000;

export interface Answer {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
  /** The body as JSON, or undefined when it is not JSON. */
  readonly json: Record<string, unknown> | undefined;
}

export async function call(
  url: string,
  init: { method?: string; body?: string | Uint8Array; timeoutMs?: number } = {},
): Promise<Answer> {
  const response = await fetch(url, {
    method: init.method ?? 'GET',
    ...(init.body === undefined ? {} : { body: init.body }),
    signal: AbortSignal.timeout(init.timeoutMs ?? REQUEST_DEADLINE_MS),
  });
  const text = await response.text();
  let json: Record<string, unknown> | undefined;
  if ((response.headers.get('content-type') ?? '').startsWith('application/json')) {
    try {
      json = JSON.parse(text) as Record<string, unknown>;
    } catch {
      json = undefined;
    }
  }
  return { status: response.status, headers: response.headers, text, json };
}

/** `GET /status`, or undefined when the site does not answer. */
export async function status(
  baseUrl: string,
  timeoutMs = 2_000,
): Promise<Record<string, unknown> | undefined> {
  try {
    const answer = await call(`${baseUrl}/status`, { timeoutMs });
    return answer.status === 200 ? answer.json : undefined;
  } catch {
    return undefined;
  }
}

/** Polls `condition` until it returns a value (not undefined); throws naming `what` after `timeoutMs`. */
export async function waitFor<T>(
  condition: () => Promise<T | undefined> | T | undefined,
  what: string,
  timeoutMs = 15_000,
  intervalMs = 50,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await condition();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** The master as the given sites agree on it: every answering site names the same one, which says it is master. */
export async function agreedMaster(
  urls: readonly string[],
): Promise<{ id: string; url: string } | undefined> {
  const answers = await Promise.all(urls.map((url) => status(url, 1_000).then((body) => ({ url, body }))));
  const up = answers.filter((answer) => answer.body !== undefined);
  const master = up.find((answer) => answer.body!.role === 'master');
  if (master === undefined) return undefined;
  const id = master.body!.id as string;
  const agreed = up.every((answer) => (answer.body!.master as { id?: string } | null)?.id === id);
  return agreed ? { id, url: master.url } : undefined;
}
