/**
 * The `kv node` processes of a chaos run: started exactly as `pnpm kv node …` runs them (node with tsx
 * as its loader and the @ackord/source condition; examples/kv-cluster/src/site-process.ts), each in its
 * own process group, each site's stderr appended to `<logDir>/<id>.log` across restarts (one marker line
 * per start), so a failing run keeps every site's whole story.
 */
import type { ChildProcess } from 'node:child_process';
import { appendFileSync, closeSync, openSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { EXIT_WITH_PARENT_ENV, READY_LINE } from '../../examples/kv-cluster/src/child-protocol.js';
import { nodeCommand, REPO_ROOT } from '../../examples/kv-cluster/src/site-process.js';
import type { Network } from './network.js';
import { signalTracked, spawnTracked } from './processes.js';

export const SITE_START_TIMEOUT_MS = 30_000;

export interface SiteConfig {
  readonly transport: 'tcp' | 'ws';
  readonly electionTimeoutMs: number;
  readonly ackTimeoutMs: number;
  readonly durability: string;
  /** A durability mode per site, overriding `durability` (the P9 check runs one mode per site). */
  readonly durabilityBySite?: ReadonlyMap<string, string>;
  readonly logLevel: string;
  readonly extraFlags?: readonly string[];
}

export type SiteState = 'down' | 'starting' | 'up' | 'paused';

export interface UnexpectedExit {
  readonly site: string;
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly atMs: number;
}

export class KvSite {
  readonly id: string;
  readonly dataDir: string;
  readonly logPath: string;
  readonly url: string;
  readonly #network: Network;
  readonly #ids: readonly string[];
  readonly #config: SiteConfig;
  readonly #onUnexpectedExit: (exit: UnexpectedExit) => void;
  #child: ChildProcess | undefined;
  #state: SiteState = 'down';
  /** Set when the controller kills the process on purpose. */
  #expectExit = false;
  starts = 0;
  /** Run time (ms) at which the current process printed its ready line. */
  readyAtMs = 0;

  constructor(options: {
    id: string;
    ids: readonly string[];
    dataRoot: string;
    logDir: string;
    network: Network;
    config: SiteConfig;
    onUnexpectedExit: (exit: UnexpectedExit) => void;
  }) {
    this.id = options.id;
    this.#ids = options.ids;
    this.dataDir = path.join(options.dataRoot, options.id);
    this.logPath = path.join(options.logDir, `${options.id}.log`);
    this.#network = options.network;
    this.#config = options.config;
    this.#onUnexpectedExit = options.onUnexpectedExit;
    const http = options.network.http(options.id);
    this.url = `http://${http.host}:${http.port}`;
  }

  get state(): SiteState {
    return this.#state;
  }
  get pid(): number | undefined {
    return this.#child?.pid;
  }

  flags(): string[] {
    const listen = this.#network.listen(this.id);
    const http = this.#network.http(this.id);
    const config = this.#config;
    return [
      ...[
        '--id',
        this.id,
        '--listen',
        `${listen.host}:${listen.port}`,
        '--http',
        `${http.host}:${http.port}`,
      ],
      ...['--data', this.dataDir, '--transport', config.transport],
      ...this.#ids.flatMap((other) => {
        if (other === this.id) return [];
        const peer = this.#network.peer(this.id, other);
        return ['--peer', `${other}=${peer.host}:${peer.port}`];
      }),
      ...['--election-timeout-ms', String(config.electionTimeoutMs)],
      ...['--ack-timeout-ms', String(config.ackTimeoutMs)],
      ...['--durability', config.durabilityBySite?.get(this.id) ?? config.durability],
      ...['--log-level', config.logLevel],
      ...(config.extraFlags ?? []),
    ];
  }

  /** Starts the process; resolves once it printed its ready line. `runStart`: the run's performance.now() origin. */
  async start(runStart: number): Promise<void> {
    if (this.#state !== 'down') throw new Error(`site ${this.id} is ${this.#state}`);
    this.#state = 'starting';
    this.starts++;
    const base = nodeCommand(this.flags());
    const { command, args } = this.#network.command(this.id, base.command, base.args);
    appendFileSync(
      this.logPath,
      `${JSON.stringify({ chaos: 'start', site: this.id, start: this.starts, atMs: Math.round(performance.now() - runStart), wall: new Date().toISOString(), command: [command, ...args].join(' ') })}\n`,
    );
    const fd = openSync(this.logPath, 'a');
    let child: ChildProcess;
    try {
      child = spawnTracked(command, args, {
        cwd: REPO_ROOT,
        env: { ...process.env, KV_LOG_FORMAT: 'json', [EXIT_WITH_PARENT_ENV]: '1' },
        stdio: ['pipe', 'pipe', fd],
      });
    } finally {
      closeSync(fd);
    }
    this.#child = child;
    this.#expectExit = false;
    child.stdin!.on('error', () => undefined);
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.once('exit', (code, signal) => resolve({ code, signal })),
    );
    void exited.then(({ code, signal }) => {
      if (this.#child !== child) return;
      this.#child = undefined;
      this.#state = 'down';
      if (!this.#expectExit)
        this.#onUnexpectedExit({ site: this.id, code, signal, atMs: performance.now() - runStart });
    });
    const ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`site ${this.id} printed no ready line in ${SITE_START_TIMEOUT_MS} ms`)),
        SITE_START_TIMEOUT_MS,
      );
      createInterface({ input: child.stdout! }).on('line', (line) => {
        if (READY_LINE.test(line)) {
          clearTimeout(timer);
          resolve();
        }
      });
      void exited.then(({ code, signal }) => {
        clearTimeout(timer);
        reject(
          new Error(`site ${this.id} exited (${code ?? signal}) before it was ready: see ${this.logPath}`),
        );
      });
    });
    try {
      await ready;
    } catch (error) {
      this.#expectExit = true;
      signalTracked(child, 'SIGKILL');
      await exited;
      throw error;
    }
    if (this.#child === child && this.#state === 'starting') this.#state = 'up';
    this.readyAtMs = performance.now() - runStart;
  }

  /** kill -9; resolves once the process is gone (its data-directory lock released). */
  async kill(): Promise<void> {
    const child = this.#child;
    if (child === undefined) return;
    this.#expectExit = true;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    signalTracked(child, 'SIGKILL');
    await exited;
  }

  pause(): void {
    if (this.#child === undefined || this.#state !== 'up') return;
    signalTracked(this.#child, 'SIGSTOP');
    this.#state = 'paused';
  }

  resume(): void {
    if (this.#child === undefined || this.#state !== 'paused') return;
    signalTracked(this.#child, 'SIGCONT');
    this.#state = 'up';
  }

  /** Removes the data directory (the site must be down). */
  async wipe(): Promise<void> {
    if (this.#state !== 'down') throw new Error(`site ${this.id} is ${this.#state}: cannot wipe`);
    await rm(this.dataDir, { recursive: true, force: true });
  }

  note(event: Record<string, unknown>): void {
    try {
      appendFileSync(this.logPath, `${JSON.stringify({ chaos: 'note', site: this.id, ...event })}\n`);
    } catch {
      // The log is for people; a failed note changes nothing.
    }
  }
}
