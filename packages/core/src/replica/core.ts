/**
 * ReplicaCore: the master/client replication protocol as a pure state machine.
 *
 * Inputs go in through `step()` (and `propose()` on a master); what must happen comes out of
 * `takeEffects()` as plain data, to be performed in order by a shell: append these records, flush to
 * this LSN, send this message, read the log, apply this transaction, roll back to this LSN. No file,
 * socket, timer, clock or randomness in here — time arrives as `tick` inputs — so a seed replays a
 * whole cluster exactly.
 *
 * The rules that matter most live here and only here:
 * - a client appends only records that continue its log (log matching: the generation of the record
 *   before them must agree), holds records after a gap in a bounded buffer and re-requests the gap;
 * - a client acknowledges a commit only once its log is durable through that commit at the level it
 *   claims (`received`, `written` or `flushed`): acks are emitted on `durable` inputs, never on receipt
 *   (except at level `received`, which claims no more);
 * - a transaction is applied only when its commit record is appended, never in part;
 * - after a failover a client rolls back exactly to the last record it shares with the master.
 */
import { InvalidStateError, RecordTooLargeError } from '../errors.js';
import {
  encodeRecordInto,
  encodeRecordIntoView,
  RECORD_HEADER_BYTES,
  RecordType,
  recordGenerationAt,
  recordLengthAt,
  recordLsnAt,
  recordTypeAt,
} from '../log/record.js';
import { encodeLogFrameInPlace, LOG_FRAME_PREFIX_BYTES } from '../wire/encode.js';
import type { LogMessage, Message } from '../wire/messages.js';
import { MAX_READS_IN_FLIGHT, MAX_SNAPSHOTS_IN_FLIGHT, type ReplicaCoreConfig } from './config.js';
import { GapBuffer } from './gap-buffer.js';
import { GenerationHistory } from './history.js';
import {
  ACK_LEVEL_RANK,
  type AckLevel,
  type CommitToken,
  type ProcessResult,
  type ReplicaEffect,
  type ReplicaInput,
  type Role,
  SendFlags,
  type SiteId,
} from './types.js';

export interface ProposeResult {
  readonly txnId: number;
  readonly generation: number;
  readonly firstLsn: number;
  readonly commitLsn: number;
  readonly endLsn: number;
  readonly token: CommitToken;
}

interface PeerState {
  connected: boolean;
  /** Receives live records: its log has reached what was broadcast. */
  synced: boolean;
  /** Largest permanent LSN it acknowledged, and at which level. */
  ackedLsn: number;
  ackLevel: AckLevel | undefined;
  /** Its log end as it last told us. */
  nextLsn: number;
  catchUp: { nextLsn: number; prevGeneration: number; readId: number | undefined } | undefined;
}

interface ReadRequest {
  readonly site: SiteId;
  readonly purpose: 'catchUp' | 'rerequest';
  readonly prevGeneration: number;
  readonly flags: number;
}

interface OpenTransaction {
  readonly firstLsn: number;
  /** Data payloads with their LSNs; empty once spilled. */
  payloads: { readonly lsn: number; readonly payload: Uint8Array }[];
  bytes: number;
  /** Over the memory bound: the shell reads the payloads back from the log when the commit comes. */
  spilled: boolean;
}

const OK: ProcessResult = { code: 'OK' };
const NEW_GENERATION_PAYLOAD_BYTES = 4;
const COMMIT_PAYLOAD_BYTES = 4;
/** Scratch for a commit record's payload (its record count): encodeRecordInto copies it at once. */
const COMMIT_PAYLOAD = Buffer.alloc(COMMIT_PAYLOAD_BYTES);
/**
 * The smallest bulk buffer: a batch buffer starts at the size of the previous batch (rounded up to a
 * power of two), at least this, and doubles when a batch outgrows it.
 */
const MIN_BULK_BUFFER_BYTES = 4096;
const TWO_POW_32 = 0x1_0000_0000;
const NO_BULK_BUFFER = Buffer.alloc(0);
const NO_BULK_VIEW = new DataView(NO_BULK_BUFFER.buffer);

function ignore(reason: string): ProcessResult {
  return { code: 'IGNORE', reason };
}

/** What only a master (or a client serving for it) sends: fenced off during an election. */
const MASTER_MESSAGES: ReadonlySet<Message['type']> = new Set([
  'log',
  'newMaster',
  'heartbeat',
  'syncVerify',
  'init',
]);

/** The master's `append` effect while proposals may still join it (see ReplicaCore.#openAppend). */
interface MutableAppend {
  type: 'append';
  bytes: Uint8Array;
  firstLsn: number;
  endLsn: number;
}

export class ReplicaCore {
  readonly siteId: SiteId;
  readonly #config: ReplicaCoreConfig;
  #effects: ReplicaEffect[] = [];
  /**
   * The master's `append` effect for its latest proposal while the next proposal may still join it:
   * proposals made back to back (nothing else emitted between them, their records contiguous in the
   * batch buffer) reach the log as one append — one log call, one `durable` report — rather than one
   * each. Its `bytes` view is made when it closes: at takeEffects, or when a proposal cannot join.
   */
  #openAppend: MutableAppend | undefined;
  /** The batch buffer the open append's bytes are in, and where they start and end in it. */
  #openBuffer: Buffer = NO_BULK_BUFFER;
  #openStart = 0;
  #openEnd = 0;
  /** `#effects.length` right after the last proposal that joined: anything emitted since closes it. */
  #openEffectsLength = -1;
  #now: number;

  #role: Role = 'none';
  #generation: number;
  /** Masters below this generation are fenced off: an election above them is under way. */
  #fence = 0;
  #master: SiteId | undefined;
  readonly #knownSites = new Set<SiteId>();

  // The local log, as far as the core needs to know it.
  #firstLsn: number;
  #nextLsn: number;
  #writtenLsn: number;
  #durableLsn: number;
  #history: GenerationHistory;
  #nextTxnId: number;

  // Client side.
  #sync: 'idle' | 'syncing' | 'ready' = 'idle';
  /** Commit records appended but not yet acknowledged: [lsn, endLsn] pairs, ascending. */
  #unackedCommits: number[] = [];
  #unackedHead = 0;
  #ackedLsn = 0;
  readonly #openTxns = new Map<number, OpenTransaction>();
  #openTxnBytes = 0;
  readonly #gap: GapBuffer;
  #retryAt: number | undefined;
  #retryDelay: number;
  #retryAttempt = 0;
  /** A logRequest of ours is outstanding: its answer may trigger the next request at once. */
  #awaitingAnswer = false;
  /** A known missing tail [nextLsn, tailEnd) learned from a heartbeat. */
  #tailEnd = 0;

  // Master side.
  readonly #peers = new Map<SiteId, PeerState>();
  /**
   * Bulk on: the batch of live records, encoded straight into this buffer by `propose` (a master's
   * append effects are views into it) and shipped as one view of it. A shipped buffer is never written
   * again: the next batch gets a new one.
   */
  /**
   * The batch being built: LOG_FRAME_PREFIX_BYTES reserved for the frame's header and fixed fields, then
   * the records, so the batch ships as a frame built around them (no copy into a frame of its own).
   */
  #bulkBuffer: Buffer = NO_BULK_BUFFER;
  /** A DataView over exactly `#bulkBuffer`: records are encoded through it. */
  #bulkView = NO_BULK_VIEW;
  /** Bytes of records in `#bulkBuffer` (after the prefix): the batch so far. */
  #bulkBytes = 0;
  /** Size of the last batch shipped: what the next batch's buffer is sized for. */
  #lastBulkBytes = 0;
  #bulkRecords = 0;
  #bulkPrevGeneration = 0;
  #bulkHasCommit = false;
  #bulkStartedAt = 0;
  /** Records below this LSN have been sent to every synced peer (or are in the bulk buffer). */
  #broadcastLsn: number;
  #nextHeartbeatAt = 0;
  /** Records below this LSN have left in a live ship (or were there when mastership began). */
  #shippedLsn = 0;
  #lastCommitLsn = 0;
  readonly #reads = new Map<number, ReadRequest>();
  readonly #snapshots = new Map<number, SiteId>();
  #nextRequestId = 1;

