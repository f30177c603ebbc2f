/**
 * The clients of a chaos run: each loops on one request at a time through the HTTP API — mostly writes
 * of unique values (to the master it believes in, sometimes through another site with `forward=1`),
 * some linearizable reads (`consistency=lease` on the master) — and logs every operation in the history.
 * Keys are short-lived: each takes a bounded number of operations and is then retired for a fresh one,
 * so every key's history stays small enough for the linearizability search.
 */
import { Prng } from '../sim/prng.js';
import type { ChaosCluster } from './cluster.js';
import type { History, Operation, Receipt } from './history.js';
import type { HttpResult } from './http.js';

export interface WorkloadOptions {
  readonly clients: number;
  /** Keys in use at once. */
  readonly activeKeys: number;
  /** Operations a key takes before it is retired. */
  readonly opsPerKey: number;
  readonly readFraction: number;
  readonly forwardFraction: number;
  /** Policies of the writes, drawn uniformly (repeat one to weight it). */
  readonly policies: readonly string[];
  /** The ack timeout each write asks for. */
  readonly ackTimeoutMs: number;
  /** Past this a request is abandoned: its outcome is unknown. */
  readonly requestTimeoutMs: number;
  readonly seed: number;
}

export interface WorkloadProblems {
  /** 500s: a bug or a failed log on the site. */
  readonly serverErrors: string[];
  /** Refusals a correct client should never get (400, 404 no_route, 405, 413): a harness bug. */
  readonly badRequests: string[];
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export class Workload {
  readonly problems: WorkloadProblems = { serverErrors: [], badRequests: [] };
  readonly #cluster: ChaosCluster;
  readonly #history: History;
  readonly #options: WorkloadOptions;
  readonly #keys: { name: string; ops: number }[] = [];
  #nextKey = 0;
  #running = false;
  #loops: Promise<void>[] = [];

  constructor(cluster: ChaosCluster, history: History, options: WorkloadOptions) {
    this.#cluster = cluster;
    this.#history = history;
    this.#options = options;
    for (let index = 0; index < options.activeKeys; index++) this.#keys.push(this.#freshKey());
  }

  /** Every key any operation touched. */
  readonly usedKeys = new Set<string>();

  #freshKey(): { name: string; ops: number } {
    return { name: `k${this.#nextKey++}`, ops: 0 };
  }

  /** A key for the next operation; a key that had its share is replaced. */
  #pickKey(prng: Prng): string {
    const slot = prng.int(0, this.#keys.length - 1);
    const key = this.#keys[slot]!;
    key.ops++;
    if (key.ops >= this.#options.opsPerKey) this.#keys[slot] = this.#freshKey();
    this.usedKeys.add(key.name);
    return key.name;
  }

  start(): void {
    this.#running = true;
    for (let client = 0; client < this.#options.clients; client++) {
      this.#loops.push(this.#loop(client, new Prng(this.#options.seed * 1000 + client + 1)));
    }
  }

  /** Stops issuing; resolves when every client's last request has an outcome. */
  async stop(): Promise<void> {
    this.#running = false;
    await Promise.all(this.#loops);
    this.#loops = [];
  }

  #target(prng: Prng): string {
    return this.#cluster.masterHint() ?? prng.pick(this.#cluster.ids);
  }

  async #loop(client: number, prng: Prng): Promise<void> {
    let sequence = 0;
    while (this.#running) {
      const pause = prng.chance(this.#options.readFraction)
        ? await this.#read(client, prng)
        : await this.#write(client, prng, `c${client}-${++sequence}`);
      if (pause > 0) await sleep(pause);
    }
  }

  /** One write; resolves with how long to wait before the next operation. */
  async #write(client: number, prng: Prng, value: string): Promise<number> {
    const cluster = this.#cluster;
    const master = this.#target(prng);
    const forward = prng.chance(this.#options.forwardFraction) && cluster.ids.length > 1;
    const site = forward ? prng.pick(cluster.ids.filter((id) => id !== master)) : master;
    const key = this.#pickKey(prng);
    const policy = prng.pick(this.#options.policies);
    const operation = this.#history.invoke({
      client,
      kind: 'write',
      key,
      value,
      site,
      policy,
      forward,
      invokeMs: cluster.now(),
    });
    const query = `ack=${policy}&timeoutMs=${this.#options.ackTimeoutMs}${forward ? '&forward=1' : ''}`;
    const result = await cluster.http.send(
      `${cluster.site(site).url}/kv/${encodeURIComponent(key)}?${query}`,
      {
        method: 'PUT',
        body: value,
        timeoutMs: this.#options.requestTimeoutMs,
      },
    );
    return this.#settleWrite(operation, result);
  }

