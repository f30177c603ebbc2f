import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { crc32c } from '../../src/log/crc32c.js';
import { RecordType } from '../../src/log/record.js';
import { LOG_FIXED_BYTES, type LogFields } from '../../src/wire/body.js';
import { decodeFrame, encodeMessage, FRAME_HEADER_BYTES, type LogMessage } from '../../src/wire/index.js';
import { summarizeLogBatch, summarizeLogBatchByBodyCrc } from '../../src/wire/log-batch.js';
import { DEFAULT_MAX_RECORD_BYTES } from '../../src/wire/options.js';
import { ProtocolError } from '../../src/wire/protocol-error.js';
import { buildLogMessage, logCase } from './wire-helpers.js';

/** The body of `message` as it goes on the wire, and the CRCs the frame decoder knows for it. */
function encodedBody(message: LogMessage): { fields: LogFields; prefixCrc: number; bodyCrc: number } {
  const body = encodeMessage(message).subarray(FRAME_HEADER_BYTES);
  return {
    fields: { ...message, records: body.subarray(LOG_FIXED_BYTES) },
    prefixCrc: crc32c(body.subarray(0, LOG_FIXED_BYTES)),
    bodyCrc: crc32c(body),
  };
}

/** Like `encodedBody`, for records the encoder would refuse: the body laid out by hand. */
function rawBody(
  message: LogMessage,
  records: Buffer,
): { fields: LogFields; prefixCrc: number; bodyCrc: number } {
  const fixed = Buffer.alloc(LOG_FIXED_BYTES);
  fixed.writeUInt32LE(message.generation, 0);
  fixed.writeUInt32LE(message.prevLsn % 2 ** 32, 4);
  fixed.writeUInt32LE(Math.floor(message.prevLsn / 2 ** 32), 8);
  fixed.writeUInt32LE(message.prevGeneration, 12);
  const body = Buffer.concat([fixed, records]);
  return {
    fields: { ...message, records: body.subarray(LOG_FIXED_BYTES) },
    prefixCrc: crc32c(fixed),
    bodyCrc: crc32c(body),
  };
}

/** Byte offsets in `records` that may change without breaking any rule but the record's CRC. */
function crcOnlyOffsets(records: readonly { payload: Uint8Array }[]): { record: number; offset: number }[] {
  const offsets: { record: number; offset: number }[] = [];
  let at = 0;
  records.forEach((record, index) => {
    // The stored CRC itself, the txn id (any value is valid), every payload byte.
    for (const within of [0, 3, 24, 31]) offsets.push({ record: index, offset: at + within });
    for (let within = 0; within < record.payload.length; within++) {
      offsets.push({ record: index, offset: at + 32 + within });
    }
    at += 32 + record.payload.length;
  });
  return offsets;
}

