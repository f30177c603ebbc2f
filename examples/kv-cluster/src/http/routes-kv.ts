/**
 * `PUT`, `DELETE` and `GET /kv/:key`. A write commits one KV operation through the manager and answers
 * with its receipt: `200` acknowledged by the policy, `202` not (the master flushed its own log), `504`
 * unknown (mastership was lost while waiting). A client answers `421` with the master's URL, or forwards
 * the write with `forward=1`; nobody is master: `503`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  ACK_POLICIES,
  type AckPolicy,
  type CommitReceipt,
  DEFAULT_MAX_PAYLOAD_BYTES,
  encodeKvOperation,
  MAX_ACK_TIMEOUT_MS,
  MAX_KEY_BYTES,
  NotMasterError,
  parseToken,
  RecordTooLargeError,
} from '@ackord/core';
import type { Site } from '../site.js';
import { readBody, tooLarge } from './body.js';
import { HttpError, sendJson, sendJsonText } from './respond.js';

/** A put record is 1 byte op + 2 bytes key length + key + value (the core's KV format). */
const KV_OP_HEADER_BYTES = 3;
/** A `?token=` read waits this long by default for the site to apply the commit. */
export const TOKEN_WAIT_DEFAULT_MS = 5_000;
export const MAX_TOKEN_WAIT_MS = 60_000;

type Params = ReadonlyMap<string, string>;

const WRITE_PARAMS = ['ack', 'timeoutMs', 'forward'] as const;
const READ_PARAMS = ['token', 'timeoutMs', 'consistency'] as const;

/** A request's query parameters, decoded, in order (`parseQuery`). */
export type Query = readonly (readonly [string, string])[];

/**
 * The query string (after `?`) as `URLSearchParams` reads it. Most queries (`ack=quorum`) have nothing
 * to decode: those are split here without building a URLSearchParams; the others go through it.
 */
export function parseQuery(text: string): Query {
  if (text === '') return [];
  if (text.includes('%') || text.includes('+')) return [...new URLSearchParams(text)];
  const query: [string, string][] = [];
  for (const part of text.split('&')) {
    if (part === '') continue;
    const at = part.indexOf('=');
    query.push(at === -1 ? [part, ''] : [part.slice(0, at), part.slice(at + 1)]);
  }
  return query;
}

/** The query, refusing parameters a route does not know (a typo must not pass silently) and repeats. */
export function readParams(query: Query, allowed: readonly string[]): Params {
  const params = new Map<string, string>();
  for (const [name, value] of query) {
    if (!allowed.includes(name)) {
      throw new HttpError(400, 'unknown_parameter', `unknown query parameter ${JSON.stringify(name)}`, {
        allowed,
      });
    }
    if (params.has(name))
      throw new HttpError(400, 'duplicate_parameter', `query parameter ${name} is given twice`);
    params.set(name, value);
  }
  return params;
}

function wholeNumber(params: Params, name: string, max: number): number | undefined {
  const text = params.get(name);
  if (text === undefined) return undefined;
  if (!/^\d{1,9}$/.test(text) || Number(text) > max)
    throw new HttpError(
      400,
      'bad_timeout',
      `${name} must be a whole number of milliseconds from 0 to ${max}`,
    );
  return Number(text);
}

function policyParam(params: Params): AckPolicy | undefined {
  const text = params.get('ack');
  if (text === undefined) return undefined;
  if (!(ACK_POLICIES as readonly string[]).includes(text)) {
    throw new HttpError(400, 'bad_ack_policy', `ack must be one of ${ACK_POLICIES.join(', ')}`, {
      policies: ACK_POLICIES,
    });
  }
  return text as AckPolicy;
}

function forwardParam(params: Params): boolean {
  const text = params.get('forward');
  if (text === undefined || text === '0' || text === 'false') return false;
  if (text === '1' || text === 'true') return true;
  throw new HttpError(400, 'bad_forward', 'forward must be 1 or 0');
}

/** The largest value a write of `key` may carry: the configured maximum, and one log record in all. */
export function valueLimit(site: Site, key: string): number {
  const recordRoom = DEFAULT_MAX_PAYLOAD_BYTES - KV_OP_HEADER_BYTES - Buffer.byteLength(key);
  return Math.min(site.options.maxValueBytes, recordRoom);
}

export function notMaster(site: Site, master: string | undefined): HttpError {
  if (master === undefined || master === site.options.id)
    return new HttpError(503, 'no_master', 'no master is known here now (an election may be under way)');
  return new HttpError(421, 'not_master', `this site is not master; the master is ${master}`, {
    master: { id: master, http: site.directory.httpUrl(master) ?? null },
  });
}

