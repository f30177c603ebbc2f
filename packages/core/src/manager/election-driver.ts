/**
 * Drives the pure `ElectionCore` (packages/election) for the manager: feeds it time (a periodic tick on
 * the injected clock), received election messages, role changes and connection losses, and performs its
 * effects — the durable vote and learned generation (the log's ELECTION file, written before the vote
 * is sent or the generation reported), sends, fencing the replica off older masters, becoming master,
 * stepping down.
 */
import {
  ElectionCore,
  type ElectionEffect,
  type ElectionExplanation,
  type ElectionMessage,
  type ElectionSite,
  type ElectionStats,
} from '@ackord/election';
import type { BaseReplica } from '../base/base-replica.js';
import type { Clock, TimerHandle } from '../clock.js';
import type { StoredElectionState } from '../log/election-state-file.js';
import type { WriteAheadLog } from '../log/log.js';
import { LOG_START_LSN } from '../log/recovery.js';
import type { Logger } from '../logger.js';
import type { Role, SiteId } from '../replica/types.js';
import { encodeMessage } from '../wire/encode.js';
import type { ResolvedElectionOptions } from './election-options.js';

export interface ElectionDriverEvents {
  elected(explanation: ElectionExplanation): void;
  electionStarted(event: { electionGeneration: number; reason: string; preVote: boolean }): void;
  electionFailed(event: { electionGeneration: number; reason: string }): void;
  steppedDown(event: { reason: string }): void;
}

export interface ElectionDriverOptions {
  readonly siteId: SiteId;
  readonly sites: readonly ElectionSite[];
  readonly settings: ResolvedElectionOptions;
  readonly base: BaseReplica;
  readonly log: WriteAheadLog;
  /** The ELECTION file as it was when the site started (the replica already starts at its generation). */
  readonly stored: StoredElectionState;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly send: (frame: Uint8Array, target: SiteId | 'broadcast') => boolean;
  /** The transport's live connections now. */
  readonly connected: () => ReadonlySet<SiteId>;
  readonly events: ElectionDriverEvents;
}

export class ElectionDriver {
  readonly core: ElectionCore;
  readonly #options: ElectionDriverOptions;
  readonly #tickMs: number;
  #timer: TimerHandle | undefined;
  #closed = false;
  #running = false;

  constructor(options: ElectionDriverOptions) {
    this.#options = options;
    const { settings, base } = options;
    this.core = new ElectionCore({
      config: {
        siteId: options.siteId,
        sites: options.sites,
        electionTimeoutMs: settings.electionTimeoutMs,
        pingIntervalMs: settings.pingIntervalMs,
        fullElectionTimeoutMs: settings.fullElectionTimeoutMs,
        vote1WaitMs: settings.vote1WaitMs,
        leaseTimeoutMs: settings.leaseTimeoutMs,
        clockSkewFactor: settings.clockSkewFactor,
        twoSiteStrict: settings.twoSiteStrict,
        nvotes: settings.nvotes,
        preVote: settings.preVote,
        checkQuorum: settings.checkQuorum,
        mutations: settings.mutations,
      },
      logInfo: () => {
        const core = base.core;
        // An empty log (nothing ever written, no snapshot) is (0, 0) to the election: LSNs start at 1.
        if (core.nextLsn <= LOG_START_LSN) return { dataGeneration: 0, lastLsn: 0 };
        return { dataGeneration: core.history.generationAt(core.nextLsn - 1), lastLsn: core.nextLsn };
      },
      random: settings.random,
      connected: options.connected,
    });
    // Fine enough for every deadline the core keeps (ping interval, phase-1 wait), coarse enough to cost
    // nothing: ticks only compare numbers.
    this.#tickMs = Math.max(1, Math.min(settings.pingIntervalMs, settings.vote1WaitMs || Infinity, 50));
  }

