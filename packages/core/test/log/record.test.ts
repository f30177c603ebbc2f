import { describe, expect, it } from 'vitest';
import { crc32c, decodeRecordAt, encodeRecord, RECORD_HEADER_BYTES, RecordType } from '../../src/index.js';

describe('crc32c', () => {
  it('gives the standard check value for "123456789"', () => {
    expect(crc32c(Buffer.from('123456789')).toString(16)).toBe('e3069283');
  });
});

describe('record format', () => {
  it('round-trips every field, including LSNs and txn ids above 2^32', () => {
    const payload = Buffer.from('payload bytes');
    const encoded = encodeRecord({
      lsn: 2 ** 40 + 17,
      generation: 7,
      type: RecordType.commit,
      txnId: 2 ** 35 + 3,
      payload,
    });
    expect(encoded.length).toBe(RECORD_HEADER_BYTES + payload.length);
    const result = decodeRecordAt(encoded, 0, encoded.length, 1024);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.record).toMatchObject({
      lsn: 2 ** 40 + 17,
      generation: 7,
      type: RecordType.commit,
      txnId: 2 ** 35 + 3,
    });
    expect(Buffer.from(result.record.payload).equals(payload)).toBe(true);
    expect(result.size).toBe(encoded.length);
  });

  it('reports a flipped bit as a checksum error and a bent length as a bad length', () => {
    const encoded = encodeRecord({
      lsn: 1,
      generation: 1,
      type: RecordType.data,
      txnId: 1,
      payload: Buffer.from('abc'),
    });
    const flipped = Buffer.from(encoded);
    flipped[RECORD_HEADER_BYTES + 1]! ^= 0x10;
    expect(decodeRecordAt(flipped, 0, flipped.length, 1024)).toEqual({ ok: false, error: 'bad-checksum' });
    const bent = Buffer.from(encoded);
    bent.writeUInt32LE(5, 4);
    expect(decodeRecordAt(bent, 0, bent.length, 1024)).toEqual({ ok: false, error: 'bad-length' });
    expect(decodeRecordAt(encoded, 0, encoded.length - 1, 1024)).toEqual({
      ok: false,
      error: 'short-record',
    });
    expect(decodeRecordAt(encoded, 0, encoded.length, 1024, 2)).toEqual({
      ok: false,
      error: 'unexpected-lsn',
    });
  });
});

describe('crc32c paths', () => {
  it('the table-driven path and the native one agree on every size and offset', async () => {
    const { crc32cTable, crc32cRange, CRC32C_JS_MAX_BYTES } = await import('../../src/log/crc32c.js');
    const { crc32c: native } = await import('@node-rs/crc32');
    const bytes = Buffer.alloc(600);
    for (let index = 0; index < bytes.length; index++) bytes[index] = (index * 131 + 7) & 0xff;
    for (let start = 0; start < 9; start++) {
      for (let end = start; end < bytes.length; end += 13) {
        const expected = native(bytes.subarray(start, end)) >>> 0;
        expect(crc32cTable(bytes, start, end)).toBe(expected);
        expect(crc32cRange(bytes, start, end)).toBe(expected);
      }
    }
    expect(CRC32C_JS_MAX_BYTES).toBeGreaterThan(32);
    expect(crc32cTable(Buffer.from('123456789'), 0, 9).toString(16)).toBe('e3069283');
  });
});

