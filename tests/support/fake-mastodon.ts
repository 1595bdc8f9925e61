import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';

/**
 * A FAKE Mastodon server, for tests only: not Mastodon, and no substitute for testing against one
 * (see the opt-in live test in tests/mastodon.test.ts). It serves, on 127.0.0.1 and a random port,
 * exactly the endpoints tagpay's Mastodon client and connector use, with entities shaped as
 * docs.joinmastodon.org documents them (Status, Account, Notification, Instance), in snake_case:
 *
 * - GET  /api/v1/accounts/verify_credentials, GET /api/v2/instance
 * - POST /api/v1/statuses (honouring Idempotency-Key per account), GET /api/v1/statuses/:id
 * - GET  /api/v1/timelines/tag/:hashtag, /timelines/public, /timelines/home (min_id, since_id, limit)
 * - GET  /api/v1/notifications (mentions; min_id, since_id, limit, types[])
 * - OAuth for onboarding (docs.joinmastodon.org/methods/apps, /methods/oauth): POST /api/v1/apps,
 *   GET /oauth/authorize (the approval page; here the user is "logged in" by sending their token as
 *   `Authorization`, and approving answers the 302 to redirect_uri with `code` and `state`),
 *   POST /oauth/token (authorization_code grant), POST /oauth/revoke; tokens so issued work for
 *   verify_credentials only while not revoked
 * - the streaming WebSocket /api/v1/streaming: `subscribe` / `unsubscribe` to `user` and `hashtag`
 *   streams, events `update`, `notification` and `status.update` whose `payload` is a JSON string.
 *
 * Tests post as users with `post`, edit with `edit`, and break things with `dropStreams`,
 * `refuseStreams`, `sendRaw` and `rateLimitNextPost`.
 */

export interface FakeAccount {
  id: string;
  username: string;
  acct: string;
  display_name: string;
  url: string;
  token: string;
}

export interface FakeStatus {
  id: string;
  uri: string;
  url: string;
  created_at: string;
  edited_at: string | null;
  content: string;
  visibility: 'public' | 'unlisted' | 'private' | 'direct';
  in_reply_to_id: string | null;
  in_reply_to_account_id: string | null;
  account: Omit<FakeAccount, 'token'>;
  tags: { name: string; url: string }[];
  mentions: { id: string; username: string; acct: string; url: string }[];
  /** The plain text it was posted with (a fake's convenience, not a Mastodon field). */
  text: string;
}

interface Subscriber {
  socket: WebSocket;
  account: FakeAccount;
  hashtags: Set<string>;
  user: boolean;
}

interface Notification {
  id: string;
  type: 'mention';
  created_at: string;
  account: Omit<FakeAccount, 'token'>;
  status: FakeStatus;
  forAccount: string;
}

const PAGE_MAX = 40;

export class FakeMastodon {
  readonly accounts = new Map<string, FakeAccount>();
  readonly statuses: FakeStatus[] = [];
  readonly notifications: Notification[] = [];
  /** Every request served, `METHOD path`, for tests that check what tagpay asked. */
  readonly requests: string[] = [];
  private readonly idempotency = new Map<string, FakeStatus>();
  /** OAuth clients registered with POST /api/v1/apps, by client_id. */
  readonly apps = new Map<
    string,
    { client_id: string; client_secret: string; redirect_uri: string; scopes: string; name: string }
  >();
  /** Authorization codes not yet exchanged (single use). */
  private readonly codes = new Map<
    string,
    { clientId: string; redirectUri: string; account: FakeAccount; scopes: string }
  >();
  /** Access tokens issued by /oauth/token, and whether they were revoked. */
  readonly oauthTokens = new Map<string, { account: FakeAccount; revoked: boolean }>();
  private readonly subscribers = new Set<Subscriber>();
  private nextId = 100_000;
  private refusing = false;
  private rateLimited = 0;
  url = '';

  private readonly server = createServer((req, res) => {
    this.handle(req, res).catch((error: unknown) => {
      send(res, 500, { error: String(error) });
    });
  });
  private readonly wss = new WebSocketServer({ noServer: true });

  constructor(readonly domain = 'fake.social') {
    this.server.on('upgrade', (req, socket, head) => {
      const url = new URL(req.url ?? '/', 'http://fake');
      const account = this.authenticate(req, url.searchParams.get('access_token'));
      if (url.pathname !== '/api/v1/streaming' || account === null || this.refusing) {
        socket.end('HTTP/1.1 401 Unauthorized\r\n\r\n');
        return;
      }
      this.wss.handleUpgrade(req, socket, head, (ws) => this.onSocket(ws, account));
    });
  }

