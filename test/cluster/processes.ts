/**
 * Every child process the chaos controller starts goes through `spawnTracked`: its own process group
 * (so a signal reaches it and anything it started), remembered until it exits, and killed with SIGKILL
 * — a stopped one too — when the controller exits however it exits (a failed assertion, an exception,
 * Ctrl-C). Tests call `killAllTracked()` in afterAll as well.
 */
import { type ChildProcess, type SpawnOptions, spawn } from 'node:child_process';

const live = new Set<ChildProcess>();

function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    try {
      child.kill(signal);
    } catch {
      // Already gone.
    }
  }
}

/** Synchronous: safe in an 'exit' handler. */
export function killAllTrackedSync(): void {
  for (const child of live) {
    signalGroup(child, 'SIGKILL');
    signalGroup(child, 'SIGCONT');
  }
}

let hooked = false;
function hookExit(): void {
  if (hooked) return;
  hooked = true;
  process.on('exit', killAllTrackedSync);
}

export function spawnTracked(command: string, args: readonly string[], options: SpawnOptions): ChildProcess {
  hookExit();
  const child = spawn(command, [...args], { ...options, detached: true });
  live.add(child);
  child.once('exit', () => live.delete(child));
  child.once('error', () => live.delete(child));
  return child;
}

/** Sends `signal` to the child's process group (SIGSTOP/SIGCONT/SIGKILL). */
export function signalTracked(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.exitCode !== null || child.signalCode !== null) return;
  signalGroup(child, signal);
}

/** SIGKILLs every tracked process and waits until each has exited. */
export async function killAllTracked(): Promise<void> {
  const children = [...live];
  killAllTrackedSync();
  await Promise.all(
    children.map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) resolve();
          else child.once('exit', () => resolve());
        }),
    ),
  );
}

export function trackedCount(): number {
  return live.size;
}
