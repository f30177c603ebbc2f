/**
 * Fuzzing the log's decoders and recovery (TESTPLAN P10, H4 style, fast-check). Random bytes and
 * mutated valid records go to `decodeRecordAt` and to the segment header decoder: the outcome is always
 * a typed value, never an exception, never a record larger than the maximum asked for. Mutated segment
 * files go through recovery: it opens (a torn tail cut) with a gap-free prefix of the original log, or
 * refuses with `LogCorruptedError` / `LogFormatError` — no other error, no hang, and never a silent cut
 * of intact records that follow the damage. fast-check prints the seed and the shrunk case on failure.
 */
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  decodeRecordAt,
  encodeRecord,
  LogCorruptedError,
  LogFormatError,
  openLog,
  RECORD_HEADER_BYTES,
  type RecordDecodeError,
  type RecordDecodeResult,
  RecordType,
  SEGMENT_HEADER_BYTES,
} from '../../src/index.js';
import { decodeSegmentHeader, encodeSegmentHeader } from '../../src/log/segment-header.js';
import { MemoryStorage } from '../../src/testing/index.js';
import { gapProblems, type ModelRecord, readAll, recordEnd } from './crash-model.js';

const DECODE_ERRORS: readonly RecordDecodeError[] = [
  'short-header',
  'bad-length',
  'short-record',
  'bad-checksum',
  'bad-type',
  'bad-reserved',
  'unexpected-lsn',
];
const MAX_SAFE = Number.MAX_SAFE_INTEGER;

function check(condition: boolean, message: () => string): void {
  if (!condition) throw new Error(message());
}

const RECORD_TYPES: readonly number[] = Object.values(RecordType);

/** Decodes and checks the invariants every outcome must keep (plain checks: this runs ~10^4 times). */
function decodeChecked(
  bytes: Buffer,
  offset: number,
  end: number,
  maxRecordBytes: number,
  expectedLsn?: number,
): RecordDecodeResult {
  let result: RecordDecodeResult;
  try {
    result = decodeRecordAt(bytes, offset, end, maxRecordBytes, expectedLsn);
  } catch (error) {
    throw new Error(`decodeRecordAt threw at offset ${offset}, end ${end}, max ${maxRecordBytes}: ${error}`);
  }
  if (result.ok) {
    const { size, record } = result;
    check(size >= RECORD_HEADER_BYTES, () => `size ${size} below the header size`);
    check(size <= maxRecordBytes, () => `size ${size} above the maximum ${maxRecordBytes}`);
    check(size <= end - offset, () => `size ${size} beyond the ${end - offset} bytes available`);
    check(record.payload.length === size - RECORD_HEADER_BYTES, () => 'payload length does not match size');
    check(RECORD_TYPES.includes(record.type), () => `unknown type ${record.type}`);
    check(
      expectedLsn === undefined || record.lsn === expectedLsn,
      () => `lsn ${record.lsn}, expected ${expectedLsn}`,
    );
  } else {
    check(DECODE_ERRORS.includes(result.error), () => `untyped error ${String(result.error)}`);
  }
  return result;
}

const recordArbitrary = fc.record({
  lsn: fc.integer({ min: 0, max: MAX_SAFE }),
  generation: fc.integer({ min: 0, max: 0xffff_ffff }),
  type: fc.constantFrom(...Object.values(RecordType)),
  txnId: fc.integer({ min: 0, max: MAX_SAFE }),
  payload: fc.uint8Array({ maxLength: 1500 }),
});

type Mutation =
  | { kind: 'flip'; at: number; bit: number }
  | { kind: 'byte'; at: number; value: number }
  | { kind: 'truncate'; keep: number }
  | { kind: 'length'; value: number };

const mutationArbitrary: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ kind: fc.constant('byte' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant('truncate' as const), keep: fc.nat() }),
  fc.record({
    kind: fc.constant('length' as const),
    value: fc.oneof(
      fc.constantFrom(0xffff_ffff, 0, 1, RECORD_HEADER_BYTES - 1, RECORD_HEADER_BYTES, 0x8000_0000),
      fc.integer({ min: 0, max: 0xffff_ffff }),
    ),
  }),
);

