/**
 * The acknowledgement-policy math: a truth table written out by hand, then properties checked against
 * an independent brute-force model (winning election coalitions enumerated subset by subset, "possible"
 * and "needed" found by trying every set of further acks), then must-fail controls: the same properties
 * run against deliberately wrong policy functions and must find a counterexample.
 *
 * Row notation: `GROUP | conn IDS | acked IDS | POLICY [nonstrict] → STATE [perm] need N`.
 * GROUP is one token per site, the master first: a one-letter id, then its priority (a digit) or `v`
 * for a view — `m1 a1 b0 cv` is master m (priority 1), electable peer a, priority-0 client b, view c.
 * `-` is the empty set; `nonstrict` turns 2SITE_STRICT off. STATE: `done` (satisfied), `wait`
 * (not yet, but the connected sites can still do it), `fail` (they cannot: fail fast).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ACK_POLICIES,
  type AckPolicy,
  evaluatePolicy,
  type GroupSite,
  type PolicyInput,
  type PolicyVerdict,
  quorumPeersNeeded,
  votesToWin,
} from '../../src/manager/policy.js';

// ---------------------------------------------------------------------------------------------------
// Notation

function parseIds(part: string, prefix: string): Set<string> {
  const words = part.trim().split(/\s+/);
  if (words[0] !== prefix) throw new Error(`expected "${prefix} …", got "${part}"`);
  const ids = words.slice(1);
  return new Set(ids.length === 1 && ids[0] === '-' ? [] : ids);
}

function parseGroup(part: string): { master: string; sites: GroupSite[] } {
  const sites = part
    .trim()
    .split(/\s+/)
    .map((token): GroupSite => {
      const match = /^([a-z])(\d|v)$/.exec(token);
      if (match === null) throw new Error(`bad site token "${token}"`);
      const [, id, rest] = match as unknown as [string, string, string];
      return rest === 'v' ? { id, priority: 0, view: true } : { id, priority: Number(rest), view: false };
    });
  return { master: sites[0]!.id, sites };
}

function parseRow(row: string): { input: PolicyInput; expected: string } {
  const [lhs, expected] = row.split('→').map((part) => part.trim()) as [string, string];
  const [group, connected, acked, policyPart] = lhs.split('|') as [string, string, string, string];
  const [policy, strictness] = policyPart.trim().split(/\s+/) as [AckPolicy, string | undefined];
  if (!ACK_POLICIES.includes(policy)) throw new Error(`bad policy "${policy}"`);
  return {
    input: {
      ...parseGroup(group),
      policy,
      connected: parseIds(connected, 'conn'),
      acked: parseIds(acked, 'acked'),
      twoSiteStrict: strictness !== 'nonstrict',
    },
    expected,
  };
}

function describeVerdict(verdict: PolicyVerdict): string {
  const state = verdict.satisfied ? 'done' : verdict.possible ? 'wait' : 'fail';
  return `${state}${verdict.perm ? ' perm' : ''} need ${verdict.needed}`;
}

// ---------------------------------------------------------------------------------------------------
// The truth table

const TABLE: readonly string[] = [
  // One site: nobody to ack. Existential policies are impossible, universal ones vacuous.
  'm1 | conn - | acked - | none → done perm need 0',
  'm1 | conn - | acked - | one → fail need 1',
  'm1 | conn - | acked - | one_peer → fail need 1',
  'm1 | conn - | acked - | quorum → done perm need 0',
  'm1 | conn - | acked - | all → done perm need 0',
  'm1 | conn - | acked - | all_peers → done perm need 0',
  'm1 | conn - | acked - | all_available → done perm need 0',

  // Two sites: 2SITE_STRICT decides quorum.
  'm1 a1 | conn a | acked - | quorum → done perm need 0',
  'm1 a1 | conn - | acked - | quorum → done perm need 0',
  'm1 a1 | conn a | acked - | quorum nonstrict → wait need 1',
  'm1 a1 | conn - | acked - | quorum nonstrict → fail need 1',
  'm1 a1 | conn a | acked a | quorum nonstrict → done perm need 0',
  'm1 a1 | conn - | acked a | quorum nonstrict → done perm need 0',
  'm1 a0 | conn a | acked - | quorum nonstrict → done perm need 0',
  'm1 a0 | conn a | acked - | one → wait need 1',
  'm1 a0 | conn a | acked - | one_peer → fail need 1',
  'm1 a0 | conn a | acked a | one → done perm need 0',
  'm1 av | conn a | acked a | one → fail need 1',
  'm1 av | conn a | acked - | all → done perm need 0',
  'm1 av | conn a | acked - | all_available → done perm need 0',
  'm1 a1 | conn a | acked - | all_available → wait perm need 1',
  'm1 a1 | conn a | acked - | all_available nonstrict → wait need 1',
  'm1 a1 | conn - | acked - | all_available nonstrict → done need 0',
  'm0 a1 | conn a | acked - | quorum → wait need 1',
  'm0 a1 | conn - | acked - | quorum → fail need 1',

  // Three sites.
  'm1 a1 b1 | conn a b | acked - | quorum → wait need 1',
  'm1 a1 b1 | conn a b | acked b | quorum → done perm need 0',
  'm1 a1 b1 | conn - | acked - | quorum → fail need 1',
  'm1 a1 b1 | conn b | acked a | quorum → done perm need 0',
  'm1 a1 b0 | conn a b | acked b | quorum nonstrict → wait need 1',
  'm1 a1 b0 | conn b | acked - | quorum nonstrict → fail need 1',
  'm1 a1 b0 | conn b | acked - | quorum → done perm need 0',
  'm1 a0 b0 | conn a b | acked - | quorum → done perm need 0',
  'm1 a0 b0 | conn a b | acked - | one_peer → fail need 1',
  'm1 a0 b0 | conn a b | acked - | all_peers → done perm need 0',
  'm1 a0 b0 | conn a b | acked b | one → done perm need 0',
  'm1 a1 b1 | conn a b | acked a | all → wait need 1',
  'm1 a1 b1 | conn a | acked a | all → fail need 1',
  'm1 a1 b1 | conn a | acked a b | all → done perm need 0',
  'm1 a1 bv | conn a b | acked a | all → done perm need 0',
  'm0 a1 b1 | conn a b | acked a | quorum → done perm need 0',
  'm0 a1 b1 | conn a b | acked a | quorum nonstrict → wait need 1',
  'm0 a1 b1 | conn a | acked - | quorum nonstrict → fail need 2',

  // Four sites.
  'm2 a1 b1 c1 | conn a b c | acked - | quorum → wait need 1',
  'm2 a1 b1 c1 | conn a b c | acked c | quorum → done perm need 0',
  'm2 a1 b1 c0 | conn a b c | acked c | quorum → wait need 1',
  'm2 a1 b1 c0 | conn c | acked c | quorum → fail need 1',
  'm2 a1 b1 c0 | conn c | acked c | one → done perm need 0',
  'm2 a1 b1 c0 | conn a b c | acked a | all_peers → wait need 1',
  'm2 a1 b1 c0 | conn a c | acked a | all_peers → fail need 1',
  'm2 a1 b1 c0 | conn a c | acked a c | all_available → done perm need 0',
  'm2 a0 b0 cv | conn a b c | acked c | all_available → wait perm need 2',
  'm2 a1 bv cv | conn b c | acked b c | one → fail need 1',

  // Five sites.
  'm1 a1 b1 c1 d1 | conn a b c d | acked a | quorum → wait need 1',
  'm1 a1 b1 c1 d1 | conn a b c d | acked a b | quorum → done perm need 0',
  'm1 a1 b1 c1 d1 | conn a | acked - | quorum → fail need 2',
  'm1 a1 b1 c1 d1 | conn a | acked b c | quorum → done perm need 0',
  'm1 a1 b1 c0 d0 | conn a b c d | acked c d | quorum → wait need 1',
  'm1 a1 b1 c0 d0 | conn c d | acked c d | quorum → fail need 1',
  'm1 a1 b1 c0 d0 | conn c d | acked c d | one → done perm need 0',
  'm1 a1 b1 c1 dv | conn a b c d | acked d | quorum → wait need 1',
  'm1 a1 b1 c1 d1 | conn a b c d | acked a b c | all_peers → wait need 1',
  'm1 a1 b1 c1 d1 | conn a b c | acked a b c | all_peers → fail need 1',
  'm1 a1 b1 c1 d1 | conn a b c d | acked a b c | all_available → wait perm need 1',
  'm0 a1 b1 c1 d1 | conn a b c d | acked a | quorum → wait need 1',
  'm0 a1 b1 c1 d1 | conn a b c d | acked a b | quorum → done perm need 0',

  // Six sites.
  'm1 a1 b1 c1 d1 e1 | conn a b c d e | acked a | quorum → wait need 1',
  'm1 a1 b1 c1 d1 e1 | conn a b c d e | acked a b | quorum → done perm need 0',
  'm1 a1 b1 c0 d0 ev | conn a b c d e | acked a | quorum → done perm need 0',
  'm1 a1 b1 c0 d0 ev | conn a b c d e | acked c d e | all → wait need 2',
  'm1 a1 b1 c0 d0 ev | conn a c d e | acked a c d | all → fail need 1',
  'm1 a1 b1 c0 d0 ev | conn c d e | acked - | all_available → wait need 2',
  'm1 a1 b1 c0 d0 ev | conn c d e | acked c d | all_available → done need 0',

  // Seven sites.
  'm1 a1 b1 c1 d1 e1 f1 | conn a b c d e f | acked a b | quorum → wait need 1',
  'm1 a1 b1 c1 d1 e1 f1 | conn a b c d e f | acked a b c | quorum → done perm need 0',
  'm1 a1 b1 c1 d1 e1 f1 | conn a b | acked - | quorum → fail need 3',
  'm1 a1 b1 c1 d1 e1 f1 | conn a b | acked c d | quorum → wait need 1',
  'm1 a1 b1 c1 d0 e0 fv | conn a b c d e f | acked d e f | quorum → wait need 1',
  'm3 a2 b1 c1 d0 e0 fv | conn d e f | acked d e f | one_peer → fail need 1',
  'm3 a2 b1 c1 d0 e0 fv | conn d e f | acked d e f | one → done perm need 0',
  'm3 a2 b1 c1 d0 e0 fv | conn a b c d e f | acked - | none → done perm need 0',
  'm1 a1 b1 c1 d1 e1 f1 | conn - | acked - | none → done perm need 0',
  'm1 a1 b1 c1 d1 e1 f1 | conn - | acked - | all_available nonstrict → done need 0',
  'm0 a1 b1 c1 d1 e1 f1 | conn a b c d e f | acked a b | quorum → wait need 1',
  'm0 a1 b1 c1 d1 e1 f1 | conn a b c d e f | acked a b c | quorum → done perm need 0',

  // Acks from the master itself and from ids outside the group are ignored.
  'm1 a1 b1 | conn a b | acked m x y | quorum → wait need 1',
  'm1 a1 b1 | conn x | acked x | one → fail need 1',
];

describe('truth table', () => {
  it.each(TABLE)('%s', (row) => {
    const { input, expected } = parseRow(row);
    expect(describeVerdict(evaluatePolicy(input))).toBe(expected);
  });

  describe('counting and missing, per policy', () => {
    const group = 'm2 a1 b0 cv d1 | conn a b c | acked b c d';
    it.each<[AckPolicy, string, string]>([
      ['none', '', ''],
      ['one', 'a b d', 'a'],
      ['one_peer', 'a d', 'a'],
      ['quorum', 'a d', 'a'],
      ['all', 'a b d', 'a'],
      ['all_peers', 'a d', 'a'],
      ['all_available', 'a b d', 'a'],
    ])('%s counts [%s], missing [%s]', (policy, counting, missing) => {
      const verdict = evaluatePolicy(parseRow(`${group} | ${policy} → ?`).input);
      expect(verdict.counting.join(' ')).toBe(counting);
      expect(verdict.missing.join(' ')).toBe(missing);
    });
  });

  it('votesToWin: a strict majority of the electable sites, one in a non-strict two-site group', () => {
    expect([0, 1, 2, 3, 4, 5, 6, 7].map((e) => votesToWin(e, true))).toEqual([1, 1, 2, 2, 3, 3, 4, 4]);
    expect([0, 1, 2, 3, 4, 5, 6, 7].map((e) => votesToWin(e, false))).toEqual([1, 1, 1, 2, 3, 3, 4, 4]);
  });

  it('quorumPeersNeeded: ⌊(E − 1)/2⌋ with an electable master; 2SITE_STRICT only changes E = 2', () => {
    const sizes = [1, 2, 3, 4, 5, 6, 7];
    expect(sizes.map((e) => quorumPeersNeeded(e, true))).toEqual([0, 0, 1, 1, 2, 2, 3]);
    expect(sizes.map((e) => quorumPeersNeeded(e, false))).toEqual([0, 1, 1, 1, 2, 2, 3]);
    for (const e of sizes) expect(quorumPeersNeeded(e, true)).toBe(Math.floor((e - 1) / 2));
  });

  it('quorumPeersNeeded: ⌈E/2⌉ peers when the master is not electable (all of two, non-strict)', () => {
    const sizes = [0, 1, 2, 3, 4, 5, 6, 7];
    expect(sizes.map((e) => quorumPeersNeeded(e, true, false))).toEqual([0, 1, 1, 2, 2, 3, 3, 4]);
    expect(sizes.map((e) => quorumPeersNeeded(e, false, false))).toEqual([0, 1, 2, 2, 2, 3, 3, 4]);
  });

  it('rejects a malformed group (a programmer error)', () => {
    const base = parseRow('m1 a1 b1 | conn a b | acked - | quorum → ?').input;
    const bad: Array<Partial<PolicyInput>> = [
      { master: 'z' },
      { sites: [...base.sites, { id: 'a', priority: 1, view: false }] },
      { sites: [{ id: 'm', priority: 1, view: true }, ...base.sites.slice(1)] },
      { sites: [...base.sites, { id: 'c', priority: -1, view: false }] },
      { sites: [...base.sites, { id: 'c', priority: Number.NaN, view: false }] },
    ];
    for (const change of bad) expect(() => evaluatePolicy({ ...base, ...change })).toThrow(RangeError);
    expect(() => quorumPeersNeeded(0, true)).toThrow(RangeError);
    expect(() => quorumPeersNeeded(-1, true, false)).toThrow(RangeError);
    expect(() => votesToWin(1.5, true)).toThrow(RangeError);
  });
});

// ---------------------------------------------------------------------------------------------------
// The independent model: brute force over subsets, no counting formula.

type Evaluate = (input: PolicyInput) => PolicyVerdict;

function subsets<T>(items: readonly T[]): T[][] {
  const result: T[][] = [];
  for (let mask = 0; mask < 1 << items.length; mask++) {
    result.push(items.filter((_, index) => (mask & (1 << index)) !== 0));
  }
  return result;
}

interface ModelGroup {
  readonly master: GroupSite;
  readonly clients: readonly GroupSite[];
  readonly peers: readonly GroupSite[];
  /** Sites that vote and can win: the master if it has a priority, and the peers. */
  readonly electable: readonly GroupSite[];
}