  constructor(config: ReplicaCoreConfig) {
    this.#config = config;
    this.siteId = config.siteId;
    this.#now = config.now;
    const log = config.log;
    this.#firstLsn = log.firstLsn;
    this.#nextLsn = log.nextLsn;
    this.#writtenLsn = log.writtenLsn;
    this.#durableLsn = log.durableLsn;
    this.#history = new GenerationHistory(log.history);
    // A client learns a master's generation before any record of it arrives (a wiped site re-syncing
    // holds none at all): the stored generation keeps it from going back, and from following an older
    // master, after a restart. A fence would only do the latter, and leave the reported generation low.
    this.#generation = Math.max(this.#history.lastGeneration, log.generation ?? 0);
    this.#nextTxnId = log.nextTxnId;
    this.#broadcastLsn = log.nextLsn;
    this.#gap = new GapBuffer(config.gapBufferBytes);
    this.#retryDelay = config.rerequestMinMs;
    for (const commit of log.tailCommits ?? []) this.#unackedCommits.push(commit.lsn, commit.endLsn);
    for (const txn of log.openTransactions ?? []) {
      for (const { lsn, payload } of txn.payloads) this.#holdData(txn.txnId, lsn, payload);
    }
    for (const peer of config.peers) this.#peer(peer);
  }

  // ---- observation ----

  get role(): Role {
    return this.#role;
  }
  get generation(): number {
    return this.#generation;
  }
  get master(): SiteId | undefined {
    return this.#master;
  }
  get nextLsn(): number {
    return this.#nextLsn;
  }
  get firstLsn(): number {
    return this.#firstLsn;
  }
  get durableLsn(): number {
    return this.#durableLsn;
  }
  get history(): GenerationHistory {
    return this.#history;
  }
  /** Client: the largest permanent LSN this site has acknowledged. */
  get ackedLsn(): number {
    return this.#ackedLsn;
  }
  /** LSN of the last commit record in the log (0: none). */
  get lastCommitLsn(): number {
    return this.#lastCommitLsn;
  }
  get syncState(): 'idle' | 'syncing' | 'ready' {
    return this.#sync;
  }
  get gapBufferedBytes(): number {
    return this.#gap.bytes;
  }
  /** Master: what each peer has acknowledged. */
  peerProgress(): ReadonlyMap<
    SiteId,
    Readonly<Pick<PeerState, 'connected' | 'synced' | 'ackedLsn' | 'ackLevel' | 'nextLsn'>>
  > {
    return this.#peers;
  }

  /** The earliest time at which a `tick` has something to do (a retry, a bulk flush), if any. */
  nextDeadline(): number | undefined {
    if (this.#role !== 'master') return this.#retryAt;
    return this.#bulkBytes > 0
      ? Math.min(this.#nextHeartbeatAt, this.#bulkStartedAt + this.#config.bulk.maxDelayMs)
      : this.#nextHeartbeatAt;
  }

  /** The effects produced since the last call, in the order they must be performed. */
  takeEffects(): ReplicaEffect[] {
    if (this.#openAppend !== undefined) this.#closeAppend();
    const effects = this.#effects;
    this.#effects = [];
    return effects;
  }

  // ---- inputs ----

  step(input: ReplicaInput): ProcessResult {
    switch (input.type) {
      case 'tick':
        this.#tick(input.now);
        return OK;
      case 'message':
        return this.#receive(input.from, input.message);
      case 'durable':
        this.#onDurable(input.writtenLsn, input.durableLsn);
        return OK;
      case 'logRead':
        this.#onLogRead(input.requestId, input.bytes, input.fromLsn);
        return OK;
      case 'logReadFailed':
        this.#onLogReadFailed(input.requestId, input.firstLsn);
        return OK;
      case 'snapshotTaken':
        this.#onSnapshot(input.requestId, input.lsn, input.data);
        return OK;
      case 'peerUp':
        this.#onPeerUp(input.site);
        return OK;
      case 'peerDown':
        this.#onPeerDown(input.site);
        return OK;
      case 'becomeMaster':
        this.#becomeMaster(input.generation);
        return OK;
      case 'becomeClient':
        this.#becomeClient(undefined, this.#generation);
        return OK;
      case 'fence':
        this.#applyFence(input.generation);
        return OK;
      case 'flushBulk':
        if (this.#bulkHasCommit || input.force) this.#flushBulk();
        return OK;
      default:
        return assertNever(input);
    }
  }

  /**
   * Master: appends a transaction (its data records and a commit record) and ships it. Returns the
   * LSNs and the read-your-writes token. The records reach the log through the `append` effect.
   */
  propose(payloads: readonly Uint8Array[]): ProposeResult {
    if (this.#role !== 'master') throw new InvalidStateError(`site ${this.siteId} is not master`);
    let size = RECORD_HEADER_BYTES + COMMIT_PAYLOAD_BYTES;
    for (const payload of payloads) {
      if (payload.length > this.#config.maxPayloadBytes) {
        throw new RecordTooLargeError(payload.length, this.#config.maxPayloadBytes);
      }
      size += RECORD_HEADER_BYTES + payload.length;
    }
    const txnId = this.#nextTxnId++;
    const generation = this.#generation;
    const firstLsn = this.#nextLsn;
    const bulk = this.#config.bulk.enabled;
    const commitLsn = firstLsn + size - RECORD_HEADER_BYTES - COMMIT_PAYLOAD_BYTES;
    // Bulk on: encoded straight into the batch (no buffer per transaction, no copy at shipping).
    // What #appendLocal would learn by reading the records back is known here already: one generation,
    // one transaction (its id taken above), the commit last.
    let own: Buffer | undefined;
    if (bulk) {
      this.#reserveBulk(size);
      const at = LOG_FRAME_PREFIX_BYTES + this.#bulkBytes;
      this.#encodeTransaction(this.#bulkBuffer, this.#bulkView, at, size, payloads, txnId);
      this.#appendOwn(this.#bulkBuffer, at, size, firstLsn);
    } else {
      own = Buffer.allocUnsafe(size);
      this.#encodeTransaction(own, undefined, 0, size, payloads, txnId);
      this.#effects.push({ type: 'append', bytes: own, firstLsn, endLsn: firstLsn + size });
    }
    this.#history.noteRecord(generation, firstLsn);
    this.#lastCommitLsn = commitLsn;
    this.#nextLsn = firstLsn + size;
    if (own === undefined) this.#addToBulk(firstLsn, size, true, payloads.length + 1);
    else this.#sendLiveNow(own, firstLsn, true);
    this.#effects.push({
      type: 'apply',
      txn: { txnId, generation, commitLsn, endLsn: firstLsn + size, payloads },
    });
    this.#openEffectsLength = this.#effects.length;
    return {
      txnId,
      generation,
      firstLsn,
      commitLsn,
      endLsn: firstLsn + size,
      token: { generation, lsn: commitLsn },
    };
  }

  /**
   * The master's own records at `at` of the batch buffer, `size` bytes from `firstLsn`: joins the open
   * append when nothing was emitted since the last proposal and the records follow its bytes in the same
   * buffer (a grown buffer is a new one: its bytes start a new append), else opens a new one.
   */
  #appendOwn(buffer: Buffer, at: number, size: number, firstLsn: number): void {
    const open = this.#openAppend;
    if (open !== undefined) {
      if (
        this.#openBuffer === buffer &&
        this.#openEnd === at &&
        this.#openEffectsLength === this.#effects.length
      ) {
        this.#openEnd += size;
        open.endLsn += size;
        return;
      }
      this.#closeAppend();
    }
    const effect: MutableAppend = {
      type: 'append',
      bytes: NO_BULK_BUFFER,
      firstLsn,
      endLsn: firstLsn + size,
    };
    this.#effects.push(effect);
    this.#openAppend = effect;
    this.#openBuffer = buffer;
    this.#openStart = at;
    this.#openEnd = at + size;
  }

  /** Gives the open append its bytes; later proposals start a new one. */
  #closeAppend(): void {
    const buffer = this.#openBuffer;
    this.#openAppend!.bytes = new Uint8Array(
      buffer.buffer,
      buffer.byteOffset + this.#openStart,
      this.#openEnd - this.#openStart,
    );
    this.#openAppend = undefined;
    this.#openBuffer = NO_BULK_BUFFER;
  }

  /**
   * Encodes a transaction of `payloads` (data records, then the commit record) at `offset` of `target`,
   * at the log's end. `view`: a DataView over `target`, or undefined to write through `target`.
   */
  #encodeTransaction(
    target: Uint8Array,
    view: DataView | undefined,
    offset: number,
    size: number,
    payloads: readonly Uint8Array[],
    txnId: number,
  ): void {
    const generation = this.#generation;
    const firstLsn = this.#nextLsn;
    let at = offset;
    for (const payload of payloads) {
      at +=
        view === undefined
          ? encodeRecordInto(
              target as Buffer,
              at,
              firstLsn + (at - offset),
              generation,
              RecordType.data,
              txnId,
              payload,
            )
          : encodeRecordIntoView(
              view,
              target,
              at,
              firstLsn + (at - offset),
              generation,
              RecordType.data,
              txnId,
              payload,
            );
    }
    COMMIT_PAYLOAD.writeUInt32LE(payloads.length, 0);
    const commitLsn = firstLsn + (at - offset);
    at +=
      view === undefined
        ? encodeRecordInto(
            target as Buffer,
            at,
            commitLsn,
            generation,
            RecordType.commit,
            txnId,
            COMMIT_PAYLOAD,
          )
        : encodeRecordIntoView(
            view,
            target,
            at,
            commitLsn,
            generation,
            RecordType.commit,
            txnId,
            COMMIT_PAYLOAD,
          );
    if (at - offset !== size) throw new Error(`encoded ${at - offset} bytes of a ${size}-byte transaction`);
  }

