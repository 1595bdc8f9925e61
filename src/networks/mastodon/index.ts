import type { MastodonConfig } from '../../config/env.ts';
import type { ConnectNetwork } from '../remote.ts';
import { MastodonClient, type MastodonStats } from './client.ts';
import { MastodonConnector } from './connector.ts';

/**
 * Connects tagpay to a Mastodon server (or another server with Mastodon's API) as the account of
 * TAGPAY_MASTODON_TOKEN: logs in (a refused token is an Error that says so), and returns the client
 * that posts and the connector that reads the streams.
 */
export const connect: ConnectNetwork<MastodonConfig> = async (config, deps) => {
  const stats: MastodonStats = { rateLimitWaits: 0 };
  const client = await MastodonClient.login(config.url, config.token, stats);
  const connector = new MastodonConnector(client, config.token, deps, stats);
  return { client, connector };
};
