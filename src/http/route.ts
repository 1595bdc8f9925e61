import { z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { TagpayError } from '../core/errors.ts';
import type { Sql } from '../store/db.ts';
import { ErrorSchema } from './schemas.ts';

/**
 * Sends a JSON response from an OpenAPI route. The routes declare their success shapes for the
 * document; errors and replayed answers share one untyped path, so this is the one cast.
 */
export function send(c: Context, body: unknown, status = 200): never {
  return c.json(body as object, status as 200) as never;
}

/**
 * One page of a merchant-owned table (offers, orders), newest first, Stripe's way: `limit` rows after
 * the `starting_after` cursor, and whether more follow. `filters` gives the caller's conditions, each
 * value passed through `arg` (which answers its placeholder). A merchant sees only its own rows, and its cursor must be
 * its own: an unknown or another tenant's cursor is an error, not an empty page, so cursors never
 * reveal other tenants' ids.
 */
export async function cursorPage<T>(
  db: Sql,
  table: 'offers' | 'orders',
  merchantId: string | null,
  q: { limit: number; starting_after?: string | undefined },
  filters: (arg: (value: unknown) => string) => string[],
  view: (row: Record<string, unknown>) => T,
): Promise<{ object: 'list'; data: T[]; has_more: boolean }> {
  const params: unknown[] = [q.limit + 1];
  const where = filters((value) => `$${params.push(value)}`);
  if (merchantId !== null) where.push(`merchant_id = $${params.push(merchantId)}`);
  if (q.starting_after !== undefined && q.starting_after !== '') {
    const { rows } = await db.query(
      `SELECT 1 FROM ${table} WHERE id = $1 AND ($2::text IS NULL OR merchant_id = $2)`,
      [q.starting_after, merchantId],
    );
    if (rows.length === 0)
      throw new TagpayError(
        'INVALID_REQUEST',
        `No ${table.slice(0, -1)} ${q.starting_after} to start after.`,
        'starting_after',
      );
    where.push(
      `(created_at, id) < (SELECT created_at, id FROM ${table} WHERE id = $${params.push(q.starting_after)})`,
    );
  }
  const { rows } = await db.query<Record<string, unknown>>(
    `SELECT * FROM ${table} ${where.length ? 'WHERE ' + where.join(' AND ') : ''}
      ORDER BY created_at DESC, id DESC LIMIT $1`,
    params,
  );
  return {
    object: 'list',
    data: rows.slice(0, q.limit).map(view),
    has_more: rows.length > q.limit,
  };
}

const err = (description: string) => ({
  description,
  content: { 'application/json': { schema: ErrorSchema } },
});

/** The error responses most routes can give, for the OpenAPI document. */
export const errorResponses = {
  400: err('Invalid request (INVALID_REQUEST, INVALID_JSON, UNKNOWN_CURRENCY, ...)'),
  401: err('No or unknown credentials (UNAUTHENTICATED)'),
  403: err('Credentials without the right (FORBIDDEN)'),
  409: err('Conflict (HASHTAG_TAKEN, IDEMPOTENCY_CONFLICT, ...)'),
};

/** A JSON body or response of the given schema, as OpenAPI routes declare it. */
export const json = <T extends z.ZodType>(schema: T) => ({
  content: { 'application/json': { schema } },
});

export const security = [{ bearer: [] }];
/** Documents (and bounds) Stripe's Idempotency-Key header on every POST that changes state. */
export const IdempotencyHeaders = z.object({
  // Its shape is checked in auth.ts idempotency(), so every bad key gets IDEMPOTENCY_KEY_INVALID.
  'idempotency-key': z.string().optional().openapi({
    maxLength: 255,
    description:
      'Makes the POST safe to retry: the same key and body give the same answer; another body with it is IDEMPOTENCY_CONFLICT.',
  }),
});