describe('decodeRecordAt', () => {
  it('gives a typed result for random bytes, never an exception or an oversize record', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 400 }),
        fc.nat(),
        fc.nat(),
        fc.integer({ min: 0, max: 2000 }),
        fc.option(fc.integer({ min: 0, max: MAX_SAFE }), { nil: undefined }),
        (raw, offsetSeed, endSeed, maxRecordBytes, expectedLsn) => {
          const bytes = Buffer.from(raw);
          const end = endSeed % (bytes.length + 1);
          const offset = offsetSeed % (bytes.length + 1);
          decodeChecked(bytes, offset, end, maxRecordBytes, expectedLsn);
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('gives a typed result for random bytes that carry a plausible length field', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 400 }), fc.nat(), (raw, lengthSeed) => {
        const bytes = Buffer.from(raw);
        bytes.writeUInt32LE(RECORD_HEADER_BYTES + (lengthSeed % (bytes.length + 8)), 4);
        decodeChecked(bytes, 0, bytes.length, 256);
        decodeChecked(bytes, 0, bytes.length, 1 << 20, 0);
      }),
      { numRuns: 2000 },
    );
  });

  it('round-trips every valid record, anywhere in a larger buffer', () => {
    fc.assert(
      fc.property(
        recordArbitrary,
        fc.uint8Array({ maxLength: 64 }),
        fc.uint8Array({ maxLength: 64 }),
        (record, before, after) => {
          const encoded = encodeRecord(record);
          const bytes = Buffer.concat([before, encoded, after]);
          const size = RECORD_HEADER_BYTES + record.payload.length;
          const result = decodeChecked(bytes, before.length, bytes.length, size, record.lsn);
          expect(result.ok).toBe(true);
          if (!result.ok) return;
          expect(result.size).toBe(size);
          expect(result.record.lsn).toBe(record.lsn);
          expect(result.record.generation).toBe(record.generation);
          expect(result.record.type).toBe(record.type);
          expect(result.record.txnId).toBe(record.txnId);
          expect(Buffer.from(result.record.payload).equals(Buffer.from(record.payload))).toBe(true);
          // A maximum below its size, or another expected LSN, refuses it with the right reason.
          expect(decodeChecked(bytes, before.length, bytes.length, size - 1)).toEqual({
            ok: false,
            error: 'bad-length',
          });
          const other = record.lsn === MAX_SAFE ? record.lsn - 1 : record.lsn + 1;
          expect(decodeChecked(bytes, before.length, bytes.length, size, other)).toEqual({
            ok: false,
            error: 'unexpected-lsn',
          });
        },
      ),
      { numRuns: 1500 },
    );
  });

  it('refuses every bit flip, byte change, truncation and bent length of a valid record', () => {
    fc.assert(
      fc.property(
        recordArbitrary,
        mutationArbitrary,
        fc.integer({ min: 0, max: 4000 }),
        (record, mutation, slack) => {
          const encoded = encodeRecord(record);
          const size = encoded.length;
          const bytes = Buffer.concat([encoded, Buffer.alloc(16)]);
          let end = size;
          let changed = true;
          switch (mutation.kind) {
            case 'flip':
              bytes[mutation.at % size]! ^= 1 << mutation.bit;
              break;
            case 'byte': {
              const at = mutation.at % size;
              changed = bytes[at] !== mutation.value;
              bytes[at] = mutation.value;
              break;
            }
            case 'truncate':
              end = mutation.keep % size;
              break;
            case 'length':
              changed = mutation.value !== size;
              bytes.writeUInt32LE(mutation.value, 4);
              end = bytes.length; // the bent length may point past the record: bytes are there
              break;
          }
          const maxRecordBytes = size + slack;
          const result = decodeChecked(bytes, 0, end, maxRecordBytes, record.lsn);
          // CRC32C catches every error burst up to 32 bits, and the length is inside the checked bytes.
          if (changed) expect(result.ok).toBe(false);
          else expect(result.ok).toBe(true);
        },
      ),
      { numRuns: 4000 },
    );
  });
});

describe('segment header decoding', () => {
  const clusterId = fc
    .string({ unit: 'binary', maxLength: 64 })
    .filter((id) => Buffer.byteLength(id, 'utf8') <= 64);

  it('gives a typed result for random bytes, never an exception', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (raw) => {
        let result: ReturnType<typeof decodeSegmentHeader> | undefined;
        expect(() => {
          result = decodeSegmentHeader(Buffer.from(raw));
        }).not.toThrow();
        if (result!.ok) {
          expect(Buffer.byteLength(result!.header.clusterId)).toBeLessThanOrEqual(64 * 3);
        } else {
          expect(typeof result!.reason).toBe('string');
          expect(typeof result!.torn).toBe('boolean');
          if (raw.length < SEGMENT_HEADER_BYTES) expect(result!.torn).toBe(true);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('round-trips, and refuses every changed byte or short header', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: MAX_SAFE }),
        clusterId,
        fc.nat(),
        fc.integer({ min: 1, max: 255 }),
        fc.nat(),
        (firstLsn, id, at, xor, keep) => {
          const encoded = encodeSegmentHeader({ firstLsn, clusterId: id });
          expect(decodeSegmentHeader(encoded)).toEqual({ ok: true, header: { firstLsn, clusterId: id } });
          const bent = Buffer.from(encoded);
          bent[at % SEGMENT_HEADER_BYTES]! ^= xor;
          const result = decodeSegmentHeader(bent);
          expect(result.ok).toBe(false);
          const short = decodeSegmentHeader(encoded.subarray(0, keep % SEGMENT_HEADER_BYTES));
          expect(short).toMatchObject({ ok: false, torn: true });
        },
      ),
      { numRuns: 2000 },
    );
  });
});

