/**
 * The hand-written pieces of the write path answer exactly what the general ones would: the receipt's
 * JSON is `JSON.stringify(receiptBody(receipt))`, and the query is split as URLSearchParams splits it.
 */
import type { CommitReceipt } from '@ackord/core';
import { describe, expect, it } from 'vitest';
import { parseQuery, receiptBody, receiptJson } from '../src/http/routes-kv.js';

const base: CommitReceipt = {
  txnId: 7,
  lsn: 85,
  generation: 1,
  policy: 'quorum',
  outcome: 'acknowledged',
  perm: true,
  reason: undefined,
  ackedBy: [{ site: 'c', level: 'flushed', latencyMs: 2.4841234 }],
  needed: 0,
  missing: ['b'],
  localFlushForced: false,
  localLevel: 'flushed',
  elapsedMs: 2.9751111,
  token: '1:85',
};

describe('receiptJson', () => {
  const receipts: [string, CommitReceipt][] = [
    ['acknowledged', base],
    [
      'not perm, two acks, a reason',
      {
        ...base,
        outcome: 'permFailed',
        perm: false,
        reason: 'timeout',
        ackedBy: [base.ackedBy[0]!, { ...base.ackedBy[0]!, site: 'd.e-f_1', level: 'written', latencyMs: 0 }],
        needed: 2,
        missing: ['b', 'x'],
        localFlushForced: true,
      },
    ],
    [
      'forwarded, nothing acked',
      { ...base, ackedBy: [], missing: [], forwardedTo: 'a', localLevel: 'buffered' },
    ],
    ['perm unknown (left out, as JSON.stringify leaves out undefined)', { ...base, perm: undefined }],
    ['a site id that needs escaping', { ...base, missing: ['q"\\\n'], forwardedTo: 'é"' }],
    ['non-finite numbers', { ...base, elapsedMs: Number.NaN, needed: Number.POSITIVE_INFINITY }],
  ];
  for (const [name, receipt] of receipts) {
    it(`serializes ${name} as JSON.stringify(receiptBody(…)) does`, () => {
      const text = receiptJson(receipt);
      expect(text).toBe(JSON.stringify(receiptBody(receipt)));
      expect(JSON.parse(text)).toEqual(JSON.parse(JSON.stringify(receiptBody(receipt))));
    });
  }
});

describe('parseQuery', () => {
  const queries = [
    '',
    'ack=quorum',
    'ack=quorum&forward=1&timeoutMs=200',
    'ack=quorum&ack=all',
    'a&&b=&=c&d==e',
    'ack=one%5Fpeer',
    'key=a+b',
    'x=%zz&y=%C3%A9',
    '&&',
  ];
  for (const text of queries) {
    it(`splits ${JSON.stringify(text)} as URLSearchParams does`, () => {
      expect(parseQuery(text)).toEqual([...new URLSearchParams(text)]);
    });
  }
});
