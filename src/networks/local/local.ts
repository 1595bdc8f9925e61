import { randomBytes } from 'node:crypto';
import { newSecret, sha256 } from '../../core/codes.ts';
import { TagpayError } from '../../core/errors.ts';
import { LOCAL_POST_TEXT_CHARS_MAX } from '../../core/limits.ts';
import { LOCAL_HANDLE_RE, normalizeHandle, readTags } from '../../core/post-grammar.ts';
import { Serial } from '../../core/serial.ts';
import type { Clock } from '../../engine/log.ts';
import type { Db } from '../../store/db.ts';
import { num } from '../../store/db.ts';
import type { NetworkClient, PostRequest } from '../network.ts';

export interface LocalPost {
  id: string;
  author: string;
  text: string;
  reply_to: string | null;
  mentions: string[];
  created_at: string;
}

const random = (n: number) => new Uint8Array(randomBytes(n));

type Row = {
  id: unknown;
  author: string;
  text: string;
  reply_to: unknown;
  mentions: string[];
  created_at: unknown;
};
function toPost(r: Row): LocalPost {
  return {
    id: String(r.id),
    author: r.author,
    text: r.text,
    reply_to: r.reply_to === null ? null : String(r.reply_to),
    mentions: r.mentions,
    created_at: new Date(num(r.created_at)).toISOString(),
  };
}

/**
 * The built-in social network: accounts with bearer tokens (stored as hashes), posts, replies,
 * hashtags and mentions. It stands apart from the engine like any outside network; the engine reads
 * it through the connector in connector.ts and answers through the outbox.
 */
