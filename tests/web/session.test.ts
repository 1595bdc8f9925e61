import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createHttpApp } from '../../src/http/app.ts';
import { openHarness, storages, type Harness } from '../support/harness.ts';

/** Web sessions: the cookie, CSRF tokens, the origin check, sign-out, and the pages' CSP. */
for (const storage of storages()) {
  describe(`web sessions (${storage})`, () => {
    let h: Harness;
    let http: ReturnType<typeof createHttpApp>;
    let token: string;
    before(async () => {
      h = await openHarness(storage);
      http = createHttpApp(h.app);
      const res = await h.request('POST', '/v1/local/accounts', { handle: 'alice' });
      token = res.body.token;
    });
    after(() => h.close());

    const call = async (
      method: string,
      path: string,
      opts: { body?: unknown; cookie?: string; csrf?: string; origin?: string } = {},
    ) => {
      const headers: Record<string, string> = { host: 'tagpay.test' };
      if (opts.body !== undefined) headers['content-type'] = 'application/json';
      if (opts.cookie) headers.cookie = opts.cookie;
      if (opts.csrf) headers['x-csrf-token'] = opts.csrf;
      if (opts.origin) headers.origin = opts.origin;
      const res = await http.request(`http://tagpay.test${path}`, {
        method,
        headers,
        ...(opts.body !== undefined && { body: JSON.stringify(opts.body) }),
      });
      const text = await res.text();
      const json = (res.headers.get('content-type') ?? '').includes('json');
      return { res, body: json && text ? JSON.parse(text) : text };
    };
    const signIn = async () => {
      const r = await call('POST', '/v1/session/local', {
        body: { handle: 'alice', token },
        origin: 'http://tagpay.test',
      });
      assert.equal(r.res.status, 200, JSON.stringify(r.body));
      const setCookie = r.res.headers.get('set-cookie') ?? '';
      return { setCookie, cookie: setCookie.split(';')[0]!, csrf: r.body.csrf_token as string };
    };

    test('signing in sets an httpOnly, Secure, SameSite=Strict host cookie and gives a CSRF token', async () => {
      const { setCookie, cookie, csrf } = await signIn();
      assert.match(setCookie, /^__Host-tagpay_session=ws_/);
      assert.match(setCookie, /HttpOnly/i);
      assert.match(setCookie, /Secure/i);
      assert.match(setCookie, /SameSite=Strict/i);
      assert.match(setCookie, /Path=\//);
      assert.doesNotMatch(setCookie, /Domain=/i);
      assert.match(csrf, /^csrf_/);
      const me = await call('GET', '/v1/session', { cookie });
      assert.equal(me.body.signed_in, true);
      assert.equal(me.body.handle, 'alice');
      assert.equal(me.body.network, 'local');
      assert.equal(me.body.csrf_token, csrf);
      assert.equal(me.res.headers.get('cache-control'), 'no-store');
    });

    test('a wrong token, another handle or a malformed body signs nobody in', async () => {
      const wrong = await call('POST', '/v1/session/local', {
        body: { handle: 'alice', token: 'lt_nope' },
      });
      assert.equal(wrong.res.status, 401);
      assert.equal(wrong.body.error.code, 'UNAUTHENTICATED');
      assert.equal(wrong.res.headers.get('set-cookie'), null);
      const bob = await h.request('POST', '/v1/local/accounts', { handle: 'bob' });
      const other = await call('POST', '/v1/session/local', {
        body: { handle: 'alice', token: bob.body.token },
      });
      assert.equal(other.res.status, 401);
      const bad = await call('POST', '/v1/session/local', { body: { handle: 'alice' } });
      assert.equal(bad.res.status, 400);
      const key = await call('POST', '/v1/session/merchant', { body: { api_key: 'sk_unknown' } });
      assert.equal(key.res.status, 401);
      assert.equal(key.body.error.param, 'api_key');
      const demo = await call('POST', '/v1/session/demo', { body: { handle: 'alice' } });
      assert.equal(demo.res.status, 404, 'demo sign-in is off outside demo mode');
    });

    test('a state-changing request with the cookie needs the CSRF token', async () => {
      const { cookie, csrf } = await signIn();
      const without = await call('POST', '/v1/local/posts', { cookie, body: { text: 'hello' } });
      assert.equal(without.res.status, 403);
      assert.equal(without.body.error.code, 'CSRF_TOKEN_INVALID');
      const wrong = await call('POST', '/v1/local/posts', {
        cookie,
        csrf: csrf.slice(0, -1) + (csrf.endsWith('a') ? 'b' : 'a'),
        body: { text: 'hello' },
      });
      assert.equal(wrong.res.status, 403);
      const posts = await h.app.local.listPosts({ author: 'alice', limit: 10 });
      assert.equal(posts.length, 0, 'nothing was posted without the token');
      const ok = await call('POST', '/v1/local/posts', { cookie, csrf, body: { text: 'hello' } });
      assert.equal(ok.res.status, 201, JSON.stringify(ok.body));
      assert.equal(ok.body.author, 'alice');
    });

    test('requests from another origin are refused, sign-in included', async () => {
      const { cookie, csrf } = await signIn();
      const post = await call('POST', '/v1/local/posts', {
        cookie,
        csrf,
        origin: 'https://evil.example',
        body: { text: 'hi' },
      });
      assert.equal(post.res.status, 403);
      assert.equal(post.body.error.code, 'CSRF_TOKEN_INVALID');
      const login = await call('POST', '/v1/session/local', {
        body: { handle: 'alice', token },
        origin: 'https://evil.example',
      });
      assert.equal(login.res.status, 403);
      assert.equal(login.res.headers.get('set-cookie'), null);
    });

    test('signing out revokes the session on the server, not only in the browser', async () => {
      const { cookie, csrf } = await signIn();
      const noToken = await call('POST', '/v1/session/end', { cookie });
      assert.equal(noToken.res.status, 403, 'signing out needs the CSRF token too');
      const out = await call('POST', '/v1/session/end', { cookie, csrf });
      assert.equal(out.res.status, 200);
      assert.match(out.res.headers.get('set-cookie') ?? '', /__Host-tagpay_session=;/);
      const me = await call('GET', '/v1/session', { cookie });
      assert.equal(me.body.signed_in, false);
      const post = await call('POST', '/v1/local/posts', { cookie, csrf, body: { text: 'x' } });
      assert.equal(post.res.status, 401);
    });

    test('linking from a session needs an e-mail verified by its link; the card token alone is not enough', async () => {
      const { cookie, csrf } = await signIn();
      const card = await h.request('POST', '/v1/sandbox/tokens', {
        number: '4242424242424242',
        exp_month: 12,
        exp_year: 2030,
        cvc: '123',
      });
      const body = {
        handle: 'alice',
        network: 'local',
        email: 'alice@example.com',
        shipping_address: {
          name: 'Alice',
          line1: '1 Main St',
          city: 'Springfield',
          postal_code: '12345',
          country: 'US',
        },
        card_token: card.body.id,
      };
      const refused = await call('POST', '/v1/shoppers', { cookie, csrf, body });
      assert.equal(refused.res.status, 403);
      assert.equal(refused.body.error.code, 'EMAIL_NOT_VERIFIED');
      assert.equal(refused.body.error.param, 'email');
      await h.app.db.query(
        "INSERT INTO verified_emails (network, account, email, verified_at) VALUES ('local', 'alice', 'alice@example.com', 0)",
      );
      const linked = await call('POST', '/v1/shoppers', { cookie, csrf, body });
      assert.equal(linked.res.status, 201, JSON.stringify(linked.body));
      const other = await call('POST', '/v1/shoppers', {
        cookie,
        csrf,
        body: { ...body, handle: 'bob' },
      });
      assert.equal(other.res.status, 403, 'a session links its own handle only');
    });

    test('a session expires after its lifetime', async () => {
      const { cookie } = await signIn();
      h.clock.advance(8 * 24 * 60 * 60 * 1000);
      const me = await call('GET', '/v1/session', { cookie });
      assert.equal(me.body.signed_in, false);
    });

    test('pages get a strict content security policy; the API is not a page', async () => {
      const page = await call('GET', '/');
      assert.equal(page.res.status, 200);
      assert.match(page.res.headers.get('content-type') ?? '', /text\/html/);
      const csp = page.res.headers.get('content-security-policy') ?? '';
      assert.match(csp, /script-src 'self'/);
      assert.match(csp, /style-src 'self'(;|$)/);
      assert.match(csp, /frame-ancestors 'none'/);
      assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
      const missing = await h.request('GET', '/no-such-page');
      assert.equal(missing.status, 404);
      assert.equal(missing.body.error.code, 'NOT_FOUND');
    });
  });
}
