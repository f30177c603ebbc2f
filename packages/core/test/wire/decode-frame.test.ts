import fs from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { AckordError, ConfigError } from '../../src/errors.js';
import { encodeRecord, RecordType } from '../../src/log/record.js';
import { MAX_ACK_TIMEOUT_MS, MAX_GROUP_SITES } from '../../src/manager/options.js';
import {
  DEFAULT_MAX_FRAME_BYTES,
  DEFAULT_MAX_RECORD_BYTES,
  decodeFrame,
  encodeMessage,
  FRAME_HEADER_BYTES,
  FrameFlags,
  MAX_FORWARD_PAYLOADS,
  MessageType,
  PROTOCOL_ERROR_REASONS,
  ProtocolError,
  type ProtocolErrorReason,
} from '../../src/wire/index.js';
import { buildLogMessage, rawFrame } from './wire-helpers.js';

const u32 = (value: number): Buffer => {
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32LE(value);
  return bytes;
};
const u64 = (value: number): Buffer => {
  const bytes = Buffer.alloc(8);
  bytes.writeUInt32LE(value % 2 ** 32);
  bytes.writeUInt32LE(Math.floor(value / 2 ** 32), 4);
  return bytes;
};
const body = (...parts: (Buffer | number[])[]): Buffer =>
  Buffer.concat(parts.map((part) => (Buffer.isBuffer(part) ? part : Buffer.from(part))));

/** A log body around `records`: generation, prevLsn, prevGeneration. */
const logBody = (generation: number, records: Buffer, prevLsn = 0, prevGeneration = 0): Buffer =>
  body(u32(generation), u64(prevLsn), u32(prevGeneration), records);
const record = (lsn: number, generation: number, type: RecordType = RecordType.data, payload = 'p'): Buffer =>
  encodeRecord({ lsn, generation, type, txnId: 1, payload: Buffer.from(payload) });
/** A forward body with one payload `[7]`, policy byte `policy`, ackTimeoutMs `ackTimeoutMs` (default: none). */
const forwardBody = (policy = 4, ackTimeoutMs = 0xffff_ffff): Buffer =>
  body(u32(1), u32(2), [policy], u32(ackTimeoutMs), u32(1), u32(1), [7]);
/** The UTF-8 bytes of a site id after its length byte. */
const site = (id: string): Buffer => body([Buffer.byteLength(id)], Buffer.from(id));
/** An ack of forwardResult: level, latencyUs, site. */
const forwardedAck = (level: number, latencyUs: number, id: string): Buffer =>
  body([level], u32(latencyUs), site(id));
/**
 * A forwardResult body: by default acknowledged at LSN 100 of generation 1 under quorum, nothing
 * needed, flushed on the master, no acks, no missing sites. `ackCount`/`missingCount` override the
 * counts written before `acks`/`missing`; `missing: undefined` ends the body before its missing count.
 */
const forwardResultBody = (fields: {
  outcome?: number;
  lsn?: number;
  commitGeneration?: number;
  policy?: number;
  reason?: number;
  needed?: number;
  flags?: number;
  localLevel?: number;
  acks?: Buffer[];
  ackCount?: number;
  missing?: Buffer[] | undefined;
  missingCount?: number;
}): Buffer => {
  const acks = fields.acks ?? [];
  const missing = 'missing' in fields ? fields.missing : [];
  return body(
    u32(1),
    u32(2),
    [fields.outcome ?? 1],
    u64(fields.lsn ?? 100),
    u32(fields.commitGeneration ?? 1),
    [fields.policy ?? 4, fields.reason ?? 0, fields.needed ?? 0, fields.flags ?? 0, fields.localLevel ?? 3],
    [fields.ackCount ?? acks.length],
    ...acks,
    ...(missing === undefined ? [] : [[fields.missingCount ?? missing.length], ...missing]),
  );
};
/** notMaster as the layout wants it: every receipt field 0 (localLevel 1, buffered). */
const notMaster = { outcome: 4, lsn: 0, commitGeneration: 0, policy: 0, localLevel: 1 };
const forwardResultFrame = (fields: Parameters<typeof forwardResultBody>[0]): Buffer =>
  rawFrame({ type: 13, body: forwardResultBody(fields) });