export class LocalNetwork implements NetworkClient {
  readonly name = 'local';
  private readonly serial = new Serial();
  private readonly listeners: ((post: LocalPost) => void)[] = [];

  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
  ) {}

  /** Calls `listener` with each new post; the returned function stops it. */
  onPost(listener: (post: LocalPost) => void): () => void {
    this.listeners.push(listener);
    return () => {
      const i = this.listeners.indexOf(listener);
      if (i >= 0) this.listeners.splice(i, 1);
    };
  }

  async createAccount(rawHandle: string, demo = false): Promise<{ handle: string; token: string }> {
    const handle = normalizeHandle(rawHandle);
    if (!LOCAL_HANDLE_RE.test(handle)) {
      throw new TagpayError(
        'INVALID_HANDLE',
        'A handle is 2 to 32 letters, digits, _ . or -, starting with a letter, digit or _.',
        'handle',
      );
    }
    const token = newSecret('lt', random);
    const created = await this.db.transaction(async (tx) => {
      // A merchant's account made by tagpay before its owner signed up is claimed by the first sign-up.
      const { rows } = await tx.query(
        `INSERT INTO local_accounts (handle, demo, created_at) VALUES ($1, $2, $3)
         ON CONFLICT (handle) DO UPDATE SET claimable = false, demo = excluded.demo WHERE local_accounts.claimable
         RETURNING handle`,
        [handle, demo, this.clock.now()],
      );
      if (rows.length === 0) return false;
      await tx.query('INSERT INTO local_tokens (hash, handle, created_at) VALUES ($1, $2, $3)', [
        sha256(token),
        handle,
        this.clock.now(),
      ]);
      return true;
    });
    if (!created)
      throw new TagpayError('HANDLE_TAKEN', `@${handle} is taken on the local network.`, 'handle');
    return { handle, token };
  }

  /**
   * Creates an account with no token if it is missing: tagpay's own (never claimable), or a merchant's
   * that tagpay posts for (claimable: its owner may still sign up for it on the local network).
   */
  async ensureAccount(handle: string, claimable = false): Promise<void> {
    await this.db.query(
      'INSERT INTO local_accounts (handle, claimable, created_at) VALUES ($1, $2, $3) ON CONFLICT (handle) DO NOTHING',
      [handle, claimable, this.clock.now()],
    );
  }

  /** A new token for a demo account (demo mode only: anyone may act as the demo users). */
  async demoSignIn(handle: string): Promise<string | null> {
    if (!(await this.isDemo(handle))) return null;
    const token = newSecret('lt', random);
    await this.db.query('INSERT INTO local_tokens (hash, handle, created_at) VALUES ($1, $2, $3)', [
      sha256(token),
      handle,
      this.clock.now(),
    ]);
    return token;
  }

  async authenticate(token: string): Promise<string | null> {
    const { rows } = await this.db.query<{ handle: string }>(
      'SELECT handle FROM local_tokens WHERE hash = $1',
      [sha256(token)],
    );
    return rows[0]?.handle ?? null;
  }

  async isDemo(handle: string): Promise<boolean> {
    const { rows } = await this.db.query<{ demo: boolean }>(
      'SELECT demo FROM local_accounts WHERE handle = $1',
      [handle],
    );
    return rows[0]?.demo === true;
  }

  async createPost(
    author: string,
    text: string,
    replyTo: string | null,
    idemKey: string | null = null,
  ): Promise<LocalPost> {
    if (text.trim().length === 0)
      throw new TagpayError('INVALID_REQUEST', 'A post needs some text.', 'text');
    if ([...text].length > LOCAL_POST_TEXT_CHARS_MAX) {
      throw new TagpayError(
        'TEXT_TOO_LONG',
        `A post has at most ${LOCAL_POST_TEXT_CHARS_MAX} characters.`,
        'text',
      );
    }
    if (replyTo !== null && !/^[0-9]{1,18}$/.test(replyTo)) {
      throw new TagpayError(
        'REPLY_TARGET_NOT_FOUND',
        `No post ${replyTo} to reply to.`,
        'reply_to',
      );
    }
    // Posts are numbered in commit order, so the connector's cursor never passes a post still being written.
    const post = await this.serial.run(async () => {
      if (idemKey !== null) {
        const { rows } = await this.db.query<Row>('SELECT * FROM local_posts WHERE idem_key = $1', [
          idemKey,
        ]);
        if (rows[0]) return { post: toPost(rows[0]), fresh: false };
      }
      if (replyTo !== null) {
        const { rows } = await this.db.query('SELECT 1 FROM local_posts WHERE id = $1', [replyTo]);
        if (rows.length === 0)
          throw new TagpayError(
            'REPLY_TARGET_NOT_FOUND',
            `No post ${replyTo} to reply to.`,
            'reply_to',
          );
      }
      const { rows } = await this.db.query<Row>(
        'INSERT INTO local_posts (author, text, reply_to, mentions, created_at, idem_key) VALUES ($1, $2, $3, $4, $5, $6) RETURNING *',
        [author, text, replyTo, readTags(text).mentions, this.clock.now(), idemKey],
      );
      return { post: toPost(rows[0]!), fresh: true };
    });
    if (post.fresh) for (const l of this.listeners) l(post.post);
    return post.post;
  }

  async post(req: PostRequest): Promise<{ postId: string }> {
    await this.ensureAccount(req.as, true);
    const post = await this.createPost(req.as, req.text, req.replyTo, req.idempotencyKey);
    return { postId: post.id };
  }

  /** On the local network the handle is the account; a malformed one is no account. */
  async resolveAccount(handle: string): Promise<string | null> {
    return LOCAL_HANDLE_RE.test(handle) ? handle : null;
  }

  async getPost(id: string): Promise<LocalPost | null> {
    if (!/^[0-9]{1,18}$/.test(id)) return null;
    const { rows } = await this.db.query<Row>('SELECT * FROM local_posts WHERE id = $1', [id]);
    return rows[0] ? toPost(rows[0]) : null;
  }

  /**
   * Posts newest first, `before` a post id for the next page. With `mentions`, only posts that mention
   * that handle or reply to one of its posts.
   */
  async listPosts(opts: {
    mentions?: string;
    author?: string;
    before?: string;
    limit: number;
  }): Promise<LocalPost[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    if (opts.mentions !== undefined) {
      params.push(normalizeHandle(opts.mentions));
      where.push(
        `($${params.length} = ANY(p.mentions) OR p.reply_to IN (SELECT id FROM local_posts WHERE author = $${params.length}))`,
      );
    }
    if (opts.author !== undefined) {
      params.push(normalizeHandle(opts.author));
      where.push(`p.author = $${params.length}`);
    }
    if (opts.before !== undefined) {
      params.push(opts.before);
      where.push(`p.id < $${params.length}`);
    }
    params.push(opts.limit);
    const { rows } = await this.db.query<Row>(
      `SELECT p.* FROM local_posts p ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY p.id DESC LIMIT $${params.length}`,
      params,
    );
    return rows.map(toPost);
  }

  async accounts(demoOnly: boolean): Promise<string[]> {
    const { rows } = await this.db.query<{ handle: string }>(
      `SELECT handle FROM local_accounts ${demoOnly ? 'WHERE demo' : ''} ORDER BY handle`,
    );
    return rows.map((r) => r.handle);
  }
}
