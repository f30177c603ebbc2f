/** The replicated state an application supplies. Ackord calls it; it never calls Ackord. */
import type { AppliedTransaction } from './types.js';

export interface StateMachine {
  /** Applies one committed transaction, whole. Called in commit order, once per transaction per site. */
  apply(txn: AppliedTransaction): void;
  /** The whole state as bytes, at a transaction boundary (for internal init of a far-behind client). */
  snapshot(): Uint8Array;
  /** Replaces the state by a snapshot's, or by the empty state when `snapshot` is undefined. */
  restore(snapshot: Uint8Array | undefined): void;
}
