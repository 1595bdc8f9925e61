import { z } from '@hono/zod-openapi';
import {
  AMOUNT_MINOR_MAX,
  CONFIRM_WINDOW_MS_MAX,
  CONFIRM_WINDOW_MS_MIN,
  FEE_BPS_MAX,
  OFFER_QUANTITY_MAX,
  OFFER_TITLE_CHARS_MAX,
  OFFER_VARIANTS_MAX,
  PAGE_LIMIT_DEFAULT,
  PAGE_LIMIT_MAX,
  QUANTITY_PER_POST_MAX,
} from '../core/limits.ts';
import { isCurrency } from '../core/money.ts';
import { LOCAL_HANDLE_RE, normalizeHandle, OFFER_HASHTAG_RE } from '../core/post-grammar.ts';

/** Request and response schemas: they validate input and are the OpenAPI document. */

export const ErrorSchema = z
  .object({
    error: z.object({ code: z.string(), message: z.string(), param: z.string().optional() }),
  })
  .openapi('Error');

/** An amount in minor units: an integer or a string of digits (Stripe's convention), positive and bounded. */
export const MinorAmount = z
  .union([z.number().int(), z.string().regex(/^[0-9]{1,19}$/)], {
    error: 'must be a whole number of minor units, e.g. 2500 for $25.00',
  })
  .transform((v, ctx) => {
    const minor = BigInt(v);
    if (minor <= 0n || minor > AMOUNT_MINOR_MAX) {
      ctx.addIssue({
        code: 'custom',
        message: `must be between 1 and ${AMOUNT_MINOR_MAX} minor units`,
      });
      return z.NEVER;
    }
    return minor;
  })
  .openapi({ type: 'integer', example: 2500, description: 'Minor units (cents for USD).' });

export const Currency = z
  .string()
  .transform((v) => v.toUpperCase())
  .refine(isCurrency, 'unknown currency')
  .openapi({ type: 'string', example: 'USD', description: 'ISO 4217 code.' });

export const MoneySchema = z.object({ amount: MinorAmount, currency: Currency }).openapi('Money');

/** A local network handle. */
export const HandleSchema = z
  .string()
  .transform(normalizeHandle)
  .pipe(z.string().regex(LOCAL_HANDLE_RE, 'a handle is 2 to 32 letters, digits, _ . or -'))
  .openapi({ type: 'string', example: 'alice' });

/**
 * A handle on any network: local (`alice`), Bluesky (`alice.bsky.social`), Mastodon
 * (`alice@mastodon.social`), X (`alice`). Only ASCII; each network checks it further when it
 * resolves the account (INVALID_HANDLE when it knows no such handle).
 */
export const NetworkHandleSchema = z
  .string()
  .max(320)
  .transform(normalizeHandle)
  .pipe(
    z
      .string()
      .regex(
        /^[a-z0-9_][a-z0-9_.-]{1,252}(@[a-z0-9-]+(\.[a-z0-9-]+)+)?$/,
        'a handle is letters, digits, _ . or -, optionally followed by @domain (Mastodon)',
      ),
  )
  .openapi({ type: 'string', example: 'alice' });

export const NetworkSchema = z
  .enum(['local', 'bluesky', 'mastodon', 'x'])
  .default('local')
  .openapi({
    description: 'A network connected to this tagpay (NETWORK_NOT_CONNECTED otherwise).',
  });

const Timestamp = z.iso.datetime({ offset: true }).transform((s) => Date.parse(s));

