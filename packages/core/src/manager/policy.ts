/**
 * Acknowledgement-policy math (DESIGN §4), like etcd's `quorum/` package: given the configured group,
 * the sites reachable now and the sites whose cumulative ack covers a commit, decide whether the master
 * may stop waiting, whether the commit is durable by the policy's rule, and whether waiting is futile.
 * Pure: no I/O, no clock, no state. The manager calls it again on every ack, peer up/down and timeout.
 *
 * Every policy but `none` and `all_available` is one threshold over one set of sites ("the counting
 * sites"): satisfied when at least `required` of them acked; possible when at least `required` of them
 * acked or are connected (so they still can). The rest of this comment is where DESIGN §4 is silent and
 * the answer was reasoned from Berkeley DB (repmgr `__repmgr_send`, `__repmgr_elect`):
 *
 * - **Who counts.** The master never acks itself; views never ack (DESIGN §3), so an ack from a view, from
 *   the master, or from an id that is not in the configured group is ignored rather than trusted. A site
 *   that acked and then disconnected still counts: acks are cumulative and the record is on its disk.
 * - **Quorum, derived.** An election is won by a *winning coalition* of electable sites: a strict
 *   majority of the E electable sites, or — two-site group, 2SITE_STRICT off — a lone site (BDB:
 *   `nvotes = 1` when `nsites == 2`). A commit survives every election iff the sites holding it meet
 *   every winning coalition, i.e. at least `E − votesToWin + 1` electable sites hold it. The master holds
 *   it, and counts when it is electable itself; the rest must be peer acks. With an electable master that
 *   is exactly DESIGN's ⌊(E − 1)/2⌋ (and 0 for a strict two-site group, 1 for a non-strict one, as BDB).
 *   DESIGN does not say what happens when the master itself has priority 0 (BDB allows a priority-0
 *   master when the application appoints it): then it meets no coalition, and the peers alone must:
 *   ⌈E/2⌉ of them (all of them in a non-strict two-peer group). That is never more than the peers there
 *   are, so DESIGN's "or every electable peer, if there are fewer" never has to apply; it is kept as a
 *   bound anyway.
 * - **Two-site means two electable sites.** BDB keys its two-site rule on the configured group size. Here
 *   it is keyed on E = 2, which asks for *more* acks than BDB's rule in groups like `M p z0` (non-strict:
 *   the peer must ack), never fewer — so whichever count the election uses, `perm: true` stays honest.
 * - **Safety depends on the election.** Counting only electable sites (DESIGN) instead of BDB's
 *   `(nsites − 1) / 2` is safe only if an election needs votes from a strict majority of the *electable*
 *   sites: were priority-0 votes enough to make a majority, `M p p z0 z0` could elect the unacked peer.
 * - **`one` / `one_peer` with nobody to ack** (a one-site group, or no electable peer): impossible, a perm
 *   failure at once — the promise is a copy off the master, and BDB does the same (needed 1, available
 *   0 → DB_REP_UNAVAIL). **`all` / `all_peers` with nobody**: satisfied, vacuously (every one of none has
 *   it). BDB's ALL agrees (needed 0); its ALL_PEERS fails there only because it skips counting peers
 *   ("too hard to figure out needed"), which is no guarantee we want to copy.
 * - **`all_available`** waits for every connected non-view client, priority 0 included (BDB waits for
 *   `nsites_sent`, every site it sent to). The wait can always end, so it is never impossible; with no
 *   client connected it ends at once. Its `perm` is the quorum rule over every ack received, so it can be
 *   satisfied without perm (BDB: `quorum > 0 ? DB_REP_UNAVAIL : 0`) or perm while still waiting.
 */
import { isElectable, votesToWin } from '@ackord/election';
import type { SiteId } from '../replica/types.js';

/** Every acknowledgement policy, in order from weakest to strongest wait. */
export const ACK_POLICIES = [
  'none',
  'one',
  'one_peer',
  'quorum',
  'all',
  'all_peers',
  'all_available',
] as const;

/** How many sites must hold a commit before it counts as durable (DESIGN §4). */
export type AckPolicy = (typeof ACK_POLICIES)[number];

export const DEFAULT_ACK_POLICY: AckPolicy = 'quorum';

/** A configured site, as the policy sees it. */
export interface GroupSite {
  readonly id: SiteId;
  /** 0: never master; above 0: an electable peer. */
  readonly priority: number;
  /** A view replicates but never acks, votes or becomes master. */
  readonly view: boolean;
}

export interface PolicyInput {
  readonly policy: AckPolicy;
  /** The site committing; must be in `sites` and not a view. */
  readonly master: SiteId;
  /** The whole configured group, the master included. Ids are unique. */
  readonly sites: readonly GroupSite[];
  /** Sites reachable now. Ids outside `sites` and the master are ignored. */
  readonly connected: ReadonlySet<SiteId>;
  /** Sites whose cumulative ack covers the commit at the required level. The master, views and ids outside `sites` are ignored. */
  readonly acked: ReadonlySet<SiteId>;
  /** Berkeley DB's 2SITE_STRICT: in a two-site group a lone site never elects itself. The manager defaults it to true. */
  readonly twoSiteStrict: boolean;
}

export interface PolicyVerdict {
  /** The wait is over: the commit can be reported (with `perm`). */
  readonly satisfied: boolean;
  /** Durable by the policy's own rule; for `all_available`, by the quorum rule over every ack received. */
  readonly perm: boolean;
  /** False: the sites connected now plus those that already acked can never satisfy it — fail fast, do not wait. */
  readonly possible: boolean;
  /** How many more acks are needed (0 exactly when satisfied). For `all_available`: connected clients not acked yet. */
  readonly needed: number;
  /** The sites whose acks count for this policy, in configuration order. */
  readonly counting: readonly SiteId[];
  /** The counting sites that have not acked (connected or not), in configuration order: who was needed. */
  readonly missing: readonly SiteId[];
}