  start(): void {
    const { stored: state, clock, base } = this.#options;
    // A site that voted in an election before it stopped keeps refusing the masters that election
    // replaced: its fence must not vanish with the process (an old master could otherwise collect its
    // acks for a write the winner lacks). The stored learned generation needs no fence: the replica
    // started at it (manager), which refuses older masters as well as reporting it.
    if (state.electionGeneration > base.generation)
      void base.fence(state.electionGeneration).catch(() => undefined);
    this.core.start(clock.now(), state, base.generation);
    this.#run();
    this.#arm();
  }

  close(): void {
    this.#closed = true;
    if (this.#timer !== undefined) this.#options.clock.clearTimeout(this.#timer);
  }

  stats(): ElectionStats {
    return this.core.stats();
  }

  hasReadLease(): boolean {
    return this.core.hasReadLease(this.#options.clock.now());
  }

  receive(from: SiteId, message: ElectionMessage): void {
    if (this.#closed) return;
    this.core.receive(from, message, this.#options.clock.now());
    this.#run();
  }

  roleChanged(role: Role, master: SiteId | undefined, generation: number): void {
    if (this.#closed) return;
    this.core.roleChanged(role, master, generation, this.#options.clock.now());
    this.#run();
  }

  peerDown(site: SiteId): void {
    if (this.#closed) return;
    this.core.peerDown(site, this.#options.clock.now());
  }

  holdElection(reason: string): void {
    if (this.#closed) return;
    this.core.holdElection(reason, this.#options.clock.now());
  }

  /** Hands mastership to `target` now (the caller has caught it up). */
  transfer(target: SiteId): void {
    this.core.transfer(target, this.#options.clock.now());
    this.#run();
  }

  #arm(): void {
    this.#timer = this.#options.clock.setTimeout(() => {
      if (this.#closed) return;
      this.core.tick(this.#options.clock.now());
      this.#run();
      this.#arm();
    }, this.#tickMs);
  }

  /** Performs effects until the core has none left (persisting can produce more). */
  #run(): void {
    if (this.#running) return; // an effect's callback re-entered: the outer loop picks its effects up
    this.#running = true;
    try {
      for (let effects = this.core.drainEffects(); effects.length > 0; effects = this.core.drainEffects())
        for (const effect of effects) this.#perform(effect);
    } finally {
      this.#running = false;
    }
  }

  #perform(effect: ElectionEffect): void {
    const { base, log, logger, events, clock } = this.#options;
    switch (effect.type) {
      case 'persist':
        // Synchronous and durable (fdatasync + rename + directory sync) before the vote goes out, and
        // before a learned generation is acted on (the replica's next effect waits for this one). Rare:
        // a vote, a win, or a newly learned generation. A failure fails the log, and the base replica
        // stops the site: it must not vote unrecorded.
        log.saveElectionState(effect.state);
        this.core.persisted(effect.state, clock.now());
        return;
      case 'send':
        this.#options.send(encodeMessage(effect.message), effect.to);
        return;
      case 'fence':
        void base.fence(effect.generation).catch(() => undefined);
        return;
      case 'becomeMaster': {
        const { explanation } = effect;
        logger.info(
          {
            electionGeneration: explanation.electionGeneration,
            reason: explanation.reason,
            votes: explanation.votes.map((vote) => vote.voter),
            missing: explanation.missing,
          },
          'won the election',
        );
        base.becomeMaster(effect.generation).then(
          () => events.elected(explanation),
          (error: unknown) =>
            logger.warn({ err: (error as Error).message }, 'could not become master after winning'),
        );
        return;
      }
      case 'stepDown':
        logger.warn({ reason: effect.reason }, 'stepping down');
        events.steppedDown({ reason: effect.reason });
        void base.becomeClient().catch(() => undefined);
        return;
      case 'electionStarted':
        logger.info(
          { electionGeneration: effect.electionGeneration, reason: effect.reason, preVote: effect.preVote },
          effect.preVote ? 'pre-vote started' : 'election started',
        );
        events.electionStarted(effect);
        return;
      case 'electionFailed':
        logger.info(
          { electionGeneration: effect.electionGeneration, reason: effect.reason },
          'election failed',
        );
        events.electionFailed(effect);
        return;
    }
  }
}