  /** Makes room for `bytes` more at the end of the batch: a first buffer, or a bigger copy. */
  #reserveBulk(bytes: number): void {
    const needed = LOG_FRAME_PREFIX_BYTES + this.#bulkBytes + bytes;
    if (needed <= this.#bulkBuffer.length) return;
    let capacity = Math.max(MIN_BULK_BUFFER_BYTES, this.#bulkBuffer.length * 2);
    if (this.#bulkBytes === 0) {
      // A new batch: sized for one like the last (bounded by the batch limit), so it rarely grows.
      const expected = LOG_FRAME_PREFIX_BYTES + Math.min(this.#lastBulkBytes, this.#config.bulk.maxBytes);
      while (capacity < expected) capacity *= 2;
    }
    while (capacity < needed) capacity *= 2;
    const grown = Buffer.allocUnsafe(capacity);
    // Views already handed out (append effects) keep the old buffer; it is never written again.
    if (this.#bulkBytes > 0) {
      grown.set(
        this.#bulkBuffer.subarray(LOG_FRAME_PREFIX_BYTES, LOG_FRAME_PREFIX_BYTES + this.#bulkBytes),
        LOG_FRAME_PREFIX_BYTES,
      );
    }
    this.#bulkBuffer = grown;
    this.#bulkView = new DataView(grown.buffer, grown.byteOffset, grown.byteLength);
  }

  // ---- time ----

  #tick(now: number): void {
    if (now < this.#now) return; // a clock that jumps back changes nothing: deadlines only move forward
    this.#now = now;
    if (this.#role === 'master') {
      if (this.#bulkBytes > 0 && now - this.#bulkStartedAt >= this.#config.bulk.maxDelayMs) this.#flushBulk();
      if (now >= this.#nextHeartbeatAt) this.#heartbeat();
      return;
    }
    if (this.#retryAt !== undefined && now >= this.#retryAt) this.#retry();
  }

  #armRetry(): void {
    if (this.#retryAt === undefined) this.#retryAt = this.#now + this.#retryDelay;
  }

  #resetRetry(): void {
    this.#awaitingAnswer = false;
    this.#retryAt = undefined;
    this.#retryDelay = this.#config.rerequestMinMs;
    this.#retryAttempt = 0;
  }

  /** One retry of whatever the client is waiting for: a master, a sync answer, or missing records. */
  #retry(): void {
    this.#retryAttempt++;
    this.#retryDelay = Math.min(this.#retryDelay * 2, this.#config.rerequestMaxMs);
    this.#retryAt = this.#now + this.#retryDelay;
    if (this.#master === undefined) {
      this.#send('broadcast', { type: 'masterRequest', generation: this.#generation }, 0);
      return;
    }
    if (this.#sync === 'syncing') {
      this.#sendSyncRequest();
      return;
    }
    if (!this.#missingRecords()) {
      this.#resetRetry();
      return;
    }
    this.#requestMissing();
  }

  /** Records are missing: after a gap, or a tail the master told us about. */
  #missingRecords(): boolean {
    return !this.#gap.isEmpty || this.#tailEnd > this.#nextLsn;
  }

  /**
   * Asks for everything from our log's end on. The answer comes in chunks (catchUpChunkBytes); records
   * we already hold after the gap come again and are skipped. Every other attempt goes to another
   * client (ANYWHERE) when client-to-client sync is on.
   */
  #requestMissing(): void {
    if (this.#master === undefined) return;
    this.#awaitingAnswer = true;
    let target: SiteId = this.#master;
    let flags = 0;
    if (this.#config.clientToClientSync && this.#retryAttempt % 2 === 0) {
      const others = this.#config.peers.filter(
        (site) => site !== this.#master && this.#peers.get(site)?.connected,
      );
      if (others.length > 0) {
        target = others[(this.#retryAttempt / 2) % others.length]!;
        flags = SendFlags.ANYWHERE;
      }
    }
    this.#send(
      target,
      {
        type: 'logRequest',
        generation: this.#generation,
        flags,
        fromLsn: this.#nextLsn,
        toLsn: 0,
        lastLsn: this.#nextLsn,
        lastGeneration: this.#history.generationAt(this.#nextLsn - 1),
      },
      flags,
    );
  }

  // ---- messages ----

  #applyFence(generation: number): void {
    if (generation <= this.#fence) return;
    this.#fence = generation;
    if (this.#generation < generation && (this.#role === 'master' || this.#master !== undefined))
      this.#becomeClient(undefined, this.#generation);
  }

  #receive(from: SiteId, message: Message): ProcessResult {
    if (message.generation < this.#fence && MASTER_MESSAGES.has(message.type))
      return ignore(
        `${message.type} of generation ${message.generation}: an election at ${this.#fence} is under way`,
      );
    const isNew = !this.#knownSites.has(from);
    if (isNew) {
      this.#knownSites.add(from);
      this.#effects.push({ type: 'newSite', site: from });
    }
    const result = this.#dispatch(from, message);
    return isNew && (result.code === 'OK' || result.code === 'IGNORE')
      ? { code: 'NEWSITE', site: from }
      : result;
  }

  #dispatch(from: SiteId, message: Message): ProcessResult {
    switch (message.type) {
      case 'log':
        return this.#onLog(from, message);
      case 'ack':
        return this.#onAck(from, message);
      case 'logRequest':
        return this.#onLogRequest(from, message);
      case 'syncRequest':
        return this.#onSyncRequest(from, message);
      case 'syncVerify':
        return this.#onSyncVerify(from, message);
      case 'init':
        return this.#onInit(from, message);
      case 'newMaster':
      case 'heartbeat':
        return this.#onMasterAnnouncement(
          from,
          message.generation,
          message.nextLsn,
          message.type === 'newMaster',
        );
      case 'masterRequest':
        if (this.#role === 'master') this.#send(from, this.#newMasterMessage(), 0);
        return OK;
      case 'vote1':
      case 'vote2':
        // Elections are driven by the election core; the base API reports them as Berkeley DB does.
        if (message.generation < this.#generation) return ignore('vote from an older generation');
        this.#effects.push({ type: 'holdElection', reason: `${message.type} from ${from}` });
        return { code: 'HOLDELECTION' };
      case 'election':
        return { code: 'IGNORE', reason: 'election control is handled by the election driver' };
      case 'forward':
        return { code: 'IGNORE', reason: 'forwarded writes are handled by the manager' };
      case 'forwardResult':
        return { code: 'IGNORE', reason: 'forwarded writes are handled by the manager' };
      default:
        return assertNever(message);
    }
  }

  /** A site claims mastership (newMaster or heartbeat) at `generation`. */
  #onMasterAnnouncement(from: SiteId, generation: number, nextLsn: number, announce: boolean): ProcessResult {
    if (generation < this.#generation) {
      if (this.#role === 'master') this.#send(from, this.#newMasterMessage(), 0);
      return ignore(`announcement of generation ${generation} below ${this.#generation}`);
    }
    if (this.#role === 'master') {
      if (from === this.siteId) return OK;
      if (generation === this.#generation) {
        // Two masters of one generation: both step down and the group elects.
        this.#becomeClient(undefined, generation);
        this.#effects.push({
          type: 'holdElection',
          reason: `duplicate master ${from} in generation ${generation}`,
        });
        return { code: 'DUPMASTER' };
      }
      this.#becomeClient(from, generation);
      return { code: 'DUPMASTER' };
    }
    if (generation > this.#generation || this.#master !== from) {
      this.#becomeClient(from, generation);
      return OK;
    }
    if (announce && this.#sync === 'ready') {
      // Our master announces itself again: it lost track of us (we were disconnected). Sync again so
      // it catches us up and ships to us live.
      this.#resync('master announced itself again');
      return OK;
    }
    if (this.#sync === 'ready' && nextLsn > this.#nextLsn && this.#gap.isEmpty) {
      // The master has records we never saw (a lost last message): treat the tail as a gap.
      this.#tailEnd = Math.max(this.#tailEnd, nextLsn);
      this.#armRetry();
    }
    return OK;
  }

  #becomeClient(master: SiteId | undefined, generation: number): void {
    const changed = this.#role !== 'client' || this.#master !== master || generation !== this.#generation;
    if (this.#role === 'master') this.#dropMasterState();
    this.#role = 'client';
    this.#generation = Math.max(this.#generation, generation);
    this.#master = master;
    this.#gap.clear();
    this.#tailEnd = 0;
    this.#resetRetry();
    if (changed) {
      this.#effects.push({ type: 'roleChanged', role: 'client', generation: this.#generation, master });
    }
    if (master === undefined) {
      this.#sync = 'idle';
      this.#armRetry();
      return;
    }
    this.#sync = 'syncing';
    this.#sendSyncRequest();
    this.#armRetry();
  }

  #sendSyncRequest(): void {
    if (this.#master === undefined) return;
    this.#send(
      this.#master,
      {
        type: 'syncRequest',
        generation: this.#generation,
        lastLsn: this.#nextLsn,
        lastGeneration: this.#history.generationAt(this.#nextLsn - 1),
        nextLsn: this.#nextLsn,
      },
      0,
    );
  }

