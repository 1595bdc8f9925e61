import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { REQUEST_BODY_BYTES_MAX } from '../src/core/limits.ts';
import { createHttpApp } from '../src/http/app.ts';
import { ADMIN_KEY, openHarness, storages, type Harness } from './support/harness.ts';
import {
  assertLedgerBalanced,
  codeIn,
  post,
  repliesTo,
  setupWorld,
  type World,
} from './support/world.ts';

/**
 * Bad and good input through the real HTTP app, on every storage: each refusal is checked for its
 * status, its stable error code and, for writes, that nothing was written.
 */

type Res = { status: number; body: any };
type Json = Record<string, unknown>;

function expectError(res: Res, status: number, code: string, param?: string): void {
  const shown = JSON.stringify(res.body);
  assert.equal(res.status, status, shown);
  assert.equal(res.body?.error?.code, code, shown);
  assert.equal(typeof res.body.error.message, 'string', shown);
  if (param !== undefined) assert.equal(res.body.error.param, param, shown);
}

function expectStatus(res: Res, status: number): void {
  assert.equal(res.status, status, JSON.stringify(res.body));
}

async function count(h: Harness, table: string): Promise<number> {
  const { rows } = await h.app.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`);
  return rows[0]!.n;
}

/** The ids of a merchant's offers as the API lists them. */
async function offerIds(h: Harness, key: string): Promise<string[]> {
  const res = await h.request('GET', '/v1/offers?limit=100', undefined, key);
  expectStatus(res, 200);
  assert.equal(res.body.has_more, false);
  return res.body.data.map((o: { id: string }) => o.id);
}

const VALID_OFFER = {
  title: 'Probe',
  price: { amount: 1000, currency: 'USD' },
  quantity: 5,
  hashtag: 'ProbeTag',
};

const ADDRESS = {
  name: 'Zed',
  line1: '1 Main St',
  city: 'Springfield',
  postal_code: '12345',
  country: 'US',
};

/** Replaces the value at a dotted path (`price.amount`) or deletes it when `value` is `DELETE`. */
const DELETE = Symbol('delete');
function withField(base: Json, path: string, value: unknown): Json {
  const copy = structuredClone(base);
  const keys = path.split('.');
  let at: Json = copy;
  for (const k of keys.slice(0, -1)) at = at[k] as Json;
  if (value === DELETE) delete at[keys.at(-1)!];
  else at[keys.at(-1)!] = value;
  return copy;
}

interface BadField {
  name: string;
  path: string;
  value: unknown;
  code: string;
  param: string;
  todo?: string;
}

/** Cases that put a bad value at one field and expect one code, with that field as `param`. */
function field(
  path: string,
  code: string,
  cases: [name: string, value: unknown][],
  todo?: string,
): BadField[] {
  return cases.map(([name, value]) => ({
    name,
    path,
    value,
    code,
    param: path,
    ...(todo && { todo }),
  }));
}

/** Cases that set `limits` on a shopper and expect one code at one `param`. */
function limits(param: string, code: string, cases: [name: string, value: unknown][]): BadField[] {
  return cases.map(([name, value]) => ({ name, path: 'limits', value, code, param }));
}

for (const storage of storages()) {
  describe(`API input (${storage})`, () => {
    let h: Harness;
    let w: World;
    /** Merchant A is the world's @acme; merchant B is @bmart with its own offer and an order. */
    let a: { id: string; key: string; offerId: string; orderId: string };
    let b: { id: string; key: string; offerId: string; orderId: string };

    before(async () => {
      h = await openHarness(storage);
      w = await setupWorld(h);
      const mb = await h.request(
        'POST',
        '/v1/merchants',
        { handle: 'bmart', name: 'B Mart' },
        ADMIN_KEY,
      );
      expectStatus(mb, 201);
      const ob = await h.request(
        'POST',
        '/v1/offers',
        {
          title: 'B Mug',
          price: { amount: 900, currency: 'USD' },
          quantity: 3,
          hashtag: 'BuyBmartMug',
        },
        mb.body.api_key,
      );
      expectStatus(ob, 201);
      const alice = w.accounts.alice!;
      const buyB = await post(h, alice, '#BuyBmartMug');
      codeIn((await repliesTo(h, buyB))[0]);
      const buyA = await post(h, alice, '#BuyAcmeTee M');
      codeIn((await repliesTo(h, buyA))[0]);
      const all = await h.request('GET', '/v1/orders?handle=alice', undefined, ADMIN_KEY);
      expectStatus(all, 200);
      const orderOf = (offerId: string) =>
        all.body.data.find((o: { offer_id: string }) => o.offer_id === offerId).id as string;
      a = {
        id: w.merchant.id,
        key: w.merchant.api_key,
        offerId: w.offer.id,
        orderId: orderOf(w.offer.id),
      };
      b = {
        id: mb.body.id,
        key: mb.body.api_key,
        offerId: ob.body.id,
        orderId: orderOf(ob.body.id),
      };
    });

    after(async () => {
      await assertLedgerBalanced(h);
      await h.close();
    });

    describe('POST /v1/offers', () => {
      const bad: BadField[] = [
        ...field('title', 'INVALID_REQUEST', [
          ['missing title', DELETE],
          ['empty title', ''],
          ['blank title', '   '],
          ['title over 200 characters', 't'.repeat(201)],
          ['title of the wrong type', 42],
        ]),
        ...field('price', 'INVALID_REQUEST', [
          ['missing price', DELETE],
          ['price as a bare number', 1000],
        ]),
        ...field('price.amount', 'INVALID_AMOUNT', [
          ['zero amount', 0],
          ['negative amount', -100],
          ['fractional amount', 12.5],
          ['amount just over 1e9', 1_000_000_001],
          ['huge amount', 1e15],
          ['amount beyond safe integers', 1e21],
          ['huge amount as a string', '1000000001'],
          ['decimal string amount', '12.50'],
          ['negative string amount', '-5'],
          ['zero string amount', '0'],
          ['empty string amount', ''],
          ['null amount', null],
          ['boolean amount', true],
        ]),
        ...field('price.amount', 'INVALID_REQUEST', [
          ['missing amount (like any missing field)', DELETE],
        ]),
        ...field('price.currency', 'UNKNOWN_CURRENCY', [
          ['unknown currency XYZ', 'XYZ'],
          ['empty currency', ''],
          ['currency as a number', 840],
          ['two-letter currency', 'US'],
        ]),
        ...field('price.currency', 'INVALID_REQUEST', [['missing currency', DELETE]]),
        ...field('quantity', 'INVALID_REQUEST', [
          ['missing quantity', DELETE],
          ['zero quantity', 0],
          ['negative quantity', -1],
          ['fractional quantity', 1.5],
          ['quantity as a string', '5'],
          ['huge quantity', 2e9],
        ]),
        ...field('hashtag', 'INVALID_REQUEST', [['missing hashtag', DELETE]]),
        ...field('hashtag', 'INVALID_HASHTAG', [
          ['hashtag with a space', 'Probe Tag'],
          ['hashtag with a leading digit', '2Probe'],
          ['hashtag with a leading underscore', '_Probe'],
          ['Cyrillic look-alike hashtag', 'Buy\u0410cme'],
          ['full-width hashtag', 'ＢｕｙＡｃｍｅ'],
          ['hashtag with punctuation', 'Probe!'],
          ['hashtag too short', 'ab'],
          ['hashtag too long', 'a'.repeat(65)],
          ['empty hashtag', ''],
          ['only a #', '#'],
          ['hashtag as a number', 12345],
          ['reserved hashtag cancel', 'cancel'],
          ['reserved hashtag in capitals', '#CANCEL'],
          ['reserved hashtag pay', 'pay'],
          ['code-shaped hashtag', 'tpabcdefghij'],
          ['code-shaped hashtag in capitals', 'TP234567ABCD'],
        ]),
        ...field('variants', 'INVALID_REQUEST', [
          ['variants not an array', 'S'],
          ['variants repeated in another case', ['S', 's']],
          ['more than 50 variants', Array.from({ length: 51 }, (_, i) => `v${i}`)],
        ]),
        {
          name: 'variant with a space',
          path: 'variants',
          value: ['X L'],
          code: 'INVALID_REQUEST',
          param: 'variants.0',
        },
        {
          name: 'variant too long',
          path: 'variants',
          value: ['M', 'v'.repeat(13)],
          code: 'INVALID_REQUEST',
          param: 'variants.1',
        },
        {
          name: 'variant as a number',
          path: 'variants',
          value: [1],
          code: 'INVALID_REQUEST',
          param: 'variants.0',
        },
        ...field('per_buyer_max', 'INVALID_REQUEST', [
          ['per_buyer_max zero', 0],
          ['fractional per_buyer_max', 1.5],
        ]),
        ...field('confirm_window_s', 'INVALID_REQUEST', [
          ['window under a minute', 59],
          ['window over a day', 86_401],
          ['fractional window', 60.5],
        ]),
        ...field('starts_at', 'INVALID_REQUEST', [['starts_at not a date', 'tomorrow']]),
        ...field('ends_at', 'INVALID_REQUEST', [
          ['ends_at already past (starts_at left to default to now)', '2020-01-01T00:00:00Z'],
          ['ends_at without an offset', '2027-01-01T00:00:00'],
        ]),
        ...field('publish', 'INVALID_REQUEST', [['publish not a boolean', 'yes']]),
      ];
      for (const { name, path, value, code, param, todo } of bad) {
        test(`refuses ${name} (${code}) and writes nothing`, { todo }, async () => {
          const before = await offerIds(h, a.key);
          const res = await h.request(
            'POST',
            '/v1/offers',
            withField(VALID_OFFER, path, value),
            a.key,
          );
          expectError(res, 400, code, param);
          assert.deepEqual(await offerIds(h, a.key), before);
        });
      }

      test('refuses ends_at before starts_at', async () => {
        const before = await offerIds(h, a.key);
        const res = await h.request(
          'POST',
          '/v1/offers',
          { ...VALID_OFFER, starts_at: '2026-12-02T00:00:00Z', ends_at: '2026-12-01T00:00:00Z' },
          a.key,
        );
        expectError(res, 400, 'INVALID_REQUEST', 'ends_at');
        assert.deepEqual(await offerIds(h, a.key), before);
      });

      for (const [name, body] of [
        ['an array', '[]'],
        ['null', 'null'],
        ['a string', '"offer"'],
        ['an empty object', '{}'],
      ] as const) {
        test(`refuses a body that is ${name}`, async () => {
          const before = await offerIds(h, a.key);
          expectError(await h.request('POST', '/v1/offers', body, a.key), 400, 'INVALID_REQUEST');
          assert.deepEqual(await offerIds(h, a.key), before);
        });
      }

      test('invalid JSON is INVALID_JSON and writes nothing', async () => {
        const before = await offerIds(h, a.key);
        for (const body of ['{"title":', '{title: "x"}', "{'a': 1}", '{"a": 1,}']) {
          expectError(await h.request('POST', '/v1/offers', body, a.key), 400, 'INVALID_JSON');
        }
        assert.deepEqual(await offerIds(h, a.key), before);
      });

      test('a non-JSON content type is 415 UNSUPPORTED_MEDIA_TYPE and writes nothing', async () => {
        const http = createHttpApp(h.app);
        const before = await offerIds(h, a.key);
        for (const type of [
          'text/plain',
          'application/x-www-form-urlencoded',
          'multipart/form-data; boundary=x',
          'application/json-seq',
          'application/jsonx',
          'application/vnd.api+json',
          '',
        ]) {
          const res = await http.request('/v1/offers', {
            method: 'POST',
            headers: { authorization: `Bearer ${a.key}`, 'content-type': type },
            body: JSON.stringify({ ...VALID_OFFER, hashtag: 'TextPlain' }),
          });
          expectError(
            { status: res.status, body: await res.json() },
            415,
            'UNSUPPORTED_MEDIA_TYPE',
          );
        }
        assert.deepEqual(await offerIds(h, a.key), before);
      });

      test('JSON with a charset parameter is accepted', async () => {
        const http = createHttpApp(h.app);
        const res = await http.request('/v1/offers', {
          method: 'POST',
          headers: {
            authorization: `Bearer ${a.key}`,
            'content-type': 'application/json; charset=utf-8',
          },
          body: JSON.stringify({ ...VALID_OFFER, hashtag: 'WithCharset' }),
        });
        assert.equal(res.status, 201);
        assert.equal((await res.json()).hashtag, 'WithCharset');
      });

      test(`a body over ${REQUEST_BODY_BYTES_MAX} bytes is 413 BODY_TOO_LARGE; one at the limit is read`, async () => {
        const before = await offerIds(h, a.key);
        // The title is too long either way: at the limit the body is read and refused for it.
        const sized = (bytes: number) => {
          const shell = JSON.stringify({ ...VALID_OFFER, hashtag: 'BigBody', title: '' });
          return JSON.stringify({
            ...VALID_OFFER,
            hashtag: 'BigBody',
            title: 't'.repeat(bytes - shell.length),
          });
        };
        assert.equal(Buffer.byteLength(sized(REQUEST_BODY_BYTES_MAX)), REQUEST_BODY_BYTES_MAX);
        expectError(
          await h.request('POST', '/v1/offers', sized(REQUEST_BODY_BYTES_MAX), a.key),
          400,
          'INVALID_REQUEST',
          'title',
        );
        expectError(
          await h.request('POST', '/v1/offers', sized(REQUEST_BODY_BYTES_MAX + 1), a.key),
          413,
          'BODY_TOO_LARGE',
        );
        expectError(
          await h.request('POST', '/v1/offers', sized(1024 * 1024), a.key),
          413,
          'BODY_TOO_LARGE',
        );
        assert.deepEqual(await offerIds(h, a.key), before);
      });

      test('an amount as a digit string, a lower-case currency and a leading # are accepted', async () => {
        const res = await h.request(
          'POST',
          '/v1/offers',
          { ...VALID_OFFER, hashtag: '#StringAmount', price: { amount: '2500', currency: 'usd' } },
          a.key,
        );
        expectStatus(res, 201);
        assert.match(res.body.id, /^ofr_[a-z2-7]{12}$/);
        assert.deepEqual(res.body.price, { amount: 2500, currency: 'USD' });
        assert.equal(res.body.hashtag, 'StringAmount');
        assert.equal(res.body.merchant_id, a.id);
        assert.equal(res.body.status, 'live');
        assert.ok((await offerIds(h, a.key)).includes(res.body.id));
      });

      test('the largest amount (1e9 minor units) and a currency without minor units are accepted', async () => {
        const top = await h.request(
          'POST',
          '/v1/offers',
          {
            ...VALID_OFFER,
            hashtag: 'TopPrice',
            price: { amount: 1_000_000_000, currency: 'EUR' },
          },
          a.key,
        );
        expectStatus(top, 201);
        assert.deepEqual(top.body.price, { amount: 1_000_000_000, currency: 'EUR' });
        const yen = await h.request(
          'POST',
          '/v1/offers',
          {
            ...VALID_OFFER,
            hashtag: 'YenPrice',
            price: { amount: 1200, currency: 'jpy' },
            publish: false,
          },
          a.key,
        );
        expectStatus(yen, 201);
        assert.deepEqual(yen.body.price, { amount: 1200, currency: 'JPY' });
        assert.equal(yen.body.status, 'paused', 'publish: false leaves it paused');
      });

      test('a hashtag held by a live or paused offer is HASHTAG_TAKEN whatever its case; an ended one frees it', async () => {
        const before = await offerIds(h, a.key);
        for (const tag of ['BuyAcmeTee', 'buyacmetee', '#BUYACMETEE']) {
          const res = await h.request(
            'POST',
            '/v1/offers',
            { ...VALID_OFFER, hashtag: tag },
            a.key,
          );
          expectError(res, 409, 'HASHTAG_TAKEN', 'hashtag');
        }
        // Another merchant cannot take it either.
        expectError(
          await h.request('POST', '/v1/offers', { ...VALID_OFFER, hashtag: 'BUYACMETEE' }, b.key),
          409,
          'HASHTAG_TAKEN',
          'hashtag',
        );
        assert.deepEqual(await offerIds(h, a.key), before);

        const first = await h.request(
          'POST',
          '/v1/offers',
          { ...VALID_OFFER, hashtag: 'Recycled' },
          a.key,
        );
        expectStatus(first, 201);
        expectStatus(
          await h.request('POST', `/v1/offers/${first.body.id}/pause`, undefined, a.key),
          200,
        );
        expectError(
          await h.request('POST', '/v1/offers', { ...VALID_OFFER, hashtag: 'recycled' }, b.key),
          409,
          'HASHTAG_TAKEN',
        );
        expectStatus(
          await h.request('POST', `/v1/offers/${first.body.id}/end`, undefined, a.key),
          200,
        );
        const second = await h.request(
          'POST',
          '/v1/offers',
          { ...VALID_OFFER, hashtag: 'recycled' },
          b.key,
        );
        expectStatus(second, 201);
        assert.notEqual(second.body.id, first.body.id);
      });
    });

    describe('Idempotency-Key', () => {
      test('the same key and body give the same answer and one offer', async () => {
        const before = await offerIds(h, a.key);
        const body = { ...VALID_OFFER, hashtag: 'IdemOnce' };
        const headers = { 'idempotency-key': 'offer-idem-1' };
        const first = await h.request('POST', '/v1/offers', body, a.key, headers);
        const second = await h.request('POST', '/v1/offers', body, a.key, headers);
        expectStatus(first, 201);
        expectStatus(second, 201);
        assert.deepEqual(second.body, first.body);
        const after = await offerIds(h, a.key);
        assert.equal(after.length, before.length + 1);
        assert.equal(after.filter((id) => id === first.body.id).length, 1);
      });

      test('a refusal is replayed too: the same key gives the same error, even once the cause is gone', async () => {
        const body = { ...VALID_OFFER, hashtag: 'IdemRefused' };
        const blocker = await h.request('POST', '/v1/offers', body, b.key);
        expectStatus(blocker, 201);
        const headers = { 'idempotency-key': 'offer-idem-refused' };
        expectError(
          await h.request('POST', '/v1/offers', body, a.key, headers),
          409,
          'HASHTAG_TAKEN',
        );
        expectStatus(
          await h.request('POST', `/v1/offers/${blocker.body.id}/end`, undefined, b.key),
          200,
        );
        expectError(
          await h.request('POST', '/v1/offers', body, a.key, headers),
          409,
          'HASHTAG_TAKEN',
        );
      });

      test('the same key with another body is 409 IDEMPOTENCY_CONFLICT and writes nothing', async () => {
        const headers = { 'idempotency-key': 'offer-idem-2' };
        const first = await h.request(
          'POST',
          '/v1/offers',
          { ...VALID_OFFER, hashtag: 'IdemFirst' },
          a.key,
          headers,
        );
        expectStatus(first, 201);
        const before = await offerIds(h, a.key);
        const other = await h.request(
          'POST',
          '/v1/offers',
          { ...VALID_OFFER, hashtag: 'IdemSecond' },
          a.key,
          headers,
        );
        expectError(other, 409, 'IDEMPOTENCY_CONFLICT');
        assert.deepEqual(await offerIds(h, a.key), before);
        // The first answer is still the one the key gives.
        const again = await h.request(
          'POST',
          '/v1/offers',
          { ...VALID_OFFER, hashtag: 'IdemFirst' },
          a.key,
          headers,
        );
        assert.equal(again.body.id, first.body.id);
      });

      test('the same key on another route is a conflict, not the first answer', async () => {
        const created = await h.request(
          'POST',
          '/v1/offers',
          { ...VALID_OFFER, hashtag: 'IdemRoutes' },
          a.key,
        );
        expectStatus(created, 201);
        const headers = { 'idempotency-key': 'status-idem' };
        const paused = await h.request(
          'POST',
          `/v1/offers/${created.body.id}/pause`,
          undefined,
          a.key,
          headers,
        );
        expectStatus(paused, 200);
        assert.equal(paused.body.status, 'paused');
        const ended = await h.request(
          'POST',
          `/v1/offers/${created.body.id}/end`,
          undefined,
          a.key,
          headers,
        );
        expectError(ended, 409, 'IDEMPOTENCY_CONFLICT');
        const now = await h.request('GET', `/v1/offers/${created.body.id}`, undefined, a.key);
        assert.equal(now.body.status, 'paused');
      });

      test('keys are per caller: two merchants may use the same key', async () => {
        const headers = { 'idempotency-key': 'shared-key' };
        const ra = await h.request(
          'POST',
          '/v1/offers',
          { ...VALID_OFFER, hashtag: 'SharedA' },
          a.key,
          headers,
        );
        const rb = await h.request(
          'POST',
          '/v1/offers',
          { ...VALID_OFFER, hashtag: 'SharedB' },
          b.key,
          headers,
        );
        expectStatus(ra, 201);
        expectStatus(rb, 201);
        assert.notEqual(ra.body.id, rb.body.id);
        assert.equal(rb.body.merchant_id, b.id);
      });

      test('a bad key is IDEMPOTENCY_KEY_INVALID and writes nothing; 255 characters is a key', async () => {
        const before = await offerIds(h, a.key);
        const body = { ...VALID_OFFER, hashtag: 'BadKey' };
        for (const key of ['has space', 'caf\u00e9', 'k'.repeat(256), '']) {
          const res = await h.request('POST', '/v1/offers', body, a.key, {
            'idempotency-key': key,
          });
          expectError(res, 400, 'IDEMPOTENCY_KEY_INVALID');
        }
        assert.deepEqual(await offerIds(h, a.key), before);
        const longest = await h.request('POST', '/v1/offers', body, a.key, {
          'idempotency-key': 'k'.repeat(255),
        });
        expectStatus(longest, 201);
      });

      test('a merchant created twice with one key is one merchant, and the replay shows no secrets', async () => {
        const before = await count(h, 'merchants');
        const keysBefore = await count(h, 'api_keys');
        const headers = { 'idempotency-key': 'merchant-idem-1' };
        const body = { handle: 'idemshop', name: 'Idem Shop' };
        const first = await h.request('POST', '/v1/merchants', body, ADMIN_KEY, headers);
        const second = await h.request('POST', '/v1/merchants', body, ADMIN_KEY, headers);
        expectStatus(first, 201);
        expectStatus(second, 201);
        assert.match(first.body.api_key, /^sk_[a-z2-7]{40}$/);
        assert.match(first.body.webhook_secret, /^whsec_[a-z2-7]{40}$/);
        assert.equal(second.body.id, first.body.id);
        assert.equal(second.body.api_key, null);
        assert.equal(second.body.webhook_secret, null);
        assert.equal(await count(h, 'merchants'), before + 1);
        assert.equal(await count(h, 'api_keys'), keysBefore + 1, 'the replay made no second key');
        const me = await h.request('GET', '/v1/merchants/me', undefined, first.body.api_key);
        expectStatus(me, 200);
        assert.equal(me.body.id, first.body.id);

        const conflict = await h.request(
          'POST',
          '/v1/merchants',
          { ...body, name: 'Other' },
          ADMIN_KEY,
          headers,
        );
        expectError(conflict, 409, 'IDEMPOTENCY_CONFLICT');
        assert.equal(await count(h, 'merchants'), before + 1);
      });
    });

    describe('POST /v1/merchants', () => {
      const valid = { handle: 'probeshop', name: 'Probe Shop' };
      const bad: [name: string, body: Json, code: string, param: string][] = [
        ['missing handle', { name: 'X' }, 'INVALID_REQUEST', 'handle'],
        ['a one-letter handle', { ...valid, handle: 'a' }, 'INVALID_HANDLE', 'handle'],
        ['a handle with a space', { ...valid, handle: 'probe shop' }, 'INVALID_HANDLE', 'handle'],
        ['a handle of the wrong type', { ...valid, handle: 7 }, 'INVALID_HANDLE', 'handle'],
        [
          'a handle over 32 characters',
          { ...valid, handle: 'h'.repeat(33) },
          'INVALID_HANDLE',
          'handle',
        ],
        ['missing name', { handle: 'probeshop' }, 'INVALID_REQUEST', 'name'],
        ['an empty name', { ...valid, name: ' ' }, 'INVALID_REQUEST', 'name'],
        ['an unknown network', { ...valid, network: 'myspace' }, 'INVALID_REQUEST', 'network'],
        [
          'a network not connected',
          { ...valid, network: 'mastodon' },
          'NETWORK_NOT_CONNECTED',
          'network',
        ],
        [
          'an ftp webhook',
          { ...valid, webhook_url: 'ftp://x.example/h' },
          'INVALID_REQUEST',
          'webhook_url',
        ],
        [
          'a javascript: webhook',
          { ...valid, webhook_url: 'javascript:alert(1)' },
          'INVALID_REQUEST',
          'webhook_url',
        ],
        [
          'a webhook that is no URL',
          { ...valid, webhook_url: 'not a url' },
          'INVALID_REQUEST',
          'webhook_url',
        ],
        ['a fee over 5000 bps', { ...valid, fee_bps: 5001 }, 'INVALID_REQUEST', 'fee_bps'],
        ['a negative fee', { ...valid, fee_bps: -1 }, 'INVALID_REQUEST', 'fee_bps'],
        ['a fractional fee', { ...valid, fee_bps: 2.5 }, 'INVALID_REQUEST', 'fee_bps'],
        ['a fee as a string', { ...valid, fee_bps: '250' }, 'INVALID_REQUEST', 'fee_bps'],
      ];
      for (const [name, body, code, param] of bad) {
        test(`refuses ${name} and writes nothing`, async () => {
          const before = await count(h, 'merchants');
          expectError(await h.request('POST', '/v1/merchants', body, ADMIN_KEY), 400, code, param);
          assert.equal(await count(h, 'merchants'), before);
        });
      }

      test('a handle a merchant already has is 409 MERCHANT_EXISTS, whatever its case or @', async () => {
        const before = await count(h, 'merchants');
        for (const handle of ['acme', 'ACME', '@Acme']) {
          const res = await h.request('POST', '/v1/merchants', { handle, name: 'Copy' }, ADMIN_KEY);
          expectError(res, 409, 'MERCHANT_EXISTS', 'handle');
        }
        assert.equal(await count(h, 'merchants'), before);
      });

      test('a valid merchant is created with its handle normalized', async () => {
        const res = await h.request(
          'POST',
          '/v1/merchants',
          {
            handle: '@ProbeShop',
            name: 'Probe Shop',
            webhook_url: 'https://probe.example/hooks',
            fee_bps: 0,
          },
          ADMIN_KEY,
        );
        expectStatus(res, 201);
        assert.match(res.body.id, /^mer_/);
        assert.equal(res.body.handle, 'probeshop');
        assert.equal(res.body.fee_bps, 0);
        assert.equal(res.body.webhook_url, 'https://probe.example/hooks');
      });
    });

    describe('POST /v1/sandbox/tokens', () => {
      const card = { number: '4242424242424242', exp_month: 12, exp_year: 2030, cvc: '123' };
      const bad: [name: string, body: Json, code: string, param: string][] = [
        [
          'a number failing Luhn',
          { ...card, number: '4242424242424241' },
          'INVALID_CARD',
          'number',
        ],
        [
          'another number failing Luhn',
          { ...card, number: '4000000000000001' },
          'INVALID_CARD',
          'number',
        ],
        [
          'a number with letters',
          { ...card, number: '4242abcd42424242' },
          'INVALID_CARD',
          'number',
        ],
        ['a number too short', { ...card, number: '42424242424' }, 'INVALID_CARD', 'number'],
        ['a number too long', { ...card, number: '4'.repeat(20) }, 'INVALID_CARD', 'number'],
        ['an empty number', { ...card, number: '' }, 'INVALID_CARD', 'number'],
        [
          'a number as a JSON number',
          { ...card, number: 4242424242424242 },
          'INVALID_REQUEST',
          'number',
        ],
        [
          'a number over 32 characters',
          { ...card, number: '4'.repeat(33) },
          'INVALID_REQUEST',
          'number',
        ],
        ['a CVC with letters', { ...card, cvc: '12a' }, 'INVALID_CARD', 'cvc'],
        ['a CVC of two digits', { ...card, cvc: '12' }, 'INVALID_CARD', 'cvc'],
        ['a CVC of five digits', { ...card, cvc: '12345' }, 'INVALID_REQUEST', 'cvc'],
        ['month 0', { ...card, exp_month: 0 }, 'INVALID_REQUEST', 'exp_month'],
        ['month 13', { ...card, exp_month: 13 }, 'INVALID_REQUEST', 'exp_month'],
        ['a year past 2100', { ...card, exp_year: 2101 }, 'INVALID_REQUEST', 'exp_year'],
        ['a year as a string', { ...card, exp_year: '2030' }, 'INVALID_REQUEST', 'exp_year'],
        // The test clock is 26 November 2026.
        [
          'a card that expired last month',
          { ...card, exp_month: 10, exp_year: 2026 },
          'CARD_EXPIRED',
          'exp_year',
        ],
        [
          'a card that expired last year',
          { ...card, exp_month: 12, exp_year: 2025 },
          'CARD_EXPIRED',
          'exp_year',
        ],
        [
          'a two-digit year that is past',
          { ...card, exp_month: 12, exp_year: 25 },
          'CARD_EXPIRED',
          'exp_year',
        ],
        ['a three-digit year', { ...card, exp_year: 203 }, 'CARD_EXPIRED', 'exp_year'],
        [
          'missing number',
          { exp_month: 12, exp_year: 2030, cvc: '123' },
          'INVALID_REQUEST',
          'number',
        ],
      ];
      for (const [name, body, code, param] of bad) {
        test(`refuses ${name} (${code}) and keeps nothing`, async () => {
          const before = await count(h, 'sandbox_tokens');
          expectError(await h.request('POST', '/v1/sandbox/tokens', body), 400, code, param);
          assert.equal(await count(h, 'sandbox_tokens'), before);
        });
      }

      test('a card expiring this month, spaced numbers and two-digit years are accepted', async () => {
        const thisMonth = await h.request('POST', '/v1/sandbox/tokens', {
          ...card,
          exp_month: 11,
          exp_year: 2026,
        });
        expectStatus(thisMonth, 201);
        const spaced = await h.request('POST', '/v1/sandbox/tokens', {
          ...card,
          number: '5555 5555-5555 4444',
          exp_year: 31,
        });
        expectStatus(spaced, 201);
        assert.deepEqual(
          { brand: spaced.body.brand, last4: spaced.body.last4, exp_year: spaced.body.exp_year },
          { brand: 'mastercard', last4: '4444', exp_year: 2031 },
        );
        assert.equal(JSON.stringify(spaced.body).includes('5555555555554444'), false);
      });
    });

    describe('POST /v1/shoppers', () => {
      let token: string;
      before(async () => {
        const res = await h.request('POST', '/v1/sandbox/tokens', {
          number: '4242424242424242',
          exp_month: 12,
          exp_year: 2030,
          cvc: '123',
        });
        expectStatus(res, 201);
        token = res.body.id;
      });

      const shopper = () => ({
        handle: 'zed',
        email: 'zed@example.com',
        card_token: token,
        shipping_address: { ...ADDRESS },
      });

      async function zedLinked(): Promise<boolean> {
        const res = await h.request('GET', '/v1/shoppers/local/zed', undefined, ADMIN_KEY);
        if (res.status === 404) {
          expectError(res, 404, 'NOT_FOUND');
          return false;
        }
        expectStatus(res, 200);
        return true;
      }

      const bad: BadField[] = [
        ...field('handle', 'INVALID_REQUEST', [['missing handle', DELETE]]),
        ...field('handle', 'INVALID_HANDLE', [
          ['a handle with a space', 'ze d'],
          ['a one-letter handle', 'z'],
          ['a handle with a look-alike letter', 'z\u0435d'],
        ]),
        ...field('network', 'INVALID_REQUEST', [['an unknown network', 'myspace']]),
        ...field('network', 'NETWORK_NOT_CONNECTED', [['a network not connected', 'bluesky']]),
        ...field('email', 'INVALID_REQUEST', [
          ['missing email', DELETE],
          ['an e-mail without @', 'zed.example.com'],
          ['an e-mail without domain', 'zed@'],
          ['an e-mail with a space', 'zed @example.com'],
          ['an e-mail over 254 characters', `${'z'.repeat(250)}@example.com`],
        ]),
        ...field('card_token', 'INVALID_REQUEST', [
          ['missing card token', DELETE],
          ['an empty card token', ''],
        ]),
        ...field('shipping_address', 'INVALID_REQUEST', [['missing address', DELETE]]),
        ...field('shipping_address.country', 'INVALID_REQUEST', [
          ['a three-letter country', 'USA'],
          ['a country with a digit', 'U1'],
          ['an empty country', ''],
        ]),
        ...field('shipping_address.city', 'INVALID_REQUEST', [['missing city', DELETE]]),
        ...field('shipping_address.line1', 'INVALID_REQUEST', [['an empty first line', ' ']]),
        ...field('shipping_address.postal_code', 'INVALID_REQUEST', [
          ['a postal code over 20', '1'.repeat(21)],
        ]),
        ...limits('limits.currency', 'UNKNOWN_CURRENCY', [
          ['limits in an unknown currency', { per_day: 100, currency: 'XYZ' }],
        ]),
        ...limits('limits.currency', 'INVALID_REQUEST', [
          ['limits without currency', { per_day: 100 }],
        ]),
        ...limits('limits.per_day', 'INVALID_AMOUNT', [
          ['a zero limit', { per_day: 0, currency: 'USD' }],
          ['a fractional limit', { per_day: 10.5, currency: 'USD' }],
          ['a huge limit', { per_day: 5e9, currency: 'USD' }],
        ]),
        ...limits('limits.per_purchase', 'INVALID_AMOUNT', [
          ['a negative limit', { per_purchase: -5, currency: 'USD' }],
          [
            'a purchase limit above the daily one',
            { per_purchase: 5000, per_day: 4000, currency: 'USD' },
          ],
        ]),
      ];
      for (const { name, path, value, code, param, todo } of bad) {
        test(`refuses ${name} (${code}) and links nothing`, { todo }, async () => {
          const res = await h.request(
            'POST',
            '/v1/shoppers',
            withField(shopper(), path, value),
            ADMIN_KEY,
          );
          expectError(res, 400, code, param);
          assert.equal(await zedLinked(), false);
        });
      }

      test('an unknown card token is UNKNOWN_CARD_TOKEN and links nothing', async () => {
        const before = await count(h, 'shoppers');
        for (const cardToken of ['tok_doesnotexist', '4242424242424242']) {
          const res = await h.request(
            'POST',
            '/v1/shoppers',
            { ...shopper(), card_token: cardToken },
            ADMIN_KEY,
          );
          expectError(res, 400, 'UNKNOWN_CARD_TOKEN', 'card_token');
        }
        assert.equal(await zedLinked(), false);
        assert.equal(await count(h, 'shoppers'), before);
      });

      test('no credentials are 401 and link nothing', async () => {
        expectError(await h.request('POST', '/v1/shoppers', shopper()), 401, 'UNAUTHENTICATED');
        expectError(
          await h.request('POST', '/v1/shoppers', shopper(), 'lt_not_a_token'),
          401,
          'UNAUTHENTICATED',
        );
        assert.equal(await zedLinked(), false);
      });

      test('a merchant key is a known credential without the right: 403 FORBIDDEN, links nothing', async () => {
        expectError(await h.request('POST', '/v1/shoppers', shopper(), a.key), 403, 'FORBIDDEN');
        expectError(
          await h.request('GET', '/v1/shoppers/local/alice', undefined, a.key),
          403,
          'FORBIDDEN',
        );
        assert.equal(await zedLinked(), false);
      });

      test('a valid link: @ and case in the handle, lower-case country and limit currency', async () => {
        const res = await h.request(
          'POST',
          '/v1/shoppers',
          {
            ...shopper(),
            handle: '@Yara',
            email: 'yara@example.com',
            shipping_address: { ...ADDRESS, country: 'fr' },
            limits: { per_purchase: '3000', per_day: 6000, currency: 'usd' },
          },
          ADMIN_KEY,
        );
        expectStatus(res, 201);
        assert.match(res.body.id, /^shp_/);
        assert.equal(res.body.handle, 'yara');
        assert.equal(res.body.shipping_address.country, 'FR');
        assert.deepEqual(res.body.limits, { per_purchase: 3000, per_day: 6000, currency: 'USD' });
        assert.deepEqual(res.body.card, { brand: 'visa', last4: '4242' });
        assert.equal(
          JSON.stringify(res.body).includes(token),
          false,
          'the card token is not echoed',
        );
        const read = await h.request('GET', '/v1/shoppers/local/yara', undefined, ADMIN_KEY);
        expectStatus(read, 200);
        assert.equal(read.body.id, res.body.id);
      });
    });

    describe('local network input', () => {
      test('account handles are validated and unique', async () => {
        const before = await count(h, 'local_accounts');
        expectError(
          await h.request('POST', '/v1/local/accounts', {}),
          400,
          'INVALID_REQUEST',
          'handle',
        );
        for (const handle of ['a', 'no spaces', 5, 'x'.repeat(33), 'k\u0430te']) {
          expectError(
            await h.request('POST', '/v1/local/accounts', { handle }),
            400,
            'INVALID_HANDLE',
            'handle',
          );
        }
        expectError(
          await h.request('POST', '/v1/local/accounts', { handle: 'ALICE' }),
          409,
          'HANDLE_TAKEN',
          'handle',
        );
        assert.equal(await count(h, 'local_accounts'), before);
      });

      test('a handle with a Kelvin sign K is INVALID_HANDLE, not folded into the ASCII handle', async () => {
        const before = await count(h, 'local_accounts');
        const res = await h.request('POST', '/v1/local/accounts', { handle: '\u212Aate' });
        expectError(res, 400, 'INVALID_HANDLE', 'handle');
        assert.equal(await count(h, 'local_accounts'), before);
      });

      test('posts: bad text, a missing reply target and bad tokens are refused and post nothing', async () => {
        const bob = w.accounts.bob!;
        const before = await count(h, 'local_posts');
        const cases: [body: unknown, token: string | undefined, status: number, code: string][] = [
          [{}, bob.token, 400, 'INVALID_REQUEST'],
          [{ text: 5 }, bob.token, 400, 'INVALID_REQUEST'],
          [{ text: '' }, bob.token, 400, 'INVALID_REQUEST'],
          [{ text: '   ' }, bob.token, 400, 'INVALID_REQUEST'],
          [{ text: 'x'.repeat(1001) }, bob.token, 400, 'TEXT_TOO_LONG'],
          [{ text: 'hi', reply_to: 'abc' }, bob.token, 404, 'REPLY_TARGET_NOT_FOUND'],
          [{ text: 'hi', reply_to: '999999999' }, bob.token, 404, 'REPLY_TARGET_NOT_FOUND'],
          [{ text: 'hi', reply_to: 1.5 }, bob.token, 400, 'INVALID_REQUEST'],
          [{ text: 'hi' }, undefined, 401, 'UNAUTHENTICATED'],
          [{ text: 'hi' }, 'lt_not_a_token', 401, 'UNAUTHENTICATED'],
          [{ text: 'hi' }, a.key, 401, 'UNAUTHENTICATED'],
        ];
        for (const [body, token, status, code] of cases) {
          const res = await h.request('POST', '/v1/local/posts', body, token);
          expectError(res, status, code);
        }
        assert.equal(await count(h, 'local_posts'), before);
        // A thousand characters exactly is a post.
        const full = await h.request(
          'POST',
          '/v1/local/posts',
          { text: 'y'.repeat(1000) },
          bob.token,
        );
        expectStatus(full, 201);
        await h.app.settle();
      });
    });

    describe('authentication and tenants', () => {
      test('no key is 401 UNAUTHENTICATED on every protected route', async () => {
        const routes: [string, string, unknown?][] = [
          ['GET', '/v1/offers'],
          ['GET', `/v1/offers/${w.offer.id}`],
          ['POST', '/v1/offers', { ...VALID_OFFER, hashtag: 'NoKey' }],
          ['POST', `/v1/offers/${w.offer.id}/pause`],
          ['POST', `/v1/offers/${w.offer.id}/resume`],
          ['POST', `/v1/offers/${w.offer.id}/end`],
          ['GET', '/v1/orders'],
          ['GET', `/v1/orders/${a.orderId}`],
          ['POST', '/v1/merchants', { handle: 'nokey', name: 'No Key' }],
          ['GET', '/v1/merchants/me'],
          ['GET', '/v1/ledger/balances'],
          ['GET', '/v1/mailbox'],
          ['GET', '/v1/shoppers/local/alice'],
        ];
        const merchants = await count(h, 'merchants');
        const offers = await count(h, 'offers');
        for (const [method, path, body] of routes) {
          for (const token of [undefined, 'sk_not_a_real_key', ' ']) {
            const res = await h.request(method, path, body, token);
            assert.equal(
              res.status,
              401,
              `${method} ${path} with ${token}: ${JSON.stringify(res.body)}`,
            );
            assert.equal(res.body.error.code, 'UNAUTHENTICATED', `${method} ${path}`);
          }
          const basic = await h.request(method, path, body, undefined, {
            authorization: `Basic ${ADMIN_KEY}`,
          });
          assert.equal(basic.status, 401, `${method} ${path} with Basic`);
        }
        assert.equal(await count(h, 'merchants'), merchants);
        assert.equal(await count(h, 'offers'), offers);
        assert.equal(
          (await h.request('GET', `/v1/offers/${w.offer.id}`, undefined, a.key)).body.status,
          'live',
        );
      });

      test('a merchant key on admin routes is 403 FORBIDDEN', async () => {
        const merchants = await count(h, 'merchants');
        for (const [method, path, body] of [
          ['POST', '/v1/merchants', { handle: 'sneaky', name: 'Sneaky' }],
          ['GET', '/v1/ledger/balances', undefined],
          ['GET', '/v1/mailbox', undefined],
        ] as const) {
          const res = await h.request(method, path, body, a.key);
          assert.equal(res.status, 403, `${method} ${path}: ${JSON.stringify(res.body)}`);
          assert.equal(res.body.error.code, 'FORBIDDEN');
        }
        assert.equal(await count(h, 'merchants'), merchants);
      });

      test('the admin key on merchant-only routes is 403 FORBIDDEN', async () => {
        const offers = await count(h, 'offers');
        for (const [method, path, body] of [
          ['POST', '/v1/offers', { ...VALID_OFFER, hashtag: 'AdminOffer' }],
          ['POST', `/v1/offers/${w.offer.id}/pause`, undefined],
          ['GET', '/v1/merchants/me', undefined],
        ] as const) {
          expectError(await h.request(method, path, body, ADMIN_KEY), 403, 'FORBIDDEN');
        }
        assert.equal(await count(h, 'offers'), offers);
        assert.equal(
          (await h.request('GET', `/v1/offers/${w.offer.id}`, undefined, a.key)).body.status,
          'live',
        );
      });

      test("merchant A cannot read merchant B's offer or order: 404 NOT_FOUND", async () => {
        expectError(
          await h.request('GET', `/v1/offers/${b.offerId}`, undefined, a.key),
          404,
          'NOT_FOUND',
          'id',
        );
        expectError(
          await h.request('GET', `/v1/orders/${b.orderId}`, undefined, a.key),
          404,
          'NOT_FOUND',
          'id',
        );
        expectError(
          await h.request('GET', `/v1/offers/${a.offerId}`, undefined, b.key),
          404,
          'NOT_FOUND',
          'id',
        );
        expectError(
          await h.request('GET', `/v1/orders/${a.orderId}`, undefined, b.key),
          404,
          'NOT_FOUND',
          'id',
        );
        // Their own, and the admin, see them; an id that exists nowhere reads the same as another's.
        expectStatus(await h.request('GET', `/v1/offers/${b.offerId}`, undefined, b.key), 200);
        expectStatus(await h.request('GET', `/v1/orders/${b.orderId}`, undefined, b.key), 200);
        expectStatus(await h.request('GET', `/v1/orders/${b.orderId}`, undefined, ADMIN_KEY), 200);
        expectError(
          await h.request('GET', '/v1/orders/ord_nosuchorder0', undefined, a.key),
          404,
          'NOT_FOUND',
        );
        expectError(
          await h.request('GET', '/v1/offers/ofr_nosuchoffer0', undefined, a.key),
          404,
          'NOT_FOUND',
        );
      });

      test("lists with A's key hold only A's offers and orders", async () => {
        const orders = await h.request('GET', '/v1/orders?limit=100', undefined, a.key);
        expectStatus(orders, 200);
        const orderIds = orders.body.data.map((o: { id: string }) => o.id);
        assert.ok(orderIds.includes(a.orderId));
        assert.ok(!orderIds.includes(b.orderId));
        assert.ok(orders.body.data.every((o: { merchant_id: string }) => o.merchant_id === a.id));
        const byOffer = await h.request(
          'GET',
          `/v1/orders?offer_id=${b.offerId}`,
          undefined,
          a.key,
        );
        assert.deepEqual(byOffer.body.data, [], "filtering by B's offer shows A nothing");
        const byHandle = await h.request('GET', '/v1/orders?handle=alice', undefined, a.key);
        assert.deepEqual(
          byHandle.body.data.map((o: { id: string }) => o.id),
          [a.orderId],
        );

        const offers = await h.request('GET', '/v1/offers?limit=100', undefined, a.key);
        assert.ok(offers.body.data.every((o: { merchant_id: string }) => o.merchant_id === a.id));
        assert.ok(!offers.body.data.some((o: { id: string }) => o.id === b.offerId));

        const admin = await h.request('GET', '/v1/orders?limit=100', undefined, ADMIN_KEY);
        const adminIds = admin.body.data.map((o: { id: string }) => o.id);
        assert.ok(
          adminIds.includes(a.orderId) && adminIds.includes(b.orderId),
          'the admin sees both',
        );
      });

      test("pause, resume and end of another merchant's offer are 404 and change nothing", async () => {
        for (const action of ['pause', 'resume', 'end']) {
          const res = await h.request(
            'POST',
            `/v1/offers/${b.offerId}/${action}`,
            undefined,
            a.key,
          );
          expectError(res, 404, 'NOT_FOUND', 'id');
        }
        const still = await h.request('GET', `/v1/offers/${b.offerId}`, undefined, b.key);
        assert.equal(still.body.status, 'live');
        expectError(
          await h.request('POST', '/v1/offers/ofr_nosuchoffer0/pause', undefined, a.key),
          404,
          'NOT_FOUND',
        );
      });

      test('pause, resume and end of its own offer; an ended offer stays ended', async () => {
        const created = await h.request(
          'POST',
          '/v1/offers',
          { ...VALID_OFFER, hashtag: 'Lifecycle' },
          a.key,
        );
        expectStatus(created, 201);
        const id = created.body.id;
        const step = async (action: string) => {
          const res = await h.request('POST', `/v1/offers/${id}/${action}`, undefined, a.key);
          return res;
        };
        assert.equal((await step('pause')).body.status, 'paused');
        assert.equal((await step('resume')).body.status, 'live');
        assert.equal((await step('end')).body.status, 'ended');
        for (const action of ['resume', 'pause', 'end']) {
          expectError(await step(action), 400, 'INVALID_REQUEST', 'status');
        }
        assert.equal(
          (await h.request('GET', `/v1/offers/${id}`, undefined, a.key)).body.status,
          'ended',
        );
      });
    });

    describe('pagination', () => {
      async function merchantWithOffers(handle: string, n: number, stepMs: number) {
        const m = await h.request('POST', '/v1/merchants', { handle, name: handle }, ADMIN_KEY);
        expectStatus(m, 201);
        const ids: string[] = [];
        for (let i = 0; i < n; i++) {
          h.clock.advance(stepMs);
          const o = await h.request(
            'POST',
            '/v1/offers',
            { ...VALID_OFFER, hashtag: `${handle}Tag${i}` },
            m.body.api_key,
          );
          expectStatus(o, 201);
          ids.push(o.body.id);
        }
        return { key: m.body.api_key as string, ids };
      }

      async function pages(key: string, limit: number) {
        const seen: string[] = [];
        const hasMore: boolean[] = [];
        let after: string | undefined;
        for (let guard = 0; guard < 20; guard++) {
          const query = `limit=${limit}${after ? `&starting_after=${after}` : ''}`;
          const res = await h.request('GET', `/v1/offers?${query}`, undefined, key);
          expectStatus(res, 200);
          assert.equal(res.body.object, 'list');
          assert.ok(res.body.data.length <= limit);
          seen.push(...res.body.data.map((o: { id: string }) => o.id));
          hasMore.push(res.body.has_more);
          if (!res.body.has_more) return { seen, hasMore };
          after = res.body.data.at(-1).id;
        }
        assert.fail('pagination never ended');
      }

      test('five offers in pages of two: newest first, has_more, no repeats, none missed', async () => {
        const { key, ids } = await merchantWithOffers('pager', 5, 1000);
        const { seen, hasMore } = await pages(key, 2);
        assert.deepEqual(hasMore, [true, true, false]);
        assert.deepEqual(seen, [...ids].reverse());
      });

      test('offers created in the same millisecond page without repeats', async () => {
        const { key, ids } = await merchantWithOffers('ties', 5, 0);
        const { seen, hasMore } = await pages(key, 2);
        assert.deepEqual(hasMore, [true, true, false]);
        assert.equal(new Set(seen).size, 5);
        assert.deepEqual([...seen].sort(), [...ids].sort());
        const exact = await pages(key, 5);
        assert.deepEqual(exact.hasMore, [false], 'a page that holds everything has no more');
        assert.deepEqual(exact.seen, seen);
      });

      test('limit is bounded: 0, 101 and non-numbers are refused', async () => {
        for (const limit of ['0', '101', 'abc', '-1', '2.5']) {
          expectError(
            await h.request('GET', `/v1/offers?limit=${limit}`, undefined, a.key),
            400,
            'INVALID_REQUEST',
            'limit',
          );
          expectError(
            await h.request('GET', `/v1/orders?limit=${limit}`, undefined, a.key),
            400,
            'INVALID_REQUEST',
            'limit',
          );
        }
        expectError(
          await h.request('GET', '/v1/orders?status=bogus', undefined, a.key),
          400,
          'INVALID_REQUEST',
          'status',
        );
      });

      test('orders page too', async () => {
        const first = await h.request('GET', '/v1/orders?limit=1', undefined, ADMIN_KEY);
        expectStatus(first, 200);
        assert.equal(first.body.data.length, 1);
        assert.equal(first.body.has_more, true);
        const second = await h.request(
          'GET',
          `/v1/orders?limit=1&starting_after=${first.body.data[0].id}`,
          undefined,
          ADMIN_KEY,
        );
        assert.equal(second.body.data.length, 1);
        assert.notEqual(second.body.data[0].id, first.body.data[0].id);
      });
    });

    describe('documents and routes', () => {
      test('GET /openapi.json is OpenAPI 3.1 with every public path', async () => {
        const res = await h.request('GET', '/openapi.json');
        expectStatus(res, 200);
        assert.equal(res.body.openapi, '3.1.0');
        assert.equal(typeof res.body.info.title, 'string');
        const paths = res.body.paths as Record<string, Record<string, unknown>>;
        const expected: [string, string][] = [
          ['/v1/offers', 'post'],
          ['/v1/offers', 'get'],
          ['/v1/offers/{id}', 'get'],
          ['/v1/merchants', 'post'],
          ['/v1/shoppers', 'post'],
          ['/v1/orders', 'get'],
          ['/v1/orders/{id}', 'get'],
          ['/v1/local/posts', 'post'],
          ['/v1/local/posts', 'get'],
          ['/v1/sandbox/tokens', 'post'],
          ['/v1/ledger/balances', 'get'],
        ];
        for (const [path, method] of expected) {
          assert.ok(paths[path]?.[method], `${method.toUpperCase()} ${path} is documented`);
        }
        assert.ok(res.body.components.schemas.Error, 'the error shape is documented');
        assert.ok(res.body.components.securitySchemes.bearer);
      });

      test('/healthz is 200', async () => {
        const res = await h.request('GET', '/healthz');
        expectStatus(res, 200);
        assert.deepEqual(res.body, { ok: true, networks: ['local'], connectors: [] });
      });

      test('an unknown route is 404 NOT_FOUND', async () => {
        for (const [method, path] of [
          ['GET', '/v1/nope'],
          ['GET', '/nope'],
          ['GET', '/v1/offers/x/y/z'],
          ['DELETE', `/v1/offers/${w.offer.id}`],
        ] as const) {
          const res = await h.request(method, path, undefined, a.key);
          expectError(res, 404, 'NOT_FOUND');
        }
        expectError(await h.request('POST', '/v1/nope', {}, a.key), 404, 'NOT_FOUND');
      });
    });
  });
}
