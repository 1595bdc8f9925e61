import { getConnInfo } from '@hono/node-server/conninfo';
import type { MiddlewareHandler } from 'hono';
import { sha256 } from '../core/codes.ts';
import { errorBody } from '../core/errors.ts';
import { RATE_LIMIT_BURST_FACTOR, RATE_LIMIT_KEYS_MAX } from '../core/limits.ts';
import type { Clock } from '../engine/log.ts';
import { TokenBucket } from '../networks/connector.ts';
import { bearer } from './auth.ts';

/**
 * Rate limits per credential and per client address: each gets a token bucket of `perSecond`
 * requests, bursts of RATE_LIMIT_BURST_FACTOR seconds' worth. Over it: `429 RATE_LIMITED` with
 * Retry-After. In memory, per process, bounded to RATE_LIMIT_KEYS_MAX buckets (the oldest go first).
 * `perSecond` 0 turns the limits off.
 */
export function rateLimit(perSecond: number, clock: Clock): MiddlewareHandler {
  const buckets = new Map<string, TokenBucket>();
  const take = (key: string, now: number): number => {
    let bucket = buckets.get(key);
    if (bucket === undefined) {
      bucket = new TokenBucket(perSecond * RATE_LIMIT_BURST_FACTOR, perSecond, now);
      if (buckets.size >= RATE_LIMIT_KEYS_MAX) buckets.delete(buckets.keys().next().value!);
    } else {
      buckets.delete(key);
    }
    buckets.set(key, bucket);
    return bucket.take(now);
  };
  return async (c, next) => {
    if (perSecond <= 0) return next();
    const now = clock.now();
    const token = bearer(c);
    let address: string | undefined;
    try {
      address = getConnInfo(c).remote.address;
    } catch {
      address = undefined; // In-process requests (tests) have no socket.
    }
    const waits = [
      token === null ? 0 : take(`key:${sha256(token)}`, now),
      address === undefined ? 0 : take(`ip:${address}`, now),
    ];
    const wait = Math.max(...waits);
    if (wait > 0) {
      c.header('Retry-After', String(Math.ceil(wait / 1000)));
      return c.json(
        errorBody('RATE_LIMITED', 'Too many requests; retry after the time in Retry-After.'),
        429,
      );
    }
    await next();
  };
}
