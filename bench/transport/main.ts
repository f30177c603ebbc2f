/**
 * `pnpm bench:transport [--quick] [--seconds S] [--runs N] [--only tcp,ws]`: frames/s and round-trip
 * p50/p99 of an echo over loopback, 128 B frames, at concurrency 1 (ping-pong) and 64 (pipelined),
 * through the Ackord TCP transport and, in the same run, through a bare `node:net` socket with the same
 * framing (the ceiling); the same for WebSocket when `@ackord/transport-ws` exports `createWsTransport`
 * (a bare `ws` echo is its ceiling). The echo side runs in a forked process. Writes
 * bench/results/transport.json and transport.md and prints the table.
 *
 * Profiling both processes (the fork inherits the flags):
 *   node --cpu-prof --cpu-prof-dir=/tmp/prof --conditions=@ackord/source --import tsx bench/transport/main.ts --quick --only tcp
 *   pnpm tsx bench/core/profile-summary.ts /tmp/prof/<one file>.cpuprofile
 */
import { type ChildProcess, fork } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type BenchArgs, parseArgs } from './args.js';
import { runOnce } from './drive.js';
import type { ServerMessage, ServerName } from './echo-server.js';
import type { EchoLink } from './link.js';
import {
  type CellSpec,
  cellName,
  consoleTable,
  evaluateTargets,
  type Implementation,
  markdown,
  type Results,
  summarize,
  targetsText,
} from './report.js';
import { connectAckordTcp, connectBareTcp } from './tcp.js';
import { connectAckordWs, connectBareWs, loadAckordWs } from './ws.js';

const PAYLOAD_BYTES = 128;
const CONCURRENCIES = [1, 64] as const;

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, '../..');
const resultsDir = path.join(repoRoot, 'bench', 'results');

function progress(text: string): void {
  process.stderr.write(`${text}\n`);
}

function startEchoServer(args: BenchArgs): Promise<{ child: ChildProcess; message: ServerMessage }> {
  const child = fork(path.join(here, 'echo-server.ts'), [args.families.join(',')], { stdio: 'inherit' });
  return new Promise((resolve, reject) => {
    child.once('message', (message) => resolve({ child, message: message as ServerMessage }));
    child.once('exit', (code) => reject(new Error(`the echo server exited (${code}) before it was ready`)));
  });
}

async function connectAll(
  ports: Partial<Record<ServerName, number>>,
  skipped: string[],
): Promise<Map<string, EchoLink>> {
  const links = new Map<string, EchoLink>();
  const connectors: Record<ServerName, (port: number) => Promise<EchoLink>> = {
    'bare-tcp': connectBareTcp,
    'ackord-tcp': connectAckordTcp,
    'bare-ws': connectBareWs,
    'ackord-ws': async (port) => {
      const ackordWs = await loadAckordWs();
      if ('skipped' in ackordWs) throw new Error(ackordWs.skipped);
      return connectAckordWs(ackordWs.factory, port);
    },
  };
  for (const [name, port] of Object.entries(ports) as [ServerName, number][]) {
    try {
      links.set(name, await connectors[name](port));
    } catch (error) {
      skipped.push(`${name}: ${(error as Error).message}`);
    }
  }
  return links;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const started = performance.now();
  const loadStart = os.loadavg()[0]!;
  const { child, message } = await startEchoServer(args);
  if ('failed' in message) throw new Error(`the echo server failed: ${message.failed}`);
  const skipped = Object.entries(message.skipped).map(([name, reason]) => `${name}: ${reason}`);
  const links = await connectAll(message.ports, skipped);
  for (const reason of skipped) progress(`skipped ${reason}`);

  const payload = Buffer.alloc(PAYLOAD_BYTES, 0x5a);
  // Bare and Ackord side by side for each transport and concurrency, so that a round compares like with like.
  const cells: { spec: CellSpec; link: EchoLink; runs: Awaited<ReturnType<typeof runOnce>>[] }[] = [];
  for (const family of args.families)
    for (const concurrency of CONCURRENCIES)
      for (const implementation of ['bare', 'ackord'] as Implementation[]) {
        const link = links.get(`${implementation}-${family}`);
        if (link !== undefined) cells.push({ spec: { family, implementation, concurrency }, link, runs: [] });
      }

  for (const cell of cells) await runOnce(cell.link, cell.spec.concurrency, args.warmupSeconds, payload);
  for (let round = 0; round < args.runs; round++) {
    // Rotate the starting cell each round, and swap the order within each pair every other round.
    const order = cells.map((_, index) => cells[(index + 2 * round) % cells.length]!);
    if (round % 2 === 1)
      for (let index = 0; index + 1 < order.length; index += 2)
        [order[index], order[index + 1]] = [order[index + 1]!, order[index]!];
    for (const cell of order) {
      const run = await runOnce(cell.link, cell.spec.concurrency, args.runSeconds, payload);
      cell.runs.push(run);
      progress(
        `round ${round + 1}/${args.runs} ${cellName(cell.spec).padEnd(18)} ${Math.round(run.framesPerSec).toLocaleString('en-US').padStart(8)} frames/s  p50 ${run.p50Us.toFixed(0).padStart(5)} µs  p99 ${run.p99Us.toFixed(0).padStart(5)} µs`,
      );
    }
  }

  for (const link of links.values()) await link.close();
  child.send('stop');
  await new Promise((resolve) => child.once('exit', resolve));

  const summarized = summarize(cells.map(({ spec, runs }) => ({ spec, runs })));
  const cpus = os.cpus();
  const results: Results = {
    machine: {
      node: process.version,
      cpus: cpus.length,
      cpuModel: cpus[0]?.model ?? 'unknown',
      platform: `${os.platform()} ${os.release()} ${os.arch()}`,
      date: new Date().toISOString(),
      loadavg: [loadStart, os.loadavg()[0]!],
    },
    settings: {
      quick: args.quick,
      runSeconds: args.runSeconds,
      warmupSeconds: args.warmupSeconds,
      runs: args.runs,
      payloadBytes: PAYLOAD_BYTES,
    },
    cells: summarized,
    targets: evaluateTargets(summarized),
    skipped,
  };
  fs.mkdirSync(resultsDir, { recursive: true });
  fs.writeFileSync(path.join(resultsDir, 'transport.json'), `${JSON.stringify(results, null, 2)}\n`);
  fs.writeFileSync(path.join(resultsDir, 'transport.md'), markdown(results));

  console.log(consoleTable(summarized));
  console.log('\nTargets:');
  console.log(targetsText(results.targets));
  for (const reason of skipped) console.log(`\nnot run: ${reason}`);
  progress(
    `\ndone in ${((performance.now() - started) / 1000).toFixed(1)} s; wrote ${path.relative(repoRoot, resultsDir)}/transport.json and transport.md`,
  );
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