function modelGroup(input: PolicyInput): ModelGroup {
  const master = input.sites.find((site) => site.id === input.master)!;
  const clients = input.sites.filter((site) => site !== master && !site.view);
  const peers = clients.filter((site) => site.priority > 0);
  return { master, clients, peers, electable: master.priority > 0 ? [master, ...peers] : peers };
}

/** An election can be won by these electable sites alone (BDB: a majority, or nvotes = 1 for two sites non-strict). */
function canWin(coalition: readonly GroupSite[], electable: number, twoSiteStrict: boolean): boolean {
  if (coalition.length === 0) return false;
  if (electable === 2 && !twoSiteStrict) return true;
  return 2 * coalition.length > electable;
}

/** Every coalition that can win an election contains a site holding the commit (the master, or a peer that acked). */
function survivesEveryElection(input: PolicyInput, acked: ReadonlySet<string>): boolean {
  const group = modelGroup(input);
  const holds = (site: GroupSite) =>
    site === group.master || (group.peers.includes(site) && acked.has(site.id));
  return subsets(group.electable).every(
    (coalition) => !canWin(coalition, group.electable.length, input.twoSiteStrict) || coalition.some(holds),
  );
}

function modelSatisfied(input: PolicyInput, acked: ReadonlySet<string>): boolean {
  const group = modelGroup(input);
  const has = (site: GroupSite) => acked.has(site.id);
  switch (input.policy) {
    case 'none':
      return true;
    case 'one':
      return group.clients.some(has);
    case 'one_peer':
      return group.peers.some(has);
    case 'quorum':
      return survivesEveryElection(input, acked);
    case 'all':
      return group.clients.every(has);
    case 'all_peers':
      return group.peers.every(has);
    case 'all_available':
      return group.clients.every((site) => !input.connected.has(site.id) || has(site));
  }
}