  // ---- client: records ----

  #onLog(from: SiteId, message: Extract<Message, { type: 'log' }>): ProcessResult {
    if (message.generation < this.#generation) {
      // A stale master still shipping: tell it about us so it steps down.
      if (this.#role === 'master') this.#send(from, this.#newMasterMessage(), 0);
      return ignore(`log of generation ${message.generation} below ${this.#generation}`);
    }
    if (this.#role === 'master') {
      if (message.generation === this.#generation)
        return this.#onMasterAnnouncement(from, message.generation, 0, false);
      this.#becomeClient(from, message.generation);
      return { code: 'DUPMASTER' };
    }
    const fromServingClient = (message.flags & SendFlags.REREQUEST) !== 0 && from !== this.#master;
    if (message.generation > this.#generation || (this.#master !== from && !fromServingClient)) {
      // A master we have not synced with: verify our log against it before taking anything.
      this.#becomeClient(from, message.generation);
      return ignore('new master: syncing first');
    }
    if (this.#sync !== 'ready') return ignore('not synced with the master yet');
    const before = this.#nextLsn;
    const commitBefore = this.#lastCommitLsn;
    const result = this.#acceptBatch(message.records, message.prevGeneration, message.flags);
    if (this.#nextLsn <= before) return result;
    if (this.#missingRecords()) {
      if (this.#awaitingAnswer && (message.flags & SendFlags.REREQUEST) !== 0) {
        // An answer to our request made progress and more is missing: ask for the next part now.
        this.#retryDelay = this.#config.rerequestMinMs;
        this.#retryAt = this.#now + this.#retryDelay;
        this.#requestMissing();
      } else {
        // Records are flowing (a catch-up stream): push the retry back instead of asking for them twice.
        this.#retryAt = this.#now + this.#retryDelay;
      }
    }
    // ISPERM covers every commit appended by this message, including those it released from the gap buffer.
    return this.#lastCommitLsn > commitBefore ? { code: 'ISPERM', lsn: this.#lastCommitLsn } : result;
  }

  /** Takes a batch of encoded records: appends what continues the log, buffers what lies beyond a gap. */
  #acceptBatch(bytes: Uint8Array, prevGeneration: number, flags: number): ProcessResult {
    const firstLsn = recordLsnAt(bytes, 0);
    if (firstLsn > this.#nextLsn) {
      const kept = this.#gap.add(firstLsn, bytes, prevGeneration);
      this.#armRetry();
      if ((flags & SendFlags.PERMANENT) !== 0) {
        const commitLsn = lastCommitLsn(bytes);
        return { code: 'NOTPERM', lsn: commitLsn, missingFrom: this.#nextLsn, missingTo: firstLsn };
      }
      return kept ? OK : ignore('gap buffer full');
    }
    // Skip what we already hold, checking that it is what we hold.
    let offset = 0;
    let previous = prevGeneration;
    let lsn = firstLsn;
    while (lsn < this.#nextLsn && offset < bytes.length) {
      const length = recordLengthAt(bytes, offset);
      previous = recordGenerationAt(bytes, offset);
      lsn += length;
      offset += length;
    }
    if (offset >= bytes.length) {
      if (lsn > this.#nextLsn || this.#history.generationAt(lsn - 1) !== previous)
        return this.#resync('duplicate does not match our log');
      return ignore('duplicate records');
    }
    if (lsn !== this.#nextLsn || this.#history.generationAt(this.#nextLsn - 1) !== previous) {
      return this.#resync('records do not continue our log');
    }
    const result = this.#appendFromMaster(offset === 0 ? bytes : bytes.subarray(offset));
    this.#drainGap();
    return result;
  }

  #resync(reason: string): ProcessResult {
    this.#sync = 'syncing';
    this.#gap.clear();
    this.#sendSyncRequest();
    this.#armRetry();
    return ignore(reason);
  }

  #drainGap(): void {
    for (;;) {
      const next = this.#gap.takeReady(this.#nextLsn);
      if (next === undefined) break;
      this.#acceptBatch(next.bytes, next.prevGeneration, 0);
      if (this.#sync !== 'ready') return;
    }
    if (this.#gap.isEmpty && this.#tailEnd <= this.#nextLsn) this.#resetRetry();
    else this.#armRetry();
  }

  #appendFromMaster(bytes: Uint8Array): ProcessResult {
    const appendAt = this.#effects.length;
    const commitLsn = this.#appendLocal(bytes, false);
    if (commitLsn === undefined) {
      this.#maybeAck();
      return OK;
    }
    if (this.#config.ackLevel === 'flushed') {
      this.#effects.push({ type: 'flush', lsn: this.#nextLsn });
      this.#maybeAck();
    } else {
      this.#ackRightAfter(appendAt);
    }
    return { code: 'ISPERM', lsn: commitLsn };
  }

  /**
   * `#maybeAck`, with the ack (if any) moved up to just after the append effect at `appendAt`, ahead of
   * the batch's `apply` effects. Why: an ack at level `received` claims only that the records are in
   * this site's log, which is true once the append is performed; the master is waiting for it, and
   * applying a batch to the state machine (a decode and a map update per transaction) would otherwise
   * delay every commit of the batch by the whole batch's apply time. (`written`/`flushed` acks wait
   * for the log's own report, after the applies anyway.)
   */
  #ackRightAfter(appendAt: number): void {
    const before = this.#effects.length;
    this.#maybeAck();
    const effects = this.#effects;
    if (effects.length === before || before === appendAt + 1) return;
    const ack = effects.pop()!;
    effects.splice(appendAt + 1, 0, ack);
  }

  /**
   * Appends encoded records at the log's end and does the bookkeeping both roles share: history,
   * transactions (applied on their commit record, client side), unacknowledged commits. Returns the LSN
   * of the last commit record in the batch, if any.
   */
  #appendLocal(bytes: Uint8Array, isMaster: boolean): number | undefined {
    const firstLsn = this.#nextLsn;
    const endLsn = firstLsn + bytes.length;
    this.#effects.push({ type: 'append', bytes, firstLsn, endLsn });
    let lastCommit: number | undefined;
    let records = 0;
    let offset = 0;
    // Client fast path: a transaction whose data records and commit arrive in this batch, with nothing
    // of it held from before, collects its payloads here instead of in #openTxns (no Map entry, no
    // object per record). Anything else — another transaction's record, an abort, the batch's end, or
    // the open-transaction memory bound coming into reach — first hands what was collected to
    // #holdData, which then ends in exactly the state the record-by-record path would have.
    let pendingTxn = -1;
    let pendingFirstLsn = 0;
    let pendingBytes = 0;
    let pendingPayloads: Uint8Array[] = [];
    // The records are whole and valid (the wire decoder or this core made them): read in place, through
    // one view for the batch.
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    while (offset < bytes.length) {
      const length = view.getUint32(offset + 4, true);
      const lsn = firstLsn + offset;
      records++;
      const generation = view.getUint32(offset + 16, true);
      const type = bytes[offset + 20] as RecordType;
      const txnId = view.getUint32(offset + 24, true) + view.getUint32(offset + 28, true) * TWO_POW_32;
      this.#history.noteRecord(generation, lsn);
      if (txnId >= this.#nextTxnId) this.#nextTxnId = txnId + 1;
      if (isMaster) {
        if (type === RecordType.commit) {
          lastCommit = lsn;
          this.#lastCommitLsn = lsn;
        } else if (type === RecordType.abort) {
          this.#dropOpen(txnId);
        }
        offset += length;
        continue;
      }
      if (pendingTxn === txnId) {
        if (type === RecordType.commit) {
          lastCommit = lsn;
          this.#lastCommitLsn = lsn;
          this.#unackedCommits.push(lsn, lsn + length);
          this.#effects.push({
            type: 'apply',
            txn: { txnId, generation, commitLsn: lsn, endLsn: lsn + length, payloads: pendingPayloads },
          });
          pendingTxn = -1;
          pendingPayloads = [];
          offset += length;
          continue;
        }
        const payloadBytes = length - RECORD_HEADER_BYTES;
        if (
          type === RecordType.data &&
          this.#openTxnBytes + pendingBytes + payloadBytes <= this.#config.maxOpenTransactionBytes
        ) {
          pendingPayloads.push(bytes.subarray(offset + RECORD_HEADER_BYTES, offset + length));
          pendingBytes += payloadBytes;
          offset += length;
          continue;
        }
      }
      if (pendingTxn >= 0) {
        this.#holdPending(pendingTxn, pendingFirstLsn, pendingPayloads);
        pendingTxn = -1;
        pendingPayloads = [];
      }
      if (type === RecordType.commit) {
        lastCommit = lsn;
        this.#lastCommitLsn = lsn;
        this.#unackedCommits.push(lsn, lsn + length);
        this.#applyCommitted(txnId, generation, lsn, lsn + length);
      } else if (type === RecordType.data) {
        const payload = bytes.subarray(offset + RECORD_HEADER_BYTES, offset + length);
        if (
          !this.#openTxns.has(txnId) &&
          this.#openTxnBytes + payload.length <= this.#config.maxOpenTransactionBytes
        ) {
          pendingTxn = txnId;
          pendingFirstLsn = lsn;
          pendingBytes = payload.length;
          pendingPayloads.push(payload);
        } else {
          this.#holdData(txnId, lsn, payload);
        }
      } else if (type === RecordType.abort) {
        this.#dropOpen(txnId);
      }
      offset += length;
    }
    if (pendingTxn >= 0) this.#holdPending(pendingTxn, pendingFirstLsn, pendingPayloads);
    this.#nextLsn = endLsn;
    if (isMaster) this.#broadcast(bytes, firstLsn, lastCommit !== undefined, records);
    return lastCommit;
  }

