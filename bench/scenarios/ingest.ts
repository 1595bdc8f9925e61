/**
 * Firehose ingest: how many Bluesky Jetstream messages per second one core reads against a full engine
 * state — the raw-string prefilter, then the normalizer, then `matchPost` against 10,000 live offers
 * and 100,000 pending checkouts. This is the work every message of a network's firehose costs before
 * anything reaches the input log, so it bounds the share of a network one connector can follow.
 *
 * The messages are generated in memory before timing, in Jetstream's format: ~97% that concern tagpay
 * in no way (posts of varied length and script, replies, mentions, links, hashtags that match nothing,
 * and likes, reposts, follows, deletions, identity and account messages), ~2% posting a live offer's
 * hashtag, ~1% posting a pending checkout's code (most by its owner, some by another handle). Every
 * message's expected outcome is planted by the generator and checked after the timed pass.
 *
 * Usage: npx tsx bench/scenarios/ingest.ts [--quick] [--seed N]
 */
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { displayCode, hashCode, newCode, type RandomBytes } from '../../src/core/codes.ts';
import { CONFIRM_WINDOW_MS_DEFAULT } from '../../src/core/limits.ts';
import { OFFER_HASHTAG_RE, RESERVED_HASHTAGS } from '../../src/core/post-grammar.ts';
import { matchPost } from '../../src/engine/decide.ts';
import {
  State,
  handleKey,
  type Merchant,
  type Offer,
  type Order,
  addPending,
} from '../../src/engine/state.ts';
import {
  BLUESKY_NETWORK,
  fastReject,
  normalizeJetstream,
} from '../../src/networks/bluesky/jetstream.ts';

/** A type, not an interface, so it stays assignable to the bench runner's `Record<string, unknown>`. */
export type IngestResult = {
  scenario: 'ingest';
  /** Messages per second over the whole mix, on one core. */
  ops_per_s: number;
  posts: number;
  matched_buys: number;
  matched_codes: number;
  p50_ms?: number;
  rss_mb: number;
  /** Messages that passed `fastReject` and were parsed. */
  parsed: number;
  /** The JavaScript heap with the engine state built, before the messages are generated. */
  state_heap_mb: number;
  /** Size of the generated messages, counted in UTF-16 code units (what V8 holds at most 2 bytes each). */
  corpus_mchars: number;
  seed: number;
};

const OFFERS = 10_000;
const OFFERS_PER_MERCHANT = 10;
const PENDING_CHECKOUTS = 100_000;
const PEOPLE = 200_000;
const BOT_HANDLE = 'tagpay';
const START_MS = Date.UTC(2024, 8, 9, 19, 46, 2);
const START_US = START_MS * 1000;

/** What the timed pass must find for each message. */
const EXPECT_NONE = 0;
const EXPECT_BUY = 1;
const EXPECT_CONFIRM = 2;
const GOT_CANCEL = 3;

export async function ingest(opts: { quick: boolean; seed?: number }): Promise<IngestResult> {
  const seed = opts.seed ?? 20240909;
  const n = opts.quick ? 200_000 : 2_000_000;
  const rng = new Rng(seed);
  const world = buildWorld(rng);
  fullGc();
  const stateMb = Math.round(process.memoryUsage().heapUsed / 2 ** 20);
  const corpus = generate(rng, world, n);

  // The generator's garbage is collected before timing: a connector never holds a corpus in memory,
  // only the message in hand, so collecting it is no part of the cost of a message.
  fullGc();

  // Timed: one core, one pass, every message the way the connector will take it.
  const got = new Uint8Array(n);
  let parsed = 0;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const raw = corpus.raws[i]!;
    if (fastReject(raw)) continue;
    parsed++;
    const read = normalizeJetstream(raw);
    if (!read.ok) continue;
    const match = matchPost(
      world.state,
      BOT_HANDLE,
      BLUESKY_NETWORK,
      read.event.author,
      read.event.text,
      read.tags,
    );
    if (match.kind === 'buy') got[i] = EXPECT_BUY;
    else if (match.kind === 'confirm') got[i] = EXPECT_CONFIRM;
    else if (match.kind === 'cancel') got[i] = GOT_CANCEL;
  }
  const seconds = (performance.now() - t0) / 1000;
  const rssMb = Math.round(process.memoryUsage().rss / 2 ** 20);

  let buys = 0;
  let codes = 0;
  for (let i = 0; i < n; i++) {
    if (got[i] !== corpus.expected[i]) {
      throw new Error(
        `ingest: message ${i} (seed ${seed}) gave ${got[i]}, planted ${corpus.expected[i]}: ${corpus.raws[i]!.slice(0, 500)}`,
      );
    }
    if (got[i] === EXPECT_BUY) buys++;
    if (got[i] === EXPECT_CONFIRM) codes++;
  }
  if (buys !== corpus.plantedBuys || codes !== corpus.plantedCodes) {
    throw new Error(
      `ingest: found ${buys} buys and ${codes} codes, planted ${corpus.plantedBuys} and ${corpus.plantedCodes}`,
    );
  }
  return {
    scenario: 'ingest',
    ops_per_s: Math.round(n / seconds),
    posts: n,
    matched_buys: buys,
    matched_codes: codes,
    rss_mb: rssMb,
    state_heap_mb: stateMb,
    parsed,
    corpus_mchars: Math.round(corpus.chars / 1e5) / 10,
    seed,
  };
}

