import { ConfigError, type BlueskyConfig } from '../../config/env.ts';
import type { ConnectNetwork } from '../remote.ts';

/** Connects tagpay to bluesky: not built yet, so configuring it stops the start with a clear message. */
export const connect: ConnectNetwork<BlueskyConfig> = async () => {
  throw new ConfigError('the bluesky connector is not built yet; unset its TAGPAY_* variables');
};