/** Milliseconds to the microsecond: the clock's float noise says nothing. */
function ms(value: number): number {
  return Math.round(value * 1000) / 1000;
}

/** The receipt as the API answers it (field order included); `receiptJson` is its serialization. */
export function receiptBody(receipt: CommitReceipt): Record<string, unknown> {
  return {
    lsn: receipt.lsn,
    generation: receipt.generation,
    perm: receipt.perm,
    policy: receipt.policy,
    outcome: receipt.outcome,
    reason: receipt.reason ?? null,
    acks: receipt.ackedBy.length,
    ackedBy: receipt.ackedBy.map((ack) => ({
      site: ack.site,
      level: ack.level,
      latencyMs: ms(ack.latencyMs),
    })),
    needed: receipt.needed,
    missing: receipt.missing,
    localFlushForced: receipt.localFlushForced,
    localLevel: receipt.localLevel,
    elapsedMs: ms(receipt.elapsedMs),
    token: receipt.token,
    ...(receipt.forwardedTo === undefined ? {} : { forwardedTo: receipt.forwardedTo }),
  };
}

/**
 * `JSON.stringify(receiptBody(receipt))`, written out directly: every write answers with it, and this
 * builds no intermediate objects. Strings go through JSON.stringify (escaping), numbers as JSON writes
 * them (a non-finite one as null); a field whose value is undefined is left out, as JSON.stringify does.
 */
export function receiptJson(receipt: CommitReceipt): string {
  let acked = '';
  for (const ack of receipt.ackedBy) {
    acked += `${acked === '' ? '' : ','}{"site":${JSON.stringify(ack.site)},"level":${JSON.stringify(ack.level)},"latencyMs":${jsonNumber(ms(ack.latencyMs))}}`;
  }
  let missing = '';
  for (const site of receipt.missing) missing += `${missing === '' ? '' : ','}${JSON.stringify(site)}`;
  return (
    `{"lsn":${jsonNumber(receipt.lsn)},"generation":${jsonNumber(receipt.generation)}` +
    (receipt.perm === undefined ? '' : `,"perm":${receipt.perm}`) +
    `,"policy":${JSON.stringify(receipt.policy)},"outcome":${JSON.stringify(receipt.outcome)}` +
    `,"reason":${receipt.reason === undefined ? 'null' : JSON.stringify(receipt.reason)}` +
    `,"acks":${receipt.ackedBy.length},"ackedBy":[${acked}],"needed":${jsonNumber(receipt.needed)}` +
    `,"missing":[${missing}],"localFlushForced":${receipt.localFlushForced}` +
    `,"localLevel":${JSON.stringify(receipt.localLevel)},"elapsedMs":${jsonNumber(ms(receipt.elapsedMs))}` +
    `,"token":${JSON.stringify(receipt.token)}` +
    (receipt.forwardedTo === undefined ? '' : `,"forwardedTo":${JSON.stringify(receipt.forwardedTo)}`) +
    '}'
  );
}

function jsonNumber(value: number): string {
  return Number.isFinite(value) ? String(value) : 'null';
}

export async function handleWrite(
  site: Site,
  operation: 'put' | 'delete',
  key: string,
  query: Query,
  request: IncomingMessage,
  response: ServerResponse,
): Promise<void> {
  const params = readParams(query, WRITE_PARAMS);
  const policy = policyParam(params);
  const ackTimeoutMs = wholeNumber(params, 'timeoutMs', MAX_ACK_TIMEOUT_MS);
  const forward = forwardParam(params);
  const limit = valueLimit(site, key);
  const value = operation === 'put' ? await readBody(request, limit, 'the value') : undefined;
  const payload =
    value === undefined
      ? encodeKvOperation({ op: 'delete', key })
      : encodeKvOperation({ op: 'put', key, value });
  let receipt: CommitReceipt;
  try {
    receipt = await site.manager.commit([payload], { forward, policy, ackTimeoutMs });
  } catch (error) {
    if (error instanceof NotMasterError) throw notMaster(site, site.manager.master ?? error.master);
    if (error instanceof RecordTooLargeError) throw tooLarge(limit, 'the value');
    throw error;
  }
  site.noteReceipt(receipt);
  if (receipt.outcome === 'unknown') {
    throw new HttpError(
      504,
      'outcome_unknown',
      'mastership was lost while the write waited for acks: it may or may not survive',
      { lsn: receipt.lsn, generation: receipt.generation, token: receipt.token },
    );
  }
  sendJsonText(response, receipt.outcome === 'acknowledged' ? 200 : 202, receiptJson(receipt));
}

