/** What the outbox needs of a network: post (or reply) as a handle, idempotently. */
export interface PostRequest {
  as: string;
  text: string;
  replyTo: string | null;
  /** The outbox row's key: posting twice with it gives one post. */
  idempotencyKey: string;
  /** A direct message to the accounts the text mentions, on networks that have them. */
  direct?: boolean;
}

export interface NetworkClient {
  readonly name: string;
  post(req: PostRequest): Promise<{ postId: string }>;
  /**
   * The account behind a handle (see PostEvent.author): a DID on Bluesky. Absent where the handle is
   * the account (local, Mastodon). Null when the network knows no such handle.
   */
  resolveAccount?(handle: string): Promise<string | null>;
}

/**
 * A post that cannot go out for `waitMs` more (the account's token bucket is empty, or the network
 * rate-limited tagpay): the outbox retries it then, or sends a reply to a shopper by e-mail instead.
 */
export class PostDelayedError extends Error {
  override readonly name = 'PostDelayedError';
  constructor(
    readonly waitMs: number,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}