interface ModelVerdict {
  readonly satisfied: boolean;
  readonly perm: boolean;
  readonly possible: boolean;
  /** The fewest further acks (from any configured site) that satisfy it; Infinity if none do. */
  readonly needed: number;
}

function model(input: PolicyInput): ModelVerdict {
  const union = (more: readonly GroupSite[]) => new Set([...input.acked, ...more.map((site) => site.id)]);
  const satisfied = modelSatisfied(input, input.acked);
  const perm = input.policy === 'all_available' ? survivesEveryElection(input, input.acked) : satisfied;
  const unacked = input.sites.filter((site) => !input.acked.has(site.id));
  const possible = subsets(unacked.filter((site) => input.connected.has(site.id))).some((more) =>
    modelSatisfied(input, union(more)),
  );
  let needed = Number.POSITIVE_INFINITY;
  for (const more of subsets(unacked)) {
    if (more.length < needed && modelSatisfied(input, union(more))) needed = more.length;
  }
  return { satisfied, perm, possible, needed };
}

// ---------------------------------------------------------------------------------------------------
// Arbitraries: groups of 1–7 sites (the master first, priority 0 now and then), views, priority-0
// clients, connected and acked subsets that may also name the master and an unknown site `x`.

const IDS = ['m', 'a', 'b', 'c', 'd', 'e', 'f'] as const;

