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
 * Checks a `starting_after` cursor names an object the caller can see; an unknown one is an error, not
 * an empty page. A merchant's cursor must be its own, so cursors never reveal other tenants' ids.
 */
export async function checkCursor(
  db: Sql,
  table: 'offers' | 'orders',
  id: string,
  merchantId: string | null,
): Promise<void> {
  const { rows } = await db.query(
    `SELECT 1 FROM ${table} WHERE id = $1 AND ($2::text IS NULL OR merchant_id = $2)`,
    [id, merchantId],
  );
  if (rows.length === 0)
    throw new TagpayError(
      'INVALID_REQUEST',
      `No ${table.slice(0, -1)} ${id} to start after.`,
      'starting_after',
    );
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
