/**
 * The replicated key-value state: the operations of `@ackord/core`'s KV format (`encodeKvOperation`),
 * applied whole per transaction, plus the commit LSN that last wrote each key. The HTTP API returns that
 * LSN with every read (`x-ackord-lsn`), so a checker can tell exactly which write a read observed — the
 * reason this is not the core's `KvStateMachine`, which keeps values only.
 */
import {
  type AppliedTransaction,
  decodeKvOperationLatin1,
  type KvLatin1Operation,
  kvPutLatin1Bytes,
  type StateMachine,
  writeKvPutLatin1,
} from '@ackord/core';

export interface StoredValue {
  /**
   * The value's bytes as a latin1 string (char i is byte i): one V8 heap allocation per value kept, where
   * a Uint8Array copy costs a malloc'd backing store the GC must track (see `decodeKvOperationLatin1`).
   * Write it out with the 'latin1' encoding.
   */
  readonly value: string;
  /** The LSN of the commit record of the transaction that wrote it. */
  readonly lsn: number;
}

/** Snapshot layout: u32 entry count, f64 applied LSN, then per entry f64 LSN, u32 length, an encoded put. */
const SNAPSHOT_HEADER_BYTES = 12;
const ENTRY_HEADER_BYTES = 12;

export class KvStore implements StateMachine {
  #data = new Map<string, StoredValue>();
  #appliedLsn = 0;

  get(key: string): StoredValue | undefined {
    return this.#data.get(key);
  }
  get size(): number {
    return this.#data.size;
  }
  /** The LSN just past the last applied commit (0: nothing applied). */
  get appliedLsn(): number {
    return this.#appliedLsn;
  }

  apply(txn: AppliedTransaction): void {
    // Decode everything first: a transaction with an operation this store cannot read changes nothing.
    const operations: KvLatin1Operation[] = [];
    for (const payload of txn.payloads) {
      const operation = decodeKvOperationLatin1(payload);
      if (operation === undefined) {
        this.#appliedLsn = txn.endLsn;
        return;
      }
      operations.push(operation);
    }
    for (const operation of operations) {
      if (operation.op === 'put')
        this.#data.set(operation.key, { value: operation.value, lsn: txn.commitLsn });
      else this.#data.delete(operation.key);
    }
    this.#appliedLsn = txn.endLsn;
  }

  snapshot(): Uint8Array {
    let size = SNAPSHOT_HEADER_BYTES;
    for (const [key, stored] of this.#data) size += ENTRY_HEADER_BYTES + kvPutLatin1Bytes(key, stored.value);
    const snapshot = Buffer.allocUnsafe(size);
    snapshot.writeUInt32LE(this.#data.size, 0);
    snapshot.writeDoubleLE(this.#appliedLsn, 4);
    let offset = SNAPSHOT_HEADER_BYTES;
    for (const [key, stored] of this.#data) {
      const start = offset + ENTRY_HEADER_BYTES;
      const end = writeKvPutLatin1(snapshot, start, key, stored.value);
      snapshot.writeDoubleLE(stored.lsn, offset);
      snapshot.writeUInt32LE(end - start, offset + 8);
      offset = end;
    }
    return snapshot;
  }

  restore(snapshot: Uint8Array | undefined): void {
    this.#data = new Map();
    this.#appliedLsn = 0;
    if (snapshot === undefined) return;
    const bytes = Buffer.from(snapshot.buffer, snapshot.byteOffset, snapshot.byteLength);
    const count = bytes.readUInt32LE(0);
    this.#appliedLsn = bytes.readDoubleLE(4);
    let offset = SNAPSHOT_HEADER_BYTES;
    for (let index = 0; index < count; index++) {
      const lsn = bytes.readDoubleLE(offset);
      const length = bytes.readUInt32LE(offset + 8);
      const start = offset + ENTRY_HEADER_BYTES;
      const operation = decodeKvOperationLatin1(bytes.subarray(start, start + length));
      if (operation?.op === 'put') this.#data.set(operation.key, { value: operation.value, lsn });
      offset = start + length;
    }
  }
}
