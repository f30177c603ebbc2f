/**
 * Real crash tests (TESTPLAN P9/P10): a child process commits on real files and is killed with SIGKILL at
 * a random moment; the same directory is reopened here and the recovered log is checked against what the
 * child said had returned. Several rounds per mode reuse the directory, so every round also restarts
 * after the previous crash. A failure names the seed: `ACKORD_SEED=<seed>` replays the same kill delays
 * and workload choices (the exact kill point still depends on timing).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { type DurabilityLevel, openLog, RecordType } from '../../src/index.js';
import {
  baseSeed,
  gapProblems,
  incompleteTxns,
  type ModelRecord,
  prng,
  readAll,
  recordEnd,
  withSeed,
} from './crash-model.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/crash-writer.ts', import.meta.url));
const REPO_ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
const SEGMENT_BYTES = 64 * 1024;
const COMMITTERS = 4;
const SEED = baseSeed();

/** The levels a commit may return at in each mode. Acks are checked by level: `written` and `flushed` must survive a kill. */
const MODES = [
  { durability: 'write', rounds: 2, levels: ['written', 'flushed'] },
  { durability: 'fsync', rounds: 3, levels: ['flushed'] },
  { durability: 'dsync', rounds: 2, levels: ['flushed'] },
  { durability: 'none', rounds: 2, levels: ['buffered'] },
  { durability: 'delayed:20', rounds: 2, levels: ['written', 'flushed'] },
] as const;

/**
 * At most two children at a time: each costs about a second of CPU to start (tsx), and a child starved of
 * CPU would commit little before its kill.
 */
const MAX_CHILDREN = 2;
let running = 0;
const queue: (() => void)[] = [];
async function withChildSlot<T>(body: () => Promise<T>): Promise<T> {
  // A finishing child hands its slot straight to the next in line.
  if (running >= MAX_CHILDREN) await new Promise<void>((resolve) => queue.push(resolve));
  else running++;
  try {
    return await body();
  } finally {
    const next = queue.shift();
    if (next) next();
    else running--;
  }
}

interface Printed {
  readonly kind: 'commit' | 'abort';
  readonly round: number;
  readonly txnId: number;
  readonly lsn?: number;
  readonly level?: DurabilityLevel;
  readonly ids: readonly string[];
}

interface ChildRun {
  readonly printed: Printed[];
  readonly ready: { nextLsn: number; truncatedBytes: number };
}

function waitForExit(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) {
      resolve({ code: child.exitCode, signal: child.signalCode });
      return;
    }
    child.once('close', (code, signal) => resolve({ code, signal }));
  });
}

/**
 * Runs one child and kills it `killAfterMs` after it printed `armAfterLines` lines: 1 is its `ready` line,
 * 2 its first commit (used for a mode's last round, so a starved machine cannot make the test vacuous).
 */
async function runChild(
  dir: string,
  durability: string,
  round: number,
  seed: number,
  killAfterMs: number,
  armAfterLines: number,
): Promise<ChildRun> {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      FIXTURE,
      dir,
      durability,
      String(round),
      String(seed),
      String(SEGMENT_BYTES),
      String(COMMITTERS),
    ],
    { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8');
  child.stderr!.setEncoding('utf8');
  const exited = waitForExit(child);
  const ready = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`child not ready after 30 s; stderr:\n${stderr}`)),
      30_000,
    );
    let lines = 0;
    child.stdout!.on('data', (chunk: string) => {
      stdout += chunk;
      for (let at = chunk.indexOf('\n'); at >= 0; at = chunk.indexOf('\n', at + 1)) lines++;
      if (lines >= armAfterLines) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.stderr!.on('data', (chunk: string) => {
      stderr += chunk;
    });
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`child exited before ready (code ${code}, signal ${signal}); stderr:\n${stderr}`));
    });
  });
  try {
    await ready;
    await new Promise((resolve) => setTimeout(resolve, killAfterMs));
  } finally {
    child.kill('SIGKILL');
  }
  const { code, signal } = await exited;
  if (signal !== 'SIGKILL')
    throw new Error(`child ended by itself (code ${code}) before the kill; stderr:\n${stderr}`);

  const lines = stdout.split('\n');
  lines.pop(); // the last piece is empty or a line the kill cut
  const [first, ...rest] = lines;
  if (first === undefined || !first.startsWith('ready ')) throw new Error(`bad first line ${first}`);
  const printed: Printed[] = [];
  for (const line of rest) {
    const space = line.indexOf(' ');
    const kind = line.slice(0, space);
    if (kind !== 'commit' && kind !== 'abort') throw new Error(`unexpected child output: ${line}`);
    printed.push({ kind, round, ...JSON.parse(line.slice(space + 1)) });
  }
  return { printed, ready: JSON.parse(first.slice('ready '.length)) };
}