describe('crc32c register arithmetic', () => {
  /** The register after `bytes`, one byte at a time from the table: the reference the shortcuts must match. */
  async function byteByByte(register: number, bytes: Uint8Array): Promise<number> {
    const { crc32cTable } = await import('../../src/log/crc32c.js');
    // The one-byte table, recovered from crc32cTable (which is anchored by the check value): from the
    // register -1, byte 0xff ^ i leaves table[i] ^ 0x00ffffff, and crc32cTable returns its inversion.
    const table = new Int32Array(256);
    for (let index = 0; index < 256; index++) {
      table[index] = ~crc32cTable(Uint8Array.of(0xff ^ index), 0, 1) ^ 0x00ff_ffff;
    }
    let value = register;
    for (const byte of bytes) value = table[(value ^ byte) & 0xff]! ^ (value >>> 8);
    return value;
  }

  const lengths = [
    0, 1, 2, 3, 4, 7, 8, 9, 28, 31, 32, 33, 96, 156, 255, 256, 257, 4096, 65_535, 65_536, 70_001,
  ];

  it('zero-extends a register as many zero bytes would, for lengths across every operator level used', async () => {
    const { crc32cZeroExtend } = await import('../../src/log/crc32c.js');
    for (const length of lengths) {
      for (const register of [0, -1, 1, 0x1234_5678, -0x8000_0000]) {
        expect(crc32cZeroExtend(register, length) | 0).toBe(
          (await byteByByte(register, new Uint8Array(length))) | 0,
        );
      }
    }
    expect(() => crc32cZeroExtend(0, -1)).toThrow(RangeError);
    expect(() => crc32cZeroExtend(0, 2 ** 32)).toThrow(RangeError);
    expect(() => crc32cZeroExtend(0, 1.5)).toThrow(RangeError);
  });

  it('predicts the register after a record from its stored CRC alone, and only when that CRC is right', async () => {
    const { crc32c, crc32cRegisterAfterRecord, crc32cUpdateUint32 } = await import('../../src/log/crc32c.js');
    let seed = 7;
    const next = () => {
      seed = (Math.imul(seed, 1_103_515_245) + 12_345) | 0;
      return (seed >>> 16) & 0xff;
    };
    for (const length of lengths) {
      const covered = Uint8Array.from({ length }, next);
      const stored = crc32c(covered);
      const field = Buffer.alloc(4);
      field.writeUInt32LE(stored);
      for (const register of [-1, 0, 0x0bad_cafe]) {
        const actual = await byteByByte(register, Buffer.concat([field, covered]));
        expect(crc32cUpdateUint32(register, stored) | 0).toBe((await byteByByte(register, field)) | 0);
        expect(crc32cRegisterAfterRecord(register, stored, length) | 0).toBe(actual | 0);
        // A stored CRC off by any single bit predicts another register: the error cannot vanish.
        for (const bit of [0, 13, 31]) {
          const wrong = (stored ^ (1 << bit)) >>> 0;
          field.writeUInt32LE(wrong);
          const actualWithWrongField = await byteByByte(register, Buffer.concat([field, covered]));
          expect(crc32cRegisterAfterRecord(register, wrong, length) | 0).not.toBe(actualWithWrongField | 0);
          field.writeUInt32LE(stored);
        }
      }
    }
  });
});

describe('encoding through a DataView', () => {
  it('encodeRecordIntoView writes the same bytes as encodeRecordInto, at any offset of a shared buffer', async () => {
    const { encodeRecordInto, encodeRecordIntoView } = await import('../../src/log/record.js');
    const { crc32cRange, crc32cRangeView, CRC32C_JS_MAX_BYTES } = await import('../../src/log/crc32c.js');
    // A view that starts inside a larger ArrayBuffer, as pooled Buffers do.
    const backing = new ArrayBuffer(8192);
    const target = new Uint8Array(backing, 24, 4096);
    const view = new DataView(backing, 24, 4096);
    const expected = Buffer.alloc(4096);
    const sizes = [0, 1, 4, 7, 8, 96, 128, CRC32C_JS_MAX_BYTES - 32, CRC32C_JS_MAX_BYTES - 31, 1000];
    let offset = 0;
    for (const [index, size] of sizes.entries()) {
      const payload = Uint8Array.from({ length: size }, (_, at) => (at * 31 + index) & 0xff);
      const lsn = [1, 2 ** 32 - 1, 2 ** 32, 2 ** 53 - 1][index % 4]!;
      const txnId = [0, 5, 2 ** 40, 2 ** 32 + 3][index % 4]!;
      const type = ((index % 5) + 1) as RecordType;
      const written = encodeRecordIntoView(view, target, offset, lsn, index * 7, type, txnId, payload);
      expect(encodeRecordInto(expected, offset, lsn, index * 7, type, txnId, payload)).toBe(written);
      expect(Buffer.from(target.subarray(offset, offset + written))).toEqual(
        expected.subarray(offset, offset + written),
      );
      expect(decodeRecordAt(expected, offset, offset + written, 1 << 20, lsn)).toMatchObject({ ok: true });
      for (const start of [offset, offset + 1, offset + 4]) {
        expect(crc32cRangeView(view, start, offset + written)).toBe(
          crc32cRange(target, start, offset + written),
        );
      }
      offset += written + (index % 3);
    }
    // The same refusals: a field out of range, or no room in the target.
    expect(() => encodeRecordIntoView(view, target, 0, -1, 1, RecordType.data, 0, Buffer.alloc(1))).toThrow(
      RangeError,
    );
    expect(() =>
      encodeRecordIntoView(view, target, 0, 1, 2 ** 32, RecordType.data, 0, Buffer.alloc(1)),
    ).toThrow(RangeError);
    expect(() => encodeRecordIntoView(view, target, 4090, 1, 1, RecordType.data, 0, Buffer.alloc(1))).toThrow(
      RangeError,
    );
  });
});
