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