  /** Holds the data records the fast path of #appendLocal collected, as #holdData would have one by one. */
  #holdPending(txnId: number, firstLsn: number, payloads: readonly Uint8Array[]): void {
    let lsn = firstLsn;
    for (const payload of payloads) {
      this.#holdData(txnId, lsn, payload);
      lsn += RECORD_HEADER_BYTES + payload.length;
    }
  }

  #holdData(txnId: number, lsn: number, payload: Uint8Array): void {
    let open = this.#openTxns.get(txnId);
    if (open === undefined) {
      open = { firstLsn: lsn, payloads: [], bytes: 0, spilled: false };
      this.#openTxns.set(txnId, open);
    }
    if (open.spilled) return;
    open.payloads.push({ lsn, payload });
    open.bytes += payload.length;
    this.#openTxnBytes += payload.length;
    if (this.#openTxnBytes > this.#config.maxOpenTransactionBytes) {
      // Over the bound: stop holding this transaction in memory; its records stay in the log.
      this.#openTxnBytes -= open.bytes;
      open.payloads = [];
      open.bytes = 0;
      open.spilled = true;
    }
  }

  #dropOpen(txnId: number): void {
    const open = this.#openTxns.get(txnId);
    if (open === undefined) return;
    this.#openTxnBytes -= open.bytes;
    this.#openTxns.delete(txnId);
  }

  #applyCommitted(txnId: number, generation: number, commitLsn: number, endLsn: number): void {
    const open = this.#openTxns.get(txnId);
    this.#dropOpen(txnId);
    const payloads = open === undefined ? [] : open.payloads.map((entry) => entry.payload);
    this.#effects.push({
      type: 'apply',
      txn: open?.spilled
        ? { txnId, generation, commitLsn, endLsn, payloads, readFromLsn: open.firstLsn }
        : { txnId, generation, commitLsn, endLsn, payloads },
    });
  }

  #onDurable(writtenLsn: number, durableLsn: number): void {
    // Clamp to the log's end: a report about records since rolled back claims nothing.
    this.#writtenLsn = Math.min(Math.max(this.#writtenLsn, writtenLsn), this.#nextLsn);
    this.#durableLsn = Math.min(Math.max(this.#durableLsn, durableLsn), this.#nextLsn);
    if (this.#role === 'client') this.#maybeAck();
  }

  /** The LSN below which this site's log is durable at the level its acks claim. */
  #reachedLsn(): number {
    if (this.#config.testMutations?.ackBeforeFlush) return this.#nextLsn;
    switch (this.#config.ackLevel) {
      case 'received':
        return this.#nextLsn;
      case 'written':
        return Math.max(this.#writtenLsn, this.#durableLsn);
      case 'flushed':
        return this.#durableLsn;
    }
  }

  /**
   * Acknowledges the largest commit durable at our level, once we are in sync with a master (commits
   * that became durable while we were re-syncing are acknowledged when the sync completes). A view never
   * acknowledges; it reports its progress (an ack of LSN 0) so the master can pace its catch-up.
   */
  #maybeAck(): void {
    if (this.#role !== 'client' || this.#master === undefined || this.#sync !== 'ready') return;
    const reached = this.#reachedLsn();
    const commits = this.#unackedCommits;
    let ackLsn: number | undefined;
    while (this.#unackedHead < commits.length && commits[this.#unackedHead + 1]! <= reached) {
      ackLsn = commits[this.#unackedHead]!;
      this.#unackedHead += 2;
    }
    if (this.#unackedHead > 1024 && this.#unackedHead * 2 > commits.length) {
      this.#unackedCommits = commits.slice(this.#unackedHead);
      this.#unackedHead = 0;
    }
    if (ackLsn === undefined) return;
    this.#ackedLsn = ackLsn;
    this.#send(
      this.#master,
      {
        type: 'ack',
        generation: this.#generation,
        lsn: this.#config.view ? 0 : ackLsn,
        level: this.#config.ackLevel,
        nextLsn: this.#nextLsn,
      },
      0,
    );
  }

  // ---- client: sync and rollback ----

  #onSyncVerify(from: SiteId, message: Extract<Message, { type: 'syncVerify' }>): ProcessResult {
    if (from !== this.#master || message.generation !== this.#generation || this.#sync !== 'syncing') {
      return ignore('unexpected sync answer');
    }
    const common = this.#history.commonEnd(
      this.#nextLsn,
      message.history,
      message.nextLsn,
      this.#logStartLsn(),
      message.generation,
    );
    if (common === this.#nextLsn) {
      // Our whole log is a prefix of the master's: take its records from here on.
      this.#sync = 'ready';
      this.#resetRetry();
      if (message.nextLsn > this.#nextLsn) {
        // The master streams the rest; if that stream is lost, the tail is re-requested.
        this.#tailEnd = message.nextLsn;
        this.#armRetry();
      }
      this.#maybeAck();
      return OK;
    }
    if (common === undefined || common < this.#firstLsn) {
      // The last common record lies before what we can roll back to (our log, or our state machine's
      // snapshot, starts after it): only an internal init can bring us back. Ask for one.
      this.#send(
        this.#master!,
        { type: 'syncRequest', generation: this.#generation, lastLsn: 0, lastGeneration: 0, nextLsn: 0 },
        0,
      );
      this.#armRetry();
      return OK;
    }
    let target = common;
    if (this.#config.testMutations?.rollbackPastCommon && target > this.#firstLsn) {
      const start = this.#history.entries.findLast((entry) => entry.lsn < target)?.lsn ?? this.#firstLsn;
      target = Math.max(this.#firstLsn, start);
    }
    if (target < this.#nextLsn) this.#rollback(target);
    this.#sendSyncRequest();
    this.#armRetry();
    return OK;
  }

  /** The LSN the very first log of a group starts at; a log that starts there has nothing trimmed. */
  #logStartLsn(): number {
    return 1;
  }

  #rollback(toLsn: number): void {
    this.#effects.push({ type: 'truncate', toLsn });
    if (this.#lastCommitLsn >= toLsn) this.#lastCommitLsn = 0; // the last one left is not known here
    this.#nextLsn = toLsn;
    this.#writtenLsn = Math.min(this.#writtenLsn, toLsn);
    this.#durableLsn = Math.min(this.#durableLsn, toLsn);
    this.#history.truncate(toLsn);
    this.#ackedLsn = Math.min(this.#ackedLsn, toLsn);
    const kept: number[] = [];
    for (let index = this.#unackedHead; index < this.#unackedCommits.length; index += 2) {
      if (this.#unackedCommits[index + 1]! <= toLsn)
        kept.push(this.#unackedCommits[index]!, this.#unackedCommits[index + 1]!);
    }
    this.#unackedCommits = kept;
    this.#unackedHead = 0;
    // Open transactions keep the records below the cut: their commit may still come from the new master.
    for (const [txnId, open] of this.#openTxns) {
      if (open.firstLsn >= toLsn) {
        this.#dropOpen(txnId);
        continue;
      }
      const kept = open.payloads.filter((entry) => entry.lsn < toLsn);
      const keptBytes = kept.reduce((sum, entry) => sum + entry.payload.length, 0);
      this.#openTxnBytes -= open.bytes - keptBytes;
      open.payloads = kept;
      open.bytes = keptBytes;
    }
    this.#gap.clear();
  }

  #onInit(from: SiteId, message: Extract<Message, { type: 'init' }>): ProcessResult {
    if (from !== this.#master || message.generation !== this.#generation)
      return ignore('init from a site that is not our master');
    // Only while syncing: a duplicated or late init must never wipe records we took since.
    if (this.#sync !== 'syncing') return ignore('init while not syncing');
    if (!this.#config.autoInit) {
      this.#effects.push({
        type: 'joinFailure',
        reason: `the master's log no longer reaches LSN ${this.#nextLsn} and autoInit is off`,
      });
      return { code: 'JOIN_FAILURE' };
    }
    const lsn = message.snapshotLsn;
    // What of our log the master's state covers: records past the last common one are discarded.
    const common = this.#history.commonEnd(
      this.#nextLsn,
      message.history,
      lsn,
      this.#logStartLsn(),
      message.generation,
    );
    const discardFrom = Math.min(common ?? this.#firstLsn, this.#nextLsn);
    this.#effects.push({ type: 'restore', lsn, snapshot: message.snapshot, discardFrom });
    this.#firstLsn = lsn;
    this.#lastCommitLsn = 0;
    this.#nextLsn = lsn;
    this.#writtenLsn = lsn;
    this.#durableLsn = lsn;
    this.#history = new GenerationHistory(message.history.filter((entry) => entry.lsn < lsn));
    this.#unackedCommits = [];
    this.#unackedHead = 0;
    this.#ackedLsn = 0;
    this.#openTxns.clear();
    this.#openTxnBytes = 0;
    this.#gap.clear();
    this.#sync = 'syncing';
    this.#sendSyncRequest();
    this.#armRetry();
    return OK;
  }

  // ---- master ----

  #becomeMaster(generation: number): void {
    if (generation <= this.#generation) {
      throw new InvalidStateError(`generation ${generation} is not above the current ${this.#generation}`);
    }
    this.#role = 'master';
    this.#generation = generation;
    this.#master = this.siteId;
    this.#sync = 'ready';
    this.#gap.clear();
    this.#resetRetry();
    this.#broadcastLsn = this.#nextLsn;
    this.#shippedLsn = this.#nextLsn;
    this.#nextHeartbeatAt = this.#now + this.#config.heartbeatIntervalMs;
    for (const peer of this.#peers.values()) {
      peer.synced = false;
      peer.catchUp = undefined;
      peer.ackedLsn = 0;
      peer.ackLevel = undefined;
    }
    const bytes = Buffer.allocUnsafe(RECORD_HEADER_BYTES + NEW_GENERATION_PAYLOAD_BYTES);
    const payload = Buffer.allocUnsafe(NEW_GENERATION_PAYLOAD_BYTES);
    payload.writeUInt32LE(generation, 0);
    encodeRecordInto(bytes, 0, this.#nextLsn, generation, RecordType.newGeneration, 0, payload);
    this.#appendLocal(bytes, true);
    this.#effects.push({ type: 'flush', lsn: this.#nextLsn });
    this.#effects.push({ type: 'roleChanged', role: 'master', generation, master: this.siteId });
    this.#send('broadcast', this.#newMasterMessage(), 0);
  }

  /** Tells every connected client where the log ends; re-announces ourselves to those not in sync. */
  #heartbeat(): void {
    this.#nextHeartbeatAt = this.#now + this.#config.heartbeatIntervalMs;
    for (const [site, peer] of this.#peers) {
      if (!peer.connected) continue;
      if (peer.synced || peer.catchUp !== undefined) {
        this.#send(
          site,
          {
            type: 'heartbeat',
            generation: this.#generation,
            // What was shipped: records still batched are not announced (asynchronous mode ships them
            // on size, age or sync(); a client must not fetch them around the batching).
            nextLsn: this.#shippedLsn,
            permLsn: this.#lastCommitLsn,
          },
          0,
        );
      } else {
        this.#send(site, this.#newMasterMessage(), 0);
      }
    }
  }

  #dropMasterState(): void {
    this.#resetBulk();
    this.#reads.clear();
    this.#snapshots.clear();
    for (const peer of this.#peers.values()) {
      peer.synced = false;
      peer.catchUp = undefined;
    }
  }

  #newMasterMessage(): Message {
    return { type: 'newMaster', generation: this.#generation, nextLsn: this.#nextLsn };
  }

  #peer(site: SiteId): PeerState {
    let peer = this.#peers.get(site);
    if (peer === undefined) {
      peer = {
        connected: false,
        synced: false,
        ackedLsn: 0,
        ackLevel: undefined,
        nextLsn: 0,
        catchUp: undefined,
      };
      this.#peers.set(site, peer);
    }
    return peer;
  }

  #onPeerUp(site: SiteId): void {
    const peer = this.#peer(site);
    peer.connected = true;
    if (this.#role === 'master') this.#send(site, this.#newMasterMessage(), 0);
    else if (this.#role === 'client' && this.#master === undefined) {
      this.#send(site, { type: 'masterRequest', generation: this.#generation }, 0);
    }
  }

  #onPeerDown(site: SiteId): void {
    const peer = this.#peer(site);
    peer.connected = false;
    peer.synced = false;
    peer.catchUp = undefined;
    if (this.#role === 'client' && site === this.#master) {
      // Keep following it (it may come back); the election driver decides whether to elect.
      this.#armRetry();
    }
  }

  /** Live records go to every synced peer, batched when bulk is on. */
  #broadcast(bytes: Uint8Array, firstLsn: number, hasCommit: boolean, records: number): void {
    if (!this.#config.bulk.enabled) {
      this.#sendLiveNow(bytes, firstLsn, hasCommit);
      return;
    }
    this.#reserveBulk(bytes.length);
    this.#bulkBuffer.set(bytes, LOG_FRAME_PREFIX_BYTES + this.#bulkBytes);
    this.#addToBulk(firstLsn, bytes.length, hasCommit, records);
  }

  /** Bulk off: ships `bytes` at once. */
  #sendLiveNow(bytes: Uint8Array, firstLsn: number, hasCommit: boolean): void {
    this.#broadcastLsn = firstLsn + bytes.length;
    this.#sendLive(bytes, this.#history.generationAt(firstLsn - 1), hasCommit);
  }

  /** Counts `bytes` just written at the end of the bulk buffer into the batch; ships it when it is full. */
  #addToBulk(firstLsn: number, bytes: number, hasCommit: boolean, records: number): void {
    const bulk = this.#config.bulk;
    if (this.#bulkBytes === 0) {
      this.#bulkPrevGeneration = this.#history.generationAt(firstLsn - 1);
      this.#bulkStartedAt = this.#now;
    }
    this.#bulkBytes += bytes;
    this.#bulkRecords += records;
    this.#bulkHasCommit ||= hasCommit;
    this.#broadcastLsn = firstLsn + bytes;
    if (this.#bulkBytes >= bulk.maxBytes || this.#bulkRecords >= bulk.maxRecords) this.#flushBulk();
  }

  #flushBulk(): void {
    if (this.#bulkBytes === 0) return;
    const buffer = this.#bulkBuffer;
    const bytes = new Uint8Array(buffer.buffer, buffer.byteOffset + LOG_FRAME_PREFIX_BYTES, this.#bulkBytes);
    const hasCommit = this.#bulkHasCommit;
    const prevGeneration = this.#bulkPrevGeneration;
    this.#lastBulkBytes = this.#bulkBytes;
    this.#resetBulk();
    this.#sendLive(bytes, prevGeneration, hasCommit, buffer);
  }

  /** Empties the batch; its buffer goes with what was shipped (or is dropped) and is not written again. */
  #resetBulk(): void {
    this.#bulkBuffer = NO_BULK_BUFFER;
    this.#bulkView = NO_BULK_VIEW;
    this.#bulkBytes = 0;
    this.#bulkRecords = 0;
    this.#bulkHasCommit = false;
  }

  /**
   * Ships live records to every synced peer. `framed`: the bulk buffer the records sit in, after its
   * reserved prefix — the frame is then built around them here (the effect's `frame`), not copied.
   */
  #sendLive(bytes: Uint8Array, prevGeneration: number, hasCommit: boolean, framed?: Buffer): void {
    const flags = hasCommit ? SendFlags.PERMANENT : 0;
    const to: SiteId[] = [];
    for (const [site, peer] of this.#peers) if (peer.synced) to.push(site);
    const message: LogMessage = {
      type: 'log',
      generation: this.#generation,
      flags,
      prevLsn: prevLsnOf(bytes, prevGeneration),
      prevGeneration,
      records: bytes,
    };
    this.#effects.push({
      type: 'ship',
      to,
      message,
      flags,
      endLsn: this.#broadcastLsn,
      frame: framed === undefined || to.length === 0 ? undefined : encodeLogFrameInPlace(message, framed),
    });
    this.#shippedLsn = this.#broadcastLsn;
  }

  #onAck(from: SiteId, message: Extract<Message, { type: 'ack' }>): ProcessResult {
    if (this.#role !== 'master' || message.generation !== this.#generation)
      return ignore('ack for another generation');
    const peer = this.#peer(from);
    peer.nextLsn = Math.max(peer.nextLsn, message.nextLsn);
    if (message.lsn > peer.ackedLsn || (message.lsn === peer.ackedLsn && peer.ackLevel !== message.level)) {
      peer.ackedLsn = Math.max(peer.ackedLsn, message.lsn);
      peer.ackLevel = message.level;
      this.#effects.push({ type: 'acked', site: from, lsn: peer.ackedLsn, level: message.level });
    }
    this.#continueCatchUp(from, peer);
    return OK;
  }

  /** Does the requester's log, ending at `nextLsn` with a record of `lastGeneration`, agree with ours? */
  #agreesWith(nextLsn: number, lastGeneration: number): boolean {
    if (nextLsn > this.#nextLsn) return false;
    return this.#history.generationAt(nextLsn - 1) === lastGeneration;
  }

  #onSyncRequest(from: SiteId, message: Extract<Message, { type: 'syncRequest' }>): ProcessResult {
    if (this.#role !== 'master') return ignore('not master');
    if (message.generation > this.#generation) return ignore('sync request from a newer generation');
    const peer = this.#peer(from);
    peer.connected = true;
    peer.synced = false;
    peer.catchUp = undefined;
    peer.nextLsn = message.nextLsn;
    if (message.nextLsn < this.#firstLsn) {
      this.#startInit(from);
      return OK;
    }
    // Always answer with our history: the client finds the last record our logs share, rolls back to it
    // if it must, and knows it is in sync when that is its whole log.
    this.#send(
      from,
      {
        type: 'syncVerify',
        generation: this.#generation,
        firstLsn: this.#firstLsn,
        nextLsn: this.#nextLsn,
        history: this.#history.entries,
      },
      0,
    );
    if (!this.#agreesWith(message.nextLsn, message.lastGeneration)) return OK;
    peer.catchUp = { nextLsn: message.nextLsn, prevGeneration: message.lastGeneration, readId: undefined };
    this.#continueCatchUp(from, peer);
    return OK;
  }

  #startInit(site: SiteId): void {
    if (this.#snapshots.size >= MAX_SNAPSHOTS_IN_FLIGHT) return; // the client retries its sync request
    const requestId = this.#nextRequestId++;
    this.#snapshots.set(requestId, site);
    this.#effects.push({ type: 'takeSnapshot', requestId });
  }

  #onSnapshot(requestId: number, lsn: number, data: Uint8Array): void {
    const site = this.#snapshots.get(requestId);
    this.#snapshots.delete(requestId);
    if (site === undefined || this.#role !== 'master') return;
    const history = this.#history.entries.filter((entry) => entry.lsn < lsn);
    this.#send(
      site,
      { type: 'init', generation: this.#generation, snapshotLsn: lsn, history, snapshot: data },
      0,
    );
  }

  #continueCatchUp(site: SiteId, peer: PeerState): void {
    const catchUp = peer.catchUp;
    if (catchUp === undefined || catchUp.readId !== undefined || this.#role !== 'master') return;
    if (catchUp.nextLsn >= this.#broadcastLsn) {
      // Caught up with everything broadcast; the bulk buffer (if any) will reach it with the others.
      peer.catchUp = undefined;
      peer.synced = true;
      return;
    }
    if (catchUp.nextLsn - peer.nextLsn >= this.#config.catchUpWindowBytes) return; // wait for its acks
    if (this.#reads.size >= MAX_READS_IN_FLIGHT) return;
    const requestId = this.#nextRequestId++;
    catchUp.readId = requestId;
    this.#reads.set(requestId, {
      site,
      purpose: 'catchUp',
      prevGeneration: catchUp.prevGeneration,
      flags: SendFlags.REREQUEST,
    });
    this.#effects.push({
      type: 'readLog',
      requestId,
      fromLsn: catchUp.nextLsn,
      toLsn: this.#broadcastLsn,
      maxBytes: this.#config.catchUpChunkBytes,
    });
  }

  #onLogRequest(from: SiteId, message: Extract<Message, { type: 'logRequest' }>): ProcessResult {
    const serving =
      this.#role === 'master' ||
      (this.#role === 'client' && this.#sync === 'ready' && (message.flags & SendFlags.ANYWHERE) !== 0);
    if (!serving || message.generation !== this.#generation) return ignore('cannot serve this request');
    if (message.fromLsn < this.#firstLsn) {
      // Those records are gone from our log: the client needs an internal init, which it accepts only
      // while syncing. Announcing ourselves makes it re-sync; its sync request then gets the init.
      if (this.#role === 'master') this.#send(from, this.#newMasterMessage(), 0);
      return OK;
    }
    if (message.fromLsn >= this.#nextLsn || !this.#agreesWith(message.fromLsn, message.lastGeneration)) {
      return ignore('requested range not held here');
    }
    if (this.#reads.size >= MAX_READS_IN_FLIGHT) return ignore('too many reads in flight');
    const requestId = this.#nextRequestId++;
    this.#reads.set(requestId, {
      site: from,
      purpose: 'rerequest',
      prevGeneration: message.lastGeneration,
      flags: SendFlags.REREQUEST,
    });
    const toLsn = message.toLsn === 0 ? this.#nextLsn : Math.min(message.toLsn, this.#nextLsn);
    this.#effects.push({
      type: 'readLog',
      requestId,
      fromLsn: message.fromLsn,
      toLsn,
      maxBytes: Math.min(this.#config.catchUpChunkBytes, Math.max(1, toLsn - message.fromLsn)),
    });
    return OK;
  }

  #onLogRead(requestId: number, bytes: Uint8Array, fromLsn: number): void {
    const request = this.#reads.get(requestId);
    this.#reads.delete(requestId);
    if (request === undefined) return;
    const peer = this.#peers.get(request.site);
    if (request.purpose === 'catchUp') {
      if (peer?.catchUp?.readId !== requestId) return;
      peer.catchUp.readId = undefined;
    }
    if (bytes.length === 0) return;
    let offset = 0;
    let lastGeneration = request.prevGeneration;
    let hasCommit = false;
    while (offset < bytes.length) {
      lastGeneration = recordGenerationAt(bytes, offset);
      if (recordTypeAt(bytes, offset) === RecordType.commit) hasCommit = true;
      offset += recordLengthAt(bytes, offset);
    }
    const flags = request.flags | (hasCommit ? SendFlags.PERMANENT : 0);
    this.#send(
      request.site,
      {
        type: 'log',
        generation: this.#generation,
        flags,
        prevLsn: prevLsnOf(bytes, request.prevGeneration),
        prevGeneration: request.prevGeneration,
        records: bytes,
      },
      flags,
    );
    if (request.purpose === 'catchUp' && peer?.catchUp !== undefined) {
      peer.catchUp.nextLsn = fromLsn + bytes.length;
      peer.catchUp.prevGeneration = lastGeneration;
      this.#continueCatchUp(request.site, peer);
    }
  }

  #onLogReadFailed(requestId: number, firstLsn: number): void {
    const request = this.#reads.get(requestId);
    this.#reads.delete(requestId);
    if (request === undefined) return;
    this.#firstLsn = Math.max(this.#firstLsn, firstLsn);
    const peer = this.#peers.get(request.site);
    if (peer?.catchUp?.readId === requestId) peer.catchUp = undefined;
    if (this.#role === 'master') this.#startInit(request.site);
  }

  /**
   * The shell stored a snapshot at `firstLsn` and may remove the log below it: from now on this site
   * neither serves records nor rolls back below it (a client that would need either gets an internal init).
   */
  noteLogTrimmed(firstLsn: number): void {
    this.#firstLsn = Math.max(this.#firstLsn, firstLsn);
    // The history keeps its older entries (it is bounded on its own): where each generation began is
    // what lets a far-behind client find what it shares with us, records or no records.
  }

  #send(to: SiteId | 'broadcast', message: Message, flags: number): void {
    this.#effects.push({ type: 'send', to, message, flags });
  }

  /** For tests and the simulator: the level this site's acks claim. */
  get ackLevel(): AckLevel {
    return this.#config.ackLevel;
  }
  /** Rank helper re-exported for shells that compare levels. */
  static levelRank(level: AckLevel): number {
    return ACK_LEVEL_RANK[level];
  }
}

/** The wire's `prevLsn`: 0 when there is no previous record, else an LSN inside it (the one before the batch). */
function prevLsnOf(bytes: Uint8Array, prevGeneration: number): number {
  return prevGeneration === 0 ? 0 : recordLsnAt(bytes, 0) - 1;
}

/** LSN of the last commit record in a batch of encoded records (the batch is known to hold one). */
function lastCommitLsn(bytes: Uint8Array): number {
  let offset = 0;
  let commit = 0;
  while (offset < bytes.length) {
    if (recordTypeAt(bytes, offset) === RecordType.commit) commit = recordLsnAt(bytes, offset);
    offset += recordLengthAt(bytes, offset);
  }
  return commit;
}

export function assertNever(value: never): never {
  throw new Error(`unexpected ${JSON.stringify(value)}`);
}
