/** The controller's side of relay-process.ts: starts it, sends commands, waits for replies. */
import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { signalTracked, spawnTracked } from './processes.js';
import type { LinkSpec, LinkState, RelayStats } from './relay.js';
import type { RelayCommand } from './relay-process.js';

const RELAY_ENTRY = fileURLToPath(new URL('./relay-process.ts', import.meta.url));
export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const REPLY_TIMEOUT_MS = 10_000;

export class RelayClient {
  readonly #child: ChildProcess;
  readonly #waiting = new Map<
    number,
    { resolve: (value: unknown) => void; reject: (error: Error) => void }
  >();
  readonly #ready: Promise<void>;
  #nextId = 1;
  #stderr = '';

  private constructor(seed: number) {
    this.#child = spawnTracked(process.execPath, ['--import', 'tsx', RELAY_ENTRY], {
      cwd: REPO_ROOT,
      env: { ...process.env, RELAY_SEED: String(seed) },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.#child.stdin!.on('error', () => undefined);
    this.#child.stderr!.setEncoding('utf8');
    this.#child.stderr!.on('data', (chunk: string) => {
      this.#stderr = (this.#stderr + chunk).slice(-4000);
    });
    let ready: () => void = () => undefined;
    this.#ready = new Promise((resolve, reject) => {
      ready = resolve;
      this.#child.once('exit', (code, signal) => {
        const error = new Error(`the relay exited (${code ?? signal}): ${this.#stderr}`);
        reject(error);
        for (const waiting of this.#waiting.values()) waiting.reject(error);
        this.#waiting.clear();
      });
    });
    this.#ready.catch(() => undefined);
    createInterface({ input: this.#child.stdout! }).on('line', (line) => {
      let message: { ready?: true; id?: number; ok?: boolean; result?: unknown; error?: string };
      try {
        message = JSON.parse(line);
      } catch {
        return;
      }
      if (message.ready) {
        ready();
        return;
      }
      const waiting = this.#waiting.get(message.id ?? -1);
      if (waiting === undefined) return;
      this.#waiting.delete(message.id!);
      if (message.ok) waiting.resolve(message.result);
      else waiting.reject(new Error(`relay: ${message.error}`));
    });
  }

  static async start(seed: number): Promise<RelayClient> {
    const client = new RelayClient(seed);
    await client.#ready;
    return client;
  }

  #request<T>(command: RelayCommand): Promise<T> {
    const id = this.#nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiting.delete(id);
        reject(new Error(`relay: no reply to ${command.cmd}`));
      }, REPLY_TIMEOUT_MS);
      this.#waiting.set(id, {
        resolve: (value) => {
          clearTimeout(timer);
          resolve(value as T);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      });
      this.#child.stdin!.write(`${JSON.stringify({ ...command, id })}\n`);
    });
  }

  addLinks(links: readonly LinkSpec[]): Promise<number[]> {
    return this.#request({ cmd: 'addLinks', links });
  }
  set(changes: readonly { from: string; to: string; state: Partial<LinkState> }[]): Promise<void> {
    return this.#request({ cmd: 'set', changes });
  }
  heal(): Promise<void> {
    return this.#request({ cmd: 'heal' });
  }
  cut(from: string, to: string): Promise<number> {
    return this.#request({ cmd: 'cut', from, to });
  }
  stats(): Promise<RelayStats> {
    return this.#request({ cmd: 'stats' });
  }

  async close(): Promise<void> {
    if (this.#child.exitCode !== null || this.#child.signalCode !== null) return;
    const exited = new Promise((resolve) => this.#child.once('exit', resolve));
    this.#child.stdin!.end();
    const timer = setTimeout(() => signalTracked(this.#child, 'SIGKILL'), 2_000);
    await exited;
    clearTimeout(timer);
  }
}
