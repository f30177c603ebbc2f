/**
 * A real three-process cluster (site a master, b and c clients; roles set explicitly, no election) on
 * loopback, over TCP and over WebSocket, each site with its data directory on disk. Commits under `quorum` and `all`; a client killed
 * with SIGKILL turns `all` into a perm failure while `quorum` goes on; restarted on the same directory
 * and port, the client catches up and every site reads the same state.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ProcCluster, SiteProcess } from './driver.js';
import type { ReceiptSummary, TransportKind } from './protocol.js';

const TRANSPORTS: readonly TransportKind[] = ['tcp', 'ws'];

const SITE_ARGS = ['--reconnect-max-ms', '200', '--ack-timeout-ms', '5000'];

function expectAcknowledged(receipts: readonly ReceiptSummary[], count: number): void {
  expect(receipts).toHaveLength(count);
  for (const receipt of receipts) {
    expect(receipt, receipt.key).toMatchObject({
      outcome: 'acknowledged',
      perm: true,
      reason: null,
      needed: 0,
    });
    expect(receipt.generation).toBe(1);
  }
  const lsns = receipts.map((receipt) => receipt.lsn);
  expect(lsns).toEqual([...lsns].sort((x, y) => x - y));
  expect(new Set(lsns).size).toBe(count);
}

describe.each(TRANSPORTS)('a 3-process cluster over %s', (transport) => {
  let cluster: ProcCluster | undefined;

  afterEach(async () => {
    await cluster?.close();
    cluster = undefined;
    await SiteProcess.killAll();
  });

  it('acks under quorum and all, fails all without a SIGKILLed client, and catches it up on restart', async () => {
    cluster = await ProcCluster.start({ transport, args: SITE_ARGS });
    await cluster.waitConnected();
    const [a, b, c] = [cluster.master, cluster.site('b'), cluster.site('c')];

    // Both clients up: quorum needs one of them, all needs both.
    const quorum = await a.commit(10, 'quorum-', 'quorum');
    expectAcknowledged(quorum, 10);
    for (const receipt of quorum) {
      expect(receipt.ackedBy.length).toBeGreaterThanOrEqual(1);
      for (const site of receipt.ackedBy) expect(['b', 'c']).toContain(site);
    }
    const all = await a.commit(10, 'all-', 'all');
    expectAcknowledged(all, 10);
    for (const receipt of all) expect(receipt.ackedBy).toEqual(['b', 'c']);

    // kill -9 c; once the master has seen the connection drop, `all` cannot be met and fails at once.
    const seen = a.events.length;
    await c.kill('SIGKILL');
    expect((await c.exited).signal).toBe('SIGKILL');
    await a.waitForEvent(
      (event) => event.event === 'connectBroken' && event.site === 'c',
      'a sees c gone',
      10_000,
      seen,
    );
    const [failed] = await a.commit(1, 'all-without-c-', 'all');
    // Failed fast, at commit time: b may not have acked yet either, but c is named.
    expect(failed).toMatchObject({ outcome: 'permFailed', perm: false, reason: 'unreachable' });
    expect(failed!.missing).toContain('c');
    expect(failed!.needed).toBe(failed!.missing.length);
    expect(failed!.ackedBy).not.toContain('c');

    const withoutC = await a.commit(10, 'without-c-', 'quorum');
    expectAcknowledged(withoutC, 10);
    for (const receipt of withoutC) expect(receipt.ackedBy).toEqual(['b']);
    const masterStats = await a.stats();
    expect(masterStats.permFailures).toBe(1);
    expect(masterStats.connected).toEqual(['b']);

    // c restarts on the same data directory and port, and catches up.
    const restarted = await cluster.startSite('c');
    expect(restarted.pid).not.toBe(c.pid);
    await cluster.waitConnected();
    const digest = await cluster.waitConverged();
    expect(digest.entries).toBe(31);
    const master = await a.digest();
    expect(digest).toEqual(master);
    for (const site of [a, b, restarted]) {
      expect(await site.get('without-c-9'), site.id).toMatch(/^without-c-9:/);
      expect(await site.get('all-without-c-0'), site.id).toMatch(/^all-without-c-0:/);
      expect(await site.get('quorum-0'), site.id).toMatch(/^quorum-0:/);
      expect(await site.get('never-written'), site.id).toBeNull();
    }

    // With c back, `all` is met again by both clients.
    const allAgain = await a.commit(5, 'all-again-', 'all');
    expectAcknowledged(allAgain, 5);
    for (const receipt of allAgain) expect(receipt.ackedBy).toEqual(['b', 'c']);
    expect((await cluster.waitConverged()).entries).toBe(36);

    for (const site of [restarted, b, a]) expect(await site.shutdown(), `${site.id} exit code`).toBe(0);
  });
});
