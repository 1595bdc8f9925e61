import { TagpayError } from '../core/errors.ts';
import { API_RESULT_WAIT_MS } from '../core/limits.ts';
import type { Engine } from './engine.ts';
import type { ApiCommand } from './events.ts';
import type { InputLog } from './log.ts';
import type { ApiResult } from './state.ts';

/**
 * Puts an API command into the input log and waits for the engine's answer. The log key joins the
 * principal and the idempotency key, so the same key from the same caller is one command: a repeat
 * with the same request gets the first answer, a repeat with a different request is refused.
 */
export async function submitCommand(
  log: InputLog,
  engine: Engine,
  principal: string,
  idempotencyKey: string,
  requestHash: string,
  command: ApiCommand,
): Promise<ApiResult & { replayed: boolean }> {
  const key = `api:${principal}:${idempotencyKey}`;
  const [seq] = await log.append([{ key, body: { kind: 'api', principal, requestHash, command } }]);
  if (seq === null) {
    const first = await log.findByKey(key);
    if (first?.body.kind !== 'api' || first.body.requestHash !== requestHash) {
      throw new TagpayError(
        'IDEMPOTENCY_CONFLICT',
        'This Idempotency-Key was already used with a different request.',
      );
    }
  }
  const result = await engine.awaitResult(key, API_RESULT_WAIT_MS);
  if (result === null)
    throw new TagpayError(
      'ENGINE_BUSY',
      'The engine did not answer in time; retry with the same Idempotency-Key.',
    );
  return { ...result, replayed: seq === null };
}