const siteKind = fc.constantFrom('peer', 'peer', 'zero', 'view');

const policyInput = (policies: readonly AckPolicy[] = ACK_POLICIES): fc.Arbitrary<PolicyInput> =>
  fc.integer({ min: 1, max: 7 }).chain((size) =>
    fc
      .record({
        masterPriority: fc.integer({ min: 0, max: 3 }),
        kinds: fc.array(fc.tuple(siteKind, fc.integer({ min: 1, max: 3 })), {
          minLength: size - 1,
          maxLength: size - 1,
        }),
        connected: fc.array(fc.boolean(), { minLength: size + 1, maxLength: size + 1 }),
        acked: fc.array(fc.boolean(), { minLength: size + 1, maxLength: size + 1 }),
        policy: fc.constantFrom(...policies),
        twoSiteStrict: fc.boolean(),
      })
      .map(({ masterPriority, kinds, connected, acked, policy, twoSiteStrict }): PolicyInput => {
        const sites: GroupSite[] = [{ id: 'm', priority: masterPriority, view: false }];
        kinds.forEach(([kind, priority], index) => {
          sites.push({
            id: IDS[index + 1]!,
            priority: kind === 'peer' ? priority : 0,
            view: kind === 'view',
          });
        });
        const ids = [...sites.map((site) => site.id), 'x'];
        const pick = (flags: readonly boolean[]) => new Set(ids.filter((_, index) => flags[index]));
        return { policy, master: 'm', sites, connected: pick(connected), acked: pick(acked), twoSiteStrict };
      }),
  );

