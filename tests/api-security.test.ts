import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import {
  RETRY_DELAY_MS_MAX,
  WEBHOOK_ATTEMPTS_MAX,
  WEBHOOK_RETRY_BASE_MS,
  WEBHOOK_RETRY_WINDOW_MS,
} from '../src/core/limits.ts';
import { sha256 } from '../src/core/codes.ts';
import { signWebhook } from '../src/outbox/deliverers.ts';
import { verifyWebhook, WebhookSignatureError } from '../src/webhooks/verify.ts';
import {
  ADMIN_KEY,
  openHarness,
  storages,
  webhookReceiver,
  type Harness,
} from './support/harness.ts';
import { assertLedgerBalanced, codeIn, post, repliesTo, setupWorld } from './support/world.ts';

describe('verifyWebhook (the helper for shops)', () => {
  const payload = JSON.stringify({ id: 'evt_1', type: 'order.paid' });
  const t = 1_800_000_000;
  test('a good signature passes; a changed body, a wrong secret or an old timestamp does not', () => {
    const header = signWebhook('whsec_a', payload, t);
    assert.deepEqual(verifyWebhook(payload, header, ['whsec_a'], { nowS: t + 10 }), {
      id: 'evt_1',
      type: 'order.paid',
    });
    assert.throws(
      () => verifyWebhook(payload.replace('1', '2'), header, ['whsec_a'], { nowS: t }),
      WebhookSignatureError,
    );
    assert.throws(() => verifyWebhook(payload, header, ['whsec_b'], { nowS: t }), /no signature/);
    assert.throws(() => verifyWebhook(payload, header, ['whsec_a'], { nowS: t + 301 }), /300 s/);
    assert.throws(() => verifyWebhook(payload, header, ['whsec_a'], { nowS: t - 301 }), /300 s/);
    verifyWebhook(payload, header, ['whsec_a'], { nowS: t + 300 });
    assert.throws(() => verifyWebhook(payload, undefined, ['whsec_a']), /no Tagpay-Signature/);
    assert.throws(() => verifyWebhook(payload, 'v1=abc', ['whsec_a']), /no timestamp/);
  });
  test('during a rotation both signatures are sent and either secret verifies', () => {
    const header = signWebhook(['whsec_new', 'whsec_old'], payload, t);
    assert.equal(header.split(',').filter((p) => p.startsWith('v1=')).length, 2);
    verifyWebhook(payload, header, ['whsec_new'], { nowS: t });
    verifyWebhook(payload, header, ['whsec_old'], { nowS: t });
  });
});

