import { createHash } from 'node:crypto';
import { AtpAgent, AtUri, RichText, XRPCError } from '@atproto/api';
import { IdResolver, MemoryCache } from '@atproto/identity';
import type { Logger } from 'pino';
import { ConfigError, type BlueskyConfig } from '../../config/env.ts';
import type { PostRequest } from '../network.ts';
import type { RemoteClient } from '../remote.ts';
import { BLUESKY_NETWORK, POST_COLLECTION } from './jetstream.ts';

/** A Bluesky post is at most 300 graphemes (lexicon app.bsky.feed.post, `text.maxGraphemes`). */
export const POST_GRAPHEMES_MAX = 300;
/** How long one request to a PDS or to the PLC directory may take. */
export const REQUEST_TIMEOUT_MS = 10_000;
/**
 * A PDS refuses a record key that happens to spell a slur (`hasExplicitSlur`): the derived key is
 * then re-derived with a counter, at most this many times. Each try is deterministic, so a retry of
 * the same post walks the same keys.
 */
const RKEY_TRIES_MAX = 4;
/** Errors that mean tagpay's session is gone and a new login may help. */
const SESSION_ERRORS = new Set(['ExpiredToken', 'InvalidToken', 'AuthenticationRequired']);
const TID_CHARS = '234567abcdefghijklmnopqrstuvwxyz';
/** 2020-09-13 in microseconds: derived record keys encode times from here on (see `rkeyFor`). */
const RKEY_EPOCH_US = 1_600_000_000_000_000n;

/** A post as its author's PDS holds it now. */
export interface FetchedPost {
  uri: string;
  cid: string;
  text: string;
  replyTo: string | null;
  /** The post's thread root (its own uri when it is not a reply). */
  root: { uri: string; cid: string };
}

/**
 * tagpay's account on Bluesky: it posts offers and replies through its own PDS with an app password
 * (atproto.com/specs/xrpc; app passwords: docs.bsky.app "App passwords"), resolves handles to DIDs
 * and re-reads posts from their authors' PDSes, since Jetstream's JSON is not signed.
 */
export class BlueskyClient implements RemoteClient {
  readonly name = BLUESKY_NETWORK;
  private readonly agent: AtpAgent;
  private did: string | null = null;
  private loggingIn: Promise<void> | null = null;
  readonly idResolver: IdResolver;

  constructor(
    private readonly config: BlueskyConfig,
    private readonly logger: Logger,
  ) {
    this.agent = new AtpAgent({ service: config.service });
    this.idResolver = new IdResolver({
      plcUrl: config.plc,
      timeout: REQUEST_TIMEOUT_MS,
      didCache: new MemoryCache(),
    });
  }

  /** tagpay's DID; known once `login` has succeeded. */
  get self(): string {
    if (this.did === null) throw new Error('bluesky: not logged in yet');
    return this.did;
  }

  /**
   * Logs in with the app password. A refused login is a ConfigError that says which account and
   * service, since only the operator can fix it; anything else (the PDS unreachable) is an Error.
   */
  async login(): Promise<void> {
    this.loggingIn ??= (async () => {
      try {
        const res = await this.agent.login({
          identifier: this.config.identifier,
          password: this.config.appPassword,
        });
        this.did = res.data.did;
      } catch (error) {
        if (error instanceof XRPCError && (error.status === 401 || error.status === 400)) {
          throw new ConfigError(
            `bluesky: ${this.config.service} refused the login of ${this.config.identifier} ` +
              `(${error.message}); check TAGPAY_BLUESKY_IDENTIFIER and TAGPAY_BLUESKY_APP_PASSWORD`,
          );
        }
        throw new Error(
          `bluesky: could not log in to ${this.config.service}: ${messageOf(error)}`,
          { cause: error },
        );
      } finally {
        this.loggingIn = null;
      }
    })();
    return this.loggingIn;
  }

  /**
   * Posts (or replies) from tagpay's account. The record key is derived from the idempotency key, so
   * a second call with it finds the first post instead of making another. `as` is ignored: tagpay
   * holds no one else's credentials on Bluesky.
   */
  async post(req: PostRequest): Promise<{ postId: string }> {
    const rt = new RichText({ text: clip(req.text) });
    // Mentions are resolved through the PDS; one that does not resolve is left as plain text.
    await this.withSession(() => rt.detectFacets(this.agent));
    const reply = req.replyTo === null ? undefined : await this.replyRefs(req.replyTo);
    const record = {
      $type: POST_COLLECTION,
      text: rt.text,
      ...(rt.facets && rt.facets.length > 0 && { facets: rt.facets }),
      ...(reply && { reply }),
      createdAt: new Date().toISOString(),
    };
    for (let attempt = 0; attempt < RKEY_TRIES_MAX; attempt++) {
      const rkey = rkeyFor(req.idempotencyKey, attempt);
      const uri = `at://${this.self}/${POST_COLLECTION}/${rkey}`;
      try {
        await this.withSession(() =>
          this.agent.com.atproto.repo.createRecord({
            repo: this.self,
            collection: POST_COLLECTION,
            rkey,
            record,
          }),
        );
        return { postId: uri };
      } catch (error) {
        // Posted before (a retry after a lost answer): the record is there, so this is done.
        if (await this.ownRecordExists(rkey)) return { postId: uri };
        if (error instanceof XRPCError && /slur in record key/i.test(error.message)) continue;
        throw error;
      }
    }
    throw new Error(`bluesky: no acceptable record key for ${req.idempotencyKey}`);
  }

