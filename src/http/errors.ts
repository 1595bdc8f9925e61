import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { Logger } from 'pino';
import { errorBody, TagpayError, type ErrorCode } from '../core/errors.ts';

/**
 * The one place errors become HTTP responses: `{ "error": { "code", "message", "param"? } }` with the
 * code's fixed status. Anything unexpected is logged and answered as INTERNAL without details.
 */
export function errorHandler(logger: Logger) {
  return (error: Error, c: Context) => {
    if (error instanceof TagpayError) {
      return c.json(errorBody(error.code, error.message, error.param), error.status as 400);
    }
    if (error instanceof HTTPException) {
      if (error.status === 413)
        return c.json(errorBody('BODY_TOO_LARGE', 'The request body is too large.'), 413);
      if (error.status === 415)
        return c.json(
          errorBody('UNSUPPORTED_MEDIA_TYPE', 'Send the body as application/json.'),
          415,
        );
      if (error.status === 400)
        return c.json(errorBody('INVALID_JSON', 'The request body is not valid JSON.'), 400);
      return c.json(errorBody('INVALID_REQUEST', error.message), error.status);
    }
    logger.error({ err: error, path: c.req.path }, 'unhandled error');
    return c.json(
      errorBody('INTERNAL', 'Something went wrong on our side; it has been logged.'),
      500,
    );
  };
}

/** Fields whose problems have a code of their own; anything else is INVALID_REQUEST. */
const FIELD_CODES: Record<string, ErrorCode> = {
  currency: 'UNKNOWN_CURRENCY',
  amount: 'INVALID_AMOUNT',
  per_purchase: 'INVALID_AMOUNT',
  per_day: 'INVALID_AMOUNT',
  hashtag: 'INVALID_HASHTAG',
  handle: 'INVALID_HANDLE',
  'idempotency-key': 'IDEMPOTENCY_KEY_INVALID',
};

function valueAt(data: unknown, path: readonly PropertyKey[]): unknown {
  let value = data;
  for (const key of path) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return value;
}

/** Zod validation failures, reported with the first offending field as `param`. */
export function validationHook(
  result: { success: boolean; error?: unknown; data?: unknown },
  c: Context,
) {
  if (result.success) return;
  const issues =
    (result.error as { issues?: { path: PropertyKey[]; message: string; code?: string }[] })
      .issues ?? [];
  const first = issues[0];
  const param = first ? first.path.map(String).join('.') : undefined;
  const field = first?.path.at(-1);
  // A missing field is a malformed request, whatever the field: only a present, bad value has its own code.
  const missing = first !== undefined && valueAt(result.data, first.path) === undefined;
  const message = !first
    ? 'The request is not valid.'
    : missing && param
      ? `${param} is required`
      : `${param ? param + ': ' : ''}${first.message}`;
  const code =
    !missing && typeof field === 'string'
      ? (FIELD_CODES[field] ?? 'INVALID_REQUEST')
      : 'INVALID_REQUEST';
  return c.json(errorBody(code, message, param || undefined), 400);
}