function check(condition: boolean, message: () => string): void {
  if (!condition) throw new Error(message());
}

function idOf(record: ModelRecord): string {
  return record.payload.toString('latin1').split('|')[0]!;
}

/** Reopens the directory after a kill and checks it against everything every round printed. */
async function verify(
  dir: string,
  history: readonly Printed[],
  previous: readonly ModelRecord[],
  levels: readonly string[],
): Promise<{ records: ModelRecord[]; truncatedBytes: number; lostBuffered: number }> {
  const log = await openLog(dir, { durability: 'fsync', segmentBytes: SEGMENT_BYTES });
  try {
    const records = await readAll(log);
    expect(log.firstLsn).toBe(1);
    expect(gapProblems(records, log.firstLsn, log.nextLsn)).toEqual([]);

    // What an earlier reopen recovered is still there, byte for byte: restarts never lose the prefix.
    expect(records.length).toBeGreaterThanOrEqual(previous.length);
    for (let index = 0; index < previous.length; index++) {
      const [was, is] = [previous[index]!, records[index]!];
      if (
        was.lsn !== is.lsn ||
        was.type !== is.type ||
        was.txnId !== is.txnId ||
        !was.payload.equals(is.payload)
      ) {
        throw new Error(`record ${index} (lsn ${was.lsn}) changed between reopens`);
      }
    }

    const byLsn = new Map<number, ModelRecord>();
    const dataById = new Map<string, ModelRecord>();
    const dataByTxn = new Map<number, ModelRecord[]>();
    const commitByTxn = new Map<number, ModelRecord>();
    const abortByTxn = new Map<number, ModelRecord>();
    for (const record of records) {
      byLsn.set(record.lsn, record);
      if (record.type === RecordType.data) {
        const id = idOf(record);
        check(!dataById.has(id), () => `payload ${id} appears twice`);
        dataById.set(id, record);
        const list = dataByTxn.get(record.txnId) ?? [];
        list.push(record);
        dataByTxn.set(record.txnId, list);
      } else if (record.type === RecordType.commit) {
        check(!commitByTxn.has(record.txnId), () => `txn ${record.txnId} has two commit records`);
        // The commit record counts the transaction's data records: all of them precede it.
        const count = dataByTxn.get(record.txnId)?.length ?? 0;
        check(
          record.payload.readUInt32LE(0) === count,
          () => `txn ${record.txnId} commits with ${count} records`,
        );
        commitByTxn.set(record.txnId, record);
      } else if (record.type === RecordType.abort) {
        abortByTxn.set(record.txnId, record);
      }
    }
    for (const txnId of commitByTxn.keys()) {
      check(!abortByTxn.has(txnId), () => `txn ${txnId} both committed and aborted`);
    }
    // Redo-only: a transaction without a commit (or abort) record is reported incomplete, never applied.
    expect([...log.recovery.incompleteTxnIds]).toEqual(incompleteTxns(records));

    for (const entry of history) {
      if (entry.kind === 'abort') {
        for (const id of entry.ids) {
          const record = dataById.get(id);
          check(record === undefined || !commitByTxn.has(record.txnId), () => `aborted ${id} was committed`);
        }
        continue;
      }
      check(
        levels.includes(entry.level!),
        () => `round ${entry.round}: commit returned at level ${entry.level}`,
      );
      const commit = byLsn.get(entry.lsn!);
      const present =
        commit !== undefined && commit.type === RecordType.commit && commit.txnId === entry.txnId;
      // `written` survives a process crash, `flushed` more; `buffered` promises nothing.
      if (entry.level !== 'buffered' && !present) {
        throw new Error(
          `round ${entry.round}: commit of txn ${entry.txnId} at lsn ${entry.lsn} returned (${entry.level}) but is missing after kill -9 (log ends at ${log.nextLsn})`,
        );
      }
      if (present) {
        const ids = (dataByTxn.get(entry.txnId) ?? []).map(idOf);
        check(
          ids.join() === entry.ids.join(),
          () => `txn ${entry.txnId} holds [${ids}], the child wrote [${entry.ids}]`,
        );
      } else {
        // Never reported as committed: its data, if any survived, belongs to a txn without a commit.
        for (const id of entry.ids) {
          const record = dataById.get(id);
          check(
            record === undefined || !commitByTxn.has(record.txnId),
            () => `${id} committed under another txn`,
          );
        }
      }
    }
    const lostBuffered = history.filter(
      (entry) =>
        entry.kind === 'commit' && entry.level === 'buffered' && byLsn.get(entry.lsn!)?.txnId !== entry.txnId,
    ).length;
    return { records, truncatedBytes: log.recovery.truncatedBytes, lostBuffered };
  } finally {
    await log.close();
  }
}