  /** The DID behind a handle, or null when no account has it. */
  async resolveAccount(handle: string): Promise<string | null> {
    const bare = handle.replace(/^@/, '').toLowerCase();
    try {
      const res = await this.withSession(() =>
        this.agent.com.atproto.identity.resolveHandle({ handle: bare }),
      );
      return res.data.did;
    } catch (error) {
      if (!(error instanceof XRPCError) || error.status !== 400) throw error;
    }
    // The PDS knows only some handles; DNS and /.well-known know the rest (atproto.com/specs/handle).
    return (await this.idResolver.handle.resolve(bare)) ?? null;
  }

  /**
   * Re-reads a post from its author's own PDS (the DID document says which): null when it is not
   * there (deleted, never existed, or not a post). Jetstream is unsigned, so a post that carries a
   * confirmation code is checked this way before it is acted on.
   */
  async fetchPost(uri: string): Promise<FetchedPost | null> {
    const at = parseAtUri(uri);
    if (at === null || at.collection !== POST_COLLECTION) return null;
    const data = await this.idResolver.did.resolveAtprotoData(at.host).catch(() => null);
    if (data === null) return null;
    const url = new URL('/xrpc/com.atproto.repo.getRecord', data.pds);
    url.searchParams.set('repo', at.host);
    url.searchParams.set('collection', at.collection);
    url.searchParams.set('rkey', at.rkey);
    const res = await fetch(url, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
    if (res.status === 400 || res.status === 404) return null;
    if (!res.ok) throw new Error(`bluesky: ${data.pds} answered ${res.status} for ${uri}`);
    const body = (await res.json()) as { uri?: unknown; cid?: unknown; value?: unknown };
    return readFetched(uri, body);
  }

  /** app.bsky.feed.post#replyRef for a reply to `parentUri`: the parent and its thread's root. */
  private async replyRefs(parentUri: string) {
    const parent = await this.fetchPost(parentUri);
    if (parent === null) throw new Error(`bluesky: cannot reply to ${parentUri}: no such post`);
    return { root: parent.root, parent: { uri: parent.uri, cid: parent.cid } };
  }

  private async ownRecordExists(rkey: string): Promise<boolean> {
    try {
      await this.agent.com.atproto.repo.getRecord({
        repo: this.self,
        collection: POST_COLLECTION,
        rkey,
      });
      return true;
    } catch {
      return false;
    }
  }

  /** Runs `fn`; when the session has expired (the refresh token too), logs in again and runs it once more. */
  private async withSession<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      if (!(error instanceof XRPCError) || !SESSION_ERRORS.has(error.error ?? '')) throw error;
      this.logger.info({ error: error.error }, 'bluesky: session expired, logging in again');
      await this.login();
      return fn();
    }
  }
}

/**
 * The record key of the post made for `idempotencyKey`: a TID (atproto.com/specs/tid, the key type
 * of app.bsky.feed.post) derived from the key's SHA-256, so the same outbox row always names the same
 * record. Its time bits are a hash, not a time; they are kept between 2020 and 2024 so that no key
 * claims to come from the future.
 */
export function rkeyFor(idempotencyKey: string, attempt = 0): string {
  const digest = createHash('sha256')
    .update(attempt === 0 ? idempotencyKey : `${idempotencyKey}\u0000${attempt}`)
    .digest();
  const bits = digest.readBigUInt64BE(0);
  const micros = RKEY_EPOCH_US + (bits >> 17n); // 47 bits: about 4.5 years.
  const clockId = bits & 0x3ffn;
  let value = (micros << 10n) | clockId;
  let out = '';
  for (let i = 0; i < 13; i++) {
    out = TID_CHARS[Number(value & 31n)] + out;
    value >>= 5n;
  }
  return out;
}

/** Text over Bluesky's grapheme limit is cut with an ellipsis rather than refused by the PDS. */
function clip(text: string): string {
  const rt = new RichText({ text });
  if (rt.graphemeLength <= POST_GRAPHEMES_MAX) return text;
  const segments = [...new Intl.Segmenter().segment(text)].map((s) => s.segment);
  return segments.slice(0, POST_GRAPHEMES_MAX - 1).join('') + '…';
}

function parseAtUri(uri: string): { host: string; collection: string; rkey: string } | null {
  try {
    const at = new AtUri(uri);
    if (!at.host.startsWith('did:') || at.rkey === '') return null;
    return { host: at.host, collection: at.collection, rkey: at.rkey };
  } catch {
    return null;
  }
}

function readFetched(uri: string, body: { cid?: unknown; value?: unknown }): FetchedPost | null {
  const value = body.value as Record<string, unknown> | undefined;
  if (typeof body.cid !== 'string' || typeof value !== 'object' || value === null) return null;
  if (value.$type !== POST_COLLECTION || typeof value.text !== 'string') return null;
  const reply = value.reply as
    { root?: { uri?: unknown; cid?: unknown }; parent?: { uri?: unknown } } | undefined;
  const root = reply?.root;
  const ownRef = { uri, cid: body.cid };
  return {
    uri,
    cid: body.cid,
    text: value.text,
    replyTo: typeof reply?.parent?.uri === 'string' ? reply.parent.uri : null,
    root:
      root && typeof root.uri === 'string' && typeof root.cid === 'string'
        ? { uri: root.uri, cid: root.cid }
        : ownRef,
  };
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
