import { ConfigError, type XConfig } from '../../config/env.ts';
import type { ConnectNetwork } from '../remote.ts';

/** Connects tagpay to x: not built yet, so configuring it stops the start with a clear message. */
export const connect: ConnectNetwork<XConfig> = async () => {
  throw new ConfigError('the x connector is not built yet; unset its TAGPAY_* variables');
};