const heartbeat = encodeMessage({ type: 'heartbeat', generation: 1, nextLsn: 2, permLsn: 1 });

const seen = new Set<ProtocolErrorReason>();

function expectReason(bytes: Uint8Array, reason: ProtocolErrorReason, detail?: RegExp): ProtocolError {
  const result = decodeFrame(bytes, { maxFrameBytes: 4096 });
  if (result.ok) throw new Error(`decoded ${JSON.stringify(result.message)}, expected ${reason}`);
  expect(result.error).toBeInstanceOf(ProtocolError);
  expect(result.error.reason).toBe(reason);
  expect(result.error.code).toBe('ERR_ACKORD_PROTOCOL');
  expect(result.error.action).toBe(PROTOCOL_ERROR_REASONS[reason]);
  if (detail) expect(result.error.message).toMatch(detail);
  seen.add(reason);
  return result.error;
}

describe('every protocol error reason, from a crafted frame', () => {
  afterAll(() => {
    // Each reason the protocol defines is reachable (and so tested) from bytes.
    expect([...seen].sort()).toEqual(Object.keys(PROTOCOL_ERROR_REASONS).sort());
  });

  it('header: magic, version, reserved, type, flags, length', () => {
    expectReason(rawFrame({ type: 9, body: heartbeat.subarray(16), magic: 0x4141 }), 'bad-magic', /0x4141/);
    // Version 1 (before forwarded receipts) is refused, not misread, and so is any later one.
    expectReason(rawFrame({ type: 9, body: heartbeat.subarray(16), version: 1 }), 'unsupported-version');
    expectReason(rawFrame({ type: 9, body: heartbeat.subarray(16), version: 3 }), 'unsupported-version');
    expectReason(rawFrame({ type: 9, body: heartbeat.subarray(16), reserved: [0, 1, 0] }), 'bad-reserved');
    expectReason(rawFrame({ type: 0, body: Buffer.alloc(4) }), 'unknown-type');
    expectReason(rawFrame({ type: 15, body: Buffer.alloc(4) }), 'unknown-type', /type 15/);
    expectReason(
      rawFrame({ type: 9, body: heartbeat.subarray(16), flags: FrameFlags.NOBUFFER }),
      'bad-flags',
    );
    expectReason(rawFrame({ type: 3, body: Buffer.alloc(32), flags: FrameFlags.PERMANENT }), 'bad-flags');
    expectReason(rawFrame({ type: 1, body: Buffer.alloc(16), flags: 0x10 }), 'bad-flags');
    expectReason(rawFrame({ type: 12, body: forwardBody(), flags: FrameFlags.NOBUFFER }), 'bad-flags');
    expectReason(rawFrame({ type: 13, body: Buffer.alloc(21), flags: FrameFlags.REREQUEST }), 'bad-flags');
    expectReason(rawFrame({ type: 5, body: Buffer.alloc(4), bodyLength: 4096 - 15 }), 'frame-too-large');
    expectReason(heartbeat.subarray(0, 15), 'truncated-frame');
    expectReason(heartbeat.subarray(0, heartbeat.length - 1), 'truncated-frame');
    expectReason(Buffer.concat([heartbeat, Buffer.alloc(1)]), 'excess-frame-bytes');
  });

  it('body: checksum, length, fields', () => {
    expectReason(rawFrame({ type: 9, body: heartbeat.subarray(16), crc: 0 }), 'bad-checksum', /crc32c/);
    expectReason(rawFrame({ type: 9, body: Buffer.alloc(19) }), 'truncated-body');
    expectReason(rawFrame({ type: 8, body: Buffer.alloc(2) }), 'truncated-body');
    expectReason(rawFrame({ type: 9, body: Buffer.alloc(21) }), 'trailing-bytes');
    // An LSN of 2^53: a u64 the protocol does not allow.
    const tooFar = expectReason(
      rawFrame({ type: 7, body: body(u32(1), u64(2 ** 53)) }),
      'invalid-field',
      /nextLsn/,
    );
    expect(tooFar.issues.length).toBeGreaterThan(0);
    expectReason(rawFrame({ type: 2, body: body(u32(1), u64(1), u64(2), [9]) }), 'invalid-field', /level/);
    expectReason(
      rawFrame({ type: 3, body: body(u32(1), u64(10), u64(5), u64(0), u32(0)) }),
      'invalid-field',
      /toLsn/,
    );
    expectReason(
      rawFrame({ type: 5, body: body(u32(9), u64(1), u64(9), u32(2), u32(3), u64(5), u32(2), u64(6)) }),
      'invalid-field',
      /history/,
    );
    expectReason(
      rawFrame({ type: 5, body: body(u32(9), u64(1), u64(9), u32(4097)) }),
      'invalid-field',
      /4097/,
    );
    expectReason(rawFrame({ type: 6, body: body(u32(9), u64(1), u32(2), u32(3), u64(5)) }), 'truncated-body');
    expectReason(
      rawFrame({ type: 11, body: body(u32(1), u32(1), [2], [0xc3, 0x28]) }),
      'invalid-field',
      /UTF-8/,
    );
    expectReason(rawFrame({ type: 11, body: body(u32(1), u32(1), [0]) }), 'invalid-field', /candidate/);
    expectReason(rawFrame({ type: 11, body: body(u32(1), u32(1), [3], [0x61]) }), 'truncated-body');
  });

  it('forward: count, payload lengths, policy, ack timeout', () => {
    expect(decodeFrame(rawFrame({ type: 12, body: forwardBody() })).ok).toBe(true);
    expectReason(rawFrame({ type: 12, body: Buffer.alloc(16) }), 'truncated-body', /at least 17/);
    const none = u32(0xffff_ffff); // ackTimeoutMs: the master's default
    expectReason(
      rawFrame({ type: 12, body: body(u32(1), u32(2), [0], none, u32(MAX_FORWARD_PAYLOADS + 1)) }),
      'invalid-field',
      /1025 payloads, at most 1024/,
    );
    // A payload above maxRecordBytes - 32 (1 MiB by default), rejected from its length alone.
    expectReason(
      rawFrame({ type: 12, body: body(u32(1), u32(2), [0], none, u32(1), u32(0xffff_ffff)) }),
      'invalid-field',
      /payload 0 of 4294967295 bytes, at most 1048576/,
    );
    // The second payload's length is cut after two bytes.
    expectReason(
      rawFrame({ type: 12, body: body(u32(1), u32(2), [0], none, u32(2), u32(1), [7], [3, 0]) }),
      'truncated-body',
      /length of payload 1/,
    );
    expectReason(
      rawFrame({ type: 12, body: body(u32(1), u32(2), [0], none, u32(1), u32(3), [7, 7]) }),
      'truncated-body',
      /inside payload 0/,
    );
    expectReason(rawFrame({ type: 12, body: body(forwardBody(), [0]) }), 'trailing-bytes');
    expectReason(rawFrame({ type: 12, body: forwardBody(8) }), 'invalid-field', /policy/);
    expectReason(rawFrame({ type: 12, body: forwardBody(255) }), 'invalid-field', /policy/);
    const timeout = (ms: number) => {
      const result = decodeFrame(rawFrame({ type: 12, body: forwardBody(4, ms) }));
      if (!result.ok) throw result.error;
      return result.message.type === 'forward' ? result.message.ackTimeoutMs : 'not forward';
    };
    expect(timeout(0xffff_ffff)).toBeUndefined();
    expect(timeout(0)).toBe(0);
    expect(timeout(MAX_ACK_TIMEOUT_MS)).toBe(MAX_ACK_TIMEOUT_MS);
    expectReason(
      rawFrame({ type: 12, body: forwardBody(4, MAX_ACK_TIMEOUT_MS + 1) }),
      'invalid-field',
      /ackTimeoutMs/,
    );
    expectReason(rawFrame({ type: 12, body: forwardBody(4, 0xffff_fffe) }), 'invalid-field', /ackTimeoutMs/);
  });

  it('forwardResult: length, outcome, committed fields', () => {
    const result = (outcome: number, lsn: number, commitGeneration: number): Buffer =>
      outcome === 4
        ? forwardResultFrame({ ...notMaster, lsn, commitGeneration })
        : forwardResultFrame({ outcome, lsn, commitGeneration });
    expect(decodeFrame(result(1, 100, 1)).ok).toBe(true);
    expect(decodeFrame(result(4, 0, 0)).ok).toBe(true);
    expectReason(rawFrame({ type: 13, body: Buffer.alloc(27) }), 'truncated-body', /at least 28/);
    expectReason(rawFrame({ type: 13, body: body(forwardResultBody({}), [0]) }), 'trailing-bytes');
    expectReason(result(0, 100, 1), 'invalid-field', /outcome/);
    expectReason(result(5, 100, 1), 'invalid-field', /outcome/);
    expectReason(result(4, 100, 1), 'invalid-field', /lsn/);
    expectReason(result(4, 0, 1), 'invalid-field', /commitGeneration/);
    expectReason(result(2, 0, 1), 'invalid-field', /lsn/);
    expectReason(result(3, 100, 0), 'invalid-field', /commitGeneration/);
    expectReason(result(1, 2 ** 53, 1), 'invalid-field', /lsn/);
  });

  it('forwardResult: the receipt fields', () => {
    const full = forwardResultFrame({
      outcome: 2,
      policy: 5,
      reason: 1,
      needed: 2,
      flags: 1,
      localLevel: 3,
      acks: [forwardedAck(3, 1500, 'b'), forwardedAck(2, 0xffff_ffff, 'é'.repeat(32))],
      missing: [site('c'), site('d')],
    });
    const decoded = decodeFrame(full);
    if (!decoded.ok) throw decoded.error;
    expect(decoded.message).toEqual({
      type: 'forwardResult',
      generation: 1,
      requestId: 2,
      outcome: 'permFailed',
      lsn: 100,
      commitGeneration: 1,
      policy: 'all',
      reason: 'timeout',
      needed: 2,
      localFlushForced: true,
      localLevel: 'flushed',
      ackedBy: [
        { site: 'b', level: 'flushed', latencyUs: 1500 },
        { site: 'é'.repeat(32), level: 'written', latencyUs: 0xffff_ffff },
      ],
      missing: ['c', 'd'],
    });
    // A whole group's worth of acks and missing sites.
    const group = Array.from({ length: MAX_GROUP_SITES }, (_, index) => `s${index}`);
    expect(
      decodeFrame(
        forwardResultFrame({
          acks: group.map((id) => forwardedAck(1, 0, id)),
          missing: group.map(site),
        }),
      ).ok,
    ).toBe(true);

    // flags: only bit 0.
    expectReason(forwardResultFrame({ flags: 2 }), 'invalid-field', /flags byte 0x02/);
    expectReason(forwardResultFrame({ flags: 0x81 }), 'invalid-field', /flags byte 0x81/);
    // Counts above a group, refused before any entry is read.
    expectReason(forwardResultFrame({ ackCount: 65 }), 'invalid-field', /65 acks, at most 64/);
    expectReason(forwardResultFrame({ missingCount: 65 }), 'invalid-field', /65 missing sites, at most 64/);
    // Truncated: inside an ack's fixed part, inside its site, before the missing count, inside a missing site.
    expectReason(
      forwardResultFrame({ acks: [forwardedAck(3, 1, 'b').subarray(0, 3)], missing: undefined }),
      'truncated-body',
      /inside ack 0/,
    );
    expectReason(
      forwardResultFrame({ acks: [body([3], u32(1), [5], Buffer.from('bc'))], missing: undefined }),
      'truncated-body',
      /inside ack 0/,
    );
    expectReason(
      forwardResultFrame({ acks: [forwardedAck(3, 1, 'b')], ackCount: 2, missing: undefined }),
      'truncated-body',
      /inside ack 1/,
    );
    expectReason(
      forwardResultFrame({ acks: [forwardedAck(3, 1, 'b')], missing: undefined }),
      'truncated-body',
      /before its missing count/,
    );
    expectReason(
      forwardResultFrame({ missing: [site('c'), body([4], Buffer.from('de'))] }),
      'truncated-body',
      /inside missing site 1/,
    );
    expectReason(
      forwardResultFrame({ missing: [site('c')], missingCount: 2 }),
      'truncated-body',
      /length of missing site 1/,
    );
    expectReason(
      rawFrame({ type: 13, body: body(forwardResultFrame({ missing: [site('c')] }).subarray(16), [1]) }),
      'trailing-bytes',
      /1 after its fields/,
    );
    // Enum bytes and ranges (the zod pass).
    expectReason(forwardResultFrame({ policy: 0 }), 'invalid-field', /policy/);
    expectReason(forwardResultFrame({ policy: 8 }), 'invalid-field', /policy/);
    expectReason(forwardResultFrame({ reason: 5 }), 'invalid-field', /reason/);
    expectReason(forwardResultFrame({ needed: 65 }), 'invalid-field', /needed/);
    expectReason(forwardResultFrame({ localLevel: 0 }), 'invalid-field', /localLevel/);
    expectReason(forwardResultFrame({ localLevel: 4 }), 'invalid-field', /localLevel/);
    expectReason(forwardResultFrame({ acks: [forwardedAck(0, 1, 'b')] }), 'invalid-field', /level/);
    expectReason(forwardResultFrame({ acks: [forwardedAck(4, 1, 'b')] }), 'invalid-field', /level/);
    // Site ids: 1 to 64 bytes of valid UTF-8.
    expectReason(forwardResultFrame({ acks: [forwardedAck(3, 1, '')] }), 'invalid-field', /ackedBy/);
    expectReason(forwardResultFrame({ missing: [site('x'.repeat(65))] }), 'invalid-field', /missing/);
    expectReason(
      forwardResultFrame({ acks: [body([3], u32(1), [1], [0xff])] }),
      'invalid-field',
      /ack 0 is not valid UTF-8/,
    );
    expectReason(
      forwardResultFrame({ missing: [body([2], [0xc3, 0x28])] }),
      'invalid-field',
      /missing site 0 is not valid UTF-8/,
    );
    // notMaster carries no receipt.
    expectReason(forwardResultFrame({ ...notMaster, policy: 4 }), 'invalid-field', /policy/);
    for (const extra of [
      { reason: 1 },
      { needed: 1 },
      { flags: 1 },
      { localLevel: 3 },
      { acks: [forwardedAck(3, 1, 'b')] },
      { missing: [site('c')] },
    ]) {
      expectReason(forwardResultFrame({ ...notMaster, ...extra }), 'invalid-field', /notMaster carries/);
    }
  });

  it('log: the record sequence', () => {
    expectReason(rawFrame({ type: 1, body: logBody(1, Buffer.alloc(0)) }), 'empty-log-batch');
    expectReason(rawFrame({ type: 1, body: logBody(1, Buffer.alloc(40)) }), 'bad-record', /bad-length/);
    const flipped = record(1, 1);
    flipped[32]! ^= 1;
    expectReason(rawFrame({ type: 1, body: logBody(1, flipped) }), 'bad-record', /bad-checksum/);
    expectReason(
      rawFrame({ type: 1, body: logBody(1, record(1, 1).subarray(0, 32)) }),
      'bad-record',
      /short-record/,
    );
    expectReason(
      rawFrame({ type: 1, body: logBody(1, record(1, 1).subarray(0, 10)) }),
      'bad-record',
      /short-header/,
    );
    expectReason(rawFrame({ type: 1, body: logBody(1, record(0, 1)) }), 'bad-record', /LSN 0/);
    expectReason(
      rawFrame({ type: 1, body: logBody(1, body(record(1, 1), record(40, 1))) }),
      'non-contiguous-records',
      /LSN 40, expected 34/,
    );
    expectReason(
      rawFrame({ type: 1, body: logBody(1, record(50, 1), 50, 1) }),
      'non-contiguous-records',
      /prevLsn/,
    );
    expectReason(rawFrame({ type: 1, body: logBody(1, record(50, 2)) }), 'record-generation-too-new');
    expectReason(
      rawFrame({ type: 1, body: logBody(3, body(record(1, 3), record(34, 2))) }),
      'record-generation-decreasing',
    );
    expectReason(
      rawFrame({ type: 1, body: logBody(3, record(50, 2), 10, 3) }),
      'record-generation-decreasing',
    );
    expectReason(
      rawFrame({ type: 1, body: logBody(1, record(1, 1, RecordType.commit)) }),
      'permanent-flag-mismatch',
      /not set/,
    );
    expectReason(
      rawFrame({ type: 1, body: logBody(1, record(1, 1)), flags: FrameFlags.PERMANENT }),
      'permanent-flag-mismatch',
      /without/,
    );
    expectReason(
      rawFrame({ type: 1, body: logBody(1, record(50, 1), 0, 1) }),
      'invalid-field',
      /prevGeneration/,
    );
  });

  it('a record larger than maxRecordBytes is a bad record', () => {
    const big = record(1, 1, RecordType.data, 'x'.repeat(100));
    const frame = rawFrame({ type: 1, body: logBody(1, big) });
    expect(decodeFrame(frame, { maxRecordBytes: 132 }).ok).toBe(true);
    const result = decodeFrame(frame, { maxRecordBytes: 131 });
    expect(!result.ok && result.error.reason).toBe('bad-record');
  });
});