/** A full garbage collection, without asking for `--expose-gc` on the command line. */
function fullGc(): void {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
}

// ---------------------------------------------------------------------------------------------
// The engine state: merchants and live offers, pending checkouts with their codes.

interface World {
  state: State;
  offers: Offer[];
  offerPostUri: Map<string, string>;
  /** Pending checkouts with the code their owner was sent. */
  pending: { order: Order; code: string }[];
  people: string[];
}

function buildWorld(rng: Rng): World {
  const state = new State();
  const offers: Offer[] = [];
  const offerPostUri = new Map<string, string>();
  for (let m = 0; m < OFFERS / OFFERS_PER_MERCHANT; m++) {
    const merchant: Merchant = {
      id: `mer_${m}`,
      network: BLUESKY_NETWORK,
      handle: rng.did(),
      alsoOn: [],
      name: `${rng.pick(BRANDS)} ${m}`,
      webhookUrl: null,
      webhookSecret: `whsec_${m}`,
      feeBps: null,
      createdAt: START_MS - 86_400_000,
      verified: true,
      webhookSecretPrevious: null,
      webhookPreviousUntil: null,
    };
    state.merchants.set(merchant.id, merchant);
    state.merchantByHandle.set(handleKey(merchant.network, merchant.handle), merchant);
    for (let k = 0; k < OFFERS_PER_MERCHANT; k++) {
      const i = offers.length;
      const hashtag = `${rng.chance(0.5) ? 'Buy' : ''}${rng.pick(BRANDS)}${rng.pick(PRODUCTS)}${i.toString(36)}`;
      if (!OFFER_HASHTAG_RE.test(hashtag) || RESERVED_HASHTAGS.has(hashtag.toLowerCase())) {
        throw new Error(`ingest: bad offer hashtag ${hashtag}`);
      }
      const offer: Offer = {
        id: `ofr_${i}`,
        merchantId: merchant.id,
        title: `${rng.pick(PRODUCTS)} #${i}`,
        priceMinor: BigInt(500 + rng.int(20_000)),
        currency: 'USD',
        quantity: 1_000,
        available: 1_000,
        sold: 0,
        variants: rng.chance(0.4) ? ['S', 'M', 'L'] : [],
        perBuyerMax: null,
        hashtag,
        windowMs: CONFIRM_WINDOW_MS_DEFAULT,
        startsAt: START_MS - 3_600_000,
        endsAt: null,
        status: 'live',
        publishedAt: START_MS - 3_600_000,
        createdAt: START_MS - 3_600_000,
        hashtagPosts: 0,
      };
      if (state.offerByTag.has(hashtag.toLowerCase()))
        throw new Error(`ingest: hashtag ${hashtag} twice`);
      state.offers.set(offer.id, offer);
      state.offerByTag.set(hashtag.toLowerCase(), offer);
      offers.push(offer);
      offerPostUri.set(offer.id, `at://${merchant.handle}/app.bsky.feed.post/${rng.tid()}`);
    }
  }

  const people = Array.from({ length: PEOPLE }, () => rng.did());
  const pending: { order: Order; code: string }[] = [];
  for (let i = 0; i < PENDING_CHECKOUTS; i++) {
    const offer = offers[rng.int(offers.length)]!;
    const code = newCode(rng.bytes);
    const handle = people[i]!; // Each pending checkout's owner is a different person.
    const createdAt = START_MS - rng.int(CONFIRM_WINDOW_MS_DEFAULT);
    const order: Order = {
      id: `ord_${i}`,
      offerId: offer.id,
      merchantId: offer.merchantId,
      shopperId: `shp_${i}`,
      network: BLUESKY_NETWORK,
      handle,
      variant: offer.variants.length > 0 ? rng.pick(offer.variants) : null,
      quantity: 1,
      amountMinor: offer.priceMinor,
      feeMinor: (offer.priceMinor * 250n) / 10_000n,
      currency: offer.currency,
      status: 'awaiting_confirmation',
      codeHash: hashCode(code),
      expiresAt: createdAt + offer.windowMs,
      createdAt,
      updatedAt: createdAt,
      postId: `at://${handle}/app.bsky.feed.post/${rng.tid()}`,
      shippingAddress: null,
      failure: null,
      chargeId: null,
      refundedMinor: 0n,
    };
    if (state.orderByCode.has(order.codeHash!))
      throw new Error('ingest: two checkouts drew one code');
    state.orderByCode.set(order.codeHash!, order);
    state.activeOrders.set(order.id, order);
    const key = handleKey(order.network, order.handle);
    addPending(state, key, order);
    state.deadlines.push(order.expiresAt, order.id);
    offer.available -= 1;
    pending.push({ order, code });
  }
  return { state, offers, offerPostUri, pending, people };
}