for (const storage of storages()) {
  describe(`API security (${storage})`, () => {
    let h: Harness;
    afterEach(async () => {
      await assertLedgerBalanced(h);
      await h.close();
    });

    test('scoped API keys: several per merchant, hashed, shown once, revocable, last used', async () => {
      h = await openHarness(storage);
      const w = await setupWorld(h);
      const main = w.merchant.api_key;
      const made = await h.request(
        'POST',
        '/v1/api-keys',
        { name: 'reporting', scopes: ['read'] },
        main,
        { 'idempotency-key': 'k1' },
      );
      assert.equal(made.status, 201, JSON.stringify(made.body));
      const readKey: string = made.body.key;
      assert.match(readKey, /^sk_/);
      assert.deepEqual(made.body.scopes, ['read']);
      const replay = await h.request(
        'POST',
        '/v1/api-keys',
        { name: 'reporting', scopes: ['read'] },
        main,
        { 'idempotency-key': 'k1' },
      );
      assert.equal(replay.body.key, null, 'a key is shown once');
      const stored = await h.app.db.query<{ hash: string }>('SELECT hash FROM api_keys');
      assert.ok(stored.rows.some((r) => r.hash === sha256(readKey)));
      const dump = JSON.stringify(
        (await h.app.db.query('SELECT * FROM api_keys')).rows.concat(
          (await h.app.db.query('SELECT * FROM audit_log')).rows,
        ),
      );
      assert.ok(!dump.includes(readKey), 'the key itself is stored nowhere');

      assert.equal((await h.request('GET', '/v1/offers', undefined, readKey)).status, 200);
      const write = await h.request('POST', `/v1/offers/${w.offer.id}/pause`, undefined, readKey);
      assert.equal(write.status, 403);
      assert.equal(write.body.error.code, 'INSUFFICIENT_SCOPE');
      const bad = await h.request('POST', '/v1/api-keys', { scopes: ['admin'] }, main);
      assert.equal(bad.status, 400);

      const list = await h.request('GET', '/v1/api-keys', undefined, main);
      assert.equal(list.body.data.length, 2);
      const reporting = list.body.data.find((k: { name: string }) => k.name === 'reporting');
      assert.ok(reporting.last_used_at, 'last_used_at is kept');
      assert.ok(!JSON.stringify(list.body).includes(readKey));

      const revoked = await h.request('POST', `/v1/api-keys/${reporting.id}/revoke`, {}, main);
      assert.equal(revoked.status, 200, JSON.stringify(revoked.body));
      assert.equal((await h.request('GET', '/v1/offers', undefined, readKey)).status, 401);
      assert.equal((await h.request('GET', '/v1/offers', undefined, main)).status, 200);
      const missing = await h.request('POST', '/v1/api-keys/key_nothing/revoke', {}, main);
      assert.equal(missing.status, 404);
      const actions = (await h.request('GET', '/v1/audit', undefined, ADMIN_KEY)).body.data.map(
        (e: { action: string }) => e.action,
      );
      assert.ok(actions.includes('api_key.created') && actions.includes('api_key.revoked'));
    });

    test('webhooks: two signatures during a secret rotation, retries for 3 days, dead letters, send again', async () => {
      // Fails the first WEBHOOK_ATTEMPTS_MAX deliveries, then accepts.
      const hooks = await webhookReceiver(WEBHOOK_ATTEMPTS_MAX);
      try {
        h = await openHarness(storage);
        const w = await setupWorld(h, { webhookUrl: hooks.url });
        const { alice } = w.accounts;
        const rotated = await h.request(
          'POST',
          '/v1/webhook-secret/rotate',
          {},
          w.merchant.api_key,
        );
        assert.equal(rotated.status, 200, JSON.stringify(rotated.body));
        const newSecret: string = rotated.body.webhook_secret;
        assert.match(newSecret, /^whsec_/);

        const buy = await post(h, alice!, '#BuyAcmeTee M');
        const started = h.clock.now();
        await post(h, alice!, codeIn((await repliesTo(h, buy))[0]));
        // Each failed attempt waits its backoff; the clock is moved to each one.
        for (let attempt = 1; attempt < WEBHOOK_ATTEMPTS_MAX; attempt++) {
          h.clock.advance(Math.min(RETRY_DELAY_MS_MAX, WEBHOOK_RETRY_BASE_MS * 2 ** (attempt - 1)));
          await h.app.settle();
        }
        assert.ok(h.clock.now() - started <= WEBHOOK_RETRY_WINDOW_MS, 'within three days');
        assert.ok(h.clock.now() - started > WEBHOOK_RETRY_WINDOW_MS - RETRY_DELAY_MS_MAX);
        const dead = await h.request(
          'GET',
          '/v1/webhook-deliveries?status=dead',
          undefined,
          w.merchant.api_key,
        );
        assert.equal(dead.status, 200);
        assert.equal(dead.body.data.length, 1, JSON.stringify(dead.body));
        const [delivery] = dead.body.data;
        assert.equal(delivery.event_type, 'order.paid');
        assert.equal(delivery.attempts, WEBHOOK_ATTEMPTS_MAX);
        assert.equal(hooks.received.length, 0);
        const other = (
          await h.request('POST', '/v1/merchants', { handle: 'other', name: 'O' }, ADMIN_KEY)
        ).body;
        const theirs = await h.request(
          'GET',
          '/v1/webhook-deliveries?status=dead',
          undefined,
          other.api_key,
        );
        assert.deepEqual(theirs.body.data, []);
        const stolen = await h.request(
          'POST',
          `/v1/webhook-deliveries/${delivery.id}/retry`,
          {},
          other.api_key,
        );
        assert.equal(stolen.status, 404);

        const again = await h.request(
          'POST',
          `/v1/webhook-deliveries/${delivery.id}/retry`,
          {},
          w.merchant.api_key,
        );
        assert.equal(again.status, 200, JSON.stringify(again.body));
        assert.equal(again.body.status, 'pending');
        await h.app.settle();
        assert.equal(hooks.received.length, 1);
        const twice = await h.request(
          'POST',
          `/v1/webhook-deliveries/${delivery.id}/retry`,
          {},
          w.merchant.api_key,
        );
        assert.equal(twice.status, 409);
        assert.equal(twice.body.error.code, 'DELIVERY_NOT_RETRYABLE');

        // Three days on, the previous secret (kept 24 hours) no longer signs.
        const got = hooks.received[0]!;
        const header = String(got.headers['tagpay-signature']);
        const t = Number(/t=(\d+)/.exec(header)![1]);
        assert.equal(header.split(',').filter((p) => p.startsWith('v1=')).length, 1);
        verifyWebhook(got.body, header, [newSecret], { nowS: t });

        // A fresh rotation: both secrets sign until the previous one is retired.
        const second = await h.request(
          'POST',
          '/v1/webhook-secret/rotate',
          { previous_expires_in_s: 3600 },
          w.merchant.api_key,
        );
        const newest: string = second.body.webhook_secret;
        const buy1 = await post(h, alice!, '#BuyAcmeTee L');
        await post(h, alice!, codeIn((await repliesTo(h, buy1))[0]));
        const both = hooks.received.at(-1)!;
        const bothHeader = String(both.headers['tagpay-signature']);
        const bt = Number(/t=(\d+)/.exec(bothHeader)![1]);
        assert.equal(bothHeader.split(',').filter((p) => p.startsWith('v1=')).length, 2);
        verifyWebhook(both.body, bothHeader, [newest], { nowS: bt });
        verifyWebhook(both.body, bothHeader, [newSecret], { nowS: bt });

        // Retired: only the new secret signs.
        const retired = await h.request(
          'POST',
          '/v1/webhook-secret/retire-previous',
          {},
          w.merchant.api_key,
        );
        assert.equal(retired.status, 200);
        assert.equal(retired.body.previous_until, null);
        const buy2 = await post(h, alice!, '#BuyAcmeTee S');
        await post(h, alice!, codeIn((await repliesTo(h, buy2))[0]));
        const last = hooks.received.at(-1)!;
        const lastHeader = String(last.headers['tagpay-signature']);
        assert.equal(lastHeader.split(',').filter((p) => p.startsWith('v1=')).length, 1);
        const lt = Number(/t=(\d+)/.exec(lastHeader)![1]);
        verifyWebhook(last.body, lastHeader, [newest], { nowS: lt });
        assert.throws(() => verifyWebhook(last.body, lastHeader, [newSecret], { nowS: lt }));
        const actions = (await h.request('GET', '/v1/audit', undefined, ADMIN_KEY)).body.data.map(
          (e: { action: string }) => e.action,
        );
        for (const a of [
          'webhook_secret.rotated',
          'webhook_secret.previous_retired',
          'webhook.retried',
        ])
          assert.ok(actions.includes(a), a);
      } finally {
        await hooks.close();
      }
    });
  });
}
