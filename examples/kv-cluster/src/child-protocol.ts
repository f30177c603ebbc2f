/** What a launcher (cluster, demo, tests) and the `kv node` it starts agree on. */

/** The one line `kv node` prints on stdout once it serves. */
export const READY_LINE = /^site (\S+) ready: (http:\/\/\S+)/;

export function readyLine(id: string, url: string): string {
  return `site ${id} ready: ${url}\n`;
}

/**
 * Set for every child a launcher starts: the site exits when its stdin closes, i.e. when the process
 * that started it is gone, however it went (a launcher or a test runner killed with SIGKILL leaves no
 * orphan sites).
 */
export const EXIT_WITH_PARENT_ENV = 'KV_EXIT_WITH_PARENT';
