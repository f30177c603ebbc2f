/**
 * The example key-value operation codec and state machine: round trips from Buffers and from plain
 * Uint8Arrays (views into a larger buffer, as records are), values copied out of the record, and
 * malformed operations refused without applying part of a transaction.
 */
import { describe, expect, it } from 'vitest';
import { decodeKvOperation, encodeKvOperation, KvStateMachine, MAX_KEY_BYTES } from '../../src/index.js';

function inside(bytes: Uint8Array): Uint8Array {
  // A plain Uint8Array view with bytes on both sides, like a payload inside a log batch.
  const backing = new Uint8Array(bytes.length + 10).fill(0xaa);
  backing.set(bytes, 5);
  return new Uint8Array(backing.buffer, 5, bytes.length);
}

describe('decodeKvOperation', () => {
  it('round-trips puts and deletes from a Buffer and from a plain view', () => {
    const put = encodeKvOperation({ op: 'put', key: 'clé', value: Buffer.from('valeur') });
    const remove = encodeKvOperation({ op: 'delete', key: 'k' });
    for (const payload of [put, inside(put)]) {
      const decoded = decodeKvOperation(payload);
      expect(decoded?.op).toBe('put');
      expect(decoded?.key).toBe('clé');
      expect(Buffer.from((decoded as { value: Uint8Array }).value).toString()).toBe('valeur');
    }
    for (const payload of [remove, inside(remove)])
      expect(decodeKvOperation(payload)).toEqual({ op: 'delete', key: 'k' });
  });

  it('copies the value out of the record, as a Buffer', () => {
    const payload = encodeKvOperation({ op: 'put', key: 'k', value: Buffer.from('abc') });
    const decoded = decodeKvOperation(payload) as { value: Uint8Array };
    payload.fill(0);
    expect(Buffer.isBuffer(decoded.value)).toBe(true);
    expect(decoded.value.toString()).toBe('abc');
  });

  it('refuses short, overlong, trailing and unknown operations', () => {
    expect(decodeKvOperation(Buffer.from([1, 0]))).toBeUndefined();
    const long = Buffer.alloc(3 + MAX_KEY_BYTES + 1);
    long[0] = 1;
    long.writeUInt16LE(MAX_KEY_BYTES + 1, 1);
    expect(decodeKvOperation(long)).toBeUndefined();
    expect(decodeKvOperation(Buffer.from([1, 5, 0, 0x61]))).toBeUndefined(); // key runs past the end
    expect(decodeKvOperation(Buffer.from([2, 1, 0, 0x61, 0x62]))).toBeUndefined(); // delete with a value
    expect(decodeKvOperation(Buffer.from([9, 1, 0, 0x61]))).toBeUndefined();
  });
});

describe('KvStateMachine', () => {
  it('applies a transaction whole or not at all', () => {
    const machine = new KvStateMachine();
    const good = encodeKvOperation({ op: 'put', key: 'a', value: Buffer.from('1') });
    const txn = (payloads: Uint8Array[], endLsn: number) => ({
      txnId: 1,
      generation: 1,
      commitLsn: endLsn - 36,
      endLsn,
      payloads,
    });
    machine.apply(txn([good, Buffer.from([7, 0, 0])], 100));
    expect(machine.size).toBe(0);
    expect(machine.appliedLsn).toBe(0);
    machine.apply(txn([inside(good)], 200));
    expect(Buffer.from(machine.get('a')!).toString()).toBe('1');
    expect(machine.appliedLsn).toBe(200);
  });
});