const summary: string[] = [];
afterAll(() => {
  if (summary.length > 0) console.log(`kill -9 (seed ${SEED}):\n  ${summary.join('\n  ')}`);
});

describe.concurrent('kill -9 during commits, on real files', () => {
  MODES.forEach(({ durability, rounds, levels }, modeIndex) => {
    it(`${durability}: every returned commit survives (${rounds} rounds, restart after each crash)`, async () => {
      const seed = (SEED + modeIndex * 0x9e3779b9) >>> 0;
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), `ackord-kill-${durability.replace(':', '-')}-`));
      let passed = false;
      try {
        await withSeed(`kill-crash ${durability} dir=${dir}`, seed, async () => {
          const rng = prng(seed);
          const history: Printed[] = [];
          let previous: ModelRecord[] = [];
          let tornBytes = 0;
          let lostBuffered = 0;
          for (let round = 1; round <= rounds; round++) {
            const killAfter = rng.int(20, 200);
            const childSeed = rng.int(0, 2 ** 31);
            const armAfter = round === rounds ? 2 : 1;
            const run = await withChildSlot(() =>
              runChild(dir, durability, round, childSeed, killAfter, armAfter),
            );
            // The child recovered exactly what our previous reopen left.
            expect(run.ready.nextLsn, `round ${round}: child opened at`).toBe(
              previous.length === 0 ? 1 : recordEnd(previous.at(-1)!),
            );
            history.push(...run.printed);
            const result = await verify(dir, history, previous, levels);
            previous = result.records;
            tornBytes += result.truncatedBytes;
            lostBuffered = result.lostBuffered;
          }
          const acked = history.filter(
            (entry) => entry.kind === 'commit' && entry.level !== 'buffered',
          ).length;
          if (durability !== 'none') {
            expect(acked, 'no commit returned before the kills').toBeGreaterThan(0);
            expect(previous.length).toBeGreaterThan(0);
          }
          summary.push(
            `${durability}: ${rounds} kills, ${acked} returned commits checked, ${lostBuffered} buffered commits lost, ` +
              `${tornBytes} torn bytes cut`,
          );
          if (durability === 'fsync') {
            // Must-fail control for this checker: a commit the child never made is reported missing.
            const end = recordEnd(previous.at(-1)!);
            const forged: Printed = {
              kind: 'commit',
              round: 0,
              txnId: 1e9,
              lsn: end,
              level: 'flushed',
              ids: ['forged'],
            };
            await expect(verify(dir, [...history, forged], previous, levels)).rejects.toThrow(
              /missing after kill -9/,
            );
          }
        });
        passed = true;
      } finally {
        if (passed) fs.rmSync(dir, { recursive: true, force: true });
      }
    }, 90_000);
  });
});
