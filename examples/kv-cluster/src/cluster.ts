/**
 * `kv cluster`: starts N sites as child processes on 127.0.0.1 (transport ports from --base-port, HTTP
 * ports 100 above), waits for them to elect a master, prints a table of the sites and where the status
 * page is, passes their logs through prefixed with the site id, and stops them all on Ctrl-C.
 */
import { mkdir } from 'node:fs/promises';
import { parseClusterArgs } from './cluster-options.js';
import { agreedMaster, waitFor } from './http-client.js';
import { LOG_COLOR_ENV, LOG_FORMAT_ENV } from './logger.js';
import { SiteProcess } from './site-process.js';

/** How long the launcher waits for the first election before printing the table anyway. */
export const FIRST_ELECTION_WAIT_MS = 20_000;

export async function runCluster(argv: readonly string[]): Promise<void> {
  const plan = parseClusterArgs(argv);
  await mkdir(plan.dataDir, { recursive: true });
  const terminal = process.stderr.isTTY === true;
  const env = { [LOG_FORMAT_ENV]: terminal ? 'pretty' : 'json', [LOG_COLOR_ENV]: terminal ? '1' : '0' };
  const sites = plan.sites.map(
    (site) =>
      new SiteProcess(site.id, site.flags, {
        env,
        onLine: (line, stream) => {
          if (stream === 'stderr') process.stderr.write(`[${site.id}] ${line}\n`);
        },
      }),
  );
  let stopping = false;
  const stopAll = async (code: number) => {
    if (stopping) return;
    stopping = true;
    process.stderr.write('stopping every site…\n');
    await Promise.all(sites.map((site) => site.stop()));
    process.stdout.write('all sites stopped\n');
    process.exit(code);
  };
  process.on('SIGINT', () => void stopAll(0));
  process.on('SIGTERM', () => void stopAll(0));
  for (const site of sites) {
    void site.exited.then(({ code, signal }) => {
      if (!stopping) process.stderr.write(`site ${site.id} exited (${code ?? signal}); the others go on\n`);
    });
  }

  let urls: string[];
  try {
    urls = await Promise.all(sites.map((site) => site.ready));
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n`);
    await stopAll(1);
    return;
  }
  const master = await waitFor(() => agreedMaster(urls), 'the first election', FIRST_ELECTION_WAIT_MS).catch(
    () => undefined,
  );
  const rows = plan.sites.map((site, index) => ({
    site: site.id,
    role: master === undefined ? '?' : site.id === master.id ? 'master' : 'client',
    http: urls[index]!,
    transport: `${site.options.transport} ${site.options.listen.host}:${site.options.listen.port}`,
    pid: String(sites[index]!.pid ?? '?'),
    data: site.options.dataDir,
  }));
  const first = urls[0]!;
  process.stdout.write(
    [
      '',
      table(rows),
      '',
      `status page:  ${first}/`,
      `write:        curl -X PUT --data-binary 'hello' '${master?.url ?? first}/kv/greeting?ack=quorum'`,
      `read:         curl -i ${first}/kv/greeting`,
      master === undefined ? 'no master elected yet: see the logs' : `master:       ${master.id}`,
      'Ctrl-C stops every site.',
      '',
    ].join('\n'),
  );
}

function table(rows: readonly Record<string, string>[]): string {
  const columns = Object.keys(rows[0] ?? {});
  const widths = columns.map((column) => Math.max(column.length, ...rows.map((row) => row[column]!.length)));
  const line = (cells: readonly string[]) =>
    cells.map((cell, index) => cell.padEnd(widths[index]!)).join('  ');
  return [
    line(columns),
    line(widths.map((width) => '-'.repeat(width))),
    ...rows.map((row) => line(columns.map((c) => row[c]!))),
  ].join('\n');
}