// ---------------------------------------------------------------------------------------------
// The messages.

interface Corpus {
  raws: string[];
  expected: Uint8Array;
  plantedBuys: number;
  plantedCodes: number;
  chars: number;
}

function generate(rng: Rng, world: World, n: number): Corpus {
  const raws: string[] = new Array(n);
  const expected = new Uint8Array(n);
  let plantedBuys = 0;
  let plantedCodes = 0;
  let chars = 0;
  const g = new Generator(rng, world);
  for (let i = 0; i < n; i++) {
    const u = rng.next();
    let raw: string;
    if (u < 0.02) {
      raw = g.buyPost();
      expected[i] = EXPECT_BUY;
      plantedBuys++;
    } else if (u < 0.03) {
      // A code posted by another handle is bound to someone else's checkout: it must match nothing.
      const byOwner = rng.chance(0.8);
      raw = g.codePost(byOwner);
      expected[i] = byOwner ? EXPECT_CONFIRM : EXPECT_NONE;
      if (byOwner) plantedCodes++;
    } else if (u < 0.03 + 0.97 * 0.18) {
      raw = g.notAPost();
      expected[i] = EXPECT_NONE;
    } else {
      raw = g.unrelatedPost();
      expected[i] = EXPECT_NONE;
    }
    // A WebSocket text frame reaches the connector as bytes decoded into one flat string. V8's
    // JSON.stringify returns a rope for all but short outputs, and the first search of a rope
    // flattens it: timing that would charge the benchmark's own artefact to every message.
    raws[i] = Buffer.from(raw, 'utf8').toString('utf8');
    chars += raw.length;
  }
  return { raws, expected, plantedBuys, plantedCodes, chars };
}

interface Facet {
  index: { byteStart: number; byteEnd: number };
  features: Record<string, unknown>[];
}

/** Builds one post's text piece by piece, keeping the UTF-8 byte offsets facets need. */
class TextBuilder {
  text = '';
  bytes = 0;
  readonly facets: Facet[] = [];

  add(piece: string): void {
    this.text += piece;
    this.bytes += Buffer.byteLength(piece, 'utf8');
  }

  addFacet(piece: string, feature: Record<string, unknown>): void {
    const byteStart = this.bytes;
    this.add(piece);
    this.facets.push({ index: { byteStart, byteEnd: this.bytes }, features: [feature] });
  }
}

class Generator {
  private timeUs = START_US;
  private readonly unmatchedTags: string[];

