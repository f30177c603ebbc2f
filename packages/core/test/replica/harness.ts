/**
 * Shared helpers of the ReplicaCore tests (not a test file itself). The core is driven directly: logs
 * are built by hand (`LogBuilder`), inputs are stepped one by one, effects are read with
 * `takeEffects()`. `Cluster` wires two or three cores into a script: `send`/`ship` effects become
 * `message` inputs (through the real wire encoder and decoder, so every message the core emits must be
 * a valid frame), `append` effects go into an in-memory log that answers `readLog`, and appends turn
 * into `durable` inputs (at once, or when the test says so).
 */
import {
  type AckLevel,
  type AppliedTransaction,
  DEFAULT_CORE_CONFIG,
  decodeFrame,
  decodeRecordAt,
  encodeMessage,
  encodeRecord,
  type HistoryEntry,
  type LogMessage,
  type LogPosition,
  type LogRecord,
  type Message,
  type ProcessResult,
  RecordType,
  ReplicaCore,
  type ReplicaCoreConfig,
  type ReplicaEffect,
  type ReplicaInput,
  SendFlags,
  type SiteId,
} from '../../src/index.js';

export const EMPTY_LOG: LogPosition = {
  firstLsn: 1,
  nextLsn: 1,
  writtenLsn: 1,
  durableLsn: 1,
  history: [],
  nextTxnId: 1,
};

/** Size of a new-generation record (header + u32 generation). */
export const GENERATION_RECORD_BYTES = 36;

export function coreConfig(siteId: SiteId, overrides: Partial<ReplicaCoreConfig> = {}): ReplicaCoreConfig {
  return {
    ...DEFAULT_CORE_CONFIG,
    siteId,
    peers: [],
    ackLevel: 'flushed',
    view: false,
    log: EMPTY_LOG,
    now: 0,
    ...overrides,
  };
}

/** Bulk settings: the defaults with these changes (whatever other knobs the defaults gain). */
export function bulk(overrides: Partial<ReplicaCoreConfig['bulk']>): ReplicaCoreConfig['bulk'] {
  return { ...DEFAULT_CORE_CONFIG.bulk, ...overrides };
}

export const text = (bytes: Uint8Array): string => Buffer.from(bytes).toString('utf8');

export function message(from: SiteId, body: Message): ReplicaInput {
  return { type: 'message', from, message: body };
}

/** Steps one input and returns its result with the effects it produced. */
export function drive(
  core: ReplicaCore,
  input: ReplicaInput,
): { result: ProcessResult; effects: ReplicaEffect[] } {
  const result = core.step(input);
  return { result, effects: core.takeEffects() };
}

export type SendEffect = Extract<ReplicaEffect, { type: 'send' }>;
export type ShipEffect = Extract<ReplicaEffect, { type: 'ship' }>;

export function ofType<T extends ReplicaEffect['type']>(
  effects: readonly ReplicaEffect[],
  type: T,
): Extract<ReplicaEffect, { type: T }>[] {
  return effects.filter((effect): effect is Extract<ReplicaEffect, { type: T }> => effect.type === type);
}

/** The `send` effects carrying a message of `type`. */
export function sendsOf<T extends Message['type']>(
  effects: readonly ReplicaEffect[],
  type: T,
): (SendEffect & { message: Extract<Message, { type: T }> })[] {
  return ofType(effects, 'send').filter(
    (effect): effect is SendEffect & { message: Extract<Message, { type: T }> } =>
      effect.message.type === type,
  );
}

/** Decodes a buffer of whole records (they must all decode: checksums, lengths, contiguous LSNs). */
export function decodeRecords(bytes: Uint8Array): LogRecord[] {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const records: LogRecord[] = [];
  let offset = 0;
  let expected: number | undefined;
  while (offset < buffer.length) {
    const decoded = decodeRecordAt(buffer, offset, buffer.length, 1 << 30, expected);
    if (!decoded.ok) throw new Error(`bad record at offset ${offset}: ${decoded.error}`);
    records.push(decoded.record);
    expected = decoded.record.lsn + decoded.size;
    offset += decoded.size;
  }
  return records;
}

