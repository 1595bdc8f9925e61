import { createHmac } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A FAKE of the X API v2, for tests only: not X, not a simulator of X's behaviour beyond what tagpay
 * uses. It serves exactly the endpoints tagpay calls, on 127.0.0.1 at a random port, with objects
 * shaped as the v2 docs define them (docs.x.com: tweet and user objects, `includes`, stream messages
 * with `matching_rules`, rules and search `meta`), and it checks credentials as X would: the bearer
 * token on app-only endpoints, a well-formed and correctly signed OAuth 1.0a header (verified with
 * its own HMAC-SHA1, not tagpay's) on user-context ones. Rules are matched with a small evaluator of
 * the operators tagpay writes (`#tag`, `@user`, `from:`, `to:`, `is:retweet`, `-`, `OR`, brackets).
 */

export interface FakeXOptions {
  bearerToken: string;
  consumerKey: string;
  consumerSecret: string;
  accessToken: string;
  accessSecret: string;
  /** The username the access token belongs to (tagpay's account). */
  self: string;
  /** Other accounts that exist. */
  users: string[];
  /** How often a keep-alive blank line goes down each stream (X: every 20 s). */
  keepAliveMs?: number;
}

export interface FakeUser {
  id: string;
  name: string;
  username: string;
}

export interface FakeTweet {
  id: string;
  text: string;
  author_id: string;
  conversation_id: string;
  edit_history_tweet_ids: string[];
  referenced_tweets?: { type: 'replied_to' | 'quoted' | 'retweeted'; id: string }[];
  in_reply_to_user_id?: string;
  entities?: {
    hashtags?: { start: number; end: number; tag: string }[];
    mentions?: { start: number; end: number; username: string; id: string }[];
  };
}

interface Rule {
  id: string;
  value: string;
  tag?: string;
}

interface Stream {
  res: ServerResponse;
  query: URLSearchParams;
}

export interface FakeX {
  url: string;
  /** Tweets in the order they were made. */
  tweets: FakeTweet[];
  rules(): Rule[];
  /** Requests refused for their credentials, with why; a test expects none. */
  authFailures: string[];
  /** Every request as `METHOD /path`. */
  requests: string[];
  user(username: string): FakeUser;
  /** Tweets as `username` (a reply when `replyTo` is given); delivered to streams whose rules match. */
  tweet(username: string, text: string, opts?: { replyTo?: string; retweetOf?: string }): string;
  /**
   * Edits a tweet as X does: a new tweet (new id) with the same author and references, whose
   * `edit_history_tweet_ids` lists every version, the original first; delivered to the streams.
   */
  edit(id: string, text: string): string;
  /** Tweets by a user, oldest first. */
  tweetsBy(username: string): FakeTweet[];
  /** Writes a raw line down every open stream (malformed input). */
  sendRaw(line: string): void;
  /**
   * The next `n` POST /2/tweets make the tweet and then drop the connection without an answer: the
   * caller cannot tell whether the tweet was made (a timeout or a crash at the worst moment).
   */
  dropAfterCreate(n: number): void;
  /** Sends a tweet down every open stream again, as a redelivery would. */
  redeliver(id: string): void;
  /** Ends every open stream; with `hold`, new stream connections wait until `releaseStreams`. */
  dropStreams(opts?: { hold?: boolean }): void;
  releaseStreams(): void;
  /** The next `n` stream connections get 429 with x-rate-limit-reset one second ahead. */
  rateLimitStreams(n: number): void;
  openStreams(): number;
  heldStreams(): number;
  streamConnections: number;
  close(): Promise<void>;
}

const TWEET_ID_BASE = 1_860_000_000_000_000_000n;
const DEFAULT_TWEET_FIELDS = ['id', 'text', 'edit_history_tweet_ids'];

export async function startFakeX(opts: FakeXOptions): Promise<FakeX> {
  const users = new Map<string, FakeUser>();
  let nextUserId = 1000;
  for (const name of [opts.self, ...opts.users]) {
    users.set(name.toLowerCase(), { id: String(nextUserId++), name, username: name });
  }
  const byId = (id: string) => [...users.values()].find((u) => u.id === id);
  const tweets: FakeTweet[] = [];
  const rules = new Map<string, Rule>();
  let nextRuleId = 1_700_000_000_000_000_000n;
  let nextTweet = TWEET_ID_BASE;
  const streams = new Set<Stream>();
  const held: { req: IncomingMessage; res: ServerResponse }[] = [];
  let holding = false;
  let rateLimited = 0;
  let dropAfter = 0;
  const usedNonces = new Set<string>();
  const authFailures: string[] = [];
  const requests: string[] = [];
  let base = '';

  function tweetObject(t: FakeTweet, fields: string[]) {
    const out: Record<string, unknown> = {};
    for (const f of new Set([...DEFAULT_TWEET_FIELDS, ...fields])) {
      const v = (t as unknown as Record<string, unknown>)[f];
      if (v !== undefined) out[f] = v;
    }
    return out;
  }

  /** data + includes as the v2 API shapes them for the fields and expansions asked for. */
  function render(list: FakeTweet[], query: URLSearchParams) {
    const fields = (query.get('tweet.fields') ?? '').split(',').filter(Boolean);
    const expansions = (query.get('expansions') ?? '').split(',').filter(Boolean);
    if (expansions.includes('author_id')) fields.push('author_id');
    if (expansions.includes('referenced_tweets.id')) fields.push('referenced_tweets');
    const data = list.map((t) => tweetObject(t, fields));
    const includes: Record<string, unknown[]> = {};
    if (expansions.includes('author_id')) {
      const ids = [...new Set(list.map((t) => t.author_id))];
      includes.users = ids.map((id) => {
        const u = byId(id)!;
        // id, name and username are a user object's default fields (user.fields adds others).
        return { id: u.id, name: u.name, username: u.username };
      });
    }
    if (expansions.includes('referenced_tweets.id')) {
      const refs = list.flatMap((t) => t.referenced_tweets ?? []).map((r) => r.id);
      const found = tweets.filter((t) => refs.includes(t.id));
      if (found.length > 0) includes.tweets = found.map((t) => tweetObject(t, []));
    }
    return { data, includes };
  }

  function deliver(t: FakeTweet): void {
    const matching = [...rules.values()].filter((r) => matches(parseRule(r.value), t, byId));
    if (matching.length === 0) return;
    for (const s of streams) {
      const { data, includes } = render([t], s.query);
      const message = {
        data: data[0],
        ...(Object.keys(includes).length > 0 && { includes }),
        matching_rules: matching.map((r) => ({ id: r.id, ...(r.tag && { tag: r.tag }) })),
      };
      s.res.write(JSON.stringify(message) + '\r\n');
    }
  }

  function makeTweet(author: FakeUser, text: string, replyTo?: string, retweetOf?: string) {
    const id = String(nextTweet++);
    const t: FakeTweet = {
      id,
      text,
      author_id: author.id,
      conversation_id: id,
      edit_history_tweet_ids: [id],
    };
    const entities = entitiesOf(text, users);
    if (entities.hashtags || entities.mentions) t.entities = entities;
    if (replyTo !== undefined) {
      const parent = tweets.find((p) => p.id === replyTo);
      if (!parent) throw new Error(`fake X: no tweet ${replyTo} to reply to`);
      t.referenced_tweets = [{ type: 'replied_to', id: replyTo }];
      t.in_reply_to_user_id = parent.author_id;
      t.conversation_id = parent.conversation_id;
    }
    if (retweetOf !== undefined) t.referenced_tweets = [{ type: 'retweeted', id: retweetOf }];
    tweets.push(t);
    deliver(t);
    return t;
  }

  function send(res: ServerResponse, status: number, body: unknown, headers = {}): void {
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
    res.end(JSON.stringify(body));
  }

  const unauthorized = (res: ServerResponse, why: string) => {
    authFailures.push(why);
    send(res, 401, {
      title: 'Unauthorized',
      type: 'about:blank',
      status: 401,
      detail: 'Unauthorized',
    });
  };

  function checkBearer(req: IncomingMessage, res: ServerResponse): boolean {
    if (req.headers.authorization === `Bearer ${opts.bearerToken}`) return true;
    unauthorized(res, `bad bearer token on ${req.method} ${req.url}`);
    return false;
  }

  /** RFC 5849 section 3.5.1 header, checked field by field and its signature recomputed. */
  function checkOAuth(req: IncomingMessage, res: ServerResponse, url: URL): boolean {
    const why = oauthProblem(req, url);
    if (why === null) return true;
    unauthorized(res, `${req.method} ${url.pathname}: ${why}`);
    return false;
  }

  function oauthProblem(req: IncomingMessage, url: URL): string | null {
    const header = req.headers.authorization ?? '';
    if (!header.startsWith('OAuth ')) return 'no OAuth Authorization header';
    const fields = new Map<string, string>();
    for (const part of header.slice(6).split(',')) {
      const m = /^\s*([a-z_]+)="([A-Za-z0-9%._~-]*)"\s*$/.exec(part);
      if (!m) return `malformed OAuth field ${JSON.stringify(part)}`;
      if (fields.has(m[1]!)) return `repeated ${m[1]}`;
      fields.set(m[1]!, decodeURIComponent(m[2]!));
    }
    for (const f of [
      'oauth_consumer_key',
      'oauth_nonce',
      'oauth_signature',
      'oauth_signature_method',
      'oauth_timestamp',
      'oauth_token',
    ]) {
      if (!fields.get(f)) return `missing ${f}`;
    }
    if (fields.get('oauth_consumer_key') !== opts.consumerKey) return 'unknown consumer key';
    if (fields.get('oauth_token') !== opts.accessToken) return 'unknown token';
    if (fields.get('oauth_signature_method') !== 'HMAC-SHA1') return 'not HMAC-SHA1';
    if (fields.has('oauth_version') && fields.get('oauth_version') !== '1.0') return 'bad version';
    const ts = Number(fields.get('oauth_timestamp'));
    if (!Number.isInteger(ts) || Math.abs(ts - Date.now() / 1000) > 300) return 'stale timestamp';
    const nonce = fields.get('oauth_nonce')!;
    if (usedNonces.has(nonce)) return 'nonce used twice';
    usedNonces.add(nonce);
    const enc = (s: string) =>
      encodeURIComponent(s).replace(
        /[!'()*]/g,
        (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
      );
    const params = [...url.searchParams, ...[...fields].filter(([k]) => k !== 'oauth_signature')]
      .map(([k, v]) => `${enc(k)}=${enc(v)}`)
      .sort();
    const baseString = [
      req.method!,
      enc(`http://${String(req.headers.host).toLowerCase()}${url.pathname}`),
      enc(params.join('&')),
    ].join('&');
    const expected = createHmac('sha1', `${enc(opts.consumerSecret)}&${enc(opts.accessSecret)}`)
      .update(baseString)
      .digest('base64');
    return fields.get('oauth_signature') === expected ? null : 'signature does not verify';
  }

  async function body(req: IncomingMessage): Promise<unknown> {
    let text = '';
    for await (const chunk of req) text += chunk;
    try {
      return JSON.parse(text);
    } catch {
      return undefined;
    }
  }

  const invalid = (res: ServerResponse, detail: string) =>
    send(res, 400, {
      errors: [{ message: detail }],
      title: 'Invalid Request',
      detail: 'One or more parameters to your request was invalid.',
      type: 'https://api.twitter.com/2/problems/invalid-request',
    });

  function openStream(req: IncomingMessage, res: ServerResponse, url: URL): void {
    res.writeHead(200, { 'content-type': 'application/json; charset=utf-8' });
    const s: Stream = { res, query: url.searchParams };
    streams.add(s);
    res.write('\r\n');
    req.on('close', () => streams.delete(s));
  }

  const server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://fake');
      const path = url.pathname;
      requests.push(`${req.method} ${path}`);
      if (req.method === 'GET' && path === '/2/users/me') {
        if (!checkOAuth(req, res, url)) return;
        return send(res, 200, { data: users.get(opts.self.toLowerCase()) });
      }
      const byName = /^\/2\/users\/by\/username\/([^/]+)$/.exec(path);
      if (req.method === 'GET' && byName) {
        if (!checkBearer(req, res)) return;
        const name = decodeURIComponent(byName[1]!);
        const u = users.get(name.toLowerCase());
        if (u) return send(res, 200, { data: u });
        return send(res, 200, {
          errors: [
            {
              value: name,
              detail: `Could not find user with username: [${name}].`,
              title: 'Not Found Error',
              resource_type: 'user',
              parameter: 'username',
              resource_id: name,
              type: 'https://api.twitter.com/2/problems/resource-not-found',
            },
          ],
        });
      }
      if (req.method === 'POST' && path === '/2/tweets') {
        if (!checkOAuth(req, res, url)) return;
        const b = (await body(req)) as {
          text?: unknown;
          reply?: { in_reply_to_tweet_id?: unknown };
        };
        if (typeof b?.text !== 'string' || b.text === '' || [...b.text].length > 280)
          return invalid(res, 'text must be 1 to 280 characters');
        const replyTo = b.reply?.in_reply_to_tweet_id;
        if (
          replyTo !== undefined &&
          (typeof replyTo !== 'string' || !tweets.some((t) => t.id === replyTo))
        )
          return invalid(res, 'in_reply_to_tweet_id names no visible tweet');
        const t = makeTweet(
          users.get(opts.self.toLowerCase())!,
          b.text,
          replyTo as string | undefined,
        );
        if (dropAfter > 0) {
          dropAfter--;
          req.socket.destroy();
          return;
        }
        return send(res, 201, { data: { id: t.id, text: t.text, edit_history_tweet_ids: [t.id] } });
      }
      // A user's timeline, newest first (docs.x.com: GET /2/users/:id/tweets; max_results 5–100,
      // pagination_token; app-only bearer or user context).
      const timeline = /^\/2\/users\/([0-9]+)\/tweets$/.exec(path);
      if (req.method === 'GET' && timeline) {
        if (!checkBearer(req, res)) return;
        const q = url.searchParams;
        const max = Number(q.get('max_results') ?? '10');
        if (!Number.isInteger(max) || max < 5 || max > 100)
          return invalid(res, 'max_results is 5 to 100');
        const own = tweets.filter((t) => t.author_id === timeline[1]).reverse();
        const offset = Number(
          Buffer.from(q.get('pagination_token') ?? '', 'base64url').toString() || '0',
        );
        const page = own.slice(offset, offset + max);
        if (page.length === 0) return send(res, 200, { meta: { result_count: 0 } });
        const next =
          offset + max < own.length
            ? Buffer.from(String(offset + max)).toString('base64url')
            : null;
        const { data, includes } = render(page, q);
        return send(res, 200, {
          data,
          ...(Object.keys(includes).length > 0 && { includes }),
          meta: {
            newest_id: page[0]!.id,
            oldest_id: page[page.length - 1]!.id,
            result_count: page.length,
            ...(next && { next_token: next }),
          },
        });
      }
      if (path === '/2/tweets/search/stream/rules') {
        if (!checkBearer(req, res)) return;
        const sent = new Date().toISOString();
        if (req.method === 'GET') {
          const data = [...rules.values()];
          return send(res, 200, {
            ...(data.length > 0 && { data }),
            meta: { sent, result_count: data.length },
          });
        }
        if (req.method !== 'POST') return send(res, 405, {});
        const b = (await body(req)) as { add?: unknown; delete?: { ids?: unknown } };
        if (b?.add !== undefined && b?.delete !== undefined)
          return invalid(res, 'add or delete, not both');
        if (Array.isArray(b?.delete?.ids)) {
          let deleted = 0;
          for (const id of b.delete.ids) if (rules.delete(String(id))) deleted++;
          return send(res, 200, {
            meta: { sent, summary: { deleted, not_deleted: b.delete.ids.length - deleted } },
          });
        }
        if (!Array.isArray(b?.add)) return invalid(res, 'add or delete is required');
        const created: Rule[] = [];
        const errors: unknown[] = [];
        for (const r of b.add as { value?: unknown; tag?: unknown }[]) {
          if (typeof r?.value !== 'string' || r.value.length > 1024)
            return invalid(res, 'bad rule');
          try {
            parseRule(r.value);
          } catch (e) {
            return invalid(res, `rule ${r.value}: ${(e as Error).message}`);
          }
          const dup = [...rules.values()].find((x) => x.value === r.value);
          if (dup) {
            errors.push({
              value: r.value,
              id: dup.id,
              title: 'DuplicateRule',
              type: 'https://api.twitter.com/2/problems/duplicate-rules',
            });
            continue;
          }
          const rule: Rule = {
            id: String(nextRuleId++),
            value: r.value,
            ...(typeof r.tag === 'string' && { tag: r.tag }),
          };
          rules.set(rule.id, rule);
          created.push(rule);
        }
        return send(res, 200, {
          ...(created.length > 0 && { data: created }),
          meta: {
            sent,
            summary: {
              created: created.length,
              not_created: errors.length,
              valid: created.length,
              invalid: 0,
            },
          },
          ...(errors.length > 0 && { errors }),
        });
      }
      if (req.method === 'GET' && path === '/2/tweets/search/stream') {
        if (!checkBearer(req, res)) return;
        streamConnections++;
        if (rateLimited > 0 || streams.size > 0) {
          const tooMany = rateLimited === 0;
          if (!tooMany) rateLimited--;
          const reset = Math.ceil(Date.now() / 1000) + 1;
          return send(
            res,
            429,
            tooMany
              ? {
                  title: 'ConnectionException',
                  detail: 'This stream is currently at the maximum allowed connection limit.',
                  connection_issue: 'TooManyConnections',
                  type: 'https://api.twitter.com/2/problems/streaming-connection',
                }
              : {
                  title: 'Too Many Requests',
                  detail: 'Too Many Requests',
                  type: 'about:blank',
                  status: 429,
                },
            {
              'x-rate-limit-limit': '50',
              'x-rate-limit-remaining': '0',
              'x-rate-limit-reset': String(reset),
            },
          );
        }
        if (holding) {
          held.push({ req, res });
          return;
        }
        return openStream(req, res, url);
      }
      if (req.method === 'GET' && path === '/2/tweets/search/recent') {
        if (!checkBearer(req, res)) return;
        const q = url.searchParams;
        const query = q.get('query');
        if (!query || query.length > 512) return invalid(res, 'query is 1 to 512 characters');
        const max = Number(q.get('max_results') ?? '10');
        if (!Number.isInteger(max) || max < 10 || max > 100)
          return invalid(res, 'max_results is 10 to 100');
        let expr: Expr;
        try {
          expr = parseRule(query);
        } catch (e) {
          return invalid(res, (e as Error).message);
        }
        const since = q.get('since_id');
        const found = tweets
          .filter((t) => since === null || BigInt(t.id) > BigInt(since))
          .filter((t) => matches(expr, t, byId))
          .reverse();
        const offset = Number(
          Buffer.from(q.get('next_token') ?? '', 'base64url').toString() || '0',
        );
        const page = found.slice(offset, offset + max);
        if (page.length === 0) return send(res, 200, { meta: { result_count: 0 } });
        const next =
          offset + max < found.length
            ? Buffer.from(String(offset + max)).toString('base64url')
            : null;
        const { data, includes } = render(page, q);
        return send(res, 200, {
          data,
          ...(Object.keys(includes).length > 0 && { includes }),
          meta: {
            newest_id: page[0]!.id,
            oldest_id: page[page.length - 1]!.id,
            result_count: page.length,
            ...(next && { next_token: next }),
          },
        });
      }
      send(res, 404, {
        title: 'Not Found Error',
        detail: `fake X does not serve ${req.method} ${path}`,
        type: 'about:blank',
      });
    })().catch((error: unknown) => {
      if (!res.headersSent) send(res, 500, { title: 'fake X failed', detail: String(error) });
    });
  });
  let streamConnections = 0;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const keepAlive = setInterval(() => {
    for (const s of streams) s.res.write('\r\n');
  }, opts.keepAliveMs ?? 1000);
  keepAlive.unref();

  const fake: FakeX = {
    url: base,
    tweets,
    rules: () => [...rules.values()],
    authFailures,
    requests,
    get streamConnections() {
      return streamConnections;
    },
    user(username) {
      const u = users.get(username.toLowerCase());
      if (!u) throw new Error(`fake X: no user ${username}`);
      return u;
    },
    tweet(username, text, o = {}) {
      return makeTweet(fake.user(username), text, o.replyTo, o.retweetOf).id;
    },
    tweetsBy(username) {
      const id = fake.user(username).id;
      return tweets.filter((t) => t.author_id === id);
    },
    sendRaw(line) {
      for (const s of streams) s.res.write(line + '\r\n');
    },
    edit(id, text) {
      const original = tweets.find((t) => t.id === id);
      if (!original) throw new Error(`fake X: no tweet ${id} to edit`);
      const newId = String(nextTweet++);
      const t: FakeTweet = {
        ...original,
        id: newId,
        text,
        edit_history_tweet_ids: [...original.edit_history_tweet_ids, newId],
      };
      const entities = entitiesOf(text, users);
      if (entities.hashtags || entities.mentions) t.entities = entities;
      else delete t.entities;
      tweets.push(t);
      deliver(t);
      return newId;
    },
    dropAfterCreate(n) {
      dropAfter = n;
    },
    redeliver(id) {
      const t = tweets.find((x) => x.id === id);
      if (t) deliver(t);
    },
    dropStreams(o = {}) {
      holding = o.hold ?? false;
      for (const s of streams) s.res.end();
      streams.clear();
    },
    releaseStreams() {
      holding = false;
      for (const h of held.splice(0)) {
        if (!h.res.destroyed) openStream(h.req, h.res, new URL(h.req.url ?? '/', 'http://fake'));
      }
    },
    rateLimitStreams(n) {
      rateLimited = n;
    },
    openStreams: () => streams.size,
    heldStreams: () => held.filter((x) => !x.res.destroyed).length,
    async close() {
      clearInterval(keepAlive);
      for (const s of streams) s.res.end();
      for (const h of held.splice(0)) h.res.end();
      streams.clear();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return fake;
}

function entitiesOf(
  text: string,
  users: Map<string, FakeUser>,
): NonNullable<FakeTweet['entities']> {
  const out: NonNullable<FakeTweet['entities']> = {};
  for (const m of text.matchAll(/(?<![\w&])#(\w+)/g)) {
    (out.hashtags ??= []).push({ start: m.index, end: m.index + m[0].length, tag: m[1]! });
  }
  for (const m of text.matchAll(/(?<!\w)@(\w{1,15})/g)) {
    const u = users.get(m[1]!.toLowerCase());
    if (u)
      (out.mentions ??= []).push({
        start: m.index,
        end: m.index + m[0].length,
        username: u.username,
        id: u.id,
      });
  }
  return out;
}

type Expr =
  { op: 'or' | 'and'; of: Expr[] } | { op: 'not'; of: Expr } | { op: 'term'; term: string };

/** Parses the rule and query syntax tagpay writes; anything else throws, as X refuses bad rules. */
export function parseRule(value: string): Expr {
  const tokens = value.match(/\(|\)|[^\s()]+/g) ?? [];
  let at = 0;
  const or = (): Expr => {
    const of = [and()];
    while (tokens[at] === 'OR') {
      at++;
      of.push(and());
    }
    return of.length === 1 ? of[0]! : { op: 'or', of };
  };
  const and = (): Expr => {
    const of: Expr[] = [];
    while (at < tokens.length && tokens[at] !== ')' && tokens[at] !== 'OR') of.push(unary());
    if (of.length === 0) throw new Error('empty clause');
    return of.length === 1 ? of[0]! : { op: 'and', of };
  };
  const unary = (): Expr => {
    const t = tokens[at++]!;
    if (t === '(') {
      const e = or();
      if (tokens[at++] !== ')') throw new Error('unbalanced brackets');
      return e;
    }
    if (t.startsWith('-')) return { op: 'not', of: term(t.slice(1)) };
    return term(t);
  };
  const term = (t: string): Expr => {
    if (!/^(#\w+|@\w{1,15}|from:\w{1,15}|to:\w{1,15}|is:retweet|\w+)$/.test(t))
      throw new Error(`operator not understood by the fake: ${t}`);
    return { op: 'term', term: t.toLowerCase() };
  };
  const e = or();
  if (at !== tokens.length) throw new Error('unbalanced brackets');
  return e;
}

function matches(e: Expr, t: FakeTweet, byId: (id: string) => FakeUser | undefined): boolean {
  switch (e.op) {
    case 'or':
      return e.of.some((x) => matches(x, t, byId));
    case 'and':
      return e.of.every((x) => matches(x, t, byId));
    case 'not':
      return !matches(e.of, t, byId);
    case 'term': {
      const s = e.term;
      const author = byId(t.author_id)?.username.toLowerCase();
      if (s.startsWith('#'))
        return (t.entities?.hashtags ?? []).some((h) => '#' + h.tag.toLowerCase() === s);
      if (s.startsWith('@'))
        return (t.entities?.mentions ?? []).some((m) => '@' + m.username.toLowerCase() === s);
      if (s.startsWith('from:')) return author === s.slice(5);
      if (s.startsWith('to:'))
        return (
          t.in_reply_to_user_id !== undefined &&
          byId(t.in_reply_to_user_id)?.username.toLowerCase() === s.slice(3)
        );
      if (s === 'is:retweet')
        return (t.referenced_tweets ?? []).some((r) => r.type === 'retweeted');
      return t.text.toLowerCase().includes(s);
    }
  }
}