// One definition of "electable" and of a winning coalition, shared with the election that relies on it.
export { isElectable, votesToWin };

/**
 * How many electable peers must ack under `quorum` so that the holders of a commit meet every winning
 * coalition of the `electableSites` electable sites (the master included in that count when
 * `masterElectable`, the default). With an electable master: ⌊(E − 1)/2⌋; two sites strict: 0,
 * non-strict: 1.
 */
export function quorumPeersNeeded(
  electableSites: number,
  twoSiteStrict: boolean,
  masterElectable = true,
): number {
  assertCount(electableSites, 'electableSites');
  if (masterElectable && electableSites === 0) {
    throw new RangeError('an electable master makes at least one electable site');
  }
  const peers = masterElectable ? electableSites - 1 : electableSites;
  // Holders must number E − votesToWin + 1 to meet every coalition; the master is one of them if electable.
  const holders = electableSites - votesToWin(electableSites, twoSiteStrict) + 1;
  const needed = Math.max(0, holders - (masterElectable ? 1 : 0));
  return Math.min(needed, peers);
}

/** Decide one commit's wait under one policy. Throws RangeError on a malformed group (a programmer error). */
export function evaluatePolicy(input: PolicyInput): PolicyVerdict {
  const group = classifyGroup(input.sites, input.master);
  const acked = (site: GroupSite): boolean => input.acked.has(site.id);
  const reachable = (site: GroupSite): boolean => acked(site) || input.connected.has(site.id);
  const quorum = quorumPeersNeeded(group.electable, input.twoSiteStrict, group.masterElectable);

  let verdict: PolicyVerdict;
  switch (input.policy) {
    case 'none':
      verdict = { satisfied: true, perm: true, possible: true, needed: 0, counting: [], missing: [] };
      break;
    case 'one':
      verdict = threshold(group.clients, 1, acked, reachable);
      break;
    case 'one_peer':
      verdict = threshold(group.peers, 1, acked, reachable);
      break;
    case 'quorum':
      verdict = threshold(group.peers, quorum, acked, reachable);
      break;
    case 'all':
      verdict = threshold(group.clients, group.clients.length, acked, reachable);
      break;
    case 'all_peers':
      verdict = threshold(group.peers, group.peers.length, acked, reachable);
      break;
    case 'all_available': {
      const waitingFor = group.clients.filter((site) => input.connected.has(site.id) && !acked(site));
      verdict = {
        satisfied: waitingFor.length === 0,
        perm: group.peers.filter(acked).length >= quorum,
        possible: true,
        needed: waitingFor.length,
        counting: group.clients.map((site) => site.id),
        missing: group.clients.filter((site) => !acked(site)).map((site) => site.id),
      };
      break;
    }
    default:
      return assertNever(input.policy);
  }
  assertVerdict(verdict);
  return verdict;
}

interface Group {
  /** Every non-view site but the master: the sites that can ack, any priority. */
  readonly clients: readonly GroupSite[];
  /** The electable clients. */
  readonly peers: readonly GroupSite[];
  readonly masterElectable: boolean;
  /** Electable sites, the master included when it is electable. */
  readonly electable: number;
}

function classifyGroup(sites: readonly GroupSite[], masterId: SiteId): Group {
  const seen = new Set<SiteId>();
  let master: GroupSite | undefined;
  for (const site of sites) {
    if (seen.has(site.id)) throw new RangeError(`site ${site.id} is configured twice`);
    seen.add(site.id);
    if (!Number.isFinite(site.priority) || site.priority < 0) {
      throw new RangeError(`site ${site.id} has priority ${site.priority}: expected a finite number >= 0`);
    }
    if (site.id === masterId) master = site;
  }
  if (master === undefined) throw new RangeError(`the master ${masterId} is not in the configured group`);
  if (master.view) throw new RangeError(`the master ${masterId} is a view: a view never becomes master`);
  const clients = sites.filter((site) => site.id !== masterId && !site.view);
  const peers = clients.filter(isElectable);
  const masterElectable = isElectable(master);
  return { clients, peers, masterElectable, electable: peers.length + (masterElectable ? 1 : 0) };
}

/** At least `required` of `counting` acked: satisfied; could still (acked or connected): possible. */
function threshold(
  counting: readonly GroupSite[],
  required: number,
  acked: (site: GroupSite) => boolean,
  reachable: (site: GroupSite) => boolean,
): PolicyVerdict {
  const ackCount = counting.filter(acked).length;
  const satisfied = ackCount >= required;
  return {
    satisfied,
    perm: satisfied,
    possible: counting.filter(reachable).length >= required,
    needed: Math.max(0, required - ackCount),
    counting: counting.map((site) => site.id),
    missing: counting.filter((site) => !acked(site)).map((site) => site.id),
  };
}

function assertCount(value: number, name: string): void {
  if (!Number.isSafeInteger(value) || value < 0)
    throw new RangeError(`${name} = ${value}: expected an integer >= 0`);
}

function assertVerdict(verdict: PolicyVerdict): void {
  if (verdict.satisfied !== (verdict.needed === 0) || (verdict.satisfied && !verdict.possible)) {
    throw new Error(`broken policy verdict: ${JSON.stringify(verdict)}`);
  }
}

function assertNever(value: never): never {
  throw new RangeError(`unknown ack policy: ${String(value)}`);
}
