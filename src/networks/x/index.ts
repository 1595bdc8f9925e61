import { ConfigError, type XConfig } from '../../config/env.ts';
import type { ConnectNetwork } from '../remote.ts';
import { XApi } from './api.ts';
import { XClient } from './client.ts';
import { XConnector } from './connector.ts';

/**
 * Connects tagpay to X (API v2): the app's bearer token reads the filtered stream and keeps its
 * rules; tagpay's account's OAuth 1.0a user context (all four TAGPAY_X_* keys below) posts offers
 * and replies. Without the user context tagpay could read but never answer, so it refuses to start.
 */
export const connect: ConnectNetwork<XConfig> = async (config, deps) => {
  const missing = (
    [
      ['TAGPAY_X_API_KEY', config.apiKey],
      ['TAGPAY_X_API_SECRET', config.apiSecret],
      ['TAGPAY_X_ACCESS_TOKEN', config.accessToken],
      ['TAGPAY_X_ACCESS_SECRET', config.accessSecret],
    ] as const
  )
    .filter(([, value]) => value === null || value === '')
    .map(([name]) => name);
  if (missing.length > 0) {
    throw new ConfigError(
      `X needs the OAuth 1.0a user context of tagpay's account to reply: set ${missing.join(', ')} ` +
        '(the API key and secret of the X app, the access token and secret of the account), ' +
        'or unset TAGPAY_X_BEARER_TOKEN to leave X off',
    );
  }
  const api = new XApi(config.apiBase, config.bearerToken, {
    consumerKey: config.apiKey!,
    consumerSecret: config.apiSecret!,
    token: config.accessToken!,
    tokenSecret: config.accessSecret!,
  });
  const client = await XClient.open(api);
  return { client, connector: new XConnector(api, deps, client.username) };
};
