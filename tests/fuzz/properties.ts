import fc from 'fast-check';
import type { OpenAPIHono } from '@hono/zod-openapi';
import { AppContext, createLogger } from '../../src/app-context.ts';
import { loadConfig } from '../../src/config/env.ts';
import { ERROR_STATUS } from '../../src/core/errors.ts';
import {
  AMOUNT_MINOR_MAX,
  HASHTAGS_PER_POST_MAX,
  QUANTITY_PER_POST_MAX,
} from '../../src/core/limits.ts';
import {
  CURRENCY_EXPONENTS,
  feeOf,
  formatMoney,
  minorPerMajor,
  parseMinor,
} from '../../src/core/money.ts';
import {
  mayMatter,
  normalizeHandle,
  readBuyOptions,
  readHashtags,
  readTags,
} from '../../src/core/post-grammar.ts';
import { createHttpApp } from '../../src/http/app.ts';
import { openPglite } from '../../src/store/db.ts';

/**
 * Property-based tests (fast-check) of what reads untrusted input: the post grammar, money parsing
 * and formatting, and every API endpoint in the OpenAPI document through the in-process HTTP app.
 * The test suite runs them with a modest count; `npm run fuzz -- --runs N` runs them long. A failure
 * prints fast-check's seed and shrunk counterexample, and replays with `--seed`.
 */

export interface FuzzProperty {
  name: string;
  /** Its part of the cases asked for, relative to the others (1 for the pure properties). */
  share: number;
  run(runs: number, seed: number | undefined): Promise<void>;
}

const currencies = Object.keys(CURRENCY_EXPONENTS);

/** Text shaped like posts: hashtags, mentions, code-like tags, look-alikes, and any Unicode. */
const postText = fc.oneof(
  fc.string({ maxLength: 300, unit: 'binary' }),
  fc
    .array(
      fc.oneof(
        fc.constantFrom(
          '#',
          '# ',
          '##',
          '@',
          '&#',
          '/#',
          ' x2',
          ' ×3',
          ' qty 4',
          ' M',
          ' XL',
          '\n',
        ),
        fc.constantFrom(
          'BuyAcmeTee',
          'buyacmetee',
          'BuyАcmeTee',
          'Ｂｕｙ',
          'cancel',
          'TPABCDEFGH23',
        ),
        fc.string({ maxLength: 12, unit: 'grapheme' }),
        fc.stringMatching(/^[A-Za-z0-9_]{1,20}$/),
      ),
      { maxLength: 30 },
    )
    .map((parts) => parts.join('')),
);

/** RFC 6749's error codes (sections 4.1.2.1 and 5.2). */
const OAUTH_ERRORS = new Set([
  'invalid_request',
  'invalid_client',
  'invalid_grant',
  'unauthorized_client',
  'unsupported_grant_type',
  'invalid_scope',
  'access_denied',
  'unsupported_response_type',
  'server_error',
  'temporarily_unavailable',
]);

function check(condition: boolean, message: string): void {
  if (!condition) throw new Error(message);
}

async function assertProperty(
  property: fc.IProperty<any> | fc.IAsyncProperty<any>,
  runs: number,
  seed: number | undefined,
): Promise<void> {
  await fc.assert(property as fc.IAsyncProperty<any>, {
    numRuns: runs,
    ...(seed !== undefined && { seed }),
  });
}

