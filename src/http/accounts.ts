import { TagpayError } from '../core/errors.ts';
import type { AppContext } from '../app-context.ts';

/** The network account behind a handle, or an error that says why there is none. */
export async function accountOf(app: AppContext, network: string, handle: string): Promise<string> {
  const client = app.networks.get(network);
  if (client === undefined) {
    throw new TagpayError(
      'NETWORK_NOT_CONNECTED',
      `This tagpay is not connected to ${network}.`,
      'network',
    );
  }
  if (client.resolveAccount === undefined) return handle;
  const account = await client.resolveAccount(handle);
  if (account === null)
    throw new TagpayError('INVALID_HANDLE', `No ${handle} on ${network}.`, 'handle');
  return account;
}