  static async start(domain?: string): Promise<FakeMastodon> {
    const fake = new FakeMastodon(domain);
    await new Promise<void>((resolve) => fake.server.listen(0, '127.0.0.1', resolve));
    fake.url = `http://127.0.0.1:${(fake.server.address() as AddressInfo).port}`;
    return fake;
  }

  async close(): Promise<void> {
    for (const s of this.subscribers) s.socket.terminate();
    this.wss.close();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  addAccount(username: string, token: string): FakeAccount {
    const account: FakeAccount = {
      id: String(this.nextId++),
      username,
      acct: username,
      display_name: username,
      url: `https://${this.domain}/@${username}`,
      token,
    };
    this.accounts.set(username.toLowerCase(), account);
    return account;
  }

  /** Posts as a user, as a Mastodon app would, and broadcasts it to the matching streams. */
  post(
    username: string,
    text: string,
    opts: { replyTo?: string; visibility?: FakeStatus['visibility'] } = {},
  ): FakeStatus {
    const account = this.accounts.get(username.toLowerCase());
    if (!account) throw new Error(`fake mastodon: no account ${username}`);
    return this.create(account, text, opts.replyTo ?? null, opts.visibility ?? 'public');
  }

  /** Edits a status (edited_at set) and sends `status.update` to the streams that saw it. */
  edit(id: string, text: string): FakeStatus {
    const status = this.statuses.find((s) => s.id === id);
    if (!status) throw new Error(`fake mastodon: no status ${id}`);
    Object.assign(status, render(text, this.accounts, this.domain), {
      edited_at: new Date().toISOString(),
      text,
    });
    this.broadcast(status, 'status.update');
    return status;
  }

  /** Closes every streaming connection (the clients see the socket drop). */
  dropStreams(): void {
    for (const s of this.subscribers) s.socket.terminate();
  }

  /** While on, streaming connections are refused. */
  refuseStreams(on: boolean): void {
    this.refusing = on;
  }

  /** Sends a raw text frame on every streaming connection (malformed payloads). */
  sendRaw(text: string): void {
    for (const s of this.subscribers) s.socket.send(text);
  }

  /** The next `n` POST /api/v1/statuses answer 429 with X-RateLimit-Reset `resetMs` from now. */
  /** The next `n` POST /api/v1/statuses answer 503 (a server in trouble), creating nothing. */
  failNextPosts(n: number): void {
    this.failing = n;
  }
  private failing = 0;

  rateLimitNextPost(n: number, resetMs: number): void {
    this.rateLimited = n;
    this.rateLimitResetMs = resetMs;
  }
  private rateLimitResetMs = 0;

  get streamCount(): number {
    return this.subscribers.size;
  }

  /** True when some client follows the user stream (mentions and notifications). */
  followsUserStream(): boolean {
    return [...this.subscribers].some((s) => s.user);
  }

  /** Hashtag streams currently subscribed, lower case. */
  subscribedHashtags(): string[] {
    return [...new Set([...this.subscribers].flatMap((s) => [...s.hashtags]))];
  }

  /** Statuses replying to a status, oldest first. */
  repliesTo(id: string): FakeStatus[] {
    return this.statuses.filter((s) => s.in_reply_to_id === id);
  }

  private create(
    account: FakeAccount,
    text: string,
    replyTo: string | null,
    visibility: FakeStatus['visibility'],
  ): FakeStatus {
    const id = String(this.nextId++);
    const parent = replyTo === null ? null : this.statuses.find((s) => s.id === replyTo);
    const status: FakeStatus = {
      id,
      uri: `https://${this.domain}/users/${account.username}/statuses/${id}`,
      url: `https://${this.domain}/@${account.username}/${id}`,
      created_at: new Date().toISOString(),
      edited_at: null,
      visibility,
      in_reply_to_id: parent ? parent.id : null,
      in_reply_to_account_id: parent ? parent.account.id : null,
      account: publicAccount(account),
      text,
      ...render(text, this.accounts, this.domain),
    };
    this.statuses.push(status);
    for (const m of status.mentions) {
      const to = this.accounts.get(m.username.toLowerCase());
      if (!to || to.id === account.id) continue;
      this.notifications.push({
        id: String(this.nextId++),
        type: 'mention',
        created_at: status.created_at,
        account: publicAccount(account),
        status,
        forAccount: to.id,
      });
    }
    this.broadcast(status, 'update');
    return status;
  }

  private broadcast(status: FakeStatus, event: 'update' | 'status.update'): void {
    const payload = JSON.stringify(entity(status));
    for (const s of this.subscribers) {
      if (status.visibility === 'public') {
        for (const tag of status.tags)
          if (s.hashtags.has(tag.name))
            s.socket.send(JSON.stringify({ stream: ['hashtag', tag.name], event, payload }));
      }
      if (!s.user) continue;
      if (status.account.id === s.account.id)
        s.socket.send(JSON.stringify({ stream: ['user'], event, payload }));
      const mention = this.notifications.find(
        (n) => n.status.id === status.id && n.forAccount === s.account.id,
      );
      if (mention && event === 'update')
        s.socket.send(
          JSON.stringify({
            stream: ['user'],
            event: 'notification',
            payload: JSON.stringify(notificationEntity(mention)),
          }),
        );
    }
  }

  private onSocket(socket: WebSocket, account: FakeAccount): void {
    const sub: Subscriber = { socket, account, hashtags: new Set(), user: false };
    this.subscribers.add(sub);
    socket.on('close', () => this.subscribers.delete(sub));
    socket.on('message', (data) => {
      let msg: { type?: string; stream?: string; tag?: string };
      try {
        msg = JSON.parse(data.toString());
      } catch {
        socket.send(JSON.stringify({ error: 'Invalid JSON', status: 400 }));
        return;
      }
      const on = msg.type === 'subscribe';
      if (msg.stream === 'user') sub.user = on;
      else if (msg.stream === 'hashtag' && typeof msg.tag === 'string') {
        if (on) sub.hashtags.add(msg.tag.toLowerCase());
        else sub.hashtags.delete(msg.tag.toLowerCase());
      } else socket.send(JSON.stringify({ error: 'Unknown stream type', status: 400 }));
    });
  }

  /** The OAuth endpoints; true when `path` was one of them (and answered). */
  private async oauth(
    req: IncomingMessage,
    res: ServerResponse,
    path: string,
    q: URLSearchParams,
  ): Promise<boolean> {
    if (req.method === 'POST' && path === '/api/v1/apps') {
      const p = await readParams(req);
      if (!p.client_name || !p.redirect_uris) {
        send(res, 422, {
          error: "Validation failed: Name can't be blank, Redirect URI can't be blank",
        });
        return true;
      }
      const app = {
        client_id: `cid_${this.nextId++}`,
        client_secret: `csec_${this.nextId++}`,
        redirect_uri: p.redirect_uris,
        scopes: p.scopes ?? 'read',
        name: p.client_name,
      };
      this.apps.set(app.client_id, app);
      send(res, 200, {
        id: String(this.nextId++),
        name: app.name,
        website: p.website ?? null,
        redirect_uri: app.redirect_uri,
        client_id: app.client_id,
        client_secret: app.client_secret,
        vapid_key: 'fake',
      });
      return true;
    }
    if (req.method === 'GET' && path === '/oauth/authorize') {
      const app = this.apps.get(q.get('client_id') ?? '');
      if (!app || q.get('redirect_uri') !== app.redirect_uri || q.get('response_type') !== 'code') {
        send(res, 400, { error: 'invalid_request' });
        return true;
      }
      const scopes = q.get('scope') ?? 'read';
      if (!scopes.split(' ').every((s) => app.scopes.split(' ').includes(s))) {
        send(res, 400, { error: 'invalid_scope' });
        return true;
      }
      const back = new URL(app.redirect_uri);
      const user = this.authenticate(req, null);
      if (user === null || q.get('deny') === '1') {
        back.searchParams.set('error', 'access_denied');
      } else {
        const code = `code_${this.nextId++}`;
        this.codes.set(code, {
          clientId: app.client_id,
          redirectUri: app.redirect_uri,
          account: user,
          scopes,
        });
        back.searchParams.set('code', code);
      }
      if (q.has('state')) back.searchParams.set('state', q.get('state')!);
      res.writeHead(302, { location: back.toString() });
      res.end();
      return true;
    }
    if (req.method === 'POST' && path === '/oauth/token') {
      const p = await readParams(req);
      const app = this.apps.get(p.client_id ?? '');
      const grant = this.codes.get(p.code ?? '');
      if (!app || app.client_secret !== p.client_secret) {
        send(res, 401, {
          error: 'invalid_client',
          error_description: 'Client authentication failed',
        });
        return true;
      }
      if (
        p.grant_type !== 'authorization_code' ||
        !grant ||
        grant.clientId !== app.client_id ||
        grant.redirectUri !== p.redirect_uri
      ) {
        send(res, 400, {
          error: 'invalid_grant',
          error_description: 'The provided authorization grant is invalid',
        });
        return true;
      }
      this.codes.delete(p.code!);
      const token = `oat_${this.nextId++}`;
      this.oauthTokens.set(token, { account: grant.account, revoked: false });
      send(res, 200, {
        access_token: token,
        token_type: 'Bearer',
        scope: grant.scopes,
        created_at: 0,
      });
      return true;
    }
    if (req.method === 'POST' && path === '/oauth/revoke') {
      const p = await readParams(req);
      const app = this.apps.get(p.client_id ?? '');
      if (!app || app.client_secret !== p.client_secret) {
        send(res, 403, { error: 'unauthorized_client' });
        return true;
      }
      const issued = this.oauthTokens.get(p.token ?? '');
      if (issued) issued.revoked = true;
      send(res, 200, {});
      return true;
    }
    return false;
  }

  private authenticate(req: IncomingMessage, queryToken: string | null): FakeAccount | null {
    const header = req.headers.authorization;
    const token = header?.startsWith('Bearer ') ? header.slice(7) : queryToken;
    if (!token) return null;
    const issued = this.oauthTokens.get(token);
    if (issued !== undefined) return issued.revoked ? null : issued.account;
    return [...this.accounts.values()].find((a) => a.token === token) ?? null;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://fake');
    const path = url.pathname;
    this.requests.push(`${req.method} ${path}`);
    if (req.method === 'GET' && path === '/api/v2/instance') {
      return send(res, 200, {
        domain: this.domain,
        title: 'A fake Mastodon',
        version: '4.3.0 (fake)',
        configuration: { urls: { streaming: this.url.replace(/^http/, 'ws') } },
      });
    }
    const oauth = await this.oauth(req, res, path, url.searchParams);
    if (oauth) return;
    const me = this.authenticate(req, null);
    if (me === null) return send(res, 401, { error: 'The access token is invalid' });
    const q = url.searchParams;
    if (req.method === 'GET' && path === '/api/v1/accounts/verify_credentials')
      return send(res, 200, { ...publicAccount(me), source: { privacy: 'public' } });
    if (req.method === 'POST' && path === '/api/v1/statuses') {
      if (this.failing > 0) {
        this.failing--;
        return send(res, 503, { error: 'Service Unavailable' });
      }
      if (this.rateLimited > 0) {
        this.rateLimited--;
        return send(
          res,
          429,
          { error: 'Too many requests' },
          {
            'x-ratelimit-limit': '300',
            'x-ratelimit-remaining': '0',
            'x-ratelimit-reset': new Date(Date.now() + this.rateLimitResetMs).toISOString(),
          },
        );
      }
      const body = JSON.parse(await readBody(req)) as {
        status?: string;
        in_reply_to_id?: string | null;
        visibility?: FakeStatus['visibility'];
      };
      if (typeof body.status !== 'string' || body.status.length === 0)
        return send(res, 422, { error: "Validation failed: Text can't be blank" });
      const key = req.headers['idempotency-key'];
      const idemKey = typeof key === 'string' ? `${me.id}:${key}` : null;
      const seen = idemKey === null ? undefined : this.idempotency.get(idemKey);
      if (seen) return send(res, 200, entity(seen));
      const status = this.create(
        me,
        body.status,
        body.in_reply_to_id ?? null,
        body.visibility ?? 'public',
      );
      if (idemKey !== null) this.idempotency.set(idemKey, status);
      return send(res, 200, entity(status));
    }
    const statusMatch = /^\/api\/v1\/statuses\/([0-9]+)$/.exec(path);
    if (req.method === 'GET' && statusMatch) {
      const status = this.statuses.find((s) => s.id === statusMatch[1]);
      return status
        ? send(res, 200, entity(status))
        : send(res, 404, { error: 'Record not found' });
    }
    const tagMatch = /^\/api\/v1\/timelines\/tag\/([^/]+)$/.exec(path);
    if (req.method === 'GET' && tagMatch) {
      const tag = decodeURIComponent(tagMatch[1]!).toLowerCase();
      const list = this.statuses.filter(
        (s) => s.visibility === 'public' && s.tags.some((t) => t.name === tag),
      );
      return send(res, 200, page(list, q).map(entity));
    }
    if (req.method === 'GET' && path === '/api/v1/timelines/public')
      return send(
        res,
        200,
        page(
          this.statuses.filter((s) => s.visibility === 'public'),
          q,
        ).map(entity),
      );
    if (req.method === 'GET' && path === '/api/v1/timelines/home')
      return send(res, 200, page(this.statuses, q).map(entity));
    if (req.method === 'GET' && path === '/api/v1/notifications') {
      const types = q.getAll('types[]');
      const mine = this.notifications.filter(
        (n) => n.forAccount === me.id && (types.length === 0 || types.includes(n.type)),
      );
      return send(res, 200, page(mine, q).map(notificationEntity));
    }
    return send(res, 404, { error: 'Record not found' });
  }
}

/** Reads a JSON or form-encoded body, as Mastodon accepts both. */
async function readParams(req: IncomingMessage): Promise<Record<string, string>> {
  const raw = await readBody(req);
  if ((req.headers['content-type'] ?? '').includes('application/json')) {
    const parsed = JSON.parse(raw) as Record<string, unknown>;
    return Object.fromEntries(Object.entries(parsed).map(([k, v]) => [k, String(v)]));
  }
  return Object.fromEntries(new URLSearchParams(raw));
}

/** Mastodon's paging: newest first; `min_id` gives the page just after it, `since_id` the newest. */
function page<T extends { id: string }>(items: T[], q: URLSearchParams): T[] {
  const limit = Math.min(Number(q.get('limit') ?? 20) || 20, PAGE_MAX);
  const after = (x: T, id: string | null) => id === null || BigInt(x.id) > BigInt(id);
  const before = (x: T, id: string | null) => id === null || BigInt(x.id) < BigInt(id);
  const ascending = items
    .filter((x) => after(x, q.get('min_id')) && after(x, q.get('since_id')))
    .filter((x) => before(x, q.get('max_id')))
    .sort((a, b) => (BigInt(a.id) < BigInt(b.id) ? -1 : 1));
  const chosen = q.has('min_id') ? ascending.slice(0, limit) : ascending.slice(-limit);
  return chosen.reverse();
}

function publicAccount(a: FakeAccount): Omit<FakeAccount, 'token'> {
  return { id: a.id, username: a.username, acct: a.acct, display_name: a.display_name, url: a.url };
}

/** A status as the API gives it (without the fake's `text`). */
function entity(s: FakeStatus): Omit<FakeStatus, 'text'> {
  const { text: _text, ...rest } = s;
  return rest;
}

function notificationEntity(n: Notification) {
  return {
    id: n.id,
    type: n.type,
    created_at: n.created_at,
    account: n.account,
    status: entity(n.status),
  };
}

/**
 * Plain text as Mastodon renders it: HTML-escaped, hashtags and mentions as links (a mention inside
 * an h-card span, as Mastodon writes it), lines as `<br>`, one paragraph.
 */
function render(text: string, accounts: Map<string, FakeAccount>, domain: string) {
  const tags: FakeStatus['tags'] = [];
  const mentions: FakeStatus['mentions'] = [];
  const escaped = text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
  const html = escaped
    .replace(/(^|[^\w/])#(\w{1,64})/g, (_m, pre: string, tag: string) => {
      const name = tag.toLowerCase();
      if (!tags.some((t) => t.name === name))
        tags.push({ name, url: `https://${domain}/tags/${name}` });
      return `${pre}<a href="https://${domain}/tags/${name}" class="mention hashtag" rel="tag">#<span>${tag}</span></a>`;
    })
    .replace(/(^|\s)@(\w{1,30})(@[\w.-]+)?/g, (m, pre: string, user: string, host?: string) => {
      const local = host === undefined || host.slice(1).toLowerCase() === domain;
      const account = local ? accounts.get(user.toLowerCase()) : undefined;
      if (!account) return m;
      if (!mentions.some((x) => x.id === account.id))
        mentions.push({
          id: account.id,
          username: account.username,
          acct: account.acct,
          url: account.url,
        });
      return `${pre}<span class="h-card" translate="no"><a href="${account.url}" class="u-url mention">@<span>${account.username}</span></a></span>`;
    })
    .replace(/\n/g, '<br />');
  return { content: `<p>${html}</p>`, tags, mentions };
}

function send(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
  res.end(JSON.stringify(body));
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => resolve(body));
    req.on('error', reject);
  });
}