export const PURE_PROPERTIES: FuzzProperty[] = [
  {
    name: 'post grammar: hashtags are read, never thrown on, ASCII and lower-case only',
    share: 1,
    run: (runs, seed) =>
      assertProperty(
        fc.property(postText, (text) => {
          const { tags, foreign } = readHashtags(text);
          check(tags.length + foreign.length <= HASHTAGS_PER_POST_MAX, 'too many hashtags');
          check(new Set(tags).size === tags.length, 'a repeated tag');
          const lower = text.toLowerCase();
          for (const tag of tags) {
            check(/^[a-z0-9_]+$/.test(tag), `tag ${tag} is not lower-case ASCII`);
            check(lower.includes(`#${tag}`), `tag ${tag} is not in the text`);
          }
          if (!mayMatter(text)) check(tags.length === 0, 'a tag in a post without #');
          const { mentions } = readTags(text);
          for (const m of mentions) check(m === m.toLowerCase(), `mention ${m} not lower-case`);
        }),
        runs,
        seed,
      ),
  },
  {
    name: 'post grammar: a look-alike hashtag never reads as the ASCII one',
    share: 1,
    run: (runs, seed) =>
      assertProperty(
        fc.property(
          fc.stringMatching(/^[A-Za-z][A-Za-z0-9_]{2,20}$/),
          fc.nat(),
          fc.constantFrom('а', 'е', 'о', 'р', 'с', 'ı', '\u212a', 'ſ', 'Ａ', '\u200b', 'é'),
          (tag, at, confusable) => {
            const i = at % tag.length;
            const fake = tag.slice(0, i) + confusable + tag.slice(i + 1);
            const { tags } = readHashtags(`buy #${fake} now`);
            check(!tags.includes(tag.toLowerCase()), `#${fake} read as #${tag}`);
          },
        ),
        runs,
        seed,
      ),
  },
  {
    name: 'post grammar: buy options are a known variant and a quantity in bounds, or a refusal',
    share: 1,
    run: (runs, seed) =>
      assertProperty(
        fc.property(
          postText,
          fc.stringMatching(/^[A-Za-z][A-Za-z0-9_]{2,20}$/),
          fc.array(fc.stringMatching(/^[A-Za-z0-9-]{1,6}$/), { maxLength: 4 }),
          fc.boolean(),
          (text, hashtag, variants, include) => {
            const body = include ? `${text} #${hashtag} ${text}` : text;
            const options = readBuyOptions(body, hashtag, variants);
            if (!options.ok) return;
            check(
              Number.isInteger(options.quantity) &&
                options.quantity >= 1 &&
                options.quantity <= QUANTITY_PER_POST_MAX,
              `quantity ${options.quantity}`,
            );
            if (variants.length === 0) check(options.variant === null, 'a variant from nowhere');
            else check(variants.includes(options.variant!), `variant ${options.variant}`);
          },
        ),
        runs,
        seed,
      ),
  },
  {
    name: 'post grammar: a well-formed purchase reads back exactly',
    share: 1,
    run: (runs, seed) =>
      assertProperty(
        fc.property(
          fc.stringMatching(/^[A-Za-z][A-Za-z0-9_]{2,20}$/),
          fc.uniqueArray(fc.stringMatching(/^[A-Za-z][A-Za-z0-9]{0,5}$/), {
            minLength: 1,
            maxLength: 4,
            comparator: (a, b) => a.toLowerCase() === b.toLowerCase(),
          }),
          fc.nat(),
          fc.integer({ min: 1, max: QUANTITY_PER_POST_MAX }),
          fc.constantFrom('x{q}', '{q}x', '×{q}', 'qty {q}', ''),
          fc.boolean(),
          (hashtag, variants, pick, q, form, variantFirst) => {
            if (variants.some((v) => /^(?:x|qty)?\d*x?$/i.test(v))) return;
            const variant = variants[pick % variants.length]!;
            const qty = form.replace('{q}', String(q));
            const words = variantFirst ? [variant, qty] : [qty, variant];
            const text = `love it #${hashtag} ${words.filter(Boolean).join(' ')}!`;
            const options = readBuyOptions(text, hashtag, variants);
            check(options.ok, `${text} refused: ${JSON.stringify(options)}`);
            if (!options.ok) return;
            check(options.variant === variant, `${text}: variant ${options.variant}`);
            check(
              options.quantity === (form === '' ? 1 : q),
              `${text}: quantity ${options.quantity}`,
            );
          },
        ),
        runs,
        seed,
      ),
  },
  {
    name: 'handles: normalizing is idempotent and folds only ASCII',
    share: 1,
    run: (runs, seed) =>
      assertProperty(
        fc.property(fc.string({ maxLength: 40, unit: 'binary' }), (raw) => {
          const once = normalizeHandle(raw);
          check(normalizeHandle(once) === once || once.startsWith('@'), `not idempotent: ${raw}`);
          check(!/[A-Z]/.test(once), `upper-case ASCII left in ${once}`);
          check(once.length <= raw.length, 'normalizing grew the handle');
        }),
        runs,
        seed,
      ),
  },
  {
    name: 'money: wire amounts parse to integer minor units in range, or are refused',
    share: 1,
    run: (runs, seed) =>
      assertProperty(
        fc.property(
          fc.oneof(
            fc.anything(),
            fc.double(),
            fc.integer(),
            fc.bigInt().map(String),
            fc.stringMatching(/^-?[0-9]{0,22}(\.[0-9]{0,3})?$/),
            fc.string({ maxLength: 30, unit: 'binary' }),
          ),
          (value) => {
            const r = parseMinor(value);
            if (!r.ok) {
              check(r.reason === 'invalid' || r.reason === 'range', `reason ${r.reason}`);
              return;
            }
            check(typeof r.minor === 'bigint', 'not a bigint');
            check(r.minor > 0n && r.minor <= AMOUNT_MINOR_MAX, `out of range: ${r.minor}`);
            check(r.minor === BigInt(String(value)), `${String(value)} read as ${r.minor}`);
          },
        ),
        runs,
        seed,
      ),
  },
  {
    name: 'money: formatting shows every minor unit and the fee never exceeds the amount',
    share: 1,
    run: (runs, seed) =>
      assertProperty(
        fc.property(
          fc.bigInt({ min: -AMOUNT_MINOR_MAX * 10n, max: AMOUNT_MINOR_MAX * 10n }),
          fc.constantFrom(...currencies),
          fc.integer({ min: 0, max: 9_999 }),
          (minor, currency, bps) => {
            const text = formatMoney({ minor, currency });
            const digits = text.replace(/[^0-9]/g, '');
            check(
              BigInt(digits) === (minor < 0n ? -minor : minor),
              `${minor} ${currency}: ${text}`,
            );
            check(text.startsWith('-') === minor < 0n, `sign of ${text}`);
            const unit = minorPerMajor(currency);
            const fraction = text.match(/\.([0-9]+)/)?.[1] ?? '';
            check(10n ** BigInt(fraction.length) === unit, `${text}: exponent of ${currency}`);
            if (minor >= 0n) {
              const fee = feeOf(minor, bps);
              check(fee >= 0n && fee <= minor, `fee ${fee} of ${minor}`);
              check(feeOf(minor + 1n, bps) >= fee, 'fee not monotone');
            }
          },
        ),
        runs,
        seed,
      ),
  },
];

