/**
 * `pnpm demo:log`: a short tour of the write-ahead log. Writes transactions in each durability mode,
 * prints what each commit promised and what it cost, then reopens a log to show recovery, and rolls a
 * log back with truncate(). Everything happens in a temporary directory that is removed at the end.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type DurabilityMode, openLog } from '@ackord/core';

const COMMITS_PER_MODE = 2_000;
const CONCURRENCY = 16;
const modes: (DurabilityMode | `delayed:${number}`)[] = ['none', 'write', 'fsync', 'dsync', 'delayed:20'];
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'ackord-log-demo-'));
const payload = Buffer.alloc(128, 0x61);

function line(cells: (string | number)[], widths: number[]): string {
  return cells.map((cell, index) => String(cell).padEnd(widths[index]!)).join('  ');
}

try {
  console.log(`Ackord log demo — data in ${root}\n`);
  console.log(
    `${COMMITS_PER_MODE} transactions per mode (1 data record of 128 B + a commit record), ${CONCURRENCY} at a time:\n`,
  );
  const widths = [12, 10, 12, 11, 10, 34];
  console.log(line(['mode', 'level', 'commits/s', 'fsyncs', 'per fsync', 'survives'], widths));
  const survives: Record<string, string> = {
    none: 'nothing until a later flush',
    write: 'a process crash',
    fsync: 'power loss',
    dsync: 'power loss',
    delayed: 'power loss, except the last ≤20 ms',
  };
  for (const durability of modes) {
    const name = typeof durability === 'string' ? durability.split(':')[0]! : durability.mode;
    const log = await openLog(path.join(root, name), { durability });
    let level = '';
    const started = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < COMMITS_PER_MODE) {
          next++;
          const txn = log.begin();
          txn.append(payload);
          level = (await txn.commit()).level;
        }
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    const stats = log.stats();
    console.log(
      line(
        [
          String(name),
          level,
          Math.round(COMMITS_PER_MODE / seconds),
          stats.fsyncs,
          stats.commitsPerFsync.toFixed(1),
          survives[name]!,
        ],
        widths,
      ),
    );
    await log.close();
  }

  console.log('\nRecovery: reopening the fsync log reads every record back and checks each checksum.');
  const reopened = await openLog(path.join(root, 'fsync'), { durability: 'fsync' });
  const { records, nextLsn, truncatedBytes, incompleteTxnIds } = reopened.recovery;
  console.log(
    `  ${records} records, log ends at LSN ${nextLsn}, torn bytes cut: ${truncatedBytes}, incomplete transactions: ${incompleteTxnIds.length}`,
  );

  console.log('\nPer-commit override: sync "off" returns at once, a later logFlush() makes it durable.');
  const txn = reopened.begin();
  txn.append(Buffer.from('written with sync: off'));
  const off = await txn.commit({ sync: 'off' });
  console.log(`  commit at LSN ${off.lsn} returned "${off.level}"; durable up to ${reopened.durableLsn}`);
  await reopened.logFlush();
  console.log(`  after logFlush(): durable up to ${reopened.durableLsn}`);

  console.log(
    '\nRollback: truncate() removes records from an LSN on, durably (what a replica does after failover).',
  );
  const before = reopened.nextLsn;
  const rolledBack = reopened.begin();
  rolledBack.append(Buffer.from('this transaction will be rolled back'));
  const doomed = await rolledBack.commit();
  const cut = await reopened.truncate(before);
  console.log(
    `  committed txn ${doomed.txnId} at LSN ${doomed.lsn}, truncated to ${before}: ${cut.removedBytes} bytes removed`,
  );
  await reopened.close();

  console.log('\nA second open of a directory in use is refused:');
  const first = await openLog(path.join(root, 'write'));
  try {
    await openLog(path.join(root, 'write'));
  } catch (error) {
    console.log(`  ${(error as Error & { code: string }).code}: ${(error as Error).message}`);
  }
  await first.close();
  console.log('\nDone.');
} finally {
  fs.rmSync(root, { recursive: true, force: true });
}
