/**
 * A real three-process cluster (`kv node` × 3 over TCP, elections on) driven through its HTTP API: every
 * endpoint and status code, every kind of bad input, a paused group (no lease, outcome unknown, no
 * master), a write only the old master held rolled back when it rejoins (409 on its token), an election
 * after SIGKILL of the master, and the killed site rejoining from its data.
 */
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { MAX_KEY_BYTES } from '@ackord/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Answer, call, get, put, startCluster, type TestCluster, waitFor } from './harness.js';

const LIMIT_1_MIB = 1024 * 1024;

let cluster: TestCluster;
let master: { id: string; url: string };

/** A site that is not the master. */
function client(): { id: string; url: string } {
  const id = cluster.ids.find((site) => site !== master.id)!;
  return { id, url: cluster.url(id) };
}

function expectRefusal(answer: Answer, status: number, code: string): void {
  expect(answer.status, answer.text).toBe(status);
  expect(answer.json?.error).toBe(code);
  expect(typeof answer.json?.message).toBe('string');
}

/** A raw HTTP request whose body is streamed (chunked: no Content-Length) in pieces. */
function streamedPut(
  url: string,
  key: string,
  totalBytes: number,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(`${url}/kv/${key}`, { method: 'PUT' }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        body += chunk;
      });
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
      response.on('error', reject);
    });
    // The server may close the connection once it has answered: a write error after that is expected.
    request.on('error', (error) => reject(error));
    const chunk = Buffer.alloc(64 * 1024, 120);
    let sent = 0;
    const pump = () => {
      while (sent < totalBytes) {
        const piece = chunk.subarray(0, Math.min(chunk.length, totalBytes - sent));
        sent += piece.length;
        if (!request.write(piece)) {
          request.once('drain', pump);
          return;
        }
      }
      request.end();
    };
    pump();
  });
}

/** Bytes that are not HTTP, straight to the socket: the answer, as text. */
function rawRequest(url: string, text: string): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: hostname, port: Number(port) }, () => socket.write(text));
    let answer = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      answer += chunk;
    });
    socket.on('end', () => resolve(answer));
    socket.on('error', reject);
    socket.setTimeout(5_000, () => socket.destroy(new Error('no answer')));
  });
}

beforeAll(async () => {
  cluster = await startCluster({});
  master = await cluster.master();
}, 60_000);

afterAll(async () => {
  await cluster?.stop();
});

