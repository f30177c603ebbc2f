/**
 * The history of a chaos run: every operation a client invoked, with what it came to.
 *
 * - `ok`: the operation happened. A write: `200` with `perm: true`, a receipt. A read: a value (or none).
 * - `fail`: it did nothing — `421` (not master), `503` (no master, no lease), a refused connection, a
 *   `4xx` refusal.
 * - `info` (indeterminate): it may or may not have happened — `202` (written, not acknowledged: it may
 *   be rolled back), `504`, a timeout, a connection broken after the request went out, a `500`.
 *   Never counted as lost, never assumed applied.
 *
 * Times are milliseconds since the run began (performance.now based, one clock for every client).
 */

export interface Receipt {
  readonly lsn: number;
  readonly generation: number;
  readonly perm: boolean;
  readonly policy: string;
  readonly token: string;
  readonly forwardedTo?: string;
  /** The master's own durability level for the write when it answered (`buffered`, `written`, `flushed`). */
  readonly localLevel?: string;
  /** The sites whose acks counted, with the level each reached. */
  readonly ackedBy?: readonly { readonly site: string; readonly level: string }[];
}

export type Outcome = 'ok' | 'fail' | 'info';

export interface Operation {
  readonly id: number;
  readonly client: number;
  readonly kind: 'write' | 'read';
  readonly key: string;
  /** The value written (unique in the run), or the value a read observed (null: the key was absent). */
  value: string | null;
  /** The site the request went to. */
  readonly site: string;
  readonly policy?: string;
  readonly forward?: boolean;
  readonly invokeMs: number;
  completeMs: number;
  outcome: Outcome;
  status?: number;
  error?: string;
  receipt?: Receipt;
}

/** Policies whose `perm: true` promises the write survives any minority of failures and an election. */
export const DURABLE_POLICIES: ReadonlySet<string> = new Set(['quorum', 'all', 'all_peers']);

export function isAcked(operation: Operation): boolean {
  return (
    operation.kind === 'write' &&
    operation.outcome === 'ok' &&
    operation.receipt?.perm === true &&
    DURABLE_POLICIES.has(operation.receipt.policy)
  );
}

export class History {
  readonly operations: Operation[] = [];
  #nextId = 1;

  invoke(operation: Omit<Operation, 'id' | 'completeMs' | 'outcome'>): Operation {
    const full: Operation = {
      ...operation,
      id: this.#nextId++,
      completeMs: Number.POSITIVE_INFINITY,
      outcome: 'info',
    };
    this.operations.push(full);
    return full;
  }

  complete(
    operation: Operation,
    atMs: number,
    outcome: Outcome,
    details: { status?: number; error?: string; receipt?: Receipt; value?: string | null } = {},
  ): void {
    operation.outcome = outcome;
    // An indeterminate operation may take effect at any time after it was invoked: it never completes.
    operation.completeMs = outcome === 'info' ? Number.POSITIVE_INFINITY : atMs;
    if (details.status !== undefined) operation.status = details.status;
    if (details.error !== undefined) operation.error = details.error;
    if (details.receipt !== undefined) operation.receipt = details.receipt;
    if (details.value !== undefined) operation.value = details.value;
  }

  /** Operations in all; acknowledged writes (durable policies); indeterminate writes; failures; reads. */
  counts(): { ops: number; acked: number; indeterminate: number; failed: number; reads: number } {
    let acked = 0;
    let indeterminate = 0;
    let failed = 0;
    let reads = 0;
    for (const operation of this.operations) {
      if (operation.kind === 'read') reads++;
      if (isAcked(operation)) acked++;
      else if (operation.outcome === 'info' && operation.kind === 'write') indeterminate++;
      else if (operation.outcome === 'fail') failed++;
    }
    return { ops: this.operations.length, acked, indeterminate, failed, reads };
  }
}