  constructor(
    private readonly rng: Rng,
    private readonly world: World,
  ) {
    // Hashtags people use that no offer has; the ones an offer took are left out.
    this.unmatchedTags = COMMON_TAGS.filter(
      (t) => !world.state.offerByTag.has(t.toLowerCase()) && t.toLowerCase() !== 'cancel',
    );
  }

  /** A post with a live offer's hashtag, by someone who is not its merchant. */
  buyPost(): string {
    const { rng, world } = this;
    const offer = world.offers[rng.int(world.offers.length)]!;
    const merchant = world.state.merchants.get(offer.merchantId)!;
    let author = rng.pick(world.people);
    if (author === merchant.handle) author = rng.did();
    const b = new TextBuilder();
    if (rng.chance(0.6))
      b.add(this.words(rng.int(60) + 5, rng.pick(LANGS)) + rng.pick([' ', '\n', '! ', ' 🔥 ']));
    const shown = rng.chance(0.7)
      ? offer.hashtag
      : rng.chance(0.66)
        ? offer.hashtag.toLowerCase()
        : offer.hashtag.toUpperCase();
    // Some clients mark the hashtag with a facet, some leave it as text.
    if (rng.chance(0.5))
      b.addFacet(`#${shown}`, { $type: 'app.bsky.richtext.facet#tag', tag: shown });
    else b.add(`#${shown}`);
    if (offer.variants.length > 0)
      b.add(` ${rng.pick(offer.variants)}${rng.chance(0.3) ? ` x${1 + rng.int(3)}` : ''}`);
    else if (rng.chance(0.2)) b.add(` x${1 + rng.int(3)}`);
    if (rng.chance(0.3)) b.add(' ' + this.words(rng.int(20) + 1, rng.pick(LANGS)));
    const reply = rng.chance(0.5) ? world.offerPostUri.get(offer.id)! : null;
    return this.post(author, b, reply, null);
  }

  /** A post with a pending checkout's code, by its owner or by someone else (which must match nothing). */
  codePost(byOwner: boolean): string {
    const { rng, world } = this;
    const { order, code } = world.pending[rng.int(world.pending.length)]!;
    let author = order.handle;
    if (!byOwner) {
      do author = rng.pick(world.people);
      while (author === order.handle);
    }
    const shown = rng.chance(0.7) ? displayCode(code).slice(1) : code;
    const b = new TextBuilder();
    if (rng.chance(0.4)) b.add(rng.pick(['confirm ', 'yes ', 'ok ', 'はい ', 'да ', '👍 ']));
    if (rng.chance(0.5))
      b.addFacet(`#${shown}`, { $type: 'app.bsky.richtext.facet#tag', tag: shown });
    else b.add(`#${shown}`);
    if (rng.chance(0.3)) b.add(rng.pick([' thanks!', ' 🙏', ' ありがとう', ' спасибо']));
    return this.post(author, b, rng.chance(0.6) ? order.postId : null, null);
  }

