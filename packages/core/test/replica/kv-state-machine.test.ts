/**
 * The example key-value operation codec and state machine: round trips from Buffers and from plain
 * Uint8Arrays (views into a larger buffer, as records are), values copied out of the record, and
 * malformed operations refused without applying part of a transaction.
 */
import { describe, expect, it } from 'vitest';
import {
  decodeKvOperation,
  decodeKvOperationLatin1,
  encodeKvOperation,
  KvStateMachine,
  kvPutLatin1Bytes,
  MAX_KEY_BYTES,
  writeKvPutLatin1,
} from '../../src/index.js';

/** Every byte value, so a lossy text encoding (utf8 instead of latin1) shows up. */
const EVERY_BYTE = Buffer.from(Array.from({ length: 256 }, (_, index) => index));

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

describe('decodeKvOperationLatin1', () => {
  it('keeps every byte of the value, one char per byte, from a Buffer and from a plain view', () => {
    const put = encodeKvOperation({ op: 'put', key: 'clé', value: EVERY_BYTE });
    for (const payload of [put, inside(put)]) {
      const decoded = decodeKvOperationLatin1(payload) as { op: 'put'; key: string; value: string };
      expect(decoded.op).toBe('put');
      expect(decoded.key).toBe('clé');
      expect(decoded.value.length).toBe(256);
      expect(Buffer.from(decoded.value, 'latin1').equals(EVERY_BYTE)).toBe(true);
    }
    const remove = encodeKvOperation({ op: 'delete', key: 'k' });
    expect(decodeKvOperationLatin1(inside(remove))).toEqual({ op: 'delete', key: 'k' });
  });

  it('refuses what decodeKvOperation refuses', () => {
    for (const bad of [
      Buffer.from([1, 0]),
      Buffer.from([1, 5, 0, 0x61]),
      Buffer.from([2, 1, 0, 0x61, 0x62]),
      Buffer.from([9, 1, 0, 0x61]),
    ])
      expect(decodeKvOperationLatin1(bad)).toBeUndefined();
  });

  it('writes a put byte-identical to encodeKvOperation', () => {
    for (const [key, value] of [
      ['clé', EVERY_BYTE],
      ['', Buffer.alloc(0)],
      ['k'.repeat(MAX_KEY_BYTES), Buffer.from('v')],
    ] as const) {
      const expected = encodeKvOperation({ op: 'put', key, value });
      const latin1 = value.toString('latin1');
      expect(kvPutLatin1Bytes(key, latin1)).toBe(expected.length);
      const target = Buffer.alloc(expected.length + 4, 0xee);
      expect(writeKvPutLatin1(target, 2, key, latin1)).toBe(2 + expected.length);
      expect(target.subarray(2, 2 + expected.length).equals(expected)).toBe(true);
      expect(target[1]).toBe(0xee);
      expect(target[2 + expected.length]).toBe(0xee);
    }
  });
});

describe('KvStateMachine', () => {
  const txnOf = (payloads: Uint8Array[], endLsn: number) => ({
    txnId: 1,
    generation: 1,
    commitLsn: endLsn - 36,
    endLsn,
    payloads,
  });

  it('keeps a copy of each value: every byte, independent of the record and of what get returned', () => {
    const machine = new KvStateMachine();
    const record = encodeKvOperation({ op: 'put', key: 'bin', value: EVERY_BYTE });
    machine.apply(txnOf([inside(record)], 100));
    record.fill(0);
    const first = machine.get('bin')!;
    expect(Buffer.from(first).equals(EVERY_BYTE)).toBe(true);
    first.fill(1);
    expect(Buffer.from(machine.get('bin')!).equals(EVERY_BYTE)).toBe(true);
    expect(
      [...machine.entries()].map(([key, value]) => [key, Buffer.from(value).equals(EVERY_BYTE)]),
    ).toEqual([['bin', true]]);
  });

  it('snapshots in the documented layout and restores every value', () => {
    const machine = new KvStateMachine();
    const values: [string, Buffer][] = [
      ['bin', EVERY_BYTE],
      ['empty', Buffer.alloc(0)],
      ['clé', Buffer.from('valeur')],
    ];
    machine.apply(
      txnOf(
        values.map(([key, value]) => encodeKvOperation({ op: 'put', key, value })),
        500,
      ),
    );
    const snapshot = Buffer.from(machine.snapshot());
    // u32 count, f64 applied LSN, then per entry a u32 length and an encoded put.
    const entries = values.map(([key, value]) => encodeKvOperation({ op: 'put', key, value }));
    const expected = Buffer.alloc(12 + entries.reduce((size, entry) => size + 4 + entry.length, 0));
    expected.writeUInt32LE(values.length, 0);
    expected.writeDoubleLE(500, 4);
    let offset = 12;
    for (const entry of entries) {
      expected.writeUInt32LE(entry.length, offset);
      entry.copy(expected, offset + 4);
      offset += 4 + entry.length;
    }
    expect(snapshot.equals(expected)).toBe(true);
    const restored = new KvStateMachine();
    restored.restore(inside(snapshot));
    expect(restored.appliedLsn).toBe(500);
    for (const [key, value] of values) expect(Buffer.from(restored.get(key)!).equals(value)).toBe(true);
  });

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
