/**
 * The relay as its own process (see relay.ts). Commands come as JSON lines on stdin, one reply per
 * command as a JSON line on stdout: `{ id, ok, result }` or `{ id, ok: false, error }`. It exits when its
 * stdin ends, i.e. when the controller that started it is gone however it went.
 *
 *   { id, cmd: 'addLinks', links: LinkSpec[] }        → ports, in order
 *   { id, cmd: 'set', changes: { from, to, state }[] } → null
 *   { id, cmd: 'heal' }                               → null
 *   { id, cmd: 'cut', from, to }                      → connections closed
 *   { id, cmd: 'stats' }                              → RelayStats
 */
import { createInterface } from 'node:readline';
import { Prng } from '../sim/prng.js';
import { type LinkSpec, type LinkState, Relay } from './relay.js';

export type RelayCommand =
  | { readonly cmd: 'addLinks'; readonly links: readonly LinkSpec[] }
  | {
      readonly cmd: 'set';
      readonly changes: readonly { from: string; to: string; state: Partial<LinkState> }[];
    }
  | { readonly cmd: 'heal' }
  | { readonly cmd: 'cut'; readonly from: string; readonly to: string }
  | { readonly cmd: 'stats' };

const seed = Number(process.env.RELAY_SEED ?? '1');
const prng = new Prng(Number.isSafeInteger(seed) ? seed : 1);
const relay = new Relay(() => prng.next());

async function handle(command: RelayCommand): Promise<unknown> {
  switch (command.cmd) {
    case 'addLinks': {
      const ports: number[] = [];
      for (const link of command.links) ports.push(await relay.addLink(link));
      return ports;
    }
    case 'set':
      for (const change of command.changes) relay.set(change.from, change.to, change.state);
      return null;
    case 'heal':
      relay.healAll();
      return null;
    case 'cut':
      return relay.cut(command.from, command.to);
    case 'stats':
      return relay.stats();
  }
}

const reply = (line: object) => process.stdout.write(`${JSON.stringify(line)}\n`);

createInterface({ input: process.stdin }).on('line', (line) => {
  let request: RelayCommand & { id: number };
  try {
    request = JSON.parse(line) as RelayCommand & { id: number };
  } catch {
    return;
  }
  handle(request).then(
    (result) => reply({ id: request.id, ok: true, result }),
    (error: unknown) => reply({ id: request.id, ok: false, error: String(error) }),
  );
});
process.stdin.on('end', () => {
  void relay.close().finally(() => process.exit(0));
});
process.stdout.on('error', () => process.exit(0));
reply({ ready: true });