  /** A post that concerns tagpay in no way. */
  unrelatedPost(): string {
    const { rng } = this;
    const lang = rng.pick(LANGS);
    const b = new TextBuilder();
    const length = this.length();
    const pieces = 1 + rng.int(3);
    for (let p = 0; p < pieces; p++) {
      if (p > 0) b.add(rng.chance(0.3) ? '\n\n' : ' ');
      b.add(this.words(Math.max(1, Math.round(length / pieces / lang.wordChars)), lang));
      const feature = rng.next();
      if (feature < 0.12) {
        const handle = `${rng.pick(NAMES)}${rng.chance(0.5) ? rng.int(1000) : ''}.bsky.social`;
        b.add(' ');
        b.addFacet(`@${handle}`, {
          $type: 'app.bsky.richtext.facet#mention',
          did: rng.pick(this.world.people),
        });
      } else if (feature < 0.2) {
        const uri = `https://${rng.pick(SITES)}/${rng.tid()}${rng.chance(0.15) ? `#${rng.pick(['top', 'section-2', 'comments', ''])}` : ''}`;
        b.add(' ');
        b.addFacet(uri.replace(/^https:\/\//, '').slice(0, 30) + (uri.length > 38 ? '...' : ''), {
          $type: 'app.bsky.richtext.facet#link',
          uri,
        });
      } else if (feature < 0.25) {
        // Hashtags that match nothing: common ones, foreign ones, now and then one shaped like a code.
        for (let t = 1 + rng.int(3); t > 0; t--) {
          const tag = rng.chance(0.05)
            ? `tp${rng.base32(10)}`
            : rng.chance(0.7)
              ? rng.pick(this.unmatchedTags)
              : rng.pick(FOREIGN_TAGS);
          b.add(' ');
          if (rng.chance(0.6)) b.addFacet(`#${tag}`, { $type: 'app.bsky.richtext.facet#tag', tag });
          else b.add(`#${tag}`);
        }
      } else if (feature < 0.27) {
        // A `#` that is no hashtag.
        b.add(
          ' ' +
            rng.pick([
              'I code in C# and F#.',
              'issue #42',
              'it&#39;s fine',
              'we are #1!',
              'see /#/route',
              '#️⃣',
              'x#y',
              '# heading',
            ]),
        );
      }
    }
    const reply = rng.chance(0.35)
      ? `at://${rng.pick(this.world.people)}/app.bsky.feed.post/${rng.tid()}`
      : null;
    const embed = rng.chance(0.15)
      ? {
          $type: 'app.bsky.embed.images',
          images: [
            {
              alt: rng.chance(0.5) ? this.words(8, lang) : '',
              image: {
                $type: 'blob',
                ref: { $link: `bafkrei${rng.base32(52)}` },
                mimeType: 'image/jpeg',
                size: 100_000 + rng.int(900_000),
              },
              aspectRatio: { width: 1000, height: 750 },
            },
          ],
        }
      : null;
    return this.post(rng.pick(this.world.people), b, reply, embed, lang.code);
  }

  /** Likes, reposts, follows, deletions, profile updates, identity and account messages. */
  notAPost(): string {
    const { rng } = this;
    const did = rng.pick(this.world.people);
    const time_us = this.tick();
    const u = rng.next();
    const subject = {
      uri: `at://${rng.pick(this.world.people)}/app.bsky.feed.post/${rng.tid()}`,
      cid: this.cid(),
    };
    const commit = (
      operation: string,
      collection: string,
      record: Record<string, unknown> | null,
    ) =>
      JSON.stringify({
        did,
        time_us,
        kind: 'commit',
        commit: {
          rev: rng.tid(),
          operation,
          collection,
          rkey: rng.tid(),
          ...(record === null ? {} : { record, cid: this.cid() }),
        },
      });
    const createdAt = new Date(time_us / 1000).toISOString();
    if (u < 0.6)
      return commit('create', 'app.bsky.feed.like', {
        $type: 'app.bsky.feed.like',
        createdAt,
        subject,
      });
    if (u < 0.74)
      return commit('create', 'app.bsky.feed.repost', {
        $type: 'app.bsky.feed.repost',
        createdAt,
        subject,
      });
    if (u < 0.85)
      return commit('create', 'app.bsky.graph.follow', {
        $type: 'app.bsky.graph.follow',
        createdAt,
        subject: rng.pick(this.world.people),
      });
    if (u < 0.91)
      return commit('delete', rng.pick(['app.bsky.feed.post', 'app.bsky.feed.like']), null);
    if (u < 0.93) {
      return commit('update', 'app.bsky.actor.profile', {
        $type: 'app.bsky.actor.profile',
        displayName: rng.pick(NAMES),
        description:
          this.words(12, rng.pick(LANGS)) +
          (rng.chance(0.3) ? ` #${rng.pick(this.unmatchedTags)}` : ''),
      });
    }
    if (u < 0.97) {
      return JSON.stringify({
        did,
        time_us,
        kind: 'identity',
        identity: {
          did,
          handle: `${rng.pick(NAMES)}.bsky.social`,
          seq: rng.int(2 ** 31),
          time: createdAt,
        },
      });
    }
    return JSON.stringify({
      did,
      time_us,
      kind: 'account',
      account: { active: rng.chance(0.5), did, seq: rng.int(2 ** 31), time: createdAt },
    });
  }