const show = (input: PolicyInput): string =>
  `${input.sites.map((s) => `${s.id}${s.view ? 'v' : s.priority}`).join(' ')} | conn ${[...input.connected].join(' ') || '-'} | acked ${[...input.acked].join(' ') || '-'} | ${input.policy}${input.twoSiteStrict ? '' : ' nonstrict'}`;

const withAck = (input: PolicyInput, id: string): PolicyInput => ({
  ...input,
  acked: new Set([...input.acked, id]),
});

// ---------------------------------------------------------------------------------------------------
// Properties, parameterised by the function under test so the must-fail controls can reuse them.

const properties = {
  /** Every verdict agrees with the brute-force model. */
  agreesWithModel: (evaluate: Evaluate) =>
    fc.property(policyInput(), (input) => {
      const verdict = evaluate(input);
      const expected = model(input);
      expect({ ...verdict, counting: undefined, missing: undefined }, show(input)).toEqual({
        satisfied: expected.satisfied,
        perm: expected.perm,
        possible: expected.possible,
        needed: Number.isFinite(expected.needed) ? expected.needed : verdict.needed,
        counting: undefined,
        missing: undefined,
      });
      if (!Number.isFinite(expected.needed)) expect(verdict.needed).toBeGreaterThan(0);
    }),

  /** Adding any one ack never takes anything back: satisfied, perm and possible stay, needed never grows. */
  monotone: (evaluate: Evaluate) =>
    fc.property(policyInput(), (input) => {
      const before = evaluate(input);
      for (const id of [...input.sites.map((site) => site.id), 'x']) {
        const after = evaluate(withAck(input, id));
        const where = `${show(input)} + ack ${id}`;
        if (before.satisfied) expect(after.satisfied, where).toBe(true);
        if (before.perm) expect(after.perm, where).toBe(true);
        if (before.possible) expect(after.possible, where).toBe(true);
        expect(after.needed, where).toBeLessThanOrEqual(before.needed);
      }
    }),

  /** possible false ⇒ no set of acks from the connected sites satisfies it (fail fast is never wrong). */
  failFastIsSound: (evaluate: Evaluate) =>
    fc.property(policyInput(), (input) => {
      if (evaluate(input).possible) return;
      for (const more of subsets([...input.connected])) {
        expect(evaluate({ ...input, acked: new Set([...input.acked, ...more]) }).satisfied, show(input)).toBe(
          false,
        );
      }
    }),

  /** possible true ⇒ acks from every connected site satisfy it (fail fast is never late). */
  failFastIsComplete: (evaluate: Evaluate) =>
    fc.property(policyInput(), (input) => {
      if (!evaluate(input).possible) return;
      const allAcked = new Set([...input.acked, ...input.connected]);
      expect(evaluate({ ...input, acked: allAcked }).satisfied, show(input)).toBe(true);
    }),

  /**
   * Quorum intersection: when quorum is satisfied (or all_available is perm), the master (if electable)
   * plus the acked electable peers meet every strict majority of the electable sites. In a non-strict
   * two-site group a lone site can elect itself, so both must hold it; in a strict one no lone site can
   * win, so the master's own copy is enough.
   */
  quorumIntersection: (evaluate: Evaluate) =>
    fc.property(policyInput(['quorum', 'all_available']), (input) => {
      if (!evaluate(input).perm) return;
      const { master, peers, electable } = modelGroup(input);
      const holders = electable.filter(
        (site) => site === master || (peers.includes(site) && input.acked.has(site.id)),
      );
      const e = electable.length;
      for (const majority of subsets(electable).filter((set) => 2 * set.length > e)) {
        expect(
          majority.some((site) => holders.includes(site)),
          `${show(input)}: majority ${majority.map((s) => s.id)}`,
        ).toBe(true);
      }
      if (e === 2 && !input.twoSiteStrict) expect(holders.length, show(input)).toBe(2);
      if (e === 2 && input.twoSiteStrict) expect(votesToWin(2, true)).toBe(2);
    }),

  /** `none` never waits and never fails. */
  noneAlwaysSatisfied: (evaluate: Evaluate) =>
    fc.property(policyInput(['none']), (input) => {
      expect(evaluate(input)).toMatchObject({ satisfied: true, perm: true, possible: true, needed: 0 });
    }),

  /** Shape: needed is 0 exactly when satisfied; counting is configured, never the master or a view. */
  wellFormed: (evaluate: Evaluate) =>
    fc.property(policyInput(), (input) => {
      const verdict = evaluate(input);
      expect(verdict.needed === 0, show(input)).toBe(verdict.satisfied);
      if (verdict.satisfied) expect(verdict.possible).toBe(true);
      if (input.policy !== 'all_available') expect(verdict.perm).toBe(verdict.satisfied);
      for (const id of verdict.counting) {
        const site = input.sites.find((candidate) => candidate.id === id);
        expect(site !== undefined && id !== input.master && !site.view, show(input)).toBe(true);
      }
      expect(verdict.missing.every((id) => verdict.counting.includes(id) && !input.acked.has(id))).toBe(true);
    }),
};

