/**
 * How many votes win an election. Berkeley DB counts `nsites`; Ackord counts *electable* sites, because
 * the acknowledgement policies do (`@ackord/core` policy.ts): a commit acknowledged under `quorum` is held
 * by enough electable sites to meet every winning coalition, and that is only true if a coalition is a
 * strict majority of the electable sites. Priority-0 sites vote, but their votes never make a majority.
 */
import type { ElectionSite } from './types.js';

export function isElectable(site: Pick<ElectionSite, 'priority' | 'view'>): boolean {
  return site.priority > 0 && !site.view;
}

/** A site that takes part in elections (votes): anything but a view. */
export function isVoter(site: Pick<ElectionSite, 'view'>): boolean {
  return !site.view;
}

/**
 * The smallest number of electable sites that can elect a master: a strict majority of them, or one in a
 * two-site group with 2SITE_STRICT off (Berkeley DB's "fudge" so a lone survivor can go on — unsafe: the
 * survivor may lack commits the other acknowledged).
 */
export function votesToWin(electableSites: number, twoSiteStrict: boolean): number {
  if (!Number.isSafeInteger(electableSites) || electableSites < 0)
    throw new RangeError(`electableSites must be a non-negative integer, got ${electableSites}`);
  if (electableSites === 2 && !twoSiteStrict) return 1;
  return Math.floor(electableSites / 2) + 1;
}