  private post(
    did: string,
    b: TextBuilder,
    reply: string | null,
    embed: unknown,
    lang = 'en',
  ): string {
    const time_us = this.tick();
    const record: Record<string, unknown> = {
      $type: 'app.bsky.feed.post',
      createdAt: new Date(time_us / 1000).toISOString(),
      text: b.text,
    };
    if (embed !== null) record.embed = embed;
    if (b.facets.length > 0) record.facets = b.facets;
    record.langs = [lang];
    if (reply !== null) {
      record.reply = {
        root: { uri: reply, cid: this.cid() },
        parent: { uri: reply, cid: this.cid() },
      };
    }
    return JSON.stringify({
      did,
      time_us,
      kind: 'commit',
      commit: {
        rev: this.rng.tid(),
        operation: 'create',
        collection: 'app.bsky.feed.post',
        rkey: this.rng.tid(),
        record,
        cid: this.cid(),
      },
    });
  }

  /** Text lengths of the firehose: mostly short, a long tail to ~3,000 characters. */
  private length(): number {
    const u = this.rng.next();
    if (u < 0.55) return 10 + this.rng.int(130);
    if (u < 0.85) return 140 + this.rng.int(260);
    if (u < 0.97) return 400 + this.rng.int(800);
    return 1_200 + this.rng.int(1_800);
  }

  private words(count: number, lang: Lang): string {
    const { rng } = this;
    const out: string[] = [];
    for (let w = 0; w < count; w++) {
      out.push(rng.pick(lang.words));
      if (rng.chance(0.05)) out.push(rng.pick(EMOJI));
    }
    return out.join(lang.separator);
  }

  private tick(): number {
    this.timeUs += 5 + this.rng.int(60);
    return this.timeUs;
  }

  private cid(): string {
    return `bafyrei${this.rng.base32(52)}`;
  }
}

// ---------------------------------------------------------------------------------------------
// A seeded generator, so a failure replays with the printed seed.

const BASE32_SORT = '234567abcdefghijklmnopqrstuvwxyz';

