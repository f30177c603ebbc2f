import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { crc32c } from '../../src/log/crc32c.js';
import { RecordType } from '../../src/log/record.js';
import {
  decodeFrame,
  encodeFrameInto,
  encodeLogFrame,
  encodeLogFrameInPlace,
  encodeMessage,
  FRAME_HEADER_BYTES,
  FrameFlags,
  frameSize,
  iterateRecords,
  LOG_FRAME_PREFIX_BYTES,
  MAX_MESSAGE_HISTORY_ENTRIES,
  type Message,
  MessageType,
} from '../../src/wire/index.js';
import { buildLogMessage, logCase, message, plain } from './wire-helpers.js';

const electionPing: Message = {
  type: 'election',
  generation: 3,
  electionGeneration: 4,
  kind: 'ping',
  granted: false,
  dataGeneration: 2,
  lastLsn: 2 ** 40,
  time: 123_456,
  site: '',
};

/** A log message holding one transaction: a data record and its commit, PERMANENT. */
function oneTransactionLog() {
  return buildLogMessage({
    generation: 4,
    firstLsn: 100,
    prevLsn: 60,
    prevGeneration: 3,
    records: [
      { generation: 4, type: RecordType.data, txnId: 9, payload: Buffer.from('put a 1') },
      { generation: 4, type: RecordType.commit, txnId: 9, payload: Buffer.alloc(0) },
    ],
  }).message;
}

describe('round trip', () => {
  it('decodes every message type to what was encoded, in a frame of exactly frameSize bytes', () => {
    fc.assert(
      fc.property(message(), (original) => {
        const frame = encodeMessage(original);
        expect(frame.length).toBe(frameSize(original));
        expect(frame[3]).toBe(MessageType[original.type]);
        const result = decodeFrame(frame);
        if (!result.ok) throw result.error;
        expect(plain(result.message)).toEqual(plain(original));
        // Canonical: re-encoding the decoded message gives the same bytes.
        expect(encodeMessage(result.message).equals(frame)).toBe(true);
      }),
      { numRuns: 1500 },
    );
  });

  it('summarizes a log batch and iterates its records without re-parsing', () => {
    fc.assert(
      fc.property(logCase(), ({ message: original, records, expected }) => {
        const result = decodeFrame(encodeMessage(original));
        if (!result.ok) throw result.error;
        const decoded = result.message;
        if (decoded.type !== 'log') throw new Error(`decoded a ${decoded.type}`);
        expect(decoded.batch).toEqual(expected);
        const iterated = [...iterateRecords(decoded)].map((record) => ({
          ...record,
          payload: Buffer.from(record.payload).toString('hex'),
        }));
        expect(iterated).toEqual(
          records.map((record) => ({ ...record, payload: Buffer.from(record.payload).toString('hex') })),
        );
      }),
      { numRuns: 500 },
    );
  });

  it('encodes a log frame around prebuilt records, as encodeMessage does', () => {
    const original = oneTransactionLog();
    const frame = encodeLogFrame(original, original.records);
    expect(frame.equals(encodeMessage(original))).toBe(true);
    expect(frame[4]).toBe(FrameFlags.PERMANENT);
  });

  it('builds a log frame around records already in place, byte for byte the copying encoder’s frame', () => {
    const original = oneTransactionLog();
    // A bulk buffer: the reserved prefix (left dirty, as a reused buffer would be), the records, spare room.
    const buffer = Buffer.alloc(LOG_FRAME_PREFIX_BYTES + original.records.length + 40, 0xee);
    original.records.forEach((byte, index) => {
      buffer[LOG_FRAME_PREFIX_BYTES + index] = byte;
    });
    const records = buffer.subarray(LOG_FRAME_PREFIX_BYTES, LOG_FRAME_PREFIX_BYTES + original.records.length);
    const frame = encodeLogFrameInPlace({ ...original, records }, buffer);
    expect(frame.buffer).toBe(buffer.buffer);
    expect(frame.equals(encodeMessage(original))).toBe(true);
    const decoded = decodeFrame(frame);
    expect(decoded.ok && plain(decoded.message)).toEqual(plain(original));
    // Records anywhere but right after the prefix of that buffer are refused, not framed wrongly.
    expect(() => encodeLogFrameInPlace(original, buffer)).toThrow(RangeError);
    const shifted = buffer.subarray(LOG_FRAME_PREFIX_BYTES + 1, LOG_FRAME_PREFIX_BYTES + 1 + records.length);
    expect(() => encodeLogFrameInPlace({ ...original, records: shifted }, buffer)).toThrow(/prefix/);
  });

  it('round-trips every election control kind and rejects a bad kind or granted byte', () => {
    for (const kind of ['preVote', 'preVoteReply', 'ping', 'pong', 'transfer'] as const) {
      const message: Message = {
        ...electionPing,
        kind,
        granted: kind === 'preVoteReply',
        site: kind === 'transfer' ? 'site-ß' : '',
      };
      const result = decodeFrame(encodeMessage(message));
      expect(result.ok && plain(result.message)).toEqual(plain(message));
    }
    const frame = Buffer.from(encodeMessage(electionPing));
    const body = 16;
    const badKind = Buffer.from(frame);
    badKind[body + 8] = 9;
    badKind.writeUInt32LE(crc32c(badKind.subarray(body)), 12);
    expect(decodeFrame(badKind)).toMatchObject({ ok: false, error: { reason: 'invalid-field' } });
    const badGranted = Buffer.from(frame);
    badGranted[body + 9] = 2;
    badGranted.writeUInt32LE(crc32c(badGranted.subarray(body)), 12);
    expect(decodeFrame(badGranted)).toMatchObject({ ok: false, error: { reason: 'invalid-field' } });
  });

  it('packs several frames into one buffer with encodeFrameInto', () => {
    const messages: Message[] = [
      { type: 'masterRequest', generation: 1 },
      { type: 'heartbeat', generation: 2, nextLsn: 2 ** 40, permLsn: 7 },
      { type: 'vote2', generation: 3, electionGeneration: 4, candidate: 'site-ß' },
    ];
    const target = Buffer.alloc(messages.reduce((sum, m) => sum + frameSize(m), 0));
    let offset = 0;
    for (const m of messages) offset += encodeFrameInto(m, target, offset);
    expect(offset).toBe(target.length);
    offset = 0;
    for (const m of messages) {
      const size = frameSize(m);
      const result = decodeFrame(target.subarray(offset, offset + size));
      expect(result.ok && plain(result.message)).toEqual(plain(m));
      offset += size;
    }
  });

  it('carries the largest history allowed and a decoded snapshot as a view, not a copy', () => {
    const history = Array.from({ length: MAX_MESSAGE_HISTORY_ENTRIES }, (_, index) => ({
      generation: index + 1,
      lsn: 2 ** 40 + index,
    }));
    const frame = encodeMessage({
      type: 'init',
      generation: 5000,
      snapshotLsn: 99,
      history,
      snapshot: Buffer.from('state'),
    });
    const result = decodeFrame(frame);
    if (!result.ok) throw result.error;
    if (result.message.type !== 'init') throw new Error('not init');
    expect(result.message.history).toEqual(history);
    expect(result.message.snapshot.buffer).toBe(frame.buffer);
  });

  it('accepts a plain Uint8Array as well as a Buffer', () => {
    const frame = encodeMessage({ type: 'newMaster', generation: 7, nextLsn: 12345 });
    const copy = new Uint8Array(frame.length + 3).subarray(3);
    copy.set(frame);
    const result = decodeFrame(copy);
    expect(result.ok && plain(result.message)).toEqual({ type: 'newMaster', generation: 7, nextLsn: 12345 });
  });
});