export interface Span {
  readonly firstLsn: number;
  readonly endLsn: number;
  readonly bytes: Buffer;
}

export interface TxnSpan extends Span {
  readonly txnId: number;
  readonly generation: number;
  readonly commitLsn: number;
  readonly payloads: readonly string[];
}

/** Builds a log record by record, as a master would have written it. */
export class LogBuilder {
  readonly firstLsn: number;
  nextLsn: number;
  readonly history: HistoryEntry[] = [];
  nextTxnId = 1;
  readonly #chunks: Buffer[] = [];

  constructor(firstLsn = 1) {
    this.firstLsn = firstLsn;
    this.nextLsn = firstLsn;
  }

  #push(generation: number, type: RecordType, txnId: number, payload: Uint8Array): Span {
    const lsn = this.nextLsn;
    const bytes = encodeRecord({ lsn, generation, type, txnId, payload });
    if (this.history.at(-1)?.generation !== generation) this.history.push({ generation, lsn });
    this.#chunks.push(bytes);
    this.nextLsn += bytes.length;
    if (txnId >= this.nextTxnId) this.nextTxnId = txnId + 1;
    return { firstLsn: lsn, endLsn: this.nextLsn, bytes };
  }

  newGeneration(generation: number): Span {
    const payload = Buffer.alloc(4);
    payload.writeUInt32LE(generation, 0);
    return this.#push(generation, RecordType.newGeneration, 0, payload);
  }

  data(generation: number, txnId: number, payload: string): Span {
    return this.#push(generation, RecordType.data, txnId, Buffer.from(payload, 'utf8'));
  }

  commit(generation: number, txnId: number, count: number): Span {
    const payload = Buffer.alloc(4);
    payload.writeUInt32LE(count, 0);
    return this.#push(generation, RecordType.commit, txnId, payload);
  }

  abort(generation: number, txnId: number): Span {
    return this.#push(generation, RecordType.abort, txnId, Buffer.alloc(0));
  }

  /** A whole transaction: one data record per payload, then the commit record. */
  txn(generation: number, payloads: readonly string[], txnId = this.nextTxnId): TxnSpan {
    const firstLsn = this.nextLsn;
    const parts = payloads.map((payload) => this.data(generation, txnId, payload));
    const commit = this.commit(generation, txnId, payloads.length);
    return {
      firstLsn,
      endLsn: commit.endLsn,
      bytes: Buffer.concat([...parts.map((part) => part.bytes), commit.bytes]),
      txnId,
      generation,
      commitLsn: commit.firstLsn,
      payloads,
    };
  }

  get bytes(): Buffer {
    return Buffer.concat(this.#chunks);
  }

  /** What a site whose log is exactly this one starts from. */
  position(overrides: Partial<LogPosition> = {}): LogPosition {
    return {
      firstLsn: this.firstLsn,
      nextLsn: this.nextLsn,
      writtenLsn: this.nextLsn,
      durableLsn: this.nextLsn,
      history: [...this.history],
      nextTxnId: this.nextTxnId,
      ...overrides,
    };
  }
}

/** A `log` message for records that follow a record of `prevGeneration` (0: nothing before them). */
export function logMessage(
  generation: number,
  prevGeneration: number,
  records: Buffer,
  flags = 0,
): LogMessage {
  const hasCommit = decodeRecords(records).some((record) => record.type === RecordType.commit);
  const firstLsn = records.readUInt32LE(8) + records.readUInt32LE(12) * 0x1_0000_0000;
  return {
    type: 'log',
    generation,
    flags: flags | (hasCommit ? SendFlags.PERMANENT : 0),
    prevLsn: prevGeneration === 0 ? 0 : firstLsn - 1,
    prevGeneration,
    records,
  };
}