const RUNS = 1500;

describe('properties (fast-check, against the brute-force model)', () => {
  for (const [name, property] of Object.entries(properties)) {
    it(name, () => {
      fc.assert(property(evaluatePolicy), { numRuns: RUNS });
    });
  }
});

// ---------------------------------------------------------------------------------------------------
// Must-fail controls: a checker that never fails proves nothing.

/** Quorum one ack short: satisfied when one more ack would have done it. */
const quorumOneShort: Evaluate = (input) => {
  const verdict = evaluatePolicy(input);
  if (input.policy !== 'quorum' && input.policy !== 'all_available') return verdict;
  const realQuorum = evaluatePolicy({ ...input, policy: 'quorum' });
  const permShort = realQuorum.needed <= 1;
  if (input.policy === 'all_available') return { ...verdict, perm: permShort };
  return permShort
    ? { ...verdict, satisfied: true, perm: true, possible: true, needed: 0 }
    : { ...verdict, needed: verdict.needed - 1 };
};

/** 2SITE_STRICT ignored: a non-strict two-site group treated as strict. */
const alwaysStrict: Evaluate = (input) => evaluatePolicy({ ...input, twoSiteStrict: true });

/** Never fails fast: waits even when the connected sites cannot make it. */
const neverFailFast: Evaluate = (input) => ({ ...evaluatePolicy(input), possible: true });