describe('encoding refuses what it cannot encode (programmer errors throw)', () => {
  const { message: log } = buildLogMessage({
    generation: 1,
    firstLsn: 1,
    prevLsn: 0,
    prevGeneration: 0,
    records: [{ generation: 1, type: RecordType.commit, txnId: 1, payload: Buffer.from('x') }],
  });

  const { message: dataOnly } = buildLogMessage({
    generation: 1,
    firstLsn: 1,
    prevLsn: 0,
    prevGeneration: 0,
    records: [{ generation: 1, type: RecordType.data, txnId: 1, payload: Buffer.from('x') }],
  });

  const forward: Message = {
    type: 'forward',
    generation: 1,
    requestId: 1,
    policy: 'one',
    ackTimeoutMs: 100,
    payloads: [],
  };
  const forwardResult: Message = {
    type: 'forwardResult',
    generation: 1,
    requestId: 1,
    outcome: 'permFailed',
    lsn: 1,
    commitGeneration: 1,
    policy: 'all',
    reason: 'timeout',
    needed: 1,
    localFlushForced: true,
    localLevel: 'flushed',
    ackedBy: [{ site: 'b', level: 'flushed', latencyUs: 1 }],
    missing: ['c'],
  };

  it('encodes the valid bases of the cases below', () => {
    expect(decodeFrame(encodeMessage(forward)).ok).toBe(true);
    expect(decodeFrame(encodeMessage(forwardResult)).ok).toBe(true);
  });

  it.each<[string, Message]>([
    ['a generation above u32', { type: 'masterRequest', generation: 2 ** 32 }],
    ['a negative generation', { type: 'masterRequest', generation: -1 }],
    ['a fractional LSN', { type: 'newMaster', generation: 1, nextLsn: 1.5 }],
    ['an LSN beyond 2^53', { type: 'newMaster', generation: 1, nextLsn: 2 ** 53 }],
    ['a log batch holding a commit without PERMANENT', { ...log, flags: 0 }],
    ['PERMANENT on a log batch without a commit', { ...dataOnly, flags: FrameFlags.PERMANENT }],
    ['an empty batch', { ...log, records: log.records.subarray(0, 0) }],
    [
      'records cut inside a record',
      { ...log, records: Buffer.concat([log.records, log.records.subarray(0, 10)]) },
    ],
    ['ANYWHERE on a log message', { ...log, flags: FrameFlags.PERMANENT | FrameFlags.ANYWHERE }],
    ['an unknown ack level', { type: 'ack', generation: 1, lsn: 1, nextLsn: 2, level: 'bogus' as 'flushed' }],
    ['an empty candidate', { type: 'vote2', generation: 1, electionGeneration: 1, candidate: '' }],
    [
      'a candidate of 65 bytes',
      { type: 'vote2', generation: 1, electionGeneration: 1, candidate: 'x'.repeat(65) },
    ],
    [
      'a forward of 1025 payloads',
      {
        type: 'forward',
        generation: 1,
        requestId: 1,
        policy: undefined,
        ackTimeoutMs: undefined,
        payloads: Array.from({ length: 1025 }, () => Buffer.alloc(0)),
      },
    ],
    ['an unknown forward policy', { ...forward, policy: 'most' as 'all' }],
    ['a forward requestId above u32', { ...forward, requestId: 2 ** 32 }],
    ['a forward ackTimeoutMs above MAX_ACK_TIMEOUT_MS', { ...forward, ackTimeoutMs: 600_001 }],
    ["a forward ackTimeoutMs of 0xFFFFFFFF (the default's code)", { ...forward, ackTimeoutMs: 0xffff_ffff }],
    ['a fractional forward ackTimeoutMs', { ...forward, ackTimeoutMs: 1.5 }],
    ['a negative forward ackTimeoutMs', { ...forward, ackTimeoutMs: -1 }],
    ['an unknown forwardResult outcome', { ...forwardResult, outcome: 'maybe' as 'unknown' }],
    ['an unknown forwardResult policy', { ...forwardResult, policy: 'most' as 'all' }],
    ['an unknown forwardResult reason', { ...forwardResult, reason: 'tired' as 'timeout' }],
    ['an unknown forwardResult localLevel', { ...forwardResult, localLevel: 'etched' as 'flushed' }],
    ['a forwardResult needing 65 acks', { ...forwardResult, needed: 65 }],
    ['a fractional forwardResult needed', { ...forwardResult, needed: 0.5 }],
    [
      'a forwardResult of 65 acks',
      {
        ...forwardResult,
        ackedBy: Array.from({ length: 65 }, (_, index) => ({
          site: `s${index}`,
          level: 'flushed' as const,
          latencyUs: 1,
        })),
      },
    ],
    [
      'a forwardResult of 65 missing sites',
      { ...forwardResult, missing: Array.from({ length: 65 }, (_, index) => `s${index}`) },
    ],
    [
      'a forwarded ack latency above u32',
      { ...forwardResult, ackedBy: [{ site: 'b', level: 'flushed', latencyUs: 2 ** 32 }] },
    ],
    [
      'an unknown forwarded ack level',
      { ...forwardResult, ackedBy: [{ site: 'b', level: 'bogus' as 'flushed', latencyUs: 1 }] },
    ],
    [
      'a forwarded ack site of 65 bytes',
      { ...forwardResult, ackedBy: [{ site: 'x'.repeat(65), level: 'flushed', latencyUs: 1 }] },
    ],
    ['an empty missing site', { ...forwardResult, missing: [''] }],
    ['a lone surrogate', { type: 'vote2', generation: 1, electionGeneration: 1, candidate: 'a\uD800' }],
    ['an election site of 65 bytes', { ...electionPing, site: 'x'.repeat(65) }],
    ['an unknown election kind', { ...electionPing, kind: 'shout' as 'ping' }],
    [
      'a history of 4097 entries',
      {
        type: 'syncVerify',
        generation: 1,
        firstLsn: 1,
        nextLsn: 1,
        history: Array.from({ length: 4097 }, (_, index) => ({ generation: index, lsn: index })),
      },
    ],
  ])('%s', (_, bad) => {
    expect(() => encodeMessage(bad)).toThrow(RangeError);
  });

  it('writes the header as documented', () => {
    const frame = encodeMessage({ type: 'heartbeat', generation: 0x01020304, nextLsn: 1, permLsn: 0 });
    expect(frame.subarray(0, 8).toString('hex')).toBe('414b020900000000');
    expect(frame.readUInt32LE(8)).toBe(frame.length - FRAME_HEADER_BYTES);
    expect(frame.readUInt32LE(FRAME_HEADER_BYTES)).toBe(0x01020304);
  });
});
