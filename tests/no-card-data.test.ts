import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ADMIN_KEY, openHarness, storages } from './support/harness.ts';
import {
  CARDS,
  codeIn,
  createAccount,
  linkShopper,
  post,
  repliesTo,
  setupWorld,
} from './support/world.ts';

/**
 * No card number at rest (DESIGN.md, safety): after every test card has been tokenized, used to buy,
 * declined and refunded, with the most verbose logs, no table, log line, e-mail or API answer holds a
 * card number. The CVCs used are distinctive so they can be searched for too.
 */
for (const storage of storages()) {
  test(`no card number or CVC in any table, log line or e-mail (${storage})`, async () => {
    const lines: string[] = [];
    const h = await openHarness(storage, { logTo: (line) => lines.push(line) });
    try {
      const w = await setupWorld(h);
      const cvcs = ['9183', '7264'];
      const zed = await createAccount(h, 'zed');
      // A card typed with spaces and a four-digit CVC, as a person would.
      const tok = await h.request('POST', '/v1/sandbox/tokens', {
        number: '4242 4242 4242 4242',
        exp_month: 4,
        exp_year: 2031,
        cvc: cvcs[0],
      });
      assert.equal(tok.status, 201);
      const bad = await h.request('POST', '/v1/sandbox/tokens', {
        number: '4242424242424241',
        exp_month: 4,
        exp_year: 2031,
        cvc: cvcs[1],
      });
      assert.equal(bad.status, 400, 'a bad number is refused');
      assert.ok(!JSON.stringify(bad.body).includes('4242424242424241'), 'and not echoed back');
      await linkShopper(h, zed, CARDS.ok);
      for (const who of ['alice', 'dave', 'erin']) {
        const buy = await post(h, w.accounts[who]!, '#BuyAcmeTee M');
        await post(h, w.accounts[who]!, codeIn((await repliesTo(h, buy))[0]));
      }
      const paid = await h.request(
        'GET',
        '/v1/orders?handle=alice&status=paid',
        undefined,
        ADMIN_KEY,
      );
      await h.request('POST', `/v1/orders/${paid.body.data[0].id}/refund`, {}, ADMIN_KEY);
      await h.app.settle();

      const secrets = [
        ...Object.values(CARDS),
        '4242 4242 4242 4242',
        ...cvcs.map((c) => `"${c}"`),
      ];
      const { rows: tables } = await h.app.db.query<{ table_name: string }>(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'",
      );
      assert.ok(tables.length > 15, 'every table is read');
      for (const { table_name } of tables) {
        const { rows } = await h.app.db.query(`SELECT * FROM ${table_name}`);
        const dump = JSON.stringify(rows, (_k, v) => (typeof v === 'bigint' ? v.toString() : v));
        for (const secret of secrets)
          assert.ok(!dump.includes(secret), `${secret} found in table ${table_name}`);
      }
      assert.ok(lines.length > 20, `the logs were captured (${lines.length} lines)`);
      assert.ok(
        lines.some((l) => l.includes('"path":"/v1/sandbox/tokens"')),
        'request lines are logged',
      );
      const logs = lines.join('');
      for (const secret of secrets)
        assert.ok(!logs.includes(secret), `${secret} found in the logs`);
      const mail = await h.request('GET', '/v1/mailbox?limit=100', undefined, ADMIN_KEY);
      for (const secret of secrets)
        assert.ok(!JSON.stringify(mail.body).includes(secret), `${secret} in an e-mail`);
    } finally {
      await h.close();
    }
  });
}
