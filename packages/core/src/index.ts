/**
 * @packageDocumentation
 * Ackord core: the durable write-ahead log, the pure replication core, the wire format, the base API
 * (Berkeley DB style: you own the transport), and the replication manager (`createReplicationManager`:
 * transports, acknowledgement policies, receipts, elections). Guides: docs/concepts.md, docs/manager.md,
 * docs/base-api.md and docs/operations.md in the repository.
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