describe('log batch: record CRCs checked against the body CRC', () => {
  it('the collective check accepts every valid batch on its own, with the same summary as record by record', () => {
    fc.assert(
      fc.property(logCase(), (logCaseValue) => {
        const { fields, prefixCrc, bodyCrc } = encodedBody(logCaseValue.message);
        const alone = summarizeLogBatchByBodyCrc(fields, DEFAULT_MAX_RECORD_BYTES, { prefixCrc, bodyCrc });
        expect(alone).toEqual(logCaseValue.expected);
        expect(summarizeLogBatch(fields, DEFAULT_MAX_RECORD_BYTES, { prefixCrc, bodyCrc })).toEqual(alone);
        expect(summarizeLogBatch(fields, DEFAULT_MAX_RECORD_BYTES)).toEqual(alone);
      }),
      { numRuns: 500 },
    );
  });

  it('a record whose CRC does not hold is refused even though the frame CRC matches its bytes', () => {
    fc.assert(
      fc.property(logCase(), fc.nat(), fc.integer({ min: 1, max: 255 }), (logCaseValue, pick, xor) => {
        const offsets = crcOnlyOffsets(logCaseValue.records);
        const { record, offset } = offsets[pick % offsets.length]!;
        const records = Buffer.from(logCaseValue.message.records);
        records[offset]! ^= xor;
        const message = { ...logCaseValue.message, records };
        const { fields, prefixCrc, bodyCrc } = encodedBody(message);
        // The collective check alone says the CRCs do not add up…
        expect(summarizeLogBatchByBodyCrc(fields, DEFAULT_MAX_RECORD_BYTES, { prefixCrc, bodyCrc })).toBe(
          undefined,
        );
        // …and the decoder names the record, as the record-by-record check always did.
        const result = decodeFrame(encodeMessage(message));
        expect(result.ok).toBe(false);
        if (result.ok) return;
        expect(result.error).toBeInstanceOf(ProtocolError);
        expect(result.error.reason).toBe('bad-record');
        expect(result.error.message).toMatch(
          new RegExp(`: record ${record} at byte \\d+ of the batch: bad-checksum$`),
        );
      }),
      { numRuns: 500 },
    );
  });

  it('on a batch bent anywhere, the collective check never accepts what the record-by-record check refuses', () => {
    fc.assert(
      fc.property(
        logCase(),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 3 }),
        fc.boolean(),
        (logCaseValue, bends, fixCrcs) => {
          const records = Buffer.from(logCaseValue.message.records);
          for (const [at, xor] of bends) records[at % records.length]! ^= xor;
          if (fixCrcs) {
            // Re-seal every record whose header still parses, so header rules are what is tested.
            let offset = 0;
            while (offset + 32 <= records.length) {
              const size = records.readUInt32LE(offset + 4);
              if (size < 32 || offset + size > records.length) break;
              records.writeUInt32LE(crc32c(records.subarray(offset + 4, offset + size)), offset);
              offset += size;
            }
          }
          const { fields, prefixCrc, bodyCrc } = rawBody(logCaseValue.message, records);
          const fast = summarizeLogBatchByBodyCrc(fields, DEFAULT_MAX_RECORD_BYTES, { prefixCrc, bodyCrc });
          const slow = summarizeLogBatch(fields, DEFAULT_MAX_RECORD_BYTES);
          if (fast !== undefined) expect(slow).toEqual(fast);
          expect(summarizeLogBatch(fields, DEFAULT_MAX_RECORD_BYTES, { prefixCrc, bodyCrc })).toEqual(slow);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('a body CRC that is not the body’s makes the collective check fail, so the records are checked one by one', () => {
    const { message, expected } = buildLogMessage({
      generation: 2,
      firstLsn: 100,
      prevLsn: 99,
      prevGeneration: 2,
      records: [
        { generation: 2, type: RecordType.data, txnId: 5, payload: Buffer.alloc(128, 1) },
        { generation: 2, type: RecordType.commit, txnId: 5, payload: Buffer.alloc(4) },
      ],
    });
    const { fields, prefixCrc, bodyCrc } = encodedBody(message);
    const wrongBody = { prefixCrc, bodyCrc: (bodyCrc ^ 1) >>> 0 };
    const wrongPrefix = { prefixCrc: (prefixCrc ^ 0x8000_0000) >>> 0, bodyCrc };
    expect(summarizeLogBatchByBodyCrc(fields, DEFAULT_MAX_RECORD_BYTES, wrongBody)).toBe(undefined);
    expect(summarizeLogBatchByBodyCrc(fields, DEFAULT_MAX_RECORD_BYTES, wrongPrefix)).toBe(undefined);
    // The records themselves are sound: the record-by-record check, which decides then, accepts them.
    expect(summarizeLogBatch(fields, DEFAULT_MAX_RECORD_BYTES, wrongBody)).toEqual(expected);
  });

  it('checks records of every size class, up to ones that need high operator levels', () => {
    const sizes = [0, 1, 4, 96, 128, 1000, 65_536 - 32, 70_000, 300_000];
    const { message, expected, records } = buildLogMessage({
      generation: 9,
      firstLsn: 2 ** 40,
      prevLsn: 0,
      prevGeneration: 0,
      records: sizes.map((size, index) => ({
        generation: 9,
        type: RecordType.data,
        txnId: index,
        payload: Buffer.alloc(size, index + 1),
      })),
    });
    const { fields, prefixCrc, bodyCrc } = encodedBody(message);
    expect(summarizeLogBatchByBodyCrc(fields, 1024 * 1024, { prefixCrc, bodyCrc })).toEqual(expected);
    // The last byte of the largest record, then the first byte of the smallest payload.
    for (const offset of [fields.records.length - 1, 32 + 32]) {
      const bent = Buffer.from(message.records);
      bent[offset]! ^= 0x40;
      const bentBody = encodedBody({ ...message, records: bent });
      expect(
        summarizeLogBatchByBodyCrc(bentBody.fields, 1024 * 1024, {
          prefixCrc: bentBody.prefixCrc,
          bodyCrc: bentBody.bodyCrc,
        }),
      ).toBe(undefined);
    }
    expect(records).toHaveLength(sizes.length);
  });
});
