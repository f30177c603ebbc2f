/**
 * @packageDocumentation
 * Ackord core: the durable write-ahead log, the pure replication core, the wire format and the base
 * API (Berkeley DB style: you own the transport). The replication manager lands with its own issue.
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
export * from './base/index.js';
export * from './clock.js';
export * from './errors.js';
export * from './log/index.js';
export * from './logger.js';
export * from './manager/index.js';
export * from './replica/index.js';
export * from './transport/index.js';
export * from './transport.js';
export * from './wire/index.js';
