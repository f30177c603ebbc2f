/**
 * Every error Ackord throws or rejects with is an `AckordError` with a stable `code`. The codes are
 * documented in one table: docs/errors.md. Operating conditions (peer down, ack timeout, not master)
 * are values and events, not exceptions; these classes are for the cases a caller must handle.
 */
import type { z } from 'zod';

export type AckordErrorCode =
  | 'ERR_ACKORD_CONFIG'
  | 'ERR_ACKORD_LOG_CORRUPTED'
  | 'ERR_ACKORD_LOG_FORMAT'
  | 'ERR_ACKORD_LOG_LOCKED'
  | 'ERR_ACKORD_LOG_FAILED'
  | 'ERR_ACKORD_LOG_CLOSED'
  | 'ERR_ACKORD_LOG_TRUNCATED'
  | 'ERR_ACKORD_RECORD_TOO_LARGE'
  | 'ERR_ACKORD_LSN_UNAVAILABLE'
  | 'ERR_ACKORD_INVALID_LSN'
  | 'ERR_ACKORD_INVALID_STATE'
  | 'ERR_ACKORD_PROTOCOL'
  | 'ERR_ACKORD_HANDSHAKE'
  | 'ERR_ACKORD_TLS'
  | 'ERR_ACKORD_CONNECTION'
  | 'ERR_ACKORD_NOT_MASTER'
  | 'ERR_ACKORD_TRANSFER';

export class AckordError extends Error {
  readonly code: AckordErrorCode;
  constructor(code: AckordErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** One readable line per zod issue: `durability: Invalid option: expected one of …`. */
export function formatZodIssues(issues: readonly z.core.$ZodIssue[]): string[] {
  return issues.map(
    (issue) => `${issue.path.length > 0 ? issue.path.join('.') : '(root)'}: ${issue.message}`,
  );
}

/** Bad configuration. `issues` holds zod's issues; the message lists them one per line. */
export class ConfigError extends AckordError {
  readonly issues: readonly z.core.$ZodIssue[];
  constructor(what: string, issues: readonly z.core.$ZodIssue[]) {
    super('ERR_ACKORD_CONFIG', `invalid ${what}:\n  ${formatZodIssues(issues).join('\n  ')}`);
    this.issues = issues;
  }
}

/**
 * A bad record inside the log that is not a torn tail: it is followed by valid records, or it sits in
 * a segment that was flushed before the next one began. Never truncated silently.
 */
export class LogCorruptedError extends AckordError {
  readonly file: string;
  readonly lsn: number;
  readonly reason: string;
  constructor(file: string, lsn: number, reason: string) {
    super(
      'ERR_ACKORD_LOG_CORRUPTED',
      `log corrupted in ${file} at LSN ${lsn}: ${reason}; refusing to open (pass recovery: 'repair' to cut the log there, losing everything after it)`,
    );
    this.file = file;
    this.lsn = lsn;
    this.reason = reason;
  }
}

/** A segment file that is not an Ackord log of this version and cluster. */
export class LogFormatError extends AckordError {
  readonly file: string;
  constructor(file: string, reason: string) {
    super('ERR_ACKORD_LOG_FORMAT', `${file} is not usable as a log segment: ${reason}`);
    this.file = file;
  }
}

/** Another process (or another open log in this one) holds the data directory. */
export class LogLockedError extends AckordError {
  readonly dir: string;
  readonly holderPid: number | undefined;
  constructor(dir: string, holderPid: number | undefined) {
    super(
      'ERR_ACKORD_LOG_LOCKED',
      `data directory ${dir} is already open${holderPid === undefined ? '' : ` (held by pid ${holderPid})`}`,
    );
    this.dir = dir;
    this.holderPid = holderPid;
  }
}

/**
 * A write or fsync failed. The log is fail-stop from then on: every waiting and every later commit
 * rejects with this error, and nothing it held is reported durable again.
 */
export class LogFailedError extends AckordError {
  constructor(operation: string, cause: unknown) {
    super('ERR_ACKORD_LOG_FAILED', `log ${operation} failed; the log is stopped (fail-stop)`, { cause });
  }
}

export class LogClosedError extends AckordError {
  constructor() {
    super('ERR_ACKORD_LOG_CLOSED', 'the log is closed');
  }
}

/** A commit or wait whose records were removed by `truncate()` (a rollback) before they became durable. */
export class LogTruncatedError extends AckordError {
  readonly lsn: number;
  readonly truncatedTo: number;
  constructor(lsn: number, truncatedTo: number) {
    super('ERR_ACKORD_LOG_TRUNCATED', `LSN ${lsn} was rolled back by a truncation to ${truncatedTo}`);
    this.lsn = lsn;
    this.truncatedTo = truncatedTo;
  }
}

export class RecordTooLargeError extends AckordError {
  readonly size: number;
  readonly max: number;
  constructor(size: number, max: number) {
    super('ERR_ACKORD_RECORD_TOO_LARGE', `payload of ${size} bytes exceeds maxPayloadBytes ${max}`);
    this.size = size;
    this.max = max;
  }
}

/** The LSN lies before the first record still kept (its segment was removed after a checkpoint). */
export class LsnUnavailableError extends AckordError {
  readonly lsn: number;
  readonly firstLsn: number;
  constructor(lsn: number, firstLsn: number) {
    super('ERR_ACKORD_LSN_UNAVAILABLE', `LSN ${lsn} is no longer in the log (it starts at ${firstLsn})`);
    this.lsn = lsn;
    this.firstLsn = firstLsn;
  }
}

/** The LSN is not the position of a record in this log. */
export class InvalidLsnError extends AckordError {
  readonly lsn: number;
  constructor(lsn: number, reason: string) {
    super('ERR_ACKORD_INVALID_LSN', `LSN ${lsn} is not a record position: ${reason}`);
    this.lsn = lsn;
  }
}

/** `transferMastership` did not complete: the target did not catch up, or did not win, in time. */
export class TransferError extends AckordError {
  readonly target: string;
  readonly stage: 'catchUp' | 'election';
  constructor(target: string, stage: 'catchUp' | 'election', detail: string) {
    super(
      'ERR_ACKORD_TRANSFER',
      `mastership transfer to ${target} failed while ${stage === 'catchUp' ? 'catching it up' : 'electing it'}: ${detail}`,
    );
    this.target = target;
    this.stage = stage;
  }
}

/** A call that is not allowed in the object's current state (e.g. append to a committed transaction). */
export class InvalidStateError extends AckordError {
  constructor(message: string) {
    super('ERR_ACKORD_INVALID_STATE', message);
  }
}