  #settleWrite(operation: Operation, result: HttpResult): number {
    const cluster = this.#cluster;
    const at = cluster.now();
    if (!result.ok) {
      if (result.kind === 'refused') {
        this.#history.complete(operation, at, 'fail', { error: result.message });
        return 50;
      }
      this.#history.complete(operation, at, 'info', { error: `${result.kind}: ${result.message}` });
      return 0;
    }
    const { status } = result.answer;
    const body = parseJson(result.answer.body);
    switch (status) {
      case 200:
      case 202: {
        const receipt = receiptOf(body);
        if (receipt === undefined) {
          this.problems.badRequests.push(
            `${status} without a receipt: ${result.answer.body.toString().slice(0, 200)}`,
          );
          this.#history.complete(operation, at, 'info', { status });
          return 0;
        }
        if (!operation.forward) cluster.noteMaster(operation.site, receipt.generation);
        const acked = status === 200 && receipt.perm;
        this.#history.complete(operation, at, acked ? 'ok' : 'info', { status, receipt });
        return 0;
      }
      case 421: {
        const master = (body?.master as { id?: unknown } | undefined)?.id;
        if (typeof master === 'string' && cluster.sites.has(master)) cluster.noteMasterHint(master);
        this.#history.complete(operation, at, 'fail', { status });
        return 0;
      }
      case 503:
        this.#history.complete(operation, at, 'fail', { status });
        return 30;
      case 504:
        this.#history.complete(operation, at, 'info', { status, error: String(body?.error ?? '') });
        return 0;
      case 500:
        this.problems.serverErrors.push(
          `${operation.site} PUT ${operation.key}: ${result.answer.body.toString().slice(0, 300)}`,
        );
        this.#history.complete(operation, at, 'info', { status });
        return 50;
      default:
        this.problems.badRequests.push(
          `${operation.site} PUT ${operation.key} → ${status}: ${result.answer.body.toString().slice(0, 300)}`,
        );
        this.#history.complete(operation, at, 'fail', { status });
        return 50;
    }
  }

  /** A linearizable read on the master (under its read lease). */
  async #read(client: number, prng: Prng): Promise<number> {
    const cluster = this.#cluster;
    const site = this.#target(prng);
    const key = this.#pickKey(prng);
    const operation = this.#history.invoke({
      client,
      kind: 'read',
      key,
      value: null,
      site,
      invokeMs: cluster.now(),
    });
    const result = await cluster.http.send(
      `${cluster.site(site).url}/kv/${encodeURIComponent(key)}?consistency=lease`,
      { timeoutMs: this.#options.requestTimeoutMs },
    );
    const at = cluster.now();
    if (!result.ok) {
      this.#history.complete(operation, at, result.kind === 'refused' ? 'fail' : 'info', {
        error: result.message,
      });
      return result.kind === 'refused' ? 50 : 0;
    }
    const { status } = result.answer;
    if (status === 200) {
      this.#history.complete(operation, at, 'ok', { status, value: result.answer.body.toString('utf8') });
      return 0;
    }
    const body = parseJson(result.answer.body);
    if (status === 404 && body?.error === 'not_found') {
      this.#history.complete(operation, at, 'ok', { status, value: null });
      return 0;
    }
    if (status === 421) {
      const master = (body?.master as { id?: unknown } | undefined)?.id;
      if (typeof master === 'string' && cluster.sites.has(master)) cluster.noteMasterHint(master);
    } else if (status === 500) {
      this.problems.serverErrors.push(`${site} GET ${key}: ${result.answer.body.toString().slice(0, 300)}`);
    } else if (status !== 503) {
      this.problems.badRequests.push(
        `${site} GET ${key} → ${status}: ${result.answer.body.toString().slice(0, 300)}`,
      );
    }
    this.#history.complete(operation, at, 'fail', { status });
    return status === 503 ? 30 : 0;
  }
}

function parseJson(body: Buffer): Record<string, unknown> | undefined {
  try {
    const parsed = JSON.parse(body.toString('utf8')) as unknown;
    return typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function receiptOf(body: Record<string, unknown> | undefined): Receipt | undefined {
  if (body === undefined) return undefined;
  const { lsn, generation, perm, policy, token, forwardedTo, localLevel, ackedBy } = body;
  if (
    typeof lsn !== 'number' ||
    typeof generation !== 'number' ||
    typeof perm !== 'boolean' ||
    typeof policy !== 'string' ||
    typeof token !== 'string'
  )
    return undefined;
  const acks = Array.isArray(ackedBy)
    ? (ackedBy as { site?: unknown; level?: unknown }[])
        .filter((ack) => typeof ack.site === 'string' && typeof ack.level === 'string')
        .map((ack) => ({ site: ack.site as string, level: ack.level as string }))
    : [];
  return {
    lsn,
    generation,
    perm,
    policy,
    token,
    ...(typeof forwardedTo === 'string' ? { forwardedTo } : {}),
    ...(typeof localLevel === 'string' ? { localLevel } : {}),
    ackedBy: acks,
  };
}
