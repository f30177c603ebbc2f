/**
 * Summarizes V8 CPU profiles: the top functions by self time, then by inclusive time.
 *
 *   node --cpu-prof --cpu-prof-dir=/tmp/prof --conditions=@ackord/source --import tsx bench/core/main.ts --quick
 *   pnpm tsx bench/core/profile-summary.ts [--top N] /tmp/prof/*.cpuprofile
 *
 * tsx's loader runs in a thread of its own, which writes a profile too: the main thread's is the one
 * with the most samples that are not `(idle)`, and only that one is summarized.
 */
import fs from 'node:fs';

interface CallFrame {
  readonly functionName: string;
  readonly url: string;
  readonly lineNumber: number;
}
interface ProfileNode {
  readonly id: number;
  readonly callFrame: CallFrame;
  readonly children?: readonly number[];
}
interface Profile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly startTime: number;
  readonly endTime: number;
}

function busySamples(profile: Profile): number {
  const idle = new Set(
    profile.nodes.filter((node) => node.callFrame.functionName === '(idle)').map((node) => node.id),
  );
  return profile.samples.filter((id) => !idle.has(id)).length;
}

function label(frame: CallFrame): string {
  const where = frame.url.replace(/^.*?\/(packages|bench|node_modules)\//, '$1/');
  return `${frame.functionName || '(anonymous)'}${where === '' ? '' : ` ${where}`}`;
}

function summarize(profile: Profile, top: number): string {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const hits = new Map<number, number>();
  for (const id of profile.samples) hits.set(id, (hits.get(id) ?? 0) + 1);
  const total = profile.samples.length;
  const msPerSample = (profile.endTime - profile.startTime) / 1000 / total;
  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  for (const [id, count] of hits) {
    const leaf = label(byId.get(id)!.callFrame);
    self.set(leaf, (self.get(leaf) ?? 0) + count);
    // A sample counts once per distinct function on its stack (recursion counted once).
    const seen = new Set<string>();
    for (let current: number | undefined = id; current !== undefined; current = parent.get(current)) {
      const name = label(byId.get(current)!.callFrame);
      if (seen.has(name)) continue;
      seen.add(name);
      inclusive.set(name, (inclusive.get(name) ?? 0) + count);
    }
  }
  const table = (title: string, values: Map<string, number>) =>
    [
      title,
      ...[...values]
        .sort((a, b) => b[1] - a[1])
        .slice(0, top)
        .map(
          ([name, count]) =>
            `${((100 * count) / total).toFixed(1).padStart(5)}%  ${(count * msPerSample).toFixed(0).padStart(6)} ms  ${name}`,
        ),
    ].join('\n');
  return [
    `${total} samples, ${(total * msPerSample).toFixed(0)} ms`,
    '',
    table('self time:', self),
    '',
    table('inclusive time:', inclusive),
  ].join('\n');
}

const args = process.argv.slice(2);
let top = 30;
const topIndex = args.indexOf('--top');
if (topIndex >= 0) {
  top = Number(args[topIndex + 1]);
  args.splice(topIndex, 2);
}
if (args.length === 0) {
  console.error('usage: tsx bench/core/profile-summary.ts [--top N] FILE.cpuprofile...');
  process.exit(2);
}
const profiles = args.map((file) => JSON.parse(fs.readFileSync(file, 'utf8')) as Profile);
profiles.sort((a, b) => busySamples(b) - busySamples(a));
console.log(summarize(profiles[0]!, top));