describe('forward payloads', () => {
  it('accepts a payload of exactly maxRecordBytes - 32 bytes and rejects one byte more', () => {
    const frame = encodeMessage({
      type: 'forward',
      generation: 1,
      requestId: 1,
      policy: 'quorum',
      ackTimeoutMs: 250,
      payloads: [Buffer.alloc(3), Buffer.alloc(100)],
    });
    expect(decodeFrame(frame, { maxRecordBytes: 132 }).ok).toBe(true);
    const result = decodeFrame(frame, { maxRecordBytes: 131 });
    expect(!result.ok && result.error.reason).toBe('invalid-field');
    expect(!result.ok && result.error.detail).toMatch(/payload 1 of 100 bytes, at most 99/);
  });

  it('defaults to the log payload limit (maxRecordBytes - 32 = 1 MiB)', () => {
    const oneMiB = (bytes: number): Buffer =>
      rawFrame({
        type: 12,
        body: body(u32(1), u32(2), [0], u32(0xffff_ffff), u32(1), u32(bytes), Buffer.alloc(bytes)),
      });
    expect(DEFAULT_MAX_RECORD_BYTES - 32).toBe(1024 * 1024);
    expect(decodeFrame(oneMiB(1024 * 1024)).ok).toBe(true);
    const result = decodeFrame(oneMiB(1024 * 1024 + 1));
    expect(!result.ok && result.error.reason).toBe('invalid-field');
  });

  it('carries the most payloads allowed, decoded as views into the frame, policy 0 as undefined', () => {
    const payloads = Array.from({ length: MAX_FORWARD_PAYLOADS }, (_, index) => Buffer.from([index & 0xff]));
    const frame = encodeMessage({
      type: 'forward',
      generation: 3,
      requestId: 9,
      policy: undefined,
      ackTimeoutMs: undefined,
      payloads,
    });
    expect(frame[FRAME_HEADER_BYTES + 8]).toBe(0);
    expect(frame.readUInt32LE(FRAME_HEADER_BYTES + 9)).toBe(0xffff_ffff);
    const result = decodeFrame(frame);
    if (!result.ok) throw result.error;
    if (result.message.type !== 'forward') throw new Error('not forward');
    expect(result.message.policy).toBeUndefined();
    expect(result.message.ackTimeoutMs).toBeUndefined();
    expect(result.message.payloads).toHaveLength(MAX_FORWARD_PAYLOADS);
    expect(result.message.payloads.every((payload) => payload.buffer === frame.buffer)).toBe(true);
    expect(result.message.payloads.map((payload) => payload[0])).toEqual(
      payloads.map((payload) => payload[0]),
    );
  });

  it('writes the policy, ack timeout, outcome, reason and level codes as documented', () => {
    const policies = ['none', 'one', 'one_peer', 'quorum', 'all', 'all_peers', 'all_available'] as const;
    policies.forEach((policy, index) => {
      const frame = encodeMessage({
        type: 'forward',
        generation: 1,
        requestId: 2,
        policy,
        ackTimeoutMs: 0x0102,
        payloads: [],
      });
      expect(frame.subarray(FRAME_HEADER_BYTES).toString('hex')).toBe(
        `0100000002000000${(index + 1).toString(16).padStart(2, '0')}0201000000000000`,
      );
    });
    const outcomes = ['acknowledged', 'permFailed', 'unknown', 'notMaster'] as const;
    outcomes.forEach((outcome, index) => {
      const committed = outcome !== 'notMaster';
      const frame = encodeMessage({
        type: 'forwardResult',
        generation: 1,
        requestId: 2,
        outcome,
        lsn: committed ? 2 ** 32 + 5 : 0,
        commitGeneration: committed ? 7 : 0,
        policy: committed ? policies[index] : undefined,
        reason: committed ? (['timeout', 'unreachable', 'notQuorum'] as const)[index] : undefined,
        needed: committed ? index : 0,
        localFlushForced: committed,
        localLevel: committed ? (['buffered', 'written', 'flushed'] as const)[index]! : 'buffered',
        ackedBy: [],
        missing: [],
      });
      expect(frame.length - FRAME_HEADER_BYTES).toBe(28);
      expect(frame[FRAME_HEADER_BYTES + 8]).toBe(index + 1);
      // lsn, commitGeneration, policy, reason, needed, flags, localLevel, ackCount, missingCount
      expect(frame.subarray(FRAME_HEADER_BYTES + 9).toString('hex')).toBe(
        committed
          ? `0500000001000000070000000${index + 1}0${index + 1}0${index}010${index + 1}0000`
          : `${'00'.repeat(16)}010000`,
      );
    });
    // The reasons in order, and the ack entries: level (as `ack` codes it), latencyUs, site.
    (['timeout', 'unreachable', 'notQuorum', 'lostMastership'] as const).forEach((reason, index) => {
      const frame = encodeMessage({
        type: 'forwardResult',
        generation: 1,
        requestId: 2,
        outcome: 'unknown',
        lsn: 1,
        commitGeneration: 1,
        policy: 'quorum',
        reason,
        needed: 0,
        localFlushForced: false,
        localLevel: 'written',
        ackedBy: [
          { site: 'b', level: 'received', latencyUs: 0x0a0b },
          { site: 'cd', level: 'flushed', latencyUs: 0xffff_ffff },
        ],
        missing: ['e'],
      });
      expect(frame[FRAME_HEADER_BYTES + 22]).toBe(index + 1);
      expect(frame.subarray(FRAME_HEADER_BYTES + 25).toString('hex')).toBe(
        // localLevel, ackCount, ack (01 0b0a0000 01 'b'), ack (03 ffffffff 02 'cd'), missingCount, 01 'e'
        '0202' + '010b0a00000162' + '03ffffffff026364' + '01' + '0165',
      );
    });
  });
});

