/**
 * `pnpm demo`: a self-running tour of a three-site cluster, in a temporary directory, in well under a
 * minute. It writes under every ack policy and prints the receipts; pauses a client (SIGSTOP) so `all`
 * times out (perm: false, the master flushes its own log) while `quorum` still succeeds; kills the master
 * (SIGKILL) and shows the election that follows and why it went as it did; reads every acknowledged
 * write back from the new master; restarts the old master and shows it rejoin. Exit code 0 when every
 * check held, 1 otherwise (the directory and the sites' logs are kept then, or always with --keep).
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ACK_POLICIES, type AckPolicy } from '@ackord/core';
import { type Answer, agreedMaster, call, status, waitFor } from './http-client.js';
import { freePorts } from './ports.js';
import { SiteProcess } from './site-process.js';

/** Short, so the tour is quick (a killed master is replaced in about half of it: the connection drops at once). */
const ELECTION_TIMEOUT_MS = 1000;
/** The `all` write while a client is paused waits this long before it reports perm: false. */
const PAUSED_ACK_TIMEOUT_MS = 500;
const SITE_IDS = ['a', 'b', 'c'] as const;
/** `write`: a commit reaches the OS before it returns, so a perm failure shows the forced local flush. */
const DURABILITY = 'write';
const ELECTION_WAIT_MS = 15_000;
const CATCH_UP_WAIT_MS = 15_000;
/** Writes made on the new master while the old one is down: it must catch up on them. */
const WRITES_WHILE_DOWN = 3;

interface Write {
  readonly key: string;
  readonly value: string;
  readonly policy: AckPolicy;
  readonly status: number;
  readonly perm: boolean | undefined;
  readonly lsn: number;
  readonly receipt: Record<string, unknown> | undefined;
}

interface Check {
  readonly what: string;
  readonly ok: boolean;
}

type Status = Record<string, unknown>;

const out = (line = '') => process.stdout.write(`${line}\n`);

class Demo {
  readonly #dir: string;
  readonly #ports: readonly number[];
  readonly #sites = new Map<string, SiteProcess>();
  readonly #urls = new Map<string, string>();
  readonly #logs = new Map<string, WriteStream>();
  readonly #writes: Write[] = [];
  readonly #checks: Check[] = [];
  #step = 0;

  constructor(dir: string, ports: readonly number[]) {
    this.#dir = dir;
    this.#ports = ports;
  }

  get dir(): string {
    return this.#dir;
  }
  get passed(): boolean {
    return this.#checks.every((check) => check.ok);
  }

