/**
 * Why an inbound frame was rejected. Every reason is a stable string, documented with the receiver's
 * action in docs/protocol.md; the decoders return these errors as values and never throw them.
 */
import type { z } from 'zod';
import { AckordError, formatZodIssues } from '../errors.js';

/**
 * `close`: the peer does not speak this protocol or the frame boundaries can no longer be trusted; the
 * connection is closed. `drop`: the frame was delimited correctly but its content is bad; a transport
 * that delivers whole frames may drop just this frame (the stream decoder still stops: see the doc).
 */
export type ProtocolErrorAction = 'close' | 'drop';

export const PROTOCOL_ERROR_REASONS = {
  'bad-magic': 'close',
  'unsupported-version': 'close',
  'unknown-type': 'close',
  'bad-flags': 'close',
  'bad-reserved': 'close',
  'frame-too-large': 'close',
  'truncated-frame': 'close',
  'excess-frame-bytes': 'close',
  'bad-checksum': 'drop',
  'truncated-body': 'drop',
  'trailing-bytes': 'drop',
  'invalid-field': 'drop',
  'empty-log-batch': 'drop',
  'bad-record': 'drop',
  'non-contiguous-records': 'drop',
  'record-generation-too-new': 'drop',
  'record-generation-decreasing': 'drop',
  'permanent-flag-mismatch': 'drop',
} as const satisfies Record<string, ProtocolErrorAction>;

export type ProtocolErrorReason = keyof typeof PROTOCOL_ERROR_REASONS;

/** A frame that is not valid under this protocol version. Carries the reason and, for `invalid-field`, zod's issues. */
export class ProtocolError extends AckordError {
  readonly reason: ProtocolErrorReason;
  /** What the receiver does: see {@link ProtocolErrorAction}. */
  readonly action: ProtocolErrorAction;
  /** The human-readable part after the reason, e.g. `body crc32c 0x1234abcd, header says 0x0`. */
  readonly detail: string;
  /** zod's issues when `reason` is `invalid-field`; empty otherwise. */
  readonly issues: readonly z.core.$ZodIssue[];

  constructor(reason: ProtocolErrorReason, detail: string, issues: readonly z.core.$ZodIssue[] = []) {
    super('ERR_ACKORD_PROTOCOL', `protocol error (${reason}): ${detail}`);
    this.reason = reason;
    this.action = PROTOCOL_ERROR_REASONS[reason];
    this.detail = detail;
    this.issues = issues;
  }

  static fromZodIssues(messageType: string, issues: readonly z.core.$ZodIssue[]): ProtocolError {
    return new ProtocolError(
      'invalid-field',
      `${messageType}: ${formatZodIssues(issues).join('; ')}`,
      issues,
    );
  }
}