/**
 * A client core in sync with master `M`: its log is `master`'s so far (a new-generation record of
 * `generation`); it heard `M` announce itself and verified its log against it. Returns the builder the
 * test keeps writing the master's records with.
 */
export function readyClient(
  overrides: Partial<ReplicaCoreConfig> = {},
  generation = 1,
  siteId: SiteId = 'C',
): { core: ReplicaCore; master: LogBuilder } {
  const master = new LogBuilder();
  master.newGeneration(generation);
  const core = new ReplicaCore(coreConfig(siteId, { peers: ['M'], log: master.position(), ...overrides }));
  core.step(message('M', { type: 'newMaster', generation, nextLsn: master.nextLsn }));
  core.step(
    message('M', {
      type: 'syncVerify',
      generation,
      firstLsn: master.firstLsn,
      nextLsn: master.nextLsn,
      history: [...master.history],
    }),
  );
  core.takeEffects();
  if (core.syncState !== 'ready' || core.master !== 'M') throw new Error('readyClient: not in sync');
  return { core, master };
}

/** A site's log as the shell would keep it: bytes from `firstLsn`, answering reads with whole records. */
export class MemoryLog {
  firstLsn: number;
  #bytes: Buffer;

  constructor(firstLsn = 1, bytes: Buffer = Buffer.alloc(0)) {
    this.firstLsn = firstLsn;
    this.#bytes = bytes;
  }

  static of(builder: LogBuilder): MemoryLog {
    return new MemoryLog(builder.firstLsn, builder.bytes);
  }

  get nextLsn(): number {
    return this.firstLsn + this.#bytes.length;
  }
  get bytes(): Buffer {
    return this.#bytes;
  }
  records(): LogRecord[] {
    return decodeRecords(this.#bytes);
  }

  append(firstLsn: number, bytes: Uint8Array): void {
    if (firstLsn !== this.nextLsn) throw new Error(`append at ${firstLsn}, log ends at ${this.nextLsn}`);
    this.#bytes = Buffer.concat([this.#bytes, bytes]);
  }

  truncate(toLsn: number): void {
    if (toLsn < this.firstLsn || toLsn > this.nextLsn) throw new Error(`truncate to ${toLsn} out of range`);
    this.#bytes = this.#bytes.subarray(0, toLsn - this.firstLsn);
  }

  reset(lsn: number): void {
    this.firstLsn = lsn;
    this.#bytes = Buffer.alloc(0);
  }

  trimBefore(lsn: number): void {
    this.#bytes = this.#bytes.subarray(lsn - this.firstLsn);
    this.firstLsn = lsn;
  }

  /** Whole records from `fromLsn`, at most `maxBytes` (but at least one), none at or past `toLsn`. */
  read(fromLsn: number, toLsn: number, maxBytes: number): Buffer | undefined {
    if (fromLsn < this.firstLsn) return undefined;
    const start = fromLsn - this.firstLsn;
    const end = Math.min(toLsn, this.nextLsn) - this.firstLsn;
    let offset = start;
    while (offset < end) {
      const length = this.#bytes.readUInt32LE(offset + 4);
      if (offset + length - start > maxBytes && offset > start) break;
      offset += length;
    }
    return this.#bytes.subarray(start, offset);
  }
}

export interface Committed {
  readonly commitLsn: number;
  readonly payloads: readonly string[];
}

export interface SiteOptions {
  readonly config?: Partial<ReplicaCoreConfig>;
  /** The site's log at start (default: empty). */
  readonly log?: LogBuilder;
  /** 'auto': every append is reported durable once the effects of the step are done. */
  readonly durability?: 'auto' | 'manual';
}

export interface Envelope {
  readonly from: SiteId;
  readonly to: SiteId;
  readonly message: Message;
}

export interface Delivery extends Envelope {
  readonly result: ProcessResult;
}

/** One core and the shell state around it: its log, its applied state, what it did. */
export class Site {
  readonly id: SiteId;
  readonly core: ReplicaCore;
  readonly log: MemoryLog;
  durability: 'auto' | 'manual';
  /** Committed transactions applied here, in order (rollbacks and restores remove them). */
  state: Committed[] = [];
  readonly applied: AppliedTransaction[] = [];
  /** Every effect the core produced, in order. */
  readonly effects: ReplicaEffect[] = [];

