/**
 * @packageDocumentation
 * Ackord core: the durable write-ahead log (today), and — as their issues land — the pure replication
 * core, the wire format, acknowledgement policies and the replication manager.
 *
 * @example
 * ```ts
 * import { openLog } from '@ackord/core';
 * await using log = await openLog('./data', { durability: 'fsync' });
 * const txn = log.begin();
 * txn.append(new TextEncoder().encode('hello'));
 * const { lsn, level } = await txn.commit(); // level === 'flushed': survives power loss
 * ```
 */
export * from './clock.js';
export * from './errors.js';
export * from './log/index.js';
