import { newSecret, sha256 } from '../core/codes.ts';
import { CONFIRM_WINDOW_MS_DEFAULT } from '../core/limits.ts';
import type { AppContext } from '../app-context.ts';
import { submitCommand } from '../engine/commands.ts';

const ADDRESS = {
  line1: '1 Demo Street',
  city: 'Springfield',
  postal_code: '12345',
  country: 'US',
};
const SHOPPERS = [
  { handle: 'alice', card: '4242424242424242' },
  { handle: 'bob', card: '5555555555554444' },
  { handle: 'dave', card: '4000000000000002' },
];

/**
 * Seeds the demo, once per database: a merchant @acme with two offers and a gift card (`#AcmeGift`,
 * $25 for $15), linked shoppers alice and bob,
 * dave whose card is declined, and carol with no card. Everything goes through the same commands as
 * the API, with fixed idempotency keys, so running it twice changes nothing.
 */
export async function seedDemo(app: AppContext): Promise<boolean> {
  const done = await app.db.query("SELECT 1 FROM settings WHERE name = 'demo_seeded'");
  if (done.rows.length > 0) return false;
  for (const handle of ['alice', 'bob', 'carol', 'dave']) {
    await app.local.createAccount(handle, true).catch(() => {});
  }
  const submit = async (key: string, command: Parameters<typeof submitCommand>[5]) => {
    const result = await submitCommand(
      app.log,
      app.engine,
      'admin',
      `demo:${key}`,
      `demo:${key}`,
      command,
    );
    if (result.status >= 300) throw new Error(`demo seed ${key}: ${JSON.stringify(result.body)}`);
    return result.body as { id: string };
  };
  const merchant = await submit('merchant', {
    op: 'merchant.create',
    network: 'local',
    handle: 'acme',
    name: 'Acme Goods',
    webhookUrl: null,
    webhookSecret: newSecret('whsec', app.random),
    keyHash: sha256(newSecret('sk', app.random)),
    feeBps: null,
  });
  const offer = {
    merchantId: merchant.id,
    currency: 'USD',
    perBuyerMax: null,
    windowMs: CONFIRM_WINDOW_MS_DEFAULT,
    startsAt: null,
    endsAt: null,
    publish: true,
  };
  await submit('offer-tee', {
    op: 'offer.create',
    ...offer,
    title: 'Acme Tee',
    priceMinor: '2500',
    quantity: 50,
    hashtag: 'BuyAcmeTee',
    variants: ['S', 'M', 'L'],
  });
  await submit('offer-mug', {
    op: 'offer.create',
    ...offer,
    title: 'Acme Mug',
    priceMinor: '1200',
    quantity: 3,
    hashtag: 'AcmeMug',
    variants: [],
  });
  // A gift card of one value sold for less (Amex's $25 card for $15; the merchant funds $10).
  await submit('offer-gift', {
    op: 'giftcard.offer_create',
    offer: {
      op: 'offer.create',
      ...offer,
      title: 'Acme $25 gift card',
      priceMinor: '1500',
      quantity: 20,
      hashtag: 'AcmeGift',
      variants: [],
    },
    valueMinor: '2500',
  });
  for (const s of SHOPPERS) {
    const [month, year] = [12, new Date(app.clock.now()).getUTCFullYear() + 4];
    const card = await app.processor.tokenize({
      number: s.card,
      exp_month: month,
      exp_year: year,
      cvc: '123',
    });
    await submit(`shopper-${s.handle}`, {
      op: 'shopper.link',
      network: 'local',
      account: s.handle,
      handle: s.handle,
      email: `${s.handle}@example.com`,
      shippingAddress: { name: s.handle[0]!.toUpperCase() + s.handle.slice(1), ...ADDRESS },
      cardToken: card.id,
      cardBrand: card.brand,
      cardLast4: card.last4,
      purchaseLimitMinor: null,
      dailyLimitMinor: null,
      limitCurrency: null,
    });
  }
  await app.db.query(
    "INSERT INTO settings (name, value) VALUES ('demo_seeded', 'yes') ON CONFLICT DO NOTHING",
  );
  return true;
}
