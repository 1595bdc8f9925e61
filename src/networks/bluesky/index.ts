import type { BlueskyConfig } from '../../config/env.ts';
import type { ConnectNetwork } from '../remote.ts';
import { BlueskyClient } from './client.ts';
import { BlueskyConnector, type BlueskySource } from './connector.ts';

/**
 * Connects tagpay to Bluesky: logs in to its account (a refused login stops the start with a
 * ConfigError that says why) and builds the connector, which reads the configured firehose or
 * Jetstream, or by default the firehose of tagpay's own PDS (enough for a PDS that hosts everyone
 * tagpay serves, such as a test network; bsky.social users need a relay or a Jetstream).
 */
export const connect: ConnectNetwork<BlueskyConfig> = async (config, deps) => {
  const client = new BlueskyClient(config, deps.logger);
  await client.login();
  const connector = new BlueskyConnector(sourceOf(config), deps, client, client.idResolver);
  return { client, connector };
};

export function sourceOf(config: BlueskyConfig): BlueskySource {
  if (config.jetstream !== null) return { kind: 'jetstream', url: config.jetstream };
  if (config.firehose !== null) return { kind: 'firehose', url: config.firehose };
  const service = new URL(config.service);
  service.protocol = service.protocol === 'https:' ? 'wss:' : 'ws:';
  return { kind: 'firehose', url: service.toString().replace(/\/+$/, '') };
}