// ---------------------------------------------------------------------------------------------
// API bodies

const ADMIN_KEY = 'ak_fuzz_admin_key_0123456789abcdef';

export interface FuzzApi {
  http: OpenAPIHono;
  tokens: Record<string, string>;
  operations: { method: string; path: string; fields: string[]; params: string[] }[];
  close(): Promise<void>;
}

/** A running tagpay on an in-memory PGlite with a merchant, a local account and a shopper. */
export async function openFuzzApi(): Promise<FuzzApi> {
  const config = loadConfig({
    TAGPAY_ADMIN_KEY: ADMIN_KEY,
    TAGPAY_PUBLIC_URL: 'http://tagpay.test',
    TAGPAY_DEMO: '0',
    TAGPAY_RATE_LIMIT_PER_S: '0',
  });
  const app = await AppContext.fromConfig(config, {
    db: await openPglite(null),
    logger: createLogger('silent'),
  });
  await app.ensureAdminKey();
  app.start();
  const http = createHttpApp(app);
  const call = async (method: string, path: string, body?: unknown, token?: string) => {
    const res = await http.request(path, {
      method,
      headers: {
        'content-type': 'application/json',
        ...(token && { authorization: `Bearer ${token}` }),
      },
      ...(body !== undefined && { body: JSON.stringify(body) }),
    });
    return { status: res.status, body: (await res.json()) as any };
  };
  const merchant = await call(
    'POST',
    '/v1/merchants',
    { handle: 'fuzzshop', name: 'Fuzz' },
    ADMIN_KEY,
  );
  const account = await call('POST', '/v1/local/accounts', { handle: 'fuzzer' });
  const doc = (await (await http.request('/openapi.json')).json()) as {
    paths: Record<string, Record<string, any>>;
  };
  const operations: FuzzApi['operations'] = [];
  for (const [path, methods] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(methods)) {
      const schema = op.requestBody?.content?.['application/json']?.schema ?? {};
      const fields = Object.keys(resolve(doc, schema).properties ?? {});
      const params = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]!);
      operations.push({ method: method.toUpperCase(), path, fields, params });
    }
  }
  return {
    http,
    tokens: {
      admin: ADMIN_KEY,
      merchant: merchant.body.api_key,
      local: account.body.token,
      garbage: 'sk_not_a_key',
    },
    operations,
    close: () => app.close(),
  };
}

function resolve(doc: any, schema: any): any {
  if (schema?.$ref) {
    const name = String(schema.$ref).split('/').pop()!;
    return doc.components?.schemas?.[name] ?? {};
  }
  return schema;
}

/** Values that probe validation: wrong types, edges of ranges, huge and odd strings. */
const probe = fc.oneof(
  fc.constantFrom(
    null,
    true,
    0,
    -1,
    1,
    2 ** 53,
    1e308,
    -0,
    '',
    ' ',
    '0',
    '-5',
    '1e3',
    '12.50',
    '99999999999999999999999',
    'USD',
    'usd',
    'XXX',
    'JPY',
    'BuyAcmeTee',
    'cancel',
    '#BuyAcmeTee',
    'http://127.0.0.1/hook',
    'https://example.com/hook',
    'file:///etc/passwd',
    '4242424242424242',
    "'; DROP TABLE orders; --",
    '<script>alert(1)</script>',
    '\u0000',
    '\ud800',
    'a'.repeat(70_000),
  ),
  fc.string({ maxLength: 80, unit: 'binary' }),
  fc.integer(),
  fc.double(),
  fc.array(fc.oneof(fc.string({ maxLength: 8 }), fc.integer()), { maxLength: 5 }),
  fc.dictionary(fc.constantFrom('amount', 'currency', 'name', 'line1', 'country'), fc.jsonValue(), {
    maxKeys: 4,
  }),
);

