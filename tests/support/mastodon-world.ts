import { afterEach } from 'node:test';
import { FakeMastodon } from './fake-mastodon.ts';
import { openHarness, type Harness } from './harness.ts';
import { assertLedgerBalanced } from './world.ts';

/**
 * tagpay on the FAKE Mastodon server (support/fake-mastodon.ts), one per test: the accounts the
 * Mastodon test files share, a harness logged in as `tagpay`, and the close (ledger checked) after
 * each test whether it passed or not.
 */

export const MASTODON_TOKENS = {
  tagpay: 'tok_tagpay_0123456789',
  acme: 'tok_acme_0123456789',
  alice: 'tok_alice_0123456789',
  bob: 'tok_bob_0123456789',
} as const;

/** How long a test waits for tagpay to do what it expects, at most. */
export const MASTODON_WAIT_MS = 10_000;

export class MastodonWorld {
  fake: FakeMastodon | null = null;
  h: Harness | null = null;

  /** Registers the after-each close in the calling test file. */
  constructor() {
    afterEach(() => this.close());
  }

  /** The fake server `fake.social` with tagpay, acme, alice and bob, and tagpay connected to it. */
  async start(): Promise<{ fake: FakeMastodon; h: Harness }> {
    const fake = (this.fake = await FakeMastodon.start('fake.social'));
    for (const [user, token] of Object.entries(MASTODON_TOKENS)) fake.addAccount(user, token);
    const h = (this.h = await openHarness('pglite', {
      env: { TAGPAY_MASTODON_URL: fake.url, TAGPAY_MASTODON_TOKEN: MASTODON_TOKENS.tagpay },
    }));
    return { fake, h };
  }

  async close(): Promise<void> {
    const { h, fake } = this;
    this.h = null;
    this.fake = null;
    try {
      if (h) await assertLedgerBalanced(h);
    } finally {
      await h?.close();
      await fake?.close();
    }
  }

  /** Lets tagpay run (settling its stages) until `probe` answers, or fails saying what never came. */
  async waitFor<T>(
    what: string,
    probe: () => T | undefined | null | false | Promise<T | undefined | null | false>,
  ): Promise<T> {
    const until = Date.now() + MASTODON_WAIT_MS;
    for (;;) {
      if (this.h) await this.h.app.settle();
      const value = await probe();
      if (value !== undefined && value !== null && value !== false) return value;
      if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}
