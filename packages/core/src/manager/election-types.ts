/** The election's types an application sees through the manager (events, stats). */
export type {
  CandidateInfo as ElectionCandidate,
  ElectionExplanation,
  ElectionStats,
} from '@ackord/election';
