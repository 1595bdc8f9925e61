import { SampleShop } from './shop.ts';

/** Runs the sample shop: `npx tsx examples/sample-shop/main.ts` (see README.md beside it). */
function env(name: string, fallback?: string): string {
  const value = process.env[name] ?? fallback;
  if (value === undefined || value === '') {
    console.error(`sample shop: set ${name} (see examples/sample-shop/README.md)`);
    process.exit(2);
  }
  return value;
}

const port = Number(env('SHOP_PORT', '4000'));
const shop = new SampleShop({
  tagpayUrl: env('TAGPAY_URL', 'http://localhost:3000'),
  clientId: env('SHOP_CLIENT_ID'),
  clientSecret: env('SHOP_CLIENT_SECRET'),
  webhookSecret: env('SHOP_WEBHOOK_SECRET'),
  publicUrl: env('SHOP_PUBLIC_URL', `http://localhost:${port}`),
  port,
});
await shop.listen();
console.log(`sample shop on ${shop.options.publicUrl} (redirect URI ${shop.redirectUri})`);