  constructor(id: SiteId, options: SiteOptions) {
    this.id = id;
    this.durability = options.durability ?? 'auto';
    this.log = options.log ? MemoryLog.of(options.log) : new MemoryLog();
    const position = options.log ? options.log.position() : EMPTY_LOG;
    this.core = new ReplicaCore(coreConfig(id, { log: position, ...options.config }));
    if (options.log) {
      for (const record of this.log.records()) {
        if (record.type !== RecordType.commit) continue;
        const payloads = this.log
          .records()
          .filter((other) => other.type === RecordType.data && other.txnId === record.txnId)
          .map((other) => text(other.payload));
        this.state.push({ commitLsn: record.lsn, payloads });
      }
    }
  }

  effectsOf<T extends ReplicaEffect['type']>(type: T): Extract<ReplicaEffect, { type: T }>[] {
    return ofType(this.effects, type);
  }

  get ackLevel(): AckLevel {
    return this.core.ackLevel;
  }
}

/** Two or three cores wired together; messages travel FIFO through a queue the test can filter. */
export class Cluster {
  readonly sites = new Map<SiteId, Site>();
  readonly queue: Envelope[] = [];
  readonly deliveries: Delivery[] = [];
  readonly dropped: Envelope[] = [];
  now = 0;
  /** Links that are cut: messages across them are dropped (kept in `dropped`). */
  readonly #cut = new Set<string>();
  /** Return false to drop a message (it goes to `dropped`). */
  filter: ((envelope: Envelope) => boolean) | undefined;
  readonly ids: readonly SiteId[];

  /** `ids`: the group; each site's `peers` are the others unless its options say otherwise. */
  constructor(ids: readonly SiteId[]) {
    this.ids = ids;
  }

  add(id: SiteId, options: SiteOptions = {}): Site {
    const peers = options.config?.peers ?? this.ids.filter((other) => other !== id);
    const site = new Site(id, { ...options, config: { now: this.now, ...options.config, peers } });
    this.sites.set(id, site);
    return site;
  }

  site(id: SiteId): Site {
    const site = this.sites.get(id);
    if (site === undefined) throw new Error(`no site ${id}`);
    return site;
  }

  /** Steps an input on a site and performs the effects (its own and those they cause). */
  step(id: SiteId, input: ReplicaInput): ProcessResult {
    const site = this.site(id);
    const result = site.core.step(input);
    this.#perform(site);
    return result;
  }

  /** Proposes on a master and, as the shell does after a commit, flushes the bulk buffer. */
  propose(id: SiteId, payloads: readonly string[]): ReturnType<ReplicaCore['propose']> {
    const site = this.site(id);
    const result = site.core.propose(payloads.map((payload) => Buffer.from(payload, 'utf8')));
    this.#perform(site);
    this.step(id, { type: 'flushBulk' });
    return result;
  }

  /** Both ends learn the link is up. */
  connect(a: SiteId, b: SiteId): void {
    this.#cut.delete(linkKey(a, b));
    this.step(a, { type: 'peerUp', site: b });
    this.step(b, { type: 'peerUp', site: a });
  }

  cut(a: SiteId, b: SiteId): void {
    this.#cut.add(linkKey(a, b));
  }

  /** Delivers queued messages until none is left. */
  run(maxDeliveries = 100_000): void {
    let count = 0;
    while (this.queue.length > 0) {
      if (++count > maxDeliveries) throw new Error('cluster did not settle');
      this.deliver(this.queue.shift()!);
    }
  }

