import assert from 'node:assert/strict';
import { test } from 'node:test';
import { rateLimitWaitMs } from './api.ts';
import { searchQueries } from './connector.ts';
import { X_RATE_LIMIT_WAIT_MS_MAX, X_SEARCH_QUERY_CHARS_MAX } from './limits.ts';

test('searchQueries ORs rules into queries that fit the length limit, losing none', () => {
  assert.deepEqual(searchQueries(['#a -is:retweet', '@t']), ['(#a -is:retweet) OR (@t)']);
  const rules = Array.from({ length: 100 }, (_, i) => `#hashtag${i} -is:retweet -from:tagpay`);
  const queries = searchQueries(rules);
  assert.ok(queries.length > 1);
  for (const q of queries) assert.ok(q.length <= X_SEARCH_QUERY_CHARS_MAX, q);
  const back = queries.flatMap((q) => q.split(' OR ')).map((p) => p.slice(1, -1));
  assert.deepEqual(back, rules);
  assert.deepEqual(searchQueries([]), []);
});

test('rateLimitWaitMs waits until x-rate-limit-reset, bounded both ways', () => {
  const now = 1_700_000_000_000;
  const h = (reset: string | null) =>
    new Headers(reset === null ? {} : { 'x-rate-limit-reset': reset });
  assert.equal(rateLimitWaitMs(h(String(now / 1000 + 30)), now), 30_000);
  assert.equal(rateLimitWaitMs(h(String(now / 1000 - 5)), now), 1_000, 'a reset in the past');
  assert.equal(rateLimitWaitMs(h(null), now), 1_000, 'no header');
  assert.equal(rateLimitWaitMs(h('soon'), now), 1_000, 'garbage');
  assert.equal(rateLimitWaitMs(h(String(now / 1000 + 86_400)), now), X_RATE_LIMIT_WAIT_MS_MAX);
});
