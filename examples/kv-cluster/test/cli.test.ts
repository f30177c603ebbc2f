/**
 * The `kv` command from outside: bad flags exit 2 with a message naming them, a two-site cluster over
 * WebSocket replicates, and `pnpm demo` runs its whole tour to exit code 0.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { CLI_ENTRY, REPO_ROOT } from '../src/site-process.js';
import { EXIT_USAGE } from '../src/usage-error.js';
import { call, get, put, startCluster, type TestCluster } from './harness.js';

const DEMO_ENTRY = fileURLToPath(new URL('../src/demo.ts', import.meta.url));

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Every child started here, so afterAll can kill what a failed test left behind. */
const children = new Set<ReturnType<typeof spawn>>();

function run(entry: string, args: readonly string[], timeoutMs: number): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--conditions=@ackord/source', '--import', 'tsx', entry, ...args],
      {
        cwd: REPO_ROOT,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    children.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(
        new Error(
          `${path.basename(entry)} ${args.join(' ')} ran over ${timeoutMs} ms:\n${stdout}\n${stderr}`,
        ),
      );
    }, timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      children.delete(child);
      resolve({ code, stdout, stderr });
    });
  });
}

let scratch: string | undefined;
let wsCluster: TestCluster | undefined;

afterAll(async () => {
  for (const child of children) child.kill('SIGKILL');
  await wsCluster?.stop();
  if (scratch !== undefined) await rm(scratch, { recursive: true, force: true });
});

describe('kv: bad configuration exits 2 with a clear message', () => {
  it('names each bad flag, a missing command, an unknown command and a bad cluster size', async () => {
    scratch = await mkdtemp(path.join(tmpdir(), 'ackord-kv-cli-'));
    const shortSecret = path.join(scratch, 'secret');
    await writeFile(shortSecret, 'too short\n');
    const base = [
      '--id',
      'a',
      '--listen',
      '127.0.0.1:1',
      '--http',
      '127.0.0.1:0',
      '--data',
      path.join(scratch, 'a'),
    ];
    const [badFlags, missing, unknownFlag, secret, noCommand, badCluster] = await Promise.all([
      run(
        CLI_ENTRY,
        ['node', ...base, '--ack', 'most', '--durability', 'sometimes', '--peer', 'b=nowhere'],
        30_000,
      ),
      run(CLI_ENTRY, ['node', '--data', scratch], 30_000),
      run(CLI_ENTRY, ['node', ...base, '--colour', 'blue'], 30_000),
      run(CLI_ENTRY, ['node', ...base, '--secret-file', shortSecret], 30_000),
      run(CLI_ENTRY, ['launch'], 30_000),
      run(CLI_ENTRY, ['cluster', '--sites', '0', '--base-port', 'x'], 30_000),
    ]);
    expect(badFlags.code).toBe(EXIT_USAGE);
    expect(badFlags.stderr).toMatch(/--ack: .*quorum/);
    expect(badFlags.stderr).toMatch(/--durability: expected none, write, fsync, dsync or delayed:MS/);
    expect(badFlags.stderr).toMatch(/--peer \(0\): expected ID=HOST:PORT/);
    expect(missing.code).toBe(EXIT_USAGE);
    expect(missing.stderr).toMatch(/--id: required/);
    expect(missing.stderr).toMatch(/--listen: required/);
    expect(unknownFlag.code).toBe(EXIT_USAGE);
    expect(unknownFlag.stderr).toMatch(/--colour/);
    expect(secret.code).toBe(EXIT_USAGE);
    expect(secret.stderr).toMatch(/--secret-file: the secret must be at least 16 bytes/);
    expect(noCommand.code).toBe(EXIT_USAGE);
    expect(noCommand.stderr).toMatch(/unknown command "launch"/);
    expect(badCluster.code).toBe(EXIT_USAGE);
    expect(badCluster.stderr).toMatch(/--sites: /);
    expect(badCluster.stderr).toMatch(/--base-port: expected a whole number/);
    for (const result of [badFlags, missing, unknownFlag, secret, noCommand, badCluster])
      expect(result.stderr).not.toMatch(/\n\s+at /); // a message, not a stack trace
  }, 40_000);
});

describe('kv node over WebSocket', () => {
  it('two sites elect a master and replicate through the ws transport', async () => {
    wsCluster = await startCluster({ ids: ['a', 'b'], transport: 'ws' });
    const master = await wsCluster.master();
    const other = wsCluster.ids.find((id) => id !== master.id)!;
    const write = await put(master.url, 'over-ws', 'hello', '?ack=all');
    expect(write.status, write.text).toBe(200);
    expect(write.json).toMatchObject({ perm: true, acks: 1 });
    const read = await get(wsCluster.url(other), 'over-ws', `?token=${write.json!.token}`);
    expect(read.text).toBe('hello');
    const status = await call(`${wsCluster.url(other)}/status`);
    expect(status.json).toMatchObject({ transport: 'ws', role: 'client', master: { id: master.id } });
  }, 60_000);
});

describe('pnpm demo', () => {
  it('runs its whole tour and exits 0', async () => {
    const result = await run(DEMO_ENTRY, [], 90_000);
    expect(result.code, `${result.stdout}\n${result.stderr}`).toBe(0);
    expect(result.stdout).toContain('demo passed');
    expect(result.stdout).toMatch(/all +202 +false/);
    expect(result.stdout).toMatch(/is master at generation \d+ \(was \d+\), \d+ ms after the kill/);
    expect(result.stdout).toMatch(/rejoined as a client of [abc]/);
    expect(result.stdout).not.toContain('✗');
  }, 95_000);
});