  deliver(envelope: Envelope): ProcessResult | undefined {
    if (this.#cut.has(linkKey(envelope.from, envelope.to)) || this.filter?.(envelope) === false) {
      this.dropped.push(envelope);
      return undefined;
    }
    const result = this.step(envelope.to, {
      type: 'message',
      from: envelope.from,
      message: envelope.message,
    });
    this.deliveries.push({ ...envelope, result });
    return result;
  }

  /** Moves every site's clock to `now` (ticks) and delivers what follows. */
  tickTo(now: number): void {
    this.now = now;
    for (const id of this.sites.keys()) this.step(id, { type: 'tick', now });
    this.run();
  }

  /** Reports a site's log durable (manual durability). */
  durable(id: SiteId, lsn = this.site(id).log.nextLsn): void {
    this.step(id, { type: 'durable', writtenLsn: lsn, durableLsn: lsn });
  }

  resultsAt(id: SiteId): Delivery[] {
    return this.deliveries.filter((delivery) => delivery.to === id);
  }

  #enqueue(from: SiteId, to: SiteId, body: Message): void {
    // Through the real wire format: a message the decoder would refuse fails the test here.
    const decoded = decodeFrame(encodeMessage(body));
    if (!decoded.ok)
      throw new Error(`${from} → ${to}: ${body.type} does not decode: ${decoded.error.message}`);
    this.queue.push({ from, to, message: decoded.message });
  }

  #perform(site: Site): void {
    for (;;) {
      const effects = site.core.takeEffects();
      if (effects.length === 0) return;
      let appended = false;
      for (const effect of effects) {
        site.effects.push(effect);
        switch (effect.type) {
          case 'append':
            site.log.append(effect.firstLsn, effect.bytes);
            appended = true;
            break;
          case 'send':
            for (const to of effect.to === 'broadcast' ? [...this.sites.keys()] : [effect.to]) {
              if (to !== site.id && this.sites.has(to)) this.#enqueue(site.id, to, effect.message);
            }
            break;
          case 'ship':
            for (const to of effect.to) this.#enqueue(site.id, to, effect.message);
            break;
          case 'readLog': {
            const bytes = site.log.read(effect.fromLsn, effect.toLsn, effect.maxBytes);
            site.core.step(
              bytes === undefined
                ? { type: 'logReadFailed', requestId: effect.requestId, firstLsn: site.log.firstLsn }
                : { type: 'logRead', requestId: effect.requestId, bytes, fromLsn: effect.fromLsn },
            );
            break;
          }
          case 'truncate':
            site.log.truncate(effect.toLsn);
            site.state = site.state.filter((txn) => txn.commitLsn < effect.toLsn);
            break;
          case 'apply':
            site.applied.push(effect.txn);
            site.state.push({ commitLsn: effect.txn.commitLsn, payloads: effect.txn.payloads.map(text) });
            break;
          case 'takeSnapshot':
            site.core.step({
              type: 'snapshotTaken',
              requestId: effect.requestId,
              lsn: site.log.nextLsn,
              data: Buffer.from(JSON.stringify(site.state)),
            });
            break;
          case 'restore':
            site.log.reset(effect.lsn);
            site.state = JSON.parse(text(effect.snapshot)) as Committed[];
            break;
          default:
            break;
        }
      }
      if (appended && site.durability === 'auto') {
        site.core.step({ type: 'durable', writtenLsn: site.log.nextLsn, durableLsn: site.log.nextLsn });
      }
    }
  }
}

function linkKey(a: SiteId, b: SiteId): string {
  return a < b ? `${a}|${b}` : `${b}|${a}`;
}

/** Payload texts of the committed transactions a site holds, flattened in commit order. */
export function stateTexts(site: Site): string[] {
  return site.state.flatMap((txn) => txn.payloads);
}