describe('recovery of mutated segment files', () => {
  const SEGMENT_BYTES = 4096;
  const base = new MemoryStorage('fuzz-base');
  let original: ModelRecord[] = [];
  let segments: { name: string; firstLsn: number; size: number }[] = [];

  beforeAll(async () => {
    const log = await openLog(base, { durability: 'fsync', segmentBytes: SEGMENT_BYTES });
    for (let index = 0; index < 40; index++) {
      const txn = log.begin();
      for (let record = 0; record <= index % 3; record++) {
        txn.append(Buffer.alloc(40 + ((index * 97 + record * 31) % 400), 65 + (index % 26)));
      }
      if (index % 7 === 6) txn.abort();
      else await txn.commit();
    }
    original = await readAll(log);
    await log.close();
    segments = base
      .list()
      .filter((name) => name.endsWith('.wal'))
      .sort()
      .map((name) => ({
        name,
        firstLsn: Number.parseInt(name.slice(0, 16), 16),
        size: base.fileBytes(name)!.length,
      }));
    expect(segments.length).toBeGreaterThanOrEqual(4);
  });

  type FileMutation =
    | { kind: 'flip'; at: number; bit: number }
    | { kind: 'overwrite'; at: number; bytes: Uint8Array }
    | { kind: 'zero'; at: number; length: number }
    | { kind: 'zero-header' }
    | { kind: 'length'; record: number; value: number }
    | { kind: 'truncate'; keep: number }
    | { kind: 'append'; bytes: Uint8Array };

  const fileMutation: fc.Arbitrary<FileMutation> = fc.oneof(
    fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
    fc.record({
      kind: fc.constant('overwrite' as const),
      at: fc.nat(),
      bytes: fc.uint8Array({ minLength: 1, maxLength: 64 }),
    }),
    fc.record({ kind: fc.constant('zero' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 700 }) }),
    fc.constant({ kind: 'zero-header' as const }),
    fc.record({
      kind: fc.constant('length' as const),
      record: fc.nat(),
      value: fc.oneof(
        fc.constantFrom(0xffff_ffff, 0, 31, 0x7fff_ffff),
        fc.integer({ min: 0, max: 0xffff_ffff }),
      ),
    }),
    fc.record({ kind: fc.constant('truncate' as const), keep: fc.nat() }),
    fc.record({
      kind: fc.constant('append' as const),
      bytes: fc.oneof(
        fc.uint8Array({ minLength: 1, maxLength: 100 }),
        fc.integer({ min: 1, max: 100 }).map((n) => new Uint8Array(n)),
      ),
    }),
  );

  /** Applies the mutation to a copy of the base log; returns the damaged byte range, or undefined if nothing changed. */
  function mutate(
    image: MemoryStorage,
    segment: (typeof segments)[number],
    mutation: FileMutation,
  ): [number, number] | undefined {
    const { name, size } = segment;
    const before = Buffer.from(image.fileBytes(name)!);
    const file = image.open(name, { create: false, dsync: false });
    let range: [number, number];
    switch (mutation.kind) {
      case 'flip': {
        const at = mutation.at % size;
        image.corrupt(name, at, Uint8Array.of(before[at]! ^ (1 << mutation.bit)));
        range = [at, at + 1];
        break;
      }
      case 'overwrite': {
        const at = mutation.at % size;
        const bytes = mutation.bytes.subarray(0, size - at);
        image.corrupt(name, at, bytes);
        range = [at, at + bytes.length];
        break;
      }
      case 'zero': {
        const at = mutation.at % size;
        const length = Math.min(mutation.length, size - at);
        image.corrupt(name, at, new Uint8Array(length));
        range = [at, at + length];
        break;
      }
      case 'zero-header':
        image.corrupt(name, 0, new Uint8Array(SEGMENT_HEADER_BYTES));
        range = [0, SEGMENT_HEADER_BYTES];
        break;
      case 'length': {
        const inFile = original.filter(
          (record) =>
            record.lsn >= segment.firstLsn &&
            recordEnd(record) <= segment.firstLsn + size - SEGMENT_HEADER_BYTES,
        );
        const target = inFile[mutation.record % inFile.length]!;
        const at = SEGMENT_HEADER_BYTES + (target.lsn - segment.firstLsn) + 4;
        const bytes = Buffer.alloc(4);
        bytes.writeUInt32LE(mutation.value, 0);
        image.corrupt(name, at, bytes);
        range = [at, at + 4];
        break;
      }
      case 'truncate': {
        const keep = mutation.keep % size;
        file.truncate(keep);
        range = [keep, size];
        break;
      }
      case 'append':
        file.write(mutation.bytes, size);
        range = [size, size + mutation.bytes.length];
        break;
    }
    file.close();
    const after = image.fileBytes(name)!;
    return after.equals(before) ? undefined : range;
  }

  for (const recovery of ['strict', 'repair'] as const) {
    it(`${recovery}: opens with a gap-free prefix or refuses with a typed error, never cuts intact records silently`, async () => {
      await fc.assert(
        fc.asyncProperty(fc.nat(), fileMutation, async (segmentSeed, mutation) => {
          const image = base.crash({ kind: 'process' });
          const index = segmentSeed % segments.length;
          const segment = segments[index]!;
          const isLast = index === segments.length - 1;
          const damage = mutate(image, segment, mutation);

          const started = performance.now();
          let outcome: { records: ModelRecord[]; firstLsn: number; nextLsn: number } | { error: unknown };
          try {
            const log = await openLog(image, { durability: 'fsync', segmentBytes: SEGMENT_BYTES, recovery });
            try {
              outcome = { records: await readAll(log), firstLsn: log.firstLsn, nextLsn: log.nextLsn };
            } finally {
              await log.close();
            }
          } catch (error) {
            outcome = { error };
          }
          expect(performance.now() - started, 'recovery took too long').toBeLessThan(2000);

          if ('error' in outcome) {
            // Repair cuts at the first bad record instead of refusing; only an unusable header stops it.
            const allowed = recovery === 'strict' ? [LogCorruptedError, LogFormatError] : [LogFormatError];
            if (!allowed.some((type) => outcome.error instanceof type)) throw outcome.error;
            // An undamaged log must open.
            expect(
              damage,
              `refused an undamaged log: ${(outcome as { error: Error }).error.message}`,
            ).toBeDefined();
            return;
          }
          const { records, firstLsn, nextLsn } = outcome;
          expect(firstLsn).toBe(1);
          expect(gapProblems(records, firstLsn, nextLsn)).toEqual([]);
          // A prefix of the original, byte for byte.
          const differs = records.findIndex((got, position) => {
            const want = original[position];
            return (
              want === undefined ||
              got.lsn !== want.lsn ||
              got.txnId !== want.txnId ||
              got.type !== want.type ||
              !got.payload.equals(want.payload)
            );
          });
          expect(differs, 'the recovered log is not a prefix of the original').toBe(-1);
          if (damage === undefined) {
            expect(records.length).toBe(original.length);
            return;
          }
          // Nothing wholly before the damage is lost.
          const damageLsn = segment.firstLsn + Math.max(0, damage[0] - SEGMENT_HEADER_BYTES);
          const intactBefore = original.filter((record) =>
            damage[0] < SEGMENT_HEADER_BYTES ? record.lsn < segment.firstLsn : recordEnd(record) <= damageLsn,
          ).length;
          expect(records.length, 'records before the damage were cut').toBeGreaterThanOrEqual(intactBefore);
          if (recovery === 'strict') {
            // Strict: damage in a segment that was flushed before the next began is corruption, never cut.
            expect(isLast, `opened despite damage at ${damage} in the non-last segment ${segment.name}`).toBe(
              true,
            );
            // And a torn tail has nothing intact after it: an intact record after the damage means corruption.
            const segmentEnd = segment.firstLsn + segment.size - SEGMENT_HEADER_BYTES;
            const intactAfter = original.filter(
              (record) =>
                SEGMENT_HEADER_BYTES + (record.lsn - segment.firstLsn) >= damage[1] &&
                recordEnd(record) <= segmentEnd,
            );
            expect(
              intactAfter.map((record) => record.lsn),
              `damage at ${damage} of ${segment.name} cut intact records after it`,
            ).toEqual([]);
          }
        }),
        { numRuns: 400 },
      );
    });
  }
});