export async function handleRead(
  site: Site,
  key: string,
  query: Query,
  response: ServerResponse,
): Promise<void> {
  const params = readParams(query, READ_PARAMS);
  const consistency = params.get('consistency') ?? 'local';
  if (consistency !== 'local' && consistency !== 'lease')
    throw new HttpError(400, 'bad_consistency', 'consistency must be local or lease');
  const tokenText = params.get('token');
  const waitMs = wholeNumber(params, 'timeoutMs', MAX_TOKEN_WAIT_MS) ?? TOKEN_WAIT_DEFAULT_MS;
  if (tokenText !== undefined) {
    if (parseToken(tokenText) === undefined)
      throw new HttpError(400, 'bad_token', 'token must be GENERATION:LSN as a write receipt gives it');
    let outcome: string;
    try {
      outcome = await site.manager.waitApplied(tokenText, { signal: AbortSignal.timeout(waitMs) });
    } catch {
      throw new HttpError(504, 'not_applied', `this site has not applied ${tokenText} within ${waitMs} ms`, {
        appliedLsn: site.store.appliedLsn,
      });
    }
    if (outcome === 'rolledBack')
      throw new HttpError(409, 'rolled_back', `the write ${tokenText} was rolled back on this site`);
  }
  if (consistency === 'lease') {
    if (site.manager.role !== 'master') throw notMaster(site, site.manager.master);
    if (!site.manager.hasReadLease())
      throw new HttpError(503, 'no_lease', 'this master holds no read lease now: the read could be stale');
    await untilQuorumHolds(site, key, waitMs);
  }
  const applied = String(site.store.appliedLsn);
  const stored = site.store.get(key);
  if (stored === undefined) {
    sendJson(
      response,
      404,
      { error: 'not_found', message: 'no such key' },
      { 'x-ackord-applied-lsn': applied },
    );
    return;
  }
  response.writeHead(200, {
    'content-type': 'application/octet-stream',
    'content-length': stored.value.length,
    'cache-control': 'no-store',
    'x-ackord-lsn': String(stored.lsn),
    'x-ackord-applied-lsn': applied,
  });
  response.end(stored.value, 'latin1');
}

/** How often a lease read looks again whether a quorum holds what it would return. */
const QUORUM_POLL_MS = 2;

/**
 * A lease read answers only with what a quorum holds. The master applies a write as soon as its own log
 * has it, before any ack: until a quorum holds it, an election may still roll it back, and a read that
 * saw it would not be linearizable (a later read would see the older value again). So wait until the
 * write that set the key (for an absent key: everything applied, as a delete leaves no LSN) is held by a
 * quorum of electable sites, still under the lease; `503 no_lease` if that takes longer than `waitMs`.
 * The caller reads the store right after, with no await in between.
 */
async function untilQuorumHolds(site: Site, key: string, waitMs: number): Promise<void> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    if (site.manager.role !== 'master') throw notMaster(site, site.manager.master);
    if (!site.manager.hasReadLease())
      throw new HttpError(503, 'no_lease', 'this master holds no read lease now: the read could be stale');
    const needed = site.store.get(key)?.lsn ?? site.manager.replica.core.lastCommitLsn;
    if (needed <= 0 || site.permLsn() >= needed) return;
    if (Date.now() >= deadline)
      throw new HttpError(
        503,
        'no_lease',
        `the last write of this key is not held by a quorum yet (LSN ${needed}): the read could see a write that is rolled back`,
      );
    await new Promise((resolve) => setTimeout(resolve, QUORUM_POLL_MS));
  }
}

/** `/kv/:key` → the key, or a 400 (the key is one URL-encoded path remainder, 1 to MAX_KEY_BYTES bytes). */
export function parseKey(encoded: string): string {
  let key: string;
  try {
    key = decodeURIComponent(encoded);
  } catch {
    throw new HttpError(400, 'bad_key', 'the key is not valid percent-encoded UTF-8');
  }
  if (key.length === 0) throw new HttpError(400, 'bad_key', 'the key is empty');
  if (Buffer.byteLength(key) > MAX_KEY_BYTES)
    throw new HttpError(400, 'key_too_long', `keys are at most ${MAX_KEY_BYTES} bytes`, {
      limitBytes: MAX_KEY_BYTES,
    });
  return key;
}
