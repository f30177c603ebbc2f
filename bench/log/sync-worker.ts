/**
 * One of the concurrent fdatasync loops of the `fdatasync3` limit (bench/cluster/limits.ts), in a
 * process of its own as a site would be: says `ready`, runs the bare fdatasync loop of limits.ts when
 * told to, reports its ops/s and exits.
 */
import { measureLimit } from './limits.js';

export interface SyncWorkerOrder {
  readonly dir: string;
  readonly tag: string;
  readonly seconds: number;
}

export type SyncWorkerMessage = 'ready' | { readonly opsPerSec: number } | { readonly failed: string };

function reply(message: SyncWorkerMessage, then?: () => void): void {
  process.send?.(message, undefined, {}, () => then?.());
}

process.once('message', (order: SyncWorkerOrder) => {
  try {
    const opsPerSec = measureLimit(order.dir, 'fdatasyncLoop', order.seconds, order.tag);
    reply({ opsPerSec }, () => process.exit(0));
  } catch (error) {
    reply({ failed: String(error) }, () => process.exit(1));
  }
});
reply('ready');