describe('decodeFrame', () => {
  it('accepts a frame of exactly maxFrameBytes and rejects one byte more', () => {
    const snapshotBytes = 1024 - FRAME_HEADER_BYTES - 16;
    const exact = encodeMessage({
      type: 'init',
      generation: 1,
      snapshotLsn: 1,
      history: [],
      snapshot: Buffer.alloc(snapshotBytes),
    });
    expect(exact.length).toBe(1024);
    expect(decodeFrame(exact, { maxFrameBytes: 1024 }).ok).toBe(true);
    const over = encodeMessage({
      type: 'init',
      generation: 1,
      snapshotLsn: 1,
      history: [],
      snapshot: Buffer.alloc(snapshotBytes + 1),
    });
    const result = decodeFrame(over, { maxFrameBytes: 1024 });
    expect(!result.ok && result.error.reason).toBe('frame-too-large');
  });

  it('defaults to 16 MiB frames', () => {
    expect(DEFAULT_MAX_FRAME_BYTES).toBe(16 * 1024 * 1024);
    const header = rawFrame({ type: 6, body: Buffer.alloc(0), bodyLength: DEFAULT_MAX_FRAME_BYTES - 15 });
    const result = decodeFrame(header);
    expect(!result.ok && result.error.reason).toBe('frame-too-large');
  });

  it('rejects bad options with a ConfigError (1 KiB to 1 GiB frames)', () => {
    for (const options of [{ maxFrameBytes: 1023 }, { maxFrameBytes: 2 ** 30 + 1 }, { maxRecordBytes: 31 }]) {
      expect(() => decodeFrame(heartbeat, options)).toThrow(ConfigError);
    }
    expect(decodeFrame(heartbeat, { maxFrameBytes: 1024 }).ok).toBe(true);
    expect(decodeFrame(heartbeat, { maxFrameBytes: 2 ** 30 }).ok).toBe(true);
  });

  it('gives log messages their batch summary', () => {
    const { message, expected } = buildLogMessage({
      generation: 2,
      firstLsn: 1000,
      prevLsn: 900,
      prevGeneration: 1,
      records: [
        { generation: 1, type: RecordType.data, txnId: 1, payload: Buffer.from('a') },
        { generation: 2, type: RecordType.newGeneration, txnId: 0, payload: Buffer.alloc(4) },
        { generation: 2, type: RecordType.commit, txnId: 1, payload: Buffer.alloc(0) },
        { generation: 2, type: RecordType.data, txnId: 2, payload: Buffer.from('b') },
      ],
    });
    const result = decodeFrame(encodeMessage(message));
    if (!result.ok) throw result.error;
    expect(result.message.type === 'log' && result.message.batch).toEqual(expected);
    expect(expected).toMatchObject({
      recordCount: 4,
      firstLsn: 1000,
      hasCommit: true,
      lastCommitLsn: 1000 + 33 + 36,
    });
  });

  it('ProtocolError is an AckordError with a stable code and name', () => {
    const error = new ProtocolError('bad-magic', 'x');
    expect(error).toBeInstanceOf(AckordError);
    expect(error.name).toBe('ProtocolError');
    expect(error.message).toBe('protocol error (bad-magic): x');
    expect(MessageType.vote2).toBe(11);
    expect(MessageType.forward).toBe(12);
    expect(MessageType.forwardResult).toBe(13);
  });
});

describe('docs/protocol.md', () => {
  const doc = fs.readFileSync(new URL('../../../../docs/protocol.md', import.meta.url), 'utf8');

  it('documents every reason with its action', () => {
    for (const [reason, action] of Object.entries(PROTOCOL_ERROR_REASONS)) {
      const row = doc.split('\n').find((line) => line.startsWith(`| \`${reason}\``));
      expect(row, reason).toBeDefined();
      const receiver = row!.split('|').at(-2)!.trim();
      expect(receiver, reason).toBe(action === 'close' ? 'close' : 'drop (stream: close)');
    }
  });

  it('documents every message type with its number', () => {
    for (const [name, code] of Object.entries(MessageType)) {
      expect(doc, name).toMatch(new RegExp(`\\| ${code} +\\| \`${name}\``));
    }
  });
});
