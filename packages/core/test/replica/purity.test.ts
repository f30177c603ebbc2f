/**
 * The protocol core is pure: no clock, no randomness, no timers, no process, no I/O modules. Checked on
 * the source text of every file in src/replica/, and the checker itself is shown to catch each kind of
 * impurity (a checker that never fails proves nothing).
 */
import fs from 'node:fs';
import { builtinModules } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPLICA_DIR = path.resolve(HERE, '../../src/replica');
/** The election core (packages/election) is held to the same rule. */
const ELECTION_DIR = path.resolve(HERE, '../../../election/src');

const FORBIDDEN_TOKENS: readonly { pattern: RegExp; what: string }[] = [
  { pattern: /\bDate\./, what: 'Date.' },
  { pattern: /\bnew Date\b/, what: 'new Date' },
  { pattern: /\bMath\.random\b/, what: 'Math.random' },
  { pattern: /\bperformance\./, what: 'performance.' },
  { pattern: /\bsetTimeout\b/, what: 'setTimeout' },
  { pattern: /\bsetInterval\b/, what: 'setInterval' },
  { pattern: /\bsetImmediate\b/, what: 'setImmediate' },
  { pattern: /\bprocess\./, what: 'process.' },
  { pattern: /\brequire\(/, what: 'require(' },
];

const NODE_BUILTINS = new Set(builtinModules);

/** Every module specifier a source imports or re-exports (static, dynamic and type-position imports). */
function importSpecifiers(source: string): string[] {
  const specifiers: string[] = [];
  const patterns = [
    /\bfrom\s*['"]([^'"]+)['"]/g,
    /\bimport\s*['"]([^'"]+)['"]/g,
    /\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g,
  ];
  for (const pattern of patterns) {
    for (const match of source.matchAll(pattern)) specifiers.push(match[1]!);
  }
  return specifiers;
}

/** What makes a source of src/replica/ impure; empty when it is pure. */
function findImpurities(source: string): string[] {
  const findings: string[] = [];
  for (const { pattern, what } of FORBIDDEN_TOKENS) {
    if (pattern.test(source)) findings.push(`mentions ${what}`);
  }
  for (const specifier of importSpecifiers(source)) {
    if (specifier.startsWith('node:') || NODE_BUILTINS.has(specifier.split('/')[0]!)) {
      findings.push(`imports the Node module ${specifier}`);
    } else if (specifier === '../log/log.js' || specifier.startsWith('../log/log')) {
      findings.push(`imports the log (${specifier})`);
    } else if (specifier.startsWith('../base/') || specifier === '../base') {
      findings.push(`imports the shell (${specifier})`);
    }
  }
  return findings;
}

const sources = [REPLICA_DIR, ELECTION_DIR].flatMap((dir) =>
  fs
    .readdirSync(dir)
    .filter((name) => name.endsWith('.ts'))
    .sort()
    .map((name) => ({
      name: `${path.basename(path.dirname(dir))}/${path.basename(dir)}/${name}`,
      source: fs.readFileSync(path.join(dir, name), 'utf8'),
    })),
);

describe('purity of src/replica and packages/election', () => {
  it('finds the core’s sources', () => {
    expect(sources.map((file) => file.name)).toEqual(
      expect.arrayContaining([
        'src/replica/core.ts',
        'src/replica/config.ts',
        'election/src/election-core.ts',
      ]),
    );
    // The checker sees the imports that are there (so an empty finding list means something).
    const core = sources.find((file) => file.name === 'src/replica/core.ts')!;
    expect(importSpecifiers(core.source)).toEqual(expect.arrayContaining(['../log/record.js', './types.js']));
  });

  it.each(sources)('$name mentions no clock, randomness, timer, process or I/O module', ({ source }) => {
    expect(findImpurities(source)).toEqual([]);
  });
});

describe('the purity checker', () => {
  it.each([
    ['const now = Date.now();', 'mentions Date.'],
    ['const at = new Date();', 'mentions new Date'],
    ['const jitter = Math.random() * 10;', 'mentions Math.random'],
    ['const t = performance.now();', 'mentions performance.'],
    ['setTimeout(() => retry(), 40);', 'mentions setTimeout'],
    ['const handle = setInterval(tick, 500);', 'mentions setInterval'],
    ['setImmediate(flush);', 'mentions setImmediate'],
    ['if (process.env.DEBUG) log();', 'mentions process.'],
    ["const fs = require('fs');", 'mentions require('],
    ["import { readFileSync } from 'node:fs';", 'imports the Node module node:fs'],
    ["import net from 'net';", 'imports the Node module net'],
    ["const { open } = await import('node:fs/promises');", 'imports the Node module node:fs/promises'],
    ["import { WriteAheadLog } from '../log/log.js';", 'imports the log (../log/log.js)'],
    ["import type { WriteAheadLog } from '../log/log.js';", 'imports the log (../log/log.js)'],
    ["export { BaseReplica } from '../base/base-replica.js';", 'imports the shell (../base/base-replica.js)'],
  ])('catches %s', (snippet, finding) => {
    expect(findImpurities(`/** a deliberately impure core */\n${snippet}\n`)).toContain(finding);
  });

  it('accepts what the core may use: the record encoders, types, its own modules', () => {
    const pure = [
      "import { encodeRecordInto, RecordType } from '../log/record.js';",
      "import type { Message } from '../wire/messages.js';",
      "import { GapBuffer } from './gap-buffer.js';",
      "type M = import('../wire/messages.js').Message;",
      'const later = this.#now + this.#config.rerequestMinMs; // time arrives as tick inputs',
      'const updated = record.updatedAt; const processed = 1;',
    ].join('\n');
    expect(findImpurities(pure)).toEqual([]);
  });
});
