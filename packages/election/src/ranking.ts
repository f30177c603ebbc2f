/**
 * Ranking candidates (DESIGN §5): electable beats priority 0, then the data generation of the last
 * record, then its LSN, then priority, then the random tiebreaker (then the site id, so every site ranks
 * the same way even on a tiebreaker collision).
 *
 * Safety does not come from the ranking but from `isUpToDate`: a site votes only for a candidate whose
 * log is at least as up to date as its own (Raft's rule). A commit held by a majority of electable sites
 * then survives every election, because every winning coalition contains one of them, and that one only
 * votes for logs that hold it (logs that agree on (generation, LSN) agree on everything before it).
 */
import type { CandidateInfo, LogInfo } from './types.js';

/** Negative when `a` ranks above `b`. */
export function compareCandidates(a: CandidateInfo, b: CandidateInfo): number {
  if (a.electable !== b.electable) return a.electable ? -1 : 1;
  if (a.dataGeneration !== b.dataGeneration) return b.dataGeneration - a.dataGeneration;
  if (a.lastLsn !== b.lastLsn) return b.lastLsn - a.lastLsn;
  return compareIgnoringLogs(a, b);
}

/**
 * The deliberately broken ranking of the simulator's `elect-without-uptodate-check` mutant: priority
 * and tiebreaker only, as if logs did not matter.
 */
export function compareIgnoringLogs(a: CandidateInfo, b: CandidateInfo): number {
  if (a.electable !== b.electable) return a.electable ? -1 : 1;
  if (a.priority !== b.priority) return b.priority - a.priority;
  if (a.tiebreaker !== b.tiebreaker) return b.tiebreaker - a.tiebreaker;
  return a.site < b.site ? -1 : a.site > b.site ? 1 : 0;
}

/** Whether a log `candidate` is at least as up to date as `mine`: safe to vote for. */
export function isUpToDate(candidate: LogInfo, mine: LogInfo): boolean {
  if (candidate.dataGeneration !== mine.dataGeneration) return candidate.dataGeneration > mine.dataGeneration;
  return candidate.lastLsn >= mine.lastLsn;
}

export function isEmptyLog(log: LogInfo): boolean {
  return log.dataGeneration === 0 && log.lastLsn === 0;
}

/** One sentence on why `winner` beat the runner-up. */
export function explainWin(winner: CandidateInfo, others: readonly CandidateInfo[]): string {
  const rivals = others.filter((other) => other.site !== winner.site && other.electable);
  if (rivals.length === 0) return 'the only electable candidate';
  const runnerUp = [...rivals].sort(compareCandidates)[0]!;
  if (winner.dataGeneration !== runnerUp.dataGeneration)
    return `highest data generation (${winner.dataGeneration} over ${runnerUp.dataGeneration} of ${runnerUp.site})`;
  if (winner.lastLsn !== runnerUp.lastLsn)
    return `most up-to-date log (LSN ${winner.lastLsn} over ${runnerUp.lastLsn} of ${runnerUp.site}, generation ${winner.dataGeneration})`;
  if (winner.priority !== runnerUp.priority)
    return `equal logs; higher priority (${winner.priority} over ${runnerUp.priority} of ${runnerUp.site})`;
  return `equal logs and priority; tiebreaker over ${runnerUp.site}`;
}