describe('the HTTP API', () => {
  it('GET /status on every site: one master, the others its clients, with every field', async () => {
    for (const id of cluster.ids) {
      const answer = await call(`${cluster.url(id)}/status`);
      expect(answer.status).toBe(200);
      expect(answer.headers.get('access-control-allow-origin')).toBe('*');
      const body = answer.json!;
      expect(body.id).toBe(id);
      expect(body.role).toBe(id === master.id ? 'master' : 'client');
      expect(body.master).toEqual({ id: master.id, http: master.url });
      for (const field of ['generation', 'lsn', 'durableLsn', 'permLsn'])
        expect(typeof body[field], field).toBe('number');
      expect(body.durability).toBe('fsync');
      expect(body.ackPolicy).toBe('quorum');
      expect(body.lastElection).toMatchObject({ winner: master.id });
      expect(body.stats).toMatchObject({ siteId: id });
      const sites = body.sites as Record<string, unknown>[];
      expect(sites.map((site) => site.id).sort()).toEqual([...cluster.ids].sort());
      for (const site of sites) {
        expect(Object.keys(site)).toEqual(
          expect.arrayContaining(['id', 'connected', 'priority', 'ackedLsn', 'lagBytes', 'lastHeardMs']),
        );
        expect(site.connected).toBe(true);
        expect(site.http).toBe(cluster.url(site.id as string));
      }
    }
  });

  it('PUT on the master: 200 with the receipt; GET returns the value and its LSN on every site', async () => {
    const answer = await put(master.url, 'greeting', 'hello', '?ack=all');
    expect(answer.status, answer.text).toBe(200);
    const receipt = answer.json!;
    expect(receipt).toMatchObject({ perm: true, policy: 'all', acks: 2, needed: 0, localFlushForced: false });
    expect(typeof receipt.lsn).toBe('number');
    expect(typeof receipt.generation).toBe('number');
    expect(typeof receipt.elapsedMs).toBe('number');
    expect(receipt.token).toBe(`${receipt.generation}:${receipt.lsn}`);
    const ackedBy = receipt.ackedBy as { site: string; level: string; latencyMs: number }[];
    expect(ackedBy.map((ack) => ack.site).sort()).toEqual(
      cluster.ids.filter((id) => id !== master.id).sort(),
    );
    for (const ack of ackedBy) {
      expect(ack.level).toBe('flushed');
      expect(ack.latencyMs).toBeGreaterThanOrEqual(0);
    }
    for (const id of cluster.ids) {
      // An ack says the write is durable there, not yet applied: the token waits for that.
      const read = await get(cluster.url(id), 'greeting', `?token=${receipt.token}`);
      expect(read.status).toBe(200);
      expect(read.text).toBe('hello');
      expect(read.headers.get('content-type')).toBe('application/octet-stream');
      expect(read.headers.get('x-ackord-lsn')).toBe(String(receipt.lsn));
    }
  });

  it('keys are bytes up to 1 KiB, any characters, values any bytes', async () => {
    const key = `k/é ${'x'.repeat(MAX_KEY_BYTES - 5)}`;
    expect(Buffer.byteLength(key)).toBe(MAX_KEY_BYTES);
    const value = Uint8Array.from([0, 255, 10, 13, 128]);
    expect((await put(master.url, key, value)).status).toBe(200);
    const raw = await fetch(`${master.url}/kv/${encodeURIComponent(key)}`);
    expect(raw.status).toBe(200);
    expect(new Uint8Array(await raw.arrayBuffer())).toEqual(value);
  });

  it('DELETE on the master: 200 with a receipt, then GET is 404 on every site that applied it', async () => {
    expect((await put(master.url, 'doomed', 'x')).status).toBe(200);
    const answer = await call(`${master.url}/kv/doomed?ack=all`, { method: 'DELETE' });
    expect(answer.status).toBe(200);
    expect(answer.json).toMatchObject({ perm: true, acks: 2 });
    for (const id of cluster.ids) {
      const read = await get(cluster.url(id), 'doomed', `?token=${answer.json!.token}`);
      expectRefusal(read, 404, 'not_found');
    }
  });

  it('a write on a client: 421 naming the master and its URL', async () => {
    const { url } = client();
    expectRefusal(await put(url, 'nope', 'x'), 421, 'not_master');
    const answer = await call(`${url}/kv/nope`, { method: 'DELETE' });
    expectRefusal(answer, 421, 'not_master');
    expect(answer.json?.master).toEqual({ id: master.id, http: master.url });
    expectRefusal(await get(master.url, 'nope'), 404, 'not_found');
  });

  it('forward=1 on a client: the master commits the write and the client answers with its receipt', async () => {
    const { url } = client();
    const answer = await put(url, 'forwarded', 'via a client', '?forward=1&ack=quorum&timeoutMs=5000');
    expect(answer.status, answer.text).toBe(200);
    expect(answer.json).toMatchObject({
      perm: true,
      outcome: 'acknowledged',
      reason: null,
      needed: 0,
      forwardedTo: master.id,
      policy: 'quorum',
    });
    // The master's receipt travels back: the acks that met the quorum, by whom, at what level.
    const ackedBy = answer.json!.ackedBy as { site: string; level: string; latencyMs: number }[];
    expect(answer.json!.acks as number).toBeGreaterThanOrEqual(1);
    expect(ackedBy).toHaveLength(answer.json!.acks as number);
    for (const ack of ackedBy) {
      expect(cluster.ids.filter((id) => id !== master.id)).toContain(ack.site);
      expect(['received', 'written', 'flushed']).toContain(ack.level);
      expect(ack.latencyMs).toBeGreaterThanOrEqual(0);
    }
    expect(['buffered', 'written', 'flushed']).toContain(answer.json!.localLevel);
    const read = await get(master.url, 'forwarded');
    expect(read.text).toBe('via a client');
    expect(read.headers.get('x-ackord-lsn')).toBe(String(answer.json!.lsn));
  });

  it('?token= on a client waits until that site applied the write (read your writes)', async () => {
    const { url } = client();
    for (let round = 0; round < 5; round++) {
      // ack=none: the master answers before any client has the write.
      const write = await put(master.url, 'ryw', `value ${round}`, '?ack=none');
      expect(write.status).toBe(200);
      const read = await get(url, 'ryw', `?token=${write.json!.token}&timeoutMs=5000`);
      expect(read.status).toBe(200);
      expect(read.text).toBe(`value ${round}`);
      expect(Number(read.headers.get('x-ackord-applied-lsn'))).toBeGreaterThan(write.json!.lsn as number);
    }
    const generation = (await put(master.url, 'ryw', 'last')).json!.generation;
    const future = await get(url, 'ryw', `?token=${generation}:999999999&timeoutMs=200`);
    expectRefusal(future, 504, 'not_applied');
  });

  it('?consistency=lease: the master answers under its read lease; a client sends you to the master', async () => {
    const read = await waitFor(async () => {
      const answer = await get(master.url, 'greeting', '?consistency=lease');
      return answer.status === 200 ? answer : undefined;
    }, 'a read under the lease');
    expect(read.text).toBe('hello');
    expectRefusal(await get(client().url, 'greeting', '?consistency=lease'), 421, 'not_master');
    expect((await get(client().url, 'greeting', '?consistency=local')).status).toBe(200);
  });

  it('GET /metrics: Prometheus text with commits, perm failures, ack latency, debt, elections, bytes, reconnects', async () => {
    const answer = await call(`${master.url}/metrics`);
    expect(answer.status).toBe(200);
    expect(answer.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    const lines = answer.text.trim().split('\n');
    for (const line of lines) {
      if (line.startsWith('# ')) expect(line).toMatch(/^# (HELP|TYPE) ackord_[a-z_]+ .+$/);
      else expect(line).toMatch(/^ackord_[a-z_]+(\{[a-z_]+="[^"]*"(,[a-z_]+="[^"]*")*\})? -?[0-9.e+-]+$/);
    }
    const value = (sample: string) =>
      Number(lines.find((line) => line.startsWith(`${sample} `))?.split(' ')[1]);
    expect(value('ackord_commits_total')).toBeGreaterThanOrEqual(8);
    expect(value('ackord_perm_failures_total')).toBe(0);
    expect(value('ackord_durability_debt_commits')).toBe(0);
    expect(value('ackord_elections_total{result="won"}')).toBeGreaterThanOrEqual(1);
    expect(value('ackord_bytes_total{direction="sent"}')).toBeGreaterThan(0);
    expect(answer.text).toContain('# TYPE ackord_ack_latency_seconds histogram');
    expect(answer.text).toMatch(/ackord_ack_latency_seconds_bucket\{site="[abc]",le="\+Inf"\} [1-9]/);
    expect(answer.text).toMatch(/ackord_reconnects_total\{peer="[abc]"\} 0/);
  });

  it('GET /: the status page, one self-contained HTML file with stable hooks', async () => {
    const answer = await call(`${client().url}/`);
    expect(answer.status).toBe(200);
    expect(answer.headers.get('content-type')).toBe('text/html; charset=utf-8');
    for (const hook of [
      'id="master"',
      'data-master-id',
      'id="sites"',
      'id="timeline"',
      "'data-role'",
      'fetch(',
    ])
      expect(answer.text).toContain(hook);
    expect(answer.text).not.toMatch(/<script[^>]+src=|<link[^>]+href=/);
  });
});

describe('bad input: a JSON refusal, never a crash', () => {
  it('query parameters: unknown policy, bad timeoutMs, bad forward, unknown or repeated parameters', async () => {
    const url = master.url;
    const policy = await put(url, 'k', 'v', '?ack=most');
    expectRefusal(policy, 400, 'bad_ack_policy');
    expect(policy.json?.policies).toContain('all_available');
    for (const timeout of ['abc', '-1', '1.5', '600001', ''])
      expectRefusal(await put(url, 'k', 'v', `?timeoutMs=${timeout}`), 400, 'bad_timeout');
    expectRefusal(await get(url, 'k', '?token=x&timeoutMs=60001'), 400, 'bad_timeout');
    expectRefusal(await put(url, 'k', 'v', '?forward=maybe'), 400, 'bad_forward');
    expectRefusal(await put(url, 'k', 'v', '?timeout=5'), 400, 'unknown_parameter');
    expectRefusal(await put(url, 'k', 'v', '?ack=one&ack=all'), 400, 'duplicate_parameter');
    expectRefusal(await get(url, 'k', '?token=nonsense'), 400, 'bad_token');
    expectRefusal(await get(url, 'k', '?consistency=strong'), 400, 'bad_consistency');
  });

  it('keys: longer than 1 KiB, empty, not UTF-8', async () => {
    const long = await put(master.url, 'x'.repeat(MAX_KEY_BYTES + 1), 'v');
    expectRefusal(long, 400, 'key_too_long');
    expect(long.json?.limitBytes).toBe(MAX_KEY_BYTES);
    expectRefusal(await put(master.url, 'é'.repeat(513), 'v'), 400, 'key_too_long');
    expectRefusal(await call(`${master.url}/kv/`, { method: 'PUT', body: 'v' }), 400, 'bad_key');
    expectRefusal(await call(`${master.url}/kv/%E0%A4%A`), 400, 'bad_key');
    expectRefusal(await call(`${master.url}/kv/%FF`), 400, 'bad_key');
  });

  it('values over the maximum: 413 from Content-Length before reading, or as soon as a streamed body passes it', async () => {
    const declared = await put(master.url, 'big', new Uint8Array(LIMIT_1_MIB + 1));
    expectRefusal(declared, 413, 'value_too_large');
    const streamed = await streamedPut(master.url, 'big', 3 * LIMIT_1_MIB);
    expect(streamed.status).toBe(413);
    expect(JSON.parse(streamed.body)).toMatchObject({ error: 'value_too_large' });
    expectRefusal(await get(master.url, 'big'), 404, 'not_found');
    // The largest value one log record holds with this key is accepted.
    const limit = declared.json!.limitBytes as number;
    expect(limit).toBeGreaterThan(LIMIT_1_MIB - 64);
    expect(limit).toBeLessThanOrEqual(LIMIT_1_MIB);
    const fits = await put(master.url, 'big', new Uint8Array(limit));
    expect(fits.status, fits.text).toBe(200);
    expectRefusal(await put(master.url, 'big', new Uint8Array(limit + 1)), 413, 'value_too_large');
  });

  it('routes and methods: 404 for an unknown route, 405 with Allow for a wrong method', async () => {
    expectRefusal(await call(`${master.url}/nothing`), 404, 'no_route');
    expectRefusal(await call(`${master.url}/kv`), 404, 'no_route');
    const post = await call(`${master.url}/kv/x`, { method: 'POST', body: 'v' });
    expectRefusal(post, 405, 'method_not_allowed');
    expect(post.headers.get('allow')).toBe('GET, HEAD, PUT, DELETE');
    expectRefusal(await call(`${master.url}/status`, { method: 'DELETE' }), 405, 'method_not_allowed');
    expectRefusal(
      await call(`${master.url}/metrics`, { method: 'PUT', body: 'x' }),
      405,
      'method_not_allowed',
    );
  });

  it('bytes that are not HTTP get a 400 and the site goes on', async () => {
    const answer = await rawRequest(master.url, 'GARBAGE\r\n\r\n');
    expect(answer).toMatch(/^HTTP\/1\.1 400 /);
    expect(answer).toContain('"error":"bad_request"');
    const huge = await rawRequest(master.url, `GET /status HTTP/1.1\r\nx-big: ${'a'.repeat(20_000)}\r\n\r\n`);
    expect(huge).toMatch(/^HTTP\/1\.1 431 Request Header Fields Too Large/);
    for (const id of cluster.ids) {
      expect(cluster.sites.get(id)!.running).toBe(true);
      expect((await call(`${cluster.url(id)}/status`)).status).toBe(200);
    }
  });
});

describe('failures', () => {
  it('a paused client: `all` times out with 202 perm:false (local flush), `quorum` still 200', async () => {
    const paused = client();
    cluster.sites.get(paused.id)!.signal('SIGSTOP');
    try {
      const all = await put(master.url, 'paused-all', 'x', '?ack=all&timeoutMs=300');
      expect(all.status, all.text).toBe(202);
      expect(all.json).toMatchObject({ perm: false, outcome: 'permFailed', reason: 'timeout', needed: 1 });
      expect(all.json?.missing).toEqual([paused.id]);
      expect(all.json?.acks).toBe(1);
      const quorum = await put(master.url, 'paused-quorum', 'x', '?ack=quorum');
      expect(quorum.status).toBe(200);
      expect(quorum.json).toMatchObject({ perm: true, acks: 1 });
      const metrics = await call(`${master.url}/metrics`);
      expect(metrics.text).toMatch(/^ackord_perm_failures_total 1$/m);
    } finally {
      cluster.sites.get(paused.id)!.signal('SIGCONT');
    }
  });

  it('both clients paused: no read lease (503), a waiting write ends 504 outcome unknown when the master steps down, then 503 no master', async () => {
    const clients = cluster.ids.filter((id) => id !== master.id);
    const stopped = master;
    for (const id of clients) cluster.sites.get(id)!.signal('SIGSTOP');
    try {
      const waiting = put(stopped.url, 'in-doubt', 'x', '?ack=all&timeoutMs=30000');
      const noLease = await waitFor(
        async () => {
          const answer = await get(stopped.url, 'greeting', '?consistency=lease');
          return answer.status === 503 ? answer : undefined;
        },
        'the read lease to run out',
        10_000,
      );
      expectRefusal(noLease, 503, 'no_lease');
      const unknown = await waiting;
      expectRefusal(unknown, 504, 'outcome_unknown');
      expect(typeof unknown.json?.lsn).toBe('number');
      const noMaster = await waitFor(
        async () => {
          const answer = await put(stopped.url, 'k', 'v');
          return answer.status === 503 ? answer : undefined;
        },
        'the stepped-down master to say no master',
        10_000,
      );
      expectRefusal(noMaster, 503, 'no_master');
      const status = await call(`${stopped.url}/status`);
      expect(status.json?.role).not.toBe('master');
      const timeline = status.json?.timeline as { kind: string }[];
      expect(timeline.map((entry) => entry.kind)).toContain('steppedDown');
    } finally {
      for (const id of clients) cluster.sites.get(id)!.signal('SIGCONT');
    }
    master = await cluster.master();
  }, 40_000);

  it('a write only the old master held is rolled back when it rejoins a newer master: ?token= there answers 409 rolled_back', async () => {
    const old = master;
    const clients = cluster.ids.filter((id) => id !== old.id);
    // Both clients killed (a paused one would still read the write from its socket once resumed): the
    // write stays on the old master alone (202, flushed locally), before check-quorum steps it down.
    for (const id of clients) cluster.sites.get(id)!.signal('SIGKILL');
    await Promise.all(clients.map((id) => cluster.sites.get(id)!.exited));
    const doomed = await put(old.url, 'doomed', 'only here', '?ack=all&timeoutMs=100');
    expect(doomed.status, doomed.text).toBe(202);
    const token = doomed.json!.token as string;
    const before = await get(old.url, 'doomed', `?token=${token}`);
    expect(before.status).toBe(200);
    // The old master paused in turn, the clients back from their data: they elect one of themselves and
    // write past that LSN.
    cluster.sites.get(old.id)!.signal('SIGSTOP');
    let overwrite: Answer;
    try {
      await Promise.all(clients.map((id) => cluster.start(id)));
      master = await cluster.master(clients, 20_000);
      overwrite = await waitFor(
        async () => {
          const answer = await put(master.url, 'after-rollback', 'new history', '?ack=quorum');
          return answer.status === 200 ? answer : undefined;
        },
        'a quorum write on the new master',
        10_000,
      );
    } finally {
      cluster.sites.get(old.id)!.signal('SIGCONT');
    }
    // Back, the old master follows the new one: it rolls its write back and takes the new history.
    const caughtUp = await waitFor(
      async () => {
        const answer = await get(old.url, 'after-rollback', `?token=${overwrite.json!.token}&timeoutMs=1000`);
        return answer.status === 200 ? answer : undefined;
      },
      'the old master to apply the new master’s write',
      20_000,
    );
    expect(caughtUp.text).toBe('new history');
    expectRefusal(await get(old.url, 'doomed', `?token=${token}`), 409, 'rolled_back');
    expect((await get(old.url, 'doomed')).status).toBe(404);
    master = await cluster.master();
  }, 60_000);

  it('SIGKILL of the master: a new master within seconds holds every acknowledged quorum write; the old one rejoins from its data', async () => {
    const written: { key: string; value: string }[] = [];
    for (let index = 0; index < 20; index++) {
      const key = `acked/${index}`;
      const answer = await put(master.url, key, `value ${index}`, '?ack=quorum');
      expect(answer.status).toBe(200);
      written.push({ key, value: `value ${index}` });
    }
    const killed = master;
    const survivors = cluster.ids.filter((id) => id !== killed.id);
    const killedAt = Date.now();
    cluster.sites.get(killed.id)!.signal('SIGKILL');
    await cluster.sites.get(killed.id)!.exited;
    master = await cluster.master(survivors, 10_000);
    const failoverMs = Date.now() - killedAt;
    expect(failoverMs).toBeLessThan(5_000);
    expect(survivors).toContain(master.id);
    for (const { key, value } of written) {
      const read = await get(master.url, key);
      expect(read.status, key).toBe(200);
      expect(read.text).toBe(value);
    }
    const status = (await call(`${master.url}/status`)).json!;
    expect(status.lastElection).toMatchObject({ winner: master.id, missing: [killed.id] });
    const kinds = (status.timeline as { kind: string; master?: string }[]).map((entry) => entry.kind);
    expect(kinds).toContain('elected');
    const after = await put(master.url, 'after-failover', 'new master', '?ack=quorum');
    expect(after.status).toBe(200);

    // The killed site restarts with the same data directory: it recovers its log and follows the new master.
    const url = await cluster.start(killed.id);
    const rejoined = await waitFor(async () => {
      const [old, current] = await Promise.all([call(`${url}/status`), call(`${master.url}/status`)]);
      const body = old.json!;
      const caughtUp = body.lastCommitLsn === current.json!.lastCommitLsn;
      return body.role === 'client' && (body.master as { id: string }).id === master.id && caughtUp
        ? body
        : undefined;
    }, `${killed.id} to rejoin`);
    expect(rejoined.generation).toBe(status.generation);
    // It learned why the new master won from the master's hello.
    expect(rejoined.lastElection).toMatchObject({ winner: master.id, missing: [killed.id] });
    expect((await get(url, 'after-failover')).text).toBe('new master');
    expect((await get(url, 'acked/19')).text).toBe('value 19');
    const stillMaster = (await call(`${master.url}/status`)).json!;
    const entry = (stillMaster.sites as { id: string; http: string; connected: boolean }[]).find(
      (site) => site.id === killed.id,
    );
    // It came back on a new HTTP port: the master learned it from the site's hello.
    expect(entry).toMatchObject({ connected: true, http: url });
  }, 60_000);
});