/** Forgets acks from sites that have since disconnected (acks are cumulative: they still count). */
const forgetsDisconnectedAcks: Evaluate = (input) =>
  evaluatePolicy({ ...input, acked: new Set([...input.acked].filter((id) => input.connected.has(id))) });

describe('must-fail controls', () => {
  const controls: Array<[string, Evaluate, keyof typeof properties]> = [
    ['quorum one ack short breaks quorum intersection', quorumOneShort, 'quorumIntersection'],
    ['quorum one ack short disagrees with the model', quorumOneShort, 'agreesWithModel'],
    ['ignoring 2SITE_STRICT breaks quorum intersection', alwaysStrict, 'quorumIntersection'],
    ['never failing fast is caught as late', neverFailFast, 'failFastIsComplete'],
    ['forgetting disconnected acks disagrees with the model', forgetsDisconnectedAcks, 'agreesWithModel'],
  ];
  it.each(controls)('%s', (_, wrong, property) => {
    const result = fc.check(properties[property](wrong), { numRuns: RUNS });
    expect(result.failed).toBe(true);
  });

  it('the quorum-one-short counterexample is real: the wrong function says perm, the real one does not', () => {
    const result = fc.check(properties.quorumIntersection(quorumOneShort), { numRuns: RUNS });
    expect(result.failed).toBe(true);
    const [input] = result.counterexample!;
    expect(quorumOneShort(input).perm).toBe(true);
    expect(evaluatePolicy(input).perm).toBe(false);
    expect(survivesEveryElection(input, input.acked)).toBe(false);
  });
});
