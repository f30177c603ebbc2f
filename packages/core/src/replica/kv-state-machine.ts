/**
 * A small key-value state machine for examples and tests. Each data record of a transaction is one
 * operation:
 *
 *   0  u8   op: 1 put, 2 delete
 *   1  u16  key length (bytes, ≤ MAX_KEY_BYTES)
 *   3  …    key (UTF-8), then for put the value bytes to the end of the record
 *
 * Values are kept as the record's bytes (copied: the record buffer belongs to the log or the network).
 */
import type { StateMachine } from './state-machine.js';
import type { AppliedTransaction } from './types.js';

export const MAX_KEY_BYTES = 1024;
const PUT = 1;
const DELETE = 2;

export type KvOperation =
  | { readonly op: 'put'; readonly key: string; readonly value: Uint8Array }
  | { readonly op: 'delete'; readonly key: string };

export function encodeKvOperation(operation: KvOperation): Buffer {
  const key = Buffer.from(operation.key, 'utf8');
  if (key.length > MAX_KEY_BYTES) throw new RangeError(`key longer than ${MAX_KEY_BYTES} bytes`);
  const valueLength = operation.op === 'put' ? operation.value.length : 0;
  const bytes = Buffer.allocUnsafe(3 + key.length + valueLength);
  bytes[0] = operation.op === 'put' ? PUT : DELETE;
  bytes.writeUInt16LE(key.length, 1);
  key.copy(bytes, 3);
  if (operation.op === 'put') bytes.set(operation.value, 3 + key.length);
  return bytes;
}

export function decodeKvOperation(payload: Uint8Array): KvOperation | undefined {
  if (payload.length < 3) return undefined;
  const keyLength = payload[1]! | (payload[2]! << 8);
  if (keyLength > MAX_KEY_BYTES || 3 + keyLength > payload.length) return undefined;
  // Payloads from the log and the network are Buffers already: no view made to read the key (this runs
  // for every record a site applies, the master's own included).
  const bytes = Buffer.isBuffer(payload)
    ? payload
    : Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
  const key = bytes.toString('utf8', 3, 3 + keyLength);
  if (bytes[0] === PUT)
    return { op: 'put', key, value: Uint8Array.prototype.slice.call(bytes, 3 + keyLength) };
  if (bytes[0] === DELETE && bytes.length === 3 + keyLength) return { op: 'delete', key };
  return undefined;
}

export class KvStateMachine implements StateMachine {
  #data = new Map<string, Uint8Array>();
  #appliedLsn = 0;
  #applied = 0;

  get(key: string): Uint8Array | undefined {
    return this.#data.get(key);
  }
  get size(): number {
    return this.#data.size;
  }
  /** LSN after the last applied commit. */
  get appliedLsn(): number {
    return this.#appliedLsn;
  }
  get appliedTransactions(): number {
    return this.#applied;
  }
  entries(): IterableIterator<[string, Uint8Array]> {
    return this.#data.entries();
  }

  apply(txn: AppliedTransaction): void {
    // Decode everything first: a transaction with a bad operation changes nothing (never applied in part).
    const operations: KvOperation[] = [];
    for (const payload of txn.payloads) {
      const operation = decodeKvOperation(payload);
      if (operation === undefined) return;
      operations.push(operation);
    }
    for (const operation of operations) {
      if (operation.op === 'put') this.#data.set(operation.key, operation.value);
      else this.#data.delete(operation.key);
    }
    this.#appliedLsn = txn.endLsn;
    this.#applied++;
  }

  /** Layout: u32 entry count, f64 applied LSN, then per entry a u32 length and an encoded put. */
  snapshot(): Uint8Array {
    const entries: Buffer[] = [];
    let size = 12;
    for (const [key, value] of this.#data) {
      const entry = encodeKvOperation({ op: 'put', key, value });
      entries.push(entry);
      size += 4 + entry.length;
    }
    const bytes = Buffer.allocUnsafe(size);
    bytes.writeUInt32LE(entries.length, 0);
    bytes.writeDoubleLE(this.#appliedLsn, 4);
    let offset = 12;
    for (const entry of entries) {
      bytes.writeUInt32LE(entry.length, offset);
      entry.copy(bytes, offset + 4);
      offset += 4 + entry.length;
    }
    return bytes;
  }

  restore(snapshot: Uint8Array | undefined): void {
    this.#data = new Map();
    this.#appliedLsn = 0;
    if (snapshot === undefined) return;
    const bytes = Buffer.from(snapshot.buffer, snapshot.byteOffset, snapshot.byteLength);
    const count = bytes.readUInt32LE(0);
    this.#appliedLsn = bytes.readDoubleLE(4);
    let offset = 12;
    for (let index = 0; index < count; index++) {
      const length = bytes.readUInt32LE(offset);
      const operation = decodeKvOperation(bytes.subarray(offset + 4, offset + 4 + length));
      if (operation?.op === 'put') this.#data.set(operation.key, operation.value);
      offset += 4 + length;
    }
  }
}