  #title(text: string): void {
    this.#step++;
    out();
    out(`${this.#step}. ${text}`);
  }

  #check(what: string, ok: boolean): void {
    this.#checks.push({ what, ok });
    out(`   ${ok ? '✓' : '✗'} ${what}`);
  }

  #flags(id: string): string[] {
    const index = SITE_IDS.indexOf(id as (typeof SITE_IDS)[number]);
    const peers = SITE_IDS.flatMap((other, otherIndex) =>
      other === id ? [] : ['--peer', `${other}=127.0.0.1:${this.#ports[otherIndex]}`],
    );
    return [
      ...['--id', id, '--listen', `127.0.0.1:${this.#ports[index]}`],
      // HTTP on any free port: the sites tell each other their URLs (peer-directory.ts).
      ...['--http', '127.0.0.1:0', '--data', path.join(this.#dir, id)],
      ...peers,
      ...['--election-timeout-ms', String(ELECTION_TIMEOUT_MS), '--durability', DURABILITY],
    ];
  }

  async #start(id: string): Promise<string> {
    let log = this.#logs.get(id);
    if (log === undefined) {
      log = createWriteStream(path.join(this.#dir, `${id}.log`), { flags: 'a' });
      this.#logs.set(id, log);
    }
    const sink = log;
    const site = new SiteProcess(id, this.#flags(id), {
      env: { KV_LOG_FORMAT: 'json' },
      onLine: (line, stream) => {
        if (stream === 'stderr') sink.write(`${line}\n`);
      },
    });
    this.#sites.set(id, site);
    const url = await site.ready;
    this.#urls.set(id, url);
    return url;
  }

  #url(id: string): string {
    return this.#urls.get(id)!;
  }

  async #masterAmong(ids: readonly string[], what: string): Promise<{ id: string; url: string }> {
    return waitFor(() => agreedMaster(ids.map((id) => this.#url(id))), what, ELECTION_WAIT_MS);
  }

  async #write(masterUrl: string, key: string, policy: AckPolicy, query = ''): Promise<Answer> {
    const value = `${key} written under ${policy}`;
    const answer = await call(`${masterUrl}/kv/${encodeURIComponent(key)}?ack=${policy}${query}`, {
      method: 'PUT',
      body: value,
    });
    const receipt = answer.json ?? {};
    this.#writes.push({
      key,
      value,
      policy,
      status: answer.status,
      perm: receipt.perm as boolean | undefined,
      lsn: (receipt.lsn as number | undefined) ?? 0,
      receipt: answer.json,
    });
    return answer;
  }

  async run(): Promise<void> {
    out(`Ackord kv-cluster demo: three sites in ${this.#dir}`);

    this.#title(
      `Start sites ${SITE_IDS.join(', ')} (elections on, election timeout ${ELECTION_TIMEOUT_MS} ms)`,
    );
    const startedAt = Date.now();
    await Promise.all(SITE_IDS.map((id) => this.#start(id)));
    for (const id of SITE_IDS) out(`   ${id}  ${this.#url(id)}  (pid ${this.#sites.get(id)!.pid})`);
    const first = await this.#masterAmong(SITE_IDS, 'the first election');
    out(
      `   ${first.id} was elected master ${((Date.now() - startedAt) / 1000).toFixed(1)} s after the start`,
    );
    this.#explain(await status(first.url));

    this.#title(`One write under each ack policy, on the master ${first.id}`);
    out(
      `   ${'policy'.padEnd(14)} http  perm   acks  ${'ackedBy (level, latency)'.padEnd(ACKED_BY_WIDTH)} needed  flushed  ms`,
    );
    for (const policy of ACK_POLICIES) {
      const answer = await this.#write(first.url, `policy/${policy}`, policy);
      out(`   ${policy.padEnd(14)} ${receiptRow(answer)}`);
    }
    const sample = this.#writes.find((write) => write.policy === 'quorum');
    if (sample !== undefined) {
      out(`   the whole quorum receipt: ${JSON.stringify(sample.receipt)}`);
      const again = await call(`${first.url}/kv/${encodeURIComponent(sample.key)}`);
      out(
        `   GET /kv/${sample.key} on the master → ${again.status} "${again.text}" (x-ackord-lsn ${again.headers.get('x-ackord-lsn')})`,
      );
    }
    this.#check(
      'every policy acknowledged its write with all three sites up',
      this.#writes.every((write) => write.status === 200 && write.perm === true),
    );

    const clients = SITE_IDS.filter((id) => id !== first.id);
    const paused = clients[clients.length - 1]!;
    const running = clients[0]!;
    this.#title(`Pause client ${paused} (SIGSTOP): \`all\` cannot be met, \`quorum\` still can`);
    this.#sites.get(paused)!.signal('SIGSTOP');
    const all = await this.#write(first.url, 'paused/all', 'all', `&timeoutMs=${PAUSED_ACK_TIMEOUT_MS}`);
    out(`   all      ${receiptRow(all)}`);
    out(`            missing: ${JSON.stringify(all.json?.missing)}, reason: ${all.json?.reason}`);
    this.#check(
      `\`all\` answered 202 perm:false after its ${PAUSED_ACK_TIMEOUT_MS} ms ack timeout, naming ${paused} as missing`,
      all.status === 202 &&
        all.json?.perm === false &&
        ((all.json?.missing as string[] | undefined) ?? []).includes(paused),
    );
    this.#check(
      'the master flushed its own log instead (localFlushForced: true)',
      all.json?.localFlushForced === true,
    );
    const quorum = await this.#write(first.url, 'paused/quorum', 'quorum');
    out(`   quorum   ${receiptRow(quorum)}`);
    this.#check(
      `\`quorum\` answered 200 perm:true, acknowledged by ${running}`,
      quorum.status === 200 && quorum.json?.perm === true,
    );
    this.#sites.get(paused)!.signal('SIGCONT');
    await waitFor(
      async () => {
        const master = await status(first.url);
        const entry = (master?.sites as Status[] | undefined)?.find((site) => site.id === paused);
        return entry !== undefined && entry.lagBytes === 0 ? true : undefined;
      },
      `${paused} to catch up after SIGCONT`,
      CATCH_UP_WAIT_MS,
    );
    out(`   ${paused} resumed (SIGCONT) and caught up: its ack covers the master's last commit`);

    this.#title(`Kill the master ${first.id} (SIGKILL)`);
    const before = (await status(first.url))?.generation as number;
    const killedAt = Date.now();
    this.#sites.get(first.id)!.signal('SIGKILL');
    await this.#sites.get(first.id)!.exited;
    const second = await this.#masterAmong(clients, 'the election after the kill');
    const electedMs = Date.now() - killedAt;
    const secondStatus = await status(second.url);
    out(
      `   ${second.id} is master at generation ${secondStatus?.generation} (was ${before}), ${electedMs} ms after the kill`,
    );
    this.#explain(secondStatus);
    this.#check(`a new master within ${ELECTION_WAIT_MS / 1000} s (${electedMs} ms)`, true);

    this.#title(`Read every write back from the new master ${second.id}`);
    await this.#verifyWrites(second.url);
    for (let index = 0; index < WRITES_WHILE_DOWN; index++) {
      const answer = await this.#write(second.url, `after-failover/${index}`, 'quorum');
      out(`   quorum   ${receiptRow(answer)}   (written while ${first.id} is down)`);
    }

    this.#title(`Restart ${first.id} with its data directory`);
    const restartedAt = Date.now();
    const url = await this.#start(first.id);
    out(`   ${first.id} is back at ${url} (a new HTTP port: its peers learn it from its hello)`);
    const rejoined = await waitFor(
      async () => {
        const [old, master] = await Promise.all([status(url), status(second.url)]);
        if (old === undefined || master === undefined) return undefined;
        const following = (old.master as Status | null)?.id === second.id && old.role === 'client';
        return following && old.lastCommitLsn === master.lastCommitLsn ? old : undefined;
      },
      `${first.id} to rejoin and catch up`,
      CATCH_UP_WAIT_MS,
    );
    out(
      `   ${first.id} rejoined as a client of ${second.id} at generation ${rejoined.generation} in ${Date.now() - restartedAt} ms, caught up to LSN ${rejoined.lastCommitLsn}`,
    );
    const rollbacks = rejoined.rollbacks as Status[];
    if (rollbacks.length === 0) out(`   nothing was rolled back: its log was a prefix of ${second.id}'s`);
    for (const rollback of rollbacks) {
      out(`   rolled back to LSN ${rollback.toLsn}: ${rollback.transactionCount} transaction(s)`);
      for (const txn of rollback.transactions as Status[])
        out(
          `     commit LSN ${txn.commitLsn} (generation ${txn.generation}): ${(txn.keys as string[]).join(', ')}`,
        );
    }
    let missing = 0;
    for (const write of this.#writes.filter((entry) => entry.key.startsWith('after-failover/'))) {
      const answer = await call(`${url}/kv/${encodeURIComponent(write.key)}`);
      if (answer.status !== 200 || answer.text !== write.value) missing++;
    }
    this.#check(`${first.id} holds the ${WRITES_WHILE_DOWN} writes made while it was down`, missing === 0);
  }

  #explain(body: Status | undefined): void {
    const election = body?.lastElection as Status | null | undefined;
    if (election === undefined || election === null) {
      out('   (no explanation yet)');
      return;
    }
    const votes = (election.votes as { voter: string; candidate: string }[]).map((vote) => vote.voter);
    const candidates = (election.candidates as Status[])
      .map(
        (candidate) => `${candidate.site} (generation ${candidate.dataGeneration}, LSN ${candidate.lastLsn})`,
      )
      .join(', ');
    out(`   why: ${election.reason}`);
    out(`   candidates: ${candidates}`);
    out(
      `   votes for ${election.winner}: ${votes.join(', ')} (${election.votesNeeded} needed); missing: ${(election.missing as string[]).join(', ') || 'nobody'}`,
    );
  }

  async #verifyWrites(masterUrl: string): Promise<void> {
    const acknowledged = this.#writes.filter((write) => write.perm === true);
    const lost: Write[] = [];
    for (const write of acknowledged) {
      const answer = await call(`${masterUrl}/kv/${encodeURIComponent(write.key)}`);
      if (answer.status !== 200 || answer.text !== write.value) lost.push(write);
    }
    // `none` is acknowledged at once, before any client holds the write: it promises nothing.
    const promised = lost.filter((write) => write.policy !== 'none');
    out(`   ${acknowledged.length - lost.length} of ${acknowledged.length} acknowledged writes are there`);
    for (const write of lost) out(`   missing: ${write.key} (${write.policy}, LSN ${write.lsn})`);
    this.#check(
      'no acknowledged write was lost (under any policy but `none`, which promises nothing)',
      promised.length === 0,
    );
    for (const write of this.#writes.filter((entry) => entry.perm === false)) {
      const answer = await call(`${masterUrl}/kv/${encodeURIComponent(write.key)}`);
      out(
        `   ${write.key} (perm:false) is ${answer.status === 200 ? 'there: it reached a quorum after its ack timeout' : 'not there: allowed, it was never acknowledged'}`,
      );
    }
  }

  summary(failed: boolean): void {
    out();
    out('Summary');
    for (const check of this.#checks) out(`   ${check.ok ? '✓' : '✗'} ${check.what}`);
    out(
      `   ${this.#writes.length} writes: ${this.#writes.filter((write) => write.perm === true).length} acknowledged, ${this.#writes.filter((write) => write.perm === false).length} not`,
    );
    out(!failed && this.passed ? 'demo passed' : `demo FAILED: the sites' logs are in ${this.#dir}`);
  }

  async close(keepDir: boolean): Promise<void> {
    await Promise.all([...this.#sites.values()].map((site) => site.stop()));
    await Promise.all([...this.#logs.values()].map((log) => new Promise((resolve) => log.end(resolve))));
    if (!keepDir) await rm(this.#dir, { recursive: true, force: true });
  }
}

/** Two acks with their levels and latencies fit. */
const ACKED_BY_WIDTH = 42;

/** A receipt as one table row: status, perm, acks, who acked (level, latency), needed, local flush, time. */
function receiptRow(answer: Answer): string {
  const receipt = answer.json ?? {};
  if (answer.status !== 200 && answer.status !== 202) return `${answer.status}  ${answer.text.trim()}`;
  const acked = (receipt.ackedBy as { site: string; level: string; latencyMs: number }[])
    .map((ack) => `${ack.site} (${ack.level}, ${ack.latencyMs.toFixed(1)} ms)`)
    .join(' ');
  return [
    String(answer.status).padEnd(5),
    String(receipt.perm).padEnd(6),
    String(receipt.acks).padEnd(5),
    (acked || '-').padEnd(ACKED_BY_WIDTH),
    String(receipt.needed).padEnd(7),
    String(receipt.localFlushForced ? 'forced' : 'no').padEnd(8),
    (receipt.elapsedMs as number).toFixed(1),
  ].join(' ');
}

async function main(): Promise<number> {
  const dir = await mkdtemp(path.join(tmpdir(), 'ackord-demo-'));
  const demo = new Demo(dir, await freePorts(SITE_IDS.length));
  const interrupted = () => {
    out('\ninterrupted: stopping the sites');
    void demo.close(false).finally(() => process.exit(130));
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  let failed = false;
  try {
    await demo.run();
  } catch (error) {
    failed = true;
    out(`\ndemo stopped: ${error instanceof Error ? error.message : String(error)}`);
  }
  demo.summary(failed);
  const ok = !failed && demo.passed;
  const keep = !ok || process.argv.includes('--keep');
  await demo.close(keep);
  if (keep && ok) out(`the sites' data and logs are kept in ${demo.dir}`);
  return ok ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
