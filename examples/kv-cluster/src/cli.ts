/**
 * The `kv` command (`pnpm kv …` from the repository root):
 *
 *   kv node --id ID --listen HOST:PORT --http HOST:PORT --data DIR [--peer ID=HOST:PORT]… [flags]
 *   kv cluster [--sites 3] [--base-port 7400] [--data DIR] [node flags]
 *
 * Bad flags: a message naming each and exit code 2.
 */
import { runCluster } from './cluster.js';
import { runNode } from './node.js';
import { EXIT_USAGE, UsageError } from './usage-error.js';

const USAGE = `usage:
  pnpm kv node --id ID --listen HOST:PORT --http HOST:PORT --data DIR [--peer ID=HOST:PORT]...
               [--priority N] [--transport tcp|ws] [--ack POLICY] [--ack-timeout-ms N]
               [--durability none|write|fsync|dsync|delayed:MS] [--cluster-id ID] [--secret-file FILE]
               [--log-level LEVEL] [--election-timeout-ms N] [--max-value-bytes N]
               [--peer-http ID=HOST:PORT]... [--peer-priority ID=N]...
  pnpm kv cluster [--sites 3] [--base-port 7400] [--data DIR] [node flags]

POLICY: none one one_peer quorum all all_peers all_available (default quorum)
See examples/kv-cluster/README.md for the HTTP API.
`;

async function main(argv: readonly string[]): Promise<void> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'node':
      return runNode(rest);
    case 'cluster':
      return runCluster(rest);
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(USAGE);
      return;
    default:
      throw new UsageError(
        command === undefined
          ? 'kv: a command is required'
          : `kv: unknown command ${JSON.stringify(command)}`,
      );
  }
}

process.stdout.on('error', () => undefined);
process.on('uncaughtException', (error) => {
  process.stderr.write(`kv: uncaught: ${error.stack ?? error.message}\n`);
  process.exit(70);
});

main(process.argv.slice(2)).catch((error: unknown) => {
  if (error instanceof UsageError) {
    process.stderr.write(`${error.message}\n\n${USAGE}`);
    process.exit(EXIT_USAGE);
  }
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
