/**
 * The status page in a real browser: Debian's chromium, driven by playwright-core, against a real
 * three-process cluster. It loads the page of a client site, sees three sites and the master, kills the
 * master with SIGKILL, and sees the new master and the election that made it — saving a screenshot
 * before and after under test-results/.
 *
 * Chromium is not optional: without it this test fails and says how to install it (`.ci/run` does).
 * CHROMIUM_PATH points it at another binary.
 */
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../src/site-process.js';
import { startCluster, type TestCluster } from './harness.js';

const CHROMIUM_CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser'];
const SCREENSHOT_DIR = path.join(REPO_ROOT, 'test-results', 'kv-cluster');
/** The page polls once a second; an election after SIGKILL takes 1–2 election timeouts (1 s here). */
const PAGE_TIMEOUT_MS = 15_000;

function chromiumPath(): string {
  const candidates = process.env.CHROMIUM_PATH ? [process.env.CHROMIUM_PATH] : CHROMIUM_CANDIDATES;
  const found = candidates.find((candidate) => existsSync(candidate));
  if (found === undefined) {
    throw new Error(
      `no chromium at ${candidates.join(' or ')}: the status-page browser test needs Debian's chromium. ` +
        'Install it with `apt-get update && apt-get install -y chromium` (as root; .ci/run does this), ' +
        'or set CHROMIUM_PATH to a Chromium binary.',
    );
  }
  return found;
}

let startedCluster: TestCluster | undefined;
let launchedBrowser: Browser | undefined;

/** The cluster and the browser, both at once: the cluster takes a few seconds to start, the browser about one. */
async function startBoth(executablePath: string): Promise<{ group: TestCluster; browser: Browser }> {
  const [started, launched] = await Promise.allSettled([
    startCluster({}),
    chromium.launch({ executablePath, args: ['--no-sandbox'] }),
  ]);
  // Kept before anything throws, so afterAll stops whichever did start.
  if (started.status === 'fulfilled') startedCluster = started.value;
  if (launched.status === 'fulfilled') launchedBrowser = launched.value;
  if (started.status === 'rejected') throw started.reason;
  if (launched.status === 'rejected') throw launched.reason;
  return { group: started.value, browser: launched.value };
}

afterAll(async () => {
  // Each on its own: a browser that fails to close must not leave the sites running, nor the reverse.
  await Promise.allSettled([launchedBrowser?.close(), startedCluster?.stop()]);
}, 20_000);

/** What the page shows, read through its test hooks. */
interface PageView {
  readonly masterId: string;
  readonly rows: { readonly id: string; readonly role: string }[];
}

async function viewOf(page: Page): Promise<PageView> {
  const masterId = (await page.locator('#master').getAttribute('data-master-id')) ?? '';
  const rows = await page.locator('#sites tr[data-site-id]').evaluateAll((rows) =>
    rows.map((row) => ({
      id: String(row.getAttribute('data-site-id')),
      role: String(row.getAttribute('data-role')),
    })),
  );
  return { masterId, rows };
}

/**
 * Polls the page until `accept` returns a value; on timeout, saves a screenshot and fails with what the
 * page showed last.
 */
async function untilPageShows<T>(
  page: Page,
  what: string,
  accept: (view: PageView) => T | undefined,
): Promise<T> {
  const deadline = Date.now() + PAGE_TIMEOUT_MS;
  for (;;) {
    const view = await viewOf(page);
    const value = accept(view);
    if (value !== undefined) return value;
    if (Date.now() > deadline) {
      await page.screenshot({ path: path.join(SCREENSHOT_DIR, 'status-page-failure.png'), fullPage: true });
      throw new Error(
        `the page did not show ${what} within ${PAGE_TIMEOUT_MS} ms; it showed ${JSON.stringify(view)} ` +
          `(screenshot: test-results/kv-cluster/status-page-failure.png)`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('the status page in chromium', () => {
  it('shows three sites and the master, then the new master after the master is killed', async () => {
    // Inside the test, not in beforeAll: a missing chromium must count as a failed test, not a skipped one.
    const { group, browser } = await startBoth(chromiumPath());
    await mkdir(SCREENSHOT_DIR, { recursive: true });
    const master = await group.master();
    const clientId = group.ids.find((id) => id !== master.id)!;
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const pageErrors: string[] = [];
    page.on('pageerror', (error) => pageErrors.push(error.message));

    await page.goto(`${group.url(clientId)}/`);
    expect(await page.title()).toBe('Ackord kv-cluster');

    // Three rows: one master, two clients, and the header names the same master.
    const before = await untilPageShows(page, `three sites with ${master.id} master`, (view) =>
      view.rows.length === 3 &&
      view.masterId === master.id &&
      view.rows.every((row) => row.role === (row.id === master.id ? 'master' : 'client'))
        ? view
        : undefined,
    );
    expect(before.rows.map((row) => row.id).sort()).toEqual([...group.ids].sort());
    expect(await page.locator('#self-id').textContent()).toBe(clientId);
    expect(await page.locator('#poll-error').isHidden()).toBe(true);
    // The first election is on the timeline, explained.
    await page
      .locator(`#timeline li[data-kind="elected"][data-site-id="${master.id}"] [data-field="explanation"]`)
      .first()
      .waitFor({ timeout: PAGE_TIMEOUT_MS });
    await page.screenshot({ path: path.join(SCREENSHOT_DIR, 'status-page-before.png'), fullPage: true });

    const killed = group.sites.get(master.id)!;
    killed.signal('SIGKILL');
    await killed.exited;

    // A different master in the header, the killed site unreachable, the survivors master and client.
    const newMaster = await untilPageShows(page, `a new master after ${master.id} was killed`, (view) => {
      const id = view.masterId;
      if (id === '' || id === master.id) return undefined;
      const accepted =
        view.rows.length === 3 &&
        view.rows.every(
          (row) => row.role === (row.id === id ? 'master' : row.id === master.id ? 'unreachable' : 'client'),
        );
      return accepted ? id : undefined;
    });
    const survivors = group.ids.filter((id) => id !== master.id);
    expect(survivors).toContain(newMaster);
    // The page agrees with the sites themselves.
    expect((await group.master(survivors)).id).toBe(newMaster);

    // The election that made it: won by the new master (its newest entry comes first), explained, with
    // the killed master among the missing.
    const explanation = page
      .locator(`#timeline li[data-kind="elected"][data-site-id="${newMaster}"]`)
      .first()
      .locator('[data-field="explanation"]');
    await explanation.waitFor({ timeout: PAGE_TIMEOUT_MS });
    expect(await explanation.textContent()).toMatch(
      new RegExp(`^why: .+; missing: (?:[\\w.-]+, )*${master.id}(?:,|;)`),
    );
    // The killed master's own win stays on the page although that site no longer answers.
    expect(
      await page.locator(`#timeline li[data-kind="elected"][data-site-id="${master.id}"]`).count(),
    ).toBeGreaterThanOrEqual(1);
    expect(await page.locator('#poll-error').isHidden()).toBe(true);
    await page.screenshot({ path: path.join(SCREENSHOT_DIR, 'status-page-after.png'), fullPage: true });

    expect(pageErrors).toEqual([]);
  }, 40_000);
});
