/**
 * A `kv node` child process, for the cluster launcher, the demo and the tests. The child is node itself
 * (not the `tsx` CLI, which would put a second process in between), so a signal — SIGSTOP, SIGKILL —
 * reaches the site and nothing else. It runs the code the way this module runs: from source with tsx as
 * a loader (`pnpm kv`, `pnpm demo`, the tests), or compiled (`node examples/kv-cluster/dist/cli.js`,
 * after `pnpm build`: the packages from their dist too).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { EXIT_WITH_PARENT_ENV, READY_LINE } from './child-protocol.js';

export const REPO_ROOT = fileURLToPath(new URL('../../..', import.meta.url));
/** This module is the compiled one (dist/site-process.js), not the source run through tsx. */
export const COMPILED = import.meta.url.endsWith('.js');
export const CLI_ENTRY = fileURLToPath(new URL(COMPILED ? './cli.js' : './cli.ts', import.meta.url));
/** The last stderr bytes kept, to explain a site that died. */
const STDERR_TAIL_BYTES = 8 * 1024;
/** A site that has not printed its ready line by then failed to start. */
export const START_TIMEOUT_MS = 30_000;

export interface SiteProcessOptions {
  /** More environment for the child (e.g. the log format). */
  readonly env?: Readonly<Record<string, string>>;
  /** Every line the child writes, as it comes. */
  readonly onLine?: (line: string, stream: 'stdout' | 'stderr') => void;
}

/** The command line that runs `kv node` with these flags, as `pnpm kv node …` does (or compiled: see above). */
export function nodeCommand(flags: readonly string[]): { command: string; args: string[] } {
  return {
    command: process.execPath,
    args: COMPILED
      ? [CLI_ENTRY, 'node', ...flags]
      : ['--conditions=@ackord/source', '--import', 'tsx', CLI_ENTRY, 'node', ...flags],
  };
}

export class SiteProcess {
  readonly id: string;
  readonly flags: readonly string[];
  readonly child: ChildProcess;
  /** Resolves with the site's HTTP URL once it is ready; rejects if it exits first. */
  readonly ready: Promise<string>;
  readonly exited: Promise<{ readonly code: number | null; readonly signal: NodeJS.Signals | null }>;
  #stderr = '';
  #exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;

  constructor(id: string, flags: readonly string[], options: SiteProcessOptions = {}) {
    this.id = id;
    this.flags = flags;
    const { command, args } = nodeCommand(flags);
    this.child = spawn(command, args, {
      cwd: REPO_ROOT,
      env: { ...process.env, ...options.env, [EXIT_WITH_PARENT_ENV]: '1' },
      stdio: ['pipe', 'pipe', 'pipe'],
      // Its own process group: a Ctrl-C in the launcher's terminal reaches the launcher, which stops
      // every site in order, rather than every site at once.
      detached: true,
    });
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        this.#exit = { code, signal };
        resolve({ code, signal });
      });
    });
    const stdout = createInterface({ input: this.child.stdout! });
    const stderr = createInterface({ input: this.child.stderr! });
    stderr.on('line', (line) => {
      this.#stderr = `${this.#stderr}${line}\n`.slice(-STDERR_TAIL_BYTES);
      options.onLine?.(line, 'stderr');
    });
    this.ready = new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(
          new Error(`site ${id} printed no ready line within ${START_TIMEOUT_MS} ms: ${this.stderrTail()}`),
        );
      }, START_TIMEOUT_MS);
      timer.unref();
      stdout.on('line', (line) => {
        options.onLine?.(line, 'stdout');
        const match = READY_LINE.exec(line);
        if (match !== null) {
          clearTimeout(timer);
          resolve(match[2]!);
        }
      });
      void this.exited.then(({ code, signal }) => {
        clearTimeout(timer);
        reject(new Error(`site ${id} exited (${code ?? signal}) before it was ready: ${this.stderrTail()}`));
      });
    });
    // Nobody may be waiting on `ready` (a site killed on purpose): its rejection is not an error then.
    this.ready.catch(() => undefined);
  }

  get pid(): number | undefined {
    return this.child.pid;
  }
  get running(): boolean {
    return this.#exit === undefined;
  }
  stderrTail(): string {
    return this.#stderr.trim();
  }

  signal(signal: NodeJS.Signals): void {
    if (this.running) this.child.kill(signal);
  }

  /** SIGTERM (a clean shutdown); SIGKILL if it has not exited within `timeoutMs`. */
  async stop(timeoutMs = 10_000): Promise<void> {
    if (!this.running) return;
    this.child.kill('SIGCONT'); // a paused site cannot shut down
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.signal('SIGKILL'), timeoutMs);
    await this.exited;
    clearTimeout(timer);
  }
}