/** Every rejection is a 4xx with a stable error code of its status, never a 500 or a crash. */
export function apiProperties(api: FuzzApi): FuzzProperty[] {
  const requestArb = fc.record({
    op: fc.constantFrom(...api.operations),
    token: fc.constantFrom(undefined, ...Object.keys(api.tokens)),
    body: fc.oneof(
      { weight: 6, arbitrary: fc.constant('fields' as const) },
      { weight: 1, arbitrary: fc.jsonValue() },
      { weight: 1, arbitrary: fc.string({ maxLength: 60, unit: 'binary' }) },
    ),
    values: fc.array(probe, { minLength: 12, maxLength: 12 }),
    drop: fc.array(fc.boolean(), { minLength: 12, maxLength: 12 }),
    param: fc.oneof(
      fc.constantFrom('me', 'local', 'fuzzer', 'ord_x', '..%2F..', '%00'),
      fc.string({ maxLength: 20 }),
    ),
    idem: fc.option(fc.oneof(fc.uuid(), fc.string({ maxLength: 300 })), { nil: undefined }),
    contentType: fc.constantFrom('application/json', 'application/json', 'text/plain', ''),
  });
  const run = async (req: any) => {
    const op = req.op as FuzzApi['operations'][number];
    let path = op.path;
    for (const p of op.params) path = path.replace(`{${p}}`, encodeURIComponent(String(req.param)));
    let body: string | undefined;
    if (op.method !== 'GET') {
      if (req.body === 'fields') {
        const object: Record<string, unknown> = {};
        op.fields.forEach((f, i) => {
          if (!req.drop[i % 12]) object[f] = req.values[i % 12];
        });
        body = JSON.stringify(object);
      } else body = typeof req.body === 'string' ? req.body : JSON.stringify(req.body);
    }
    const headers: Record<string, string> = {};
    if (req.contentType) headers['content-type'] = req.contentType;
    if (req.token) headers.authorization = `Bearer ${api.tokens[req.token]}`;
    if (req.idem !== undefined) headers['idempotency-key'] = req.idem;
    let res: Response;
    try {
      res = await api.http.request(path, {
        method: op.method,
        headers,
        ...(body !== undefined && { body }),
      });
    } catch (error) {
      throw new Error(`${op.method} ${path} threw: ${String(error)}`);
    }
    // The live timeline (GET /v1/local/stream) answers an event stream that never ends: reading it
    // would wait forever, so an open stream is checked by its status and closed.
    if (res.ok && (res.headers.get('content-type') ?? '').startsWith('text/event-stream')) {
      await res.body?.cancel();
      return;
    }
    const text = await res.text();
    check(res.status < 500, `${op.method} ${path} answered ${res.status}: ${text.slice(0, 300)}`);
    if (res.status >= 400) {
      let parsed: any;
      try {
        parsed = JSON.parse(text);
      } catch {
        throw new Error(`${op.method} ${path} ${res.status} without a JSON body`);
      }
      // The OAuth endpoints of pay with tagpay answer in RFC 6749's error shape (section 5.2), which
      // shops' OAuth libraries read: `{error, error_description}` with a code from its closed list.
      if (/^\/(?:v1\/)?oauth\//.test(path) && typeof parsed?.error === 'string') {
        check(
          OAUTH_ERRORS.has(parsed.error) && (res.status === 400 || res.status === 401),
          `${op.method} ${path}: ${res.status} ${text.slice(0, 200)} is not an RFC 6749 error`,
        );
        return;
      }
      const code = parsed?.error?.code as keyof typeof ERROR_STATUS | undefined;
      check(
        code !== undefined && code in ERROR_STATUS,
        `${op.method} ${path}: no stable code in ${text.slice(0, 200)}`,
      );
      check(ERROR_STATUS[code!] === res.status, `${code} answered with ${res.status}`);
    }
  };
  return [
    {
      name: 'API: every endpoint answers random bodies, headers and keys with a 2xx or a coded 4xx',
      share: 0.07,
      run: (runs, seed) => assertProperty(fc.asyncProperty(requestArb, run), runs, seed),
    },
  ];
}