class Rng {
  private a: number;
  constructor(seed: number) {
    this.a = seed >>> 0;
  }
  /** Mulberry32. */
  next(): number {
    this.a = (this.a + 0x6d2b79f5) >>> 0;
    let t = this.a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(below: number): number {
    return Math.floor(this.next() * below);
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }
  readonly bytes: RandomBytes = (count) => {
    const out = new Uint8Array(count);
    for (let i = 0; i < count; i++) out[i] = this.int(256);
    return out;
  };
  base32(letters: number): string {
    let out = '';
    for (let i = 0; i < letters; i++) out += BASE32_SORT[this.int(32)];
    return out;
  }
  /** A record key in the TID shape (13 letters). */
  tid(): string {
    return '3' + this.base32(12);
  }
  did(): string {
    return `did:plc:${this.base32(24)}`;
  }
}

// ---------------------------------------------------------------------------------------------
// Words.

interface Lang {
  code: string;
  words: readonly string[];
  separator: string;
  /** Average characters a word takes, separator included, to aim at a text length. */
  wordChars: number;
}

/** A list from one line of words. */
function w(list: string): readonly string[] {
  return list.split(' ');
}

const EN = w(
  'the of and to in is you that it he was for on are as with his they at be this have from or one had by word but not what all were we when your can said there use an each which she do how their if will up other about out many then them these so some her would make like him into time has look two more write go see number no way could people my than first water been call who oil its now find long down day did get come made may part just really today love new good great think thanks know still',
);
const LANGS: readonly Lang[] = [
  { code: 'en', words: EN, separator: ' ', wordChars: 5 },
  { code: 'en', words: EN, separator: ' ', wordChars: 5 },
  { code: 'en', words: EN, separator: ' ', wordChars: 5 },
  { code: 'en', words: EN, separator: ' ', wordChars: 5 },
  {
    code: 'ja',
    words: w(
      '今日 は とても 楽しい 一日 でした 写真 を 撮り ました 猫 かわいい ありがとう ございます 新しい 本 読み たい 東京 雨',
    ),
    separator: '',
    wordChars: 1.7,
  },
  {
    code: 'ja',
    words: w('です ね ブルースカイ はじめ まして よろしく お願い します 。 、 ラーメン 食べ た ！'),
    separator: '',
    wordChars: 2.5,
  },
  {
    code: 'pt',
    words: w(
      'o a de que e do da em um para é com não uma os no se na por mais as dos como mas foi ao ele das tem à seu sua ou ser quando muito há nos já está eu também só pelo pela até isso ela entre era depois sem mesmo aos ter seus quem nas me esse eles estão você tinha foram essa num nem suas meu às minha têm numa pelos elas havia seja qual será nós tenho lhe deles essas esses pelas este fosse dele tu te vocês vos lhes meus minhas teu tua teus tuas nosso nossa nossos nossas dela delas esta estes estas aquele aquela aqueles aquelas isto aquilo estou está estamos estão',
    ),
    separator: ' ',
    wordChars: 4,
  },
  {
    code: 'ru',
    words: w(
      'и в не на я быть он с что а по это она этот к но они мы как из у который то за свой что весь год от так о для ты же все тот мочь вы человек такой его сказать только или ещё бы себя один как уже до время если сам когда другой вот говорить наш мой знать стать при чтобы дело жизнь кто первый очень два день её новый рука даже во со раз где там под можно ну какой после их работа без самый потом надо хотеть ли слово идти большой должен место иметь ничто',
    ),
    separator: ' ',
    wordChars: 5,
  },
  {
    code: 'zh',
    words: w(
      '我们 今天 天气 很好 的 是 了 在 有 人 这 中 大 为 上 个 国 我 以 要 他 时 来 用 们 生 到 作 地 于',
    ),
    separator: '',
    wordChars: 1.5,
  },
  {
    code: 'de',
    words: w(
      'der die und in den von zu das mit sich des auf für ist im dem nicht ein eine als auch es an werden aus er hat dass sie nach wird bei einer um am sind noch wie einem über einen so zum war haben nur oder aber vor zur bis mehr durch man sein wurde sei prozent hatte kann gegen vom können schon wenn habe seine mark ihre dann unter wir soll ich eines jahr zwei jahren diese dieser wieder keine uhr seiner worden und will zwischen immer millionen ersten was sagte größer schön Müller Straße',
    ),
    separator: ' ',
    wordChars: 5.5,
  },
  {
    code: 'es',
    words: w(
      'de la que el en y a los del se las por un para con no una su al lo como más pero sus le ya o este sí porque esta entre cuando muy sin sobre también me hasta hay donde quien desde todo nos durante todos uno les ni contra otros ese eso ante ellos e esto mí antes algunos qué unos yo otro otras otra él tanto esa estos mucho quienes nada muchos cual poco ella estar estas algunas algo nosotros año mañana niño',
    ),
    separator: ' ',
    wordChars: 4.5,
  },
];
const EMOJI = w('🔥 😂 ❤️ 🥰 🙏 ✨ 👀 🎉 😭 💙 🦋 👍🏽 🇧🇷 🇯🇵 👨‍👩‍👧 🌸 ☕ 🐈 🤔 💀');
const NAMES = w(
  'alice bob carol dave erin frank grace heidi ivan judy mallory niaj olivia peggy rupert sybil trent victor walter yuki sakura dmitri ana joão',
);
const SITES = w(
  'example.com news.example.org youtu.be github.com en.wikipedia.org nytimes.com bsky.app substack.com',
);
const BRANDS = w(
  'Acme Globex Initech Umbrella Hooli Stark Wayne Wonka Tyrell Cyberdyne Soylent Vandelay Aperture BlueSun Monarch Oscorp Pied Nakatomi Gringotts Duff',
);
const PRODUCTS = w(
  'Tee Hoodie Mug Cap Sticker Tote Vinyl Poster Socks Zine Pin Print Candle Coffee Ticket Book Scarf Beanie Patch Keychain',
);
const COMMON_TAGS = w(
  'art photography bluesky music nature cats dogs gaming booksky writing news politics science AI tech python rust typescript food travel BuyNow sale deal giveaway nft 2024 FF MusicMonday SaturdaySketch inktober AcmeTee BuyAcme TP tpx cancelled help_wanted Cats_of_Bluesky',
);
const FOREIGN_TAGS = w(
  '日本 写真 Москва café 猫 サッカー Ελλάδα München São_Paulo ＢｕｙＴｅｅ Buy\u0410cmeTee',
);

// ---------------------------------------------------------------------------------------------

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({
    options: { quick: { type: 'boolean', default: false }, seed: { type: 'string' } },
  });
  const result = await ingest({
    quick: values.quick,
    ...(values.seed === undefined ? {} : { seed: Number(values.seed) }),
  });
  console.log(JSON.stringify(result));
}
