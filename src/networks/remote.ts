import type { Connector, ConnectorDeps } from './connector.ts';
import type { NetworkClient } from './network.ts';

/** A network client that knows tagpay's own account there (its posts are never read as commands). */
export interface RemoteClient extends NetworkClient {
  /** tagpay's account on the network, as post authors are given (see PostEvent.author). */
  readonly self: string;
}

/** What each network folder's `index.ts` exports: log in, and return the client and the connector. */
export type ConnectNetwork<C> = (
  config: C,
  deps: ConnectorDeps,
) => Promise<{ client: RemoteClient; connector: Connector }>;