export const CreateOfferBody = z
  .object({
    title: z.string().trim().min(1).max(OFFER_TITLE_CHARS_MAX),
    price: MoneySchema,
    quantity: z.number().int().min(1).max(OFFER_QUANTITY_MAX),
    hashtag: z
      .string()
      .transform((h) => h.replace(/^#/, ''))
      .pipe(
        z
          .string()
          .regex(
            OFFER_HASHTAG_RE,
            'a hashtag is 3 to 64 ASCII letters, digits or _, starting with a letter',
          ),
      ),
    variants: z
      .array(
        z
          .string()
          .trim()
          .regex(/^[A-Za-z0-9-]{1,12}$/, 'a variant is 1 to 12 letters, digits or -'),
      )
      .max(OFFER_VARIANTS_MAX)
      .default([])
      .refine(
        (v) => new Set(v.map((s) => s.toLowerCase())).size === v.length,
        'variants must be distinct',
      ),
    per_buyer_max: z.number().int().min(1).max(OFFER_QUANTITY_MAX).nullable().default(null),
    confirm_window_s: z
      .number()
      .int()
      .min(CONFIRM_WINDOW_MS_MIN / 1000)
      .max(CONFIRM_WINDOW_MS_MAX / 1000)
      .optional(),
    starts_at: Timestamp.optional(),
    ends_at: Timestamp.optional(),
    publish: z.boolean().default(true),
  })
  .refine((o) => o.starts_at === undefined || o.ends_at === undefined || o.starts_at < o.ends_at, {
    message: 'ends_at must be after starts_at',
    path: ['ends_at'],
  })
  .openapi('CreateOffer', {
    example: {
      title: 'Acme Tee',
      price: { amount: 2500, currency: 'USD' },
      quantity: 100,
      hashtag: 'BuyAcmeTee',
      variants: ['S', 'M', 'L'],
    },
  });

export const OfferSchema = z
  .object({
    id: z.string(),
    object: z.literal('offer'),
    merchant_id: z.string(),
    title: z.string(),
    price: z.object({ amount: z.number().int(), currency: z.string() }),
    quantity: z.number().int(),
    available: z.number().int(),
    sold: z.number().int(),
    variants: z.array(z.string()),
    per_buyer_max: z.number().int().nullable(),
    hashtag: z.string(),
    confirm_window_s: z.number().int(),
    starts_at: z.string(),
    ends_at: z.string().nullable(),
    status: z.enum(['live', 'paused', 'ended']),
    created_at: z.string(),
  })
  .openapi('Offer');

export const AddressSchema = z
  .object({
    name: z.string().trim().min(1).max(200),
    line1: z.string().trim().min(1).max(200),
    line2: z.string().trim().max(200).optional(),
    city: z.string().trim().min(1).max(100),
    region: z.string().trim().max(100).optional(),
    postal_code: z.string().trim().min(1).max(20),
    country: z
      .string()
      .trim()
      .regex(/^[A-Za-z]{2}$/, 'a two-letter ISO 3166 country code')
      .transform((c) => c.toUpperCase()),
  })
  .openapi('ShippingAddress');

export const CreateShopperBody = z
  .object({
    handle: NetworkHandleSchema,
    network: NetworkSchema,
    email: z.email().max(254),
    shipping_address: AddressSchema,
    card_token: z.string().min(1).max(100),
    limits: z
      .object({
        per_purchase: MinorAmount.optional(),
        per_day: MinorAmount.optional(),
        /** Purchases above this ask for approval by an e-mailed link (a step-up). */
        step_up_above: MinorAmount.optional(),
        currency: Currency,
      })
      .refine(
        (l) =>
          l.per_purchase === undefined || l.per_day === undefined || l.per_purchase <= l.per_day,
        {
          message: 'per_purchase cannot exceed per_day',
          path: ['per_purchase'],
        },
      )
      .optional(),
  })
  .openapi('CreateShopper');

export const AddShopperHandleBody = z
  .object({
    network: NetworkSchema,
    handle: NetworkHandleSchema,
    proof: z.string().max(4096).optional().openapi({
      description: 'A proof of ownership of the new handle (`own_…`, from onboarding).',
    }),
  })
  .openapi('AddShopperHandle');

export const ShopperSchema = z
  .object({
    id: z.string(),
    object: z.literal('shopper'),
    network: z.string(),
    account: z.string(),
    handle: z.string(),
    handles: z.array(z.object({ network: z.string(), account: z.string(), handle: z.string() })),
    email: z.string(),
    shipping_address: AddressSchema,
    card: z.object({ brand: z.string(), last4: z.string() }),
    limits: z.object({
      per_purchase: z.number().nullable(),
      per_day: z.number().nullable(),
      /** GET /v1/shoppers/{network}/{handle} says it; minor units of `currency`. */
      step_up_above: z.number().nullable().optional().openapi({
        description: 'Purchases above this ask for approval by an e-mailed link (minor units)',
      }),
      currency: z.string().nullable(),
    }),
    created_at: z.string(),
  })
  .openapi('Shopper');

export const CreateMerchantBody = z
  .object({
    handle: NetworkHandleSchema,
    network: NetworkSchema,
    name: z.string().trim().min(1).max(200),
    webhook_url: z
      .url({ protocol: /^https?$/ })
      .max(2000)
      .optional(),
    fee_bps: z.number().int().min(0).max(FEE_BPS_MAX).optional(),
  })
  .openapi('CreateMerchant', {
    example: {
      handle: 'acme',
      name: 'Acme Goods',
      webhook_url: 'https://acme.example/hooks/tagpay',
    },
  });

export const OrderSchema = z
  .object({
    id: z.string(),
    object: z.literal('order'),
    status: z.enum([
      'awaiting_signup',
      'awaiting_confirmation',
      'awaiting_step_up',
      'charging',
      'paid',
      'failed',
      'expired',
      'canceled',
      'refunding',
      'refunded',
    ]),
    offer_id: z.string(),
    merchant_id: z.string(),
    shopper_id: z.string().nullable(),
    network: z.string(),
    handle: z.string(),
    variant: z.string().nullable(),
    quantity: z.number().int().max(QUANTITY_PER_POST_MAX),
    amount: z.number().int(),
    fee: z.number().int(),
    amount_refunded: z.number().int(),
    currency: z.string(),
    shipping_address: AddressSchema.nullable(),
    failure_reason: z.string().nullable(),
    expires_at: z.string(),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .openapi('Order');

export const PageLimit = z.coerce
  .number({ error: 'must be a whole number' })
  .int()
  .min(1)
  .max(PAGE_LIMIT_MAX)
  .default(PAGE_LIMIT_DEFAULT);

export const PageQuery = z.object({
  limit: PageLimit,
  starting_after: z.string().max(64).optional(),
});

export function listOf<T extends z.ZodType>(item: T, name: string) {
  return z
    .object({ object: z.literal('list'), data: z.array(item), has_more: z.boolean() })
    .openapi(name);
}

export const LocalPostSchema = z
  .object({
    id: z.string(),
    author: z.string(),
    text: z.string(),
    reply_to: z.string().nullable(),
    mentions: z.array(z.string()),
    created_at: z.string(),
  })
  .openapi('LocalPost');
