/**
 * `GET /status`: this site's view of the group as JSON — its role, the master, LSNs, every site's ack
 * progress and lag, the election timeline and the rollback journal, and `manager.stats()` as it is.
 */
import { httpUrl } from '../address.js';
import type { Site } from '../site.js';

export type StatusRole = 'master' | 'client' | 'electing' | 'view';

export function siteRole(site: Site): StatusRole {
  const manager = site.manager;
  if (manager.role === 'master') return 'master';
  const phase = manager.stats().election?.phase;
  // A pre-vote alone changes nothing yet; a site in phase 1 or 2 has stopped following any master.
  if (manager.role === 'none' || manager.master === undefined || phase === 'vote1' || phase === 'voted')
    return 'electing';
  return 'client';
}

export function statusBody(site: Site): Record<string, unknown> {
  const manager = site.manager;
  const stats = manager.stats();
  const now = Date.now();
  const isMaster = stats.role === 'master';
  const lastCommitLsn = manager.replica.core.lastCommitLsn;
  const acks = new Map(stats.acks.map((ack) => [ack.site, ack]));
  const connected = new Set(stats.connected);
  const peers = new Map(site.directory.peers().map((peer) => [peer.id, peer]));
  const masterId = stats.master;
  const self = {
    id: site.options.id,
    self: true,
    connected: true,
    priority: site.options.priority,
    http: httpUrl(site.httpAddress),
    ackedLsn: isMaster ? lastCommitLsn : manager.replica.core.ackedLsn,
    ackLevel: null,
    lagBytes: isMaster ? 0 : null,
    lastHeardMs: 0,
    connects: null,
    disconnects: null,
  };
  const others = site.options.peers.map((configured) => {
    const peer = peers.get(configured.id)!;
    const ack = acks.get(configured.id);
    return {
      id: configured.id,
      self: false,
      connected: connected.has(configured.id),
      priority: configured.priority,
      announcedPriority: peer.announcedPriority ?? null,
      http: site.directory.httpUrl(configured.id) ?? null,
      // Only a master hears acks; a client does not know how far its peers are.
      ackedLsn: ack?.lsn ?? null,
      ackLevel: ack?.level ?? null,
      lagBytes: isMaster && ack !== undefined ? Math.max(0, lastCommitLsn - ack.lsn) : null,
      lastHeardMs: peer.lastHeardAt === undefined ? null : now - peer.lastHeardAt,
      connects: peer.connects,
      disconnects: peer.disconnects,
    };
  });
  return {
    id: site.options.id,
    role: siteRole(site),
    master:
      masterId === undefined
        ? null
        : {
            id: masterId,
            http:
              masterId === site.options.id
                ? httpUrl(site.httpAddress)
                : (site.directory.httpUrl(masterId) ?? null),
          },
    generation: stats.generation,
    lsn: stats.log.nextLsn,
    durableLsn: stats.log.durableLsn,
    permLsn: site.permLsn(),
    appliedLsn: site.store.appliedLsn,
    lastCommitLsn,
    keys: site.store.size,
    durability: site.options.durability,
    ackPolicy: site.options.ackPolicy,
    ackTimeoutMs: site.options.ackTimeoutMs,
    electionTimeoutMs: site.options.electionTimeoutMs,
    transport: site.options.transport,
    clusterId: site.options.clusterId,
    http: httpUrl(site.httpAddress),
    pid: process.pid,
    uptimeMs: now - site.startedAt,
    readLease: manager.hasReadLease(),
    sites: [self, ...others],
    lastElection: site.lastElection() ?? null,
    timeline: site.timeline(),
    rollbacks: site.rollbacks(),
    ackLatency: site.recentAckLatency(),
    stats,
  };
}
