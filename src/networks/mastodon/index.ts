import { ConfigError, type MastodonConfig } from '../../config/env.ts';
import type { ConnectNetwork } from '../remote.ts';

/** Connects tagpay to mastodon: not built yet, so configuring it stops the start with a clear message. */
export const connect: ConnectNetwork<MastodonConfig> = async () => {
  throw new ConfigError('the mastodon connector is not built yet; unset its TAGPAY_* variables');
};
