/**
 * A linearizability check for one key's history against a register (Wing & Gong's search with Lowe's
 * memoisation, as Knossos and Porcupine do it). The history is short by construction (the workload
 * retires a key after a bounded number of operations), and the search has a step budget: past it the
 * verdict is `unknown`, reported, never a pass or a failure.
 *
 * Operations: writes (unique values) and reads (the value seen, null for absent). An indeterminate
 * write completes at +∞: it may take effect at any time after it was invoked, or never (linearized
 * after everything else). Failed operations and reads without an answer are left out by the caller.
 */

export interface RegisterOp {
  readonly id: number;
  readonly kind: 'write' | 'read';
  readonly value: string | null;
  readonly invokeMs: number;
  /** +∞ for an indeterminate write. */
  readonly completeMs: number;
}

export type Verdict = 'linearizable' | 'violation' | 'unknown';

export interface LinearizabilityResult {
  readonly verdict: Verdict;
  readonly steps: number;
}

interface Entry {
  readonly op: RegisterOp;
  readonly index: number;
  readonly call: boolean;
  /** The call's matching return (on calls). */
  match: Entry | undefined;
  prev: Entry | undefined;
  next: Entry | undefined;
}

export const DEFAULT_STEP_BUDGET = 2_000_000;

export function checkRegister(
  ops: readonly RegisterOp[],
  initial: string | null = null,
  stepBudget = DEFAULT_STEP_BUDGET,
): LinearizabilityResult {
  if (ops.length === 0) return { verdict: 'linearizable', steps: 0 };
  // Events in time order; at equal times calls come first (the operations count as concurrent).
  const events: { time: number; call: boolean; op: RegisterOp; index: number }[] = [];
  ops.forEach((op, index) => {
    events.push({ time: op.invokeMs, call: true, op, index });
    events.push({ time: op.completeMs, call: false, op, index });
  });
  events.sort((a, b) => a.time - b.time || (a.call === b.call ? 0 : a.call ? -1 : 1));
  const head: Entry = {
    op: ops[0]!,
    index: -1,
    call: false,
    match: undefined,
    prev: undefined,
    next: undefined,
  };
  let last = head;
  const calls = new Map<number, Entry>();
  for (const event of events) {
    const entry: Entry = {
      op: event.op,
      index: event.index,
      call: event.call,
      match: undefined,
      prev: last,
      next: undefined,
    };
    last.next = entry;
    last = entry;
    if (event.call) calls.set(event.index, entry);
    else calls.get(event.index)!.match = entry;
  }

  const lift = (entry: Entry) => {
    entry.prev!.next = entry.next;
    if (entry.next !== undefined) entry.next.prev = entry.prev;
    const match = entry.match!;
    match.prev!.next = match.next;
    if (match.next !== undefined) match.next.prev = match.prev;
  };
  const unlift = (entry: Entry) => {
    const match = entry.match!;
    match.prev!.next = match;
    if (match.next !== undefined) match.next.prev = match;
    entry.prev!.next = entry;
    if (entry.next !== undefined) entry.next.prev = entry;
  };

  let state: string | null = initial;
  let linearized = 0n;
  const seen = new Set<string>();
  const stack: { entry: Entry; state: string | null }[] = [];
  let entry = head.next;
  let steps = 0;
  while (head.next !== undefined) {
    if (++steps > stepBudget) return { verdict: 'unknown', steps };
    if (entry?.call === true) {
      const op = entry.op;
      const legal = op.kind === 'write' || op.value === state;
      if (legal) {
        const nextState = op.kind === 'write' ? op.value : state;
        const nextLinearized = linearized | (1n << BigInt(entry.index));
        const memo = `${nextLinearized.toString(36)}|${nextState === null ? '\u0000' : nextState}`;
        if (!seen.has(memo)) {
          seen.add(memo);
          stack.push({ entry, state });
          state = nextState;
          linearized = nextLinearized;
          lift(entry);
          entry = head.next;
          continue;
        }
      }
      entry = entry.next;
    } else {
      // A return whose call is not linearized yet (or the end): undo the last choice.
      const top = stack.pop();
      if (top === undefined) return { verdict: 'violation', steps };
      state = top.state;
      linearized &= ~(1n << BigInt(top.entry.index));
      unlift(top.entry);
      entry = top.entry.next;
    }
  }
  return { verdict: 'linearizable', steps };
}
