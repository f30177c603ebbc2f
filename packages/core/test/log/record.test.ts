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
