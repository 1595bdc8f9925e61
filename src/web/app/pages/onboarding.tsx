import { useCallback, useEffect, useState, type FormEvent } from 'react';
import { api, ApiError, idempotencyKey, moneyInput } from '../api.ts';
import { Field, FieldProblems, Notice, SelectField, useSubmit } from '../forms.tsx';
import { Layout, NeedsSignIn } from '../layout.tsx';
import { parseMajor } from '../money-input.ts';
import { Link } from '../router.tsx';
import { useSession } from '../session.tsx';
import { ClaimNotice } from './claim-notice.tsx';
import { LIMIT_DEFAULTS } from './limit-defaults.ts';

interface Card {
  id: string;
  brand: string;
  last4: string;
}
interface Address {
  name: string;
  line1: string;
  line2?: string;
  city: string;
  region?: string;
  postal_code: string;
  country: string;
}
interface Shopper {
  id: string;
  email: string;
  shipping_address: Address;
  card: { brand: string; last4: string };
  limits: {
    per_purchase: number | null;
    per_day: number | null;
    step_up_above?: number | null;
    currency: string | null;
  };
}

const BRANDS: Record<string, string> = {
  visa: 'Visa',
  mastercard: 'Mastercard',
  amex: 'American Express',
  discover: 'Discover',
};
const EMPTY_ADDRESS: Address = { name: '', line1: '', city: '', postal_code: '', country: 'US' };

/**
 * Onboarding, after signing in with the handle's network (the proof of ownership): a card (sent only
 * to the processor's tokenization endpoint), an e-mail verified by a link, a shipping address,
 * spending limits and privacy. The handle is linked when all of it is there.
 */
export function OnboardingPage() {
  const { session } = useSession();
  if (!session) return <Layout title="Set up tagpay">{null}</Layout>;
  if (!session.handle || !session.network) {
    return (
      <Layout title="Set up tagpay">
        <p className="lede">Link your handle once; from then on a post is enough to buy or pay.</p>
        <ClaimNotice signedIn={false} />
        <NeedsSignIn what="shopper" />
      </Layout>
    );
  }
  return <Onboarding network={session.network} handle={session.handle} />;
}

/**
 * The card's token, brand and last four digits survive a reload of the page (the person may reload
 * before linking): they are kept in sessionStorage, for this tab and this handle only. The number and
 * CVC never are; a token alone pays for nothing until the handle is linked with it.
 */
const cardKey = (network: string, handle: string) => `tagpay.card.${network}.${handle}`;
function storedCard(network: string, handle: string): Card | null {
  try {
    const raw = sessionStorage.getItem(cardKey(network, handle));
    const c = raw ? (JSON.parse(raw) as Card) : null;
    return c && typeof c.id === 'string' && /^\d{4}$/.test(c.last4) ? c : null;
  } catch {
    return null;
  }
}
function storeCard(network: string, handle: string, card: Card | null): void {
  try {
    if (card) sessionStorage.setItem(cardKey(network, handle), JSON.stringify(card));
    else sessionStorage.removeItem(cardKey(network, handle));
  } catch {
    // Storage turned off: the card is kept for this page view only.
  }
}

function Onboarding({ network, handle }: { network: string; handle: string }) {
  const { session } = useSession();
  const [shopper, setShopper] = useState<Shopper | null>(null);
  const [card, setCardState] = useState<Card | null>(() => storedCard(network, handle));
  const setCard = (c: Card | null) => {
    storeCard(network, handle, c);
    setCardState(c);
  };
  const [email, setEmail] = useState('');
  const [verified, setVerified] = useState<string[]>([]);
  const [sentTo, setSentTo] = useState<string | null>(null);
  const [address, setAddress] = useState<Address>(EMPTY_ADDRESS);
  const [perPurchase, setPerPurchase] = useState('');
  const [perDay, setPerDay] = useState('');
  const [stepUp, setStepUp] = useState('');
  const [visibility, setVisibility] = useState<'public' | 'private'>('public');
  const [done, setDone] = useState<string | null>(null);
  const link = useSubmit([
    'card',
    'email',
    'name',
    'line1',
    'line2',
    'city',
    'region',
    'postal_code',
    'country',
    'per_purchase',
    'per_day',
    'step_up_above',
  ]);
  const mail = useSubmit(['email']);

  const refreshVerified = useCallback(async () => {
    const r = await api<{ data: { email: string }[] }>('GET', '/v1/email/verifications');
    setVerified(r.data.map((v) => v.email));
    // Back from the link (another tab or the demo mailbox) with the field empty: the address just
    // verified is the one to use.
    const latest = r.data.at(-1)?.email;
    if (latest) setEmail((typed) => typed || latest);
  }, []);

  useEffect(() => {
    api<Shopper>('GET', `/v1/shoppers/${network}/${encodeURIComponent(handle)}`).then(
      (s) => {
        setShopper(s);
        setEmail(s.email);
        setAddress({ ...EMPTY_ADDRESS, ...s.shipping_address });
        const currency = s.limits.currency ?? 'USD';
        if (s.limits.per_purchase !== null)
          setPerPurchase(moneyInput(s.limits.per_purchase, currency));
        if (s.limits.per_day !== null) setPerDay(moneyInput(s.limits.per_day, currency));
        if (s.limits.step_up_above != null) setStepUp(moneyInput(s.limits.step_up_above, currency));
      },
      () => setShopper(null),
    );
    refreshVerified().catch(() => {});
    // The link is opened in another tab: look again when the person comes back to this one.
    const onFocus = () => refreshVerified().catch(() => {});
    window.addEventListener('focus', onFocus);
    return () => window.removeEventListener('focus', onFocus);
  }, [network, handle, refreshVerified]);

  const emailVerified = email !== '' && verified.includes(email.trim().toLowerCase());

  const sendLink = async () => {
    // One message for the field: the answer to this request replaces what linking said before.
    link.clearField('email');
    const r = await mail.run(async () => {
      if (!/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(email.trim()))
        throw new FieldProblems({ email: 'Enter an e-mail address like you@example.com.' });
      return api<{ email: string }>('POST', '/v1/email/verifications', { email: email.trim() });
    });
    if (r) setSentTo(r.email);
  };

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setDone(null);
    const result = await link.run(async () => {
      const problems: Record<string, string> = {};
      if (!card && !shopper) problems.card = 'Add a card first.';
      if (!emailVerified) problems.email = 'Verify this e-mail address: open the link we send you.';
      for (const [k, label] of [
        ['name', 'Name'],
        ['line1', 'Address'],
        ['city', 'City'],
        ['postal_code', 'Postal code'],
      ] as const) {
        if (!address[k].trim()) problems[k] = `${label} is required.`;
      }
      if (!/^[A-Za-z]{2}$/.test(address.country)) problems.country = 'Choose a country.';
      const purchase = perPurchase.trim() ? parseMajor(perPurchase, 'USD') : null;
      const day = perDay.trim() ? parseMajor(perDay, 'USD') : null;
      if (perPurchase.trim() && purchase === null)
        problems.per_purchase = 'An amount like 50 or 49.99.';
      if (perDay.trim() && day === null) problems.per_day = 'An amount like 200 or 199.99.';
      const stepUpAbove = stepUp.trim() ? parseMajor(stepUp, 'USD') : null;
      if (stepUp.trim() && stepUpAbove === null)
        problems.step_up_above = 'An amount like 100 or 99.99, or leave it empty.';
      if (purchase !== null && day !== null && BigInt(purchase) > BigInt(day))
        problems.per_purchase = 'The per-purchase limit cannot be more than the daily limit.';
      if (Object.keys(problems).length > 0) throw new FieldProblems(problems);
      const body = {
        handle,
        network,
        email: email.trim(),
        shipping_address: {
          ...address,
          ...(address.line2 ? {} : { line2: undefined }),
          ...(address.region ? {} : { region: undefined }),
        },
        card_token: card?.id ?? undefined,
        ...((purchase !== null || day !== null || stepUpAbove !== null) && {
          limits: {
            ...(purchase !== null && { per_purchase: Number(purchase) }),
            ...(day !== null && { per_day: Number(day) }),
            ...(stepUpAbove !== null && { step_up_above: Number(stepUpAbove) }),
            currency: 'USD',
          },
        }),
      };
      if (!body.card_token)
        throw new FieldProblems({ card: 'Add your card again to save changes.' });
      const linked = await api<Shopper>('POST', '/v1/shoppers', body, {
        idempotencyKey: idempotencyKey(),
      });
      let privacyNote = '';
      try {
        await api(
          'POST',
          `/v1/shoppers/${network}/${encodeURIComponent(handle)}/settings`,
          { visibility },
          { idempotencyKey: idempotencyKey() },
        );
      } catch (e) {
        if (e instanceof ApiError && e.status === 404)
          privacyNote = ' Privacy settings are not available on this tagpay yet.';
        else throw e;
      }
      return { linked, privacyNote };
    });
    if (result) {
      setShopper(result.linked);
      setDone(
        `Linked ${network === 'local' ? '@' : ''}${handle} to your ${BRANDS[result.linked.card.brand] ?? 'card'} ending in ${result.linked.card.last4}.${result.privacyNote}`,
      );
    }
  };

  const fe = link.fieldErrors;
  return (
    <Layout title="Set up tagpay">
      <p className="lede">
        Signed in as <strong>{network === 'local' ? `@${handle}` : handle}</strong>
        {network !== 'local' ? ` on ${network}` : ''}. Link a card, an e-mail and an address once;
        then a post is enough to buy.
      </p>
      <ClaimNotice signedIn />
      {shopper ? (
        <Notice kind="info">
          Your handle is linked to a {BRANDS[shopper.card.brand] ?? 'card'} ending in{' '}
          {shopper.card.last4}. Change anything below and save.{' '}
          <Link to="/wallet">Open your wallet</Link>.
        </Notice>
      ) : null}
      <CardForm card={card} onCard={setCard} error={fe.card ?? null} />
      <form onSubmit={submit} noValidate aria-labelledby="profile-title">
        <h2 id="profile-title" className="sr-only">
          Your profile
        </h2>
        {link.error ? <Notice kind="error">{link.error}</Notice> : null}
        <fieldset>
          <legend>E-mail</legend>
          <p className="hint">
            Confirmation codes and receipts go here. We check it is yours with a link.
          </p>
          {mail.error ? <Notice kind="error">{mail.error}</Notice> : null}
          <Field
            label="E-mail address"
            name="email"
            type="email"
            autoComplete="email"
            value={email}
            onChange={(e) => {
              setEmail(e.target.value);
              // A new address: what was said about the old one no longer holds.
              mail.clearField('email');
              link.clearField('email');
            }}
            error={mail.fieldErrors.email ?? fe.email}
          />
          <div className="actions">
            {emailVerified ? (
              <span className="badge badge-good">Verified</span>
            ) : (
              <>
                <button type="button" className="secondary" disabled={mail.busy} onClick={sendLink}>
                  Send verification link
                </button>
                <button type="button" className="link" onClick={() => refreshVerified()}>
                  I opened the link
                </button>
              </>
            )}
          </div>
          {sentTo && !emailVerified ? (
            <Notice kind="ok">
              We sent a link to {sentTo}. Open it, then come back to this page.
            </Notice>
          ) : null}
          {session?.demo_mailbox && !emailVerified ? (
            <p className="hint demo-hint">
              Demo mode: e-mail does not leave this machine.{' '}
              <Link to="/mailbox">Open the demo mailbox</Link> to read it and open the link.
            </p>
          ) : null}
        </fieldset>
        <fieldset>
          <legend>Shipping address</legend>
          <Field
            label="Full name"
            name="name"
            autoComplete="name"
            value={address.name}
            onChange={(e) => setAddress({ ...address, name: e.target.value })}
            error={fe.name}
          />
          <Field
            label="Address"
            name="line1"
            autoComplete="address-line1"
            value={address.line1}
            onChange={(e) => setAddress({ ...address, line1: e.target.value })}
            error={fe.line1}
          />
          <Field
            label="Address line 2 (optional)"
            name="line2"
            autoComplete="address-line2"
            value={address.line2 ?? ''}
            onChange={(e) => setAddress({ ...address, line2: e.target.value })}
          />
          <div className="row">
            <Field
              label="City"
              name="city"
              autoComplete="address-level2"
              value={address.city}
              onChange={(e) => setAddress({ ...address, city: e.target.value })}
              error={fe.city}
            />
            <Field
              label="Region (optional)"
              name="region"
              autoComplete="address-level1"
              value={address.region ?? ''}
              onChange={(e) => setAddress({ ...address, region: e.target.value })}
            />
            <Field
              label="Postal code"
              name="postal_code"
              autoComplete="postal-code"
              value={address.postal_code}
              onChange={(e) => setAddress({ ...address, postal_code: e.target.value })}
              error={fe.postal_code}
            />
            <SelectField
              label="Country"
              name="country"
              autoComplete="country"
              value={address.country}
              onChange={(e) => setAddress({ ...address, country: e.target.value })}
              error={fe.country}
            >
              {COUNTRIES.map(([code, name]) => (
                <option key={code} value={code}>
                  {name}
                </option>
              ))}
            </SelectField>
          </div>
        </fieldset>
        <fieldset>
          <legend>Spending limits (USD, optional)</legend>
          <div className="row">
            <Field
              label="Most per purchase"
              name="per_purchase"
              inputMode="decimal"
              placeholder={LIMIT_DEFAULTS.perPurchase}
              hint={`Empty: ${LIMIT_DEFAULTS.perPurchase}, tagpay's default.`}
              value={perPurchase}
              onChange={(e) => setPerPurchase(e.target.value)}
              error={fe.per_purchase}
            />
            <Field
              label="Most per day"
              name="per_day"
              inputMode="decimal"
              placeholder={LIMIT_DEFAULTS.perDay}
              hint={`Empty: ${LIMIT_DEFAULTS.perDay}, tagpay's default.`}
              value={perDay}
              onChange={(e) => setPerDay(e.target.value)}
              error={fe.per_day}
            />
          </div>
          <Field
            label="Ask me to approve purchases above"
            name="step_up_above"
            inputMode="decimal"
            placeholder="never"
            hint="Above this, tagpay e-mails you a link to approve the purchase. Empty: only when something looks unusual."
            value={stepUp}
            onChange={(e) => setStepUp(e.target.value)}
            error={fe.step_up_above}
          />
        </fieldset>
        <fieldset>
          <legend>Privacy</legend>
          <div className="choice">
            <input
              type="radio"
              id="vis-public"
              name="visibility"
              checked={visibility === 'public'}
              onChange={() => setVisibility('public')}
            />
            <label htmlFor="vis-public">
              <strong>Public</strong> — tagpay answers your posts with replies on the network.
            </label>
          </div>
          <div className="choice">
            <input
              type="radio"
              id="vis-private"
              name="visibility"
              checked={visibility === 'private'}
              onChange={() => setVisibility('private')}
            />
            <label htmlFor="vis-private">
              <strong>Private</strong> — answers come by direct message or e-mail only.
            </label>
          </div>
        </fieldset>
        {done ? <Notice kind="ok">{done}</Notice> : null}
        <div className="actions">
          <button type="submit" disabled={link.busy}>
            {shopper ? 'Save changes' : 'Link my handle'}
          </button>
        </div>
      </form>
    </Layout>
  );
}

/**
 * The card form. The number and CVC go to the processor's tokenization endpoint and nowhere else;
 * the moment the token is back they are wiped from the form and from this component's state, so no
 * page state holds them after tokenization.
 */
function CardForm({
  card,
  onCard,
  error,
}: {
  card: Card | null;
  onCard: (c: Card | null) => void;
  error: string | null;
}) {
  const [number, setNumber] = useState('');
  const [exp, setExp] = useState('');
  const [cvc, setCvc] = useState('');
  const form = useSubmit(['number', 'exp', 'cvc']);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const r = await form.run(async () => {
      const problems: Record<string, string> = {};
      const digits = number.replace(/[\s-]/g, '');
      if (!/^\d{12,19}$/.test(digits)) problems.number = 'A card number is 12 to 19 digits.';
      const m = /^(\d{1,2})\s*\/\s*(\d{2}|\d{4})$/.exec(exp.trim());
      if (!m || Number(m[1]) < 1 || Number(m[1]) > 12)
        problems.exp = 'Expiry is MM/YY, for example 12/30.';
      if (!/^\d{3,4}$/.test(cvc.trim())) problems.cvc = 'The CVC is the 3 or 4 digits on the card.';
      if (Object.keys(problems).length) throw new FieldProblems(problems);
      const year = Number(m![2]);
      return api<Card>('POST', '/v1/sandbox/tokens', {
        number: digits,
        exp_month: Number(m![1]),
        exp_year: year < 100 ? 2000 + year : year,
        cvc: cvc.trim(),
      });
    });
    if (r) {
      setNumber('');
      setCvc('');
      setExp('');
      onCard({ id: r.id, brand: r.brand, last4: r.last4 });
    } else {
      // A refused card is not kept either: the person types it again.
      setCvc('');
    }
  };
  const fe: Record<string, string | undefined> = {
    ...form.fieldErrors,
    ...(error ? { number: error } : {}),
  };
  if (card) {
    return (
      <section className="panel" aria-labelledby="card-title">
        <h2 id="card-title">Card</h2>
        <p>
          <span className="badge badge-good">Added</span> {BRANDS[card.brand] ?? 'Card'} ending in{' '}
          <strong>{card.last4}</strong>. tagpay keeps only the processor's token, the brand and the
          last four digits.
        </p>
        <button type="button" className="link" onClick={() => onCard(null)}>
          Use another card
        </button>
      </section>
    );
  }
  return (
    <section className="panel" aria-labelledby="card-title">
      <h2 id="card-title">Card</h2>
      <form onSubmit={submit} noValidate autoComplete="off">
        <p className="hint">
          The number goes straight to the card processor, which gives tagpay a token; tagpay never
          stores it. Test card: 4242 4242 4242 4242.
        </p>
        {form.error ? <Notice kind="error">{form.error}</Notice> : null}
        <Field
          label="Card number"
          name="cc-number"
          inputMode="numeric"
          autoComplete="cc-number"
          value={number}
          onChange={(e) => setNumber(e.target.value)}
          error={fe.number}
        />
        <div className="row">
          <Field
            label="Expiry (MM/YY)"
            name="cc-exp"
            autoComplete="cc-exp"
            placeholder="12/30"
            value={exp}
            onChange={(e) => setExp(e.target.value)}
            error={fe.exp ?? fe.exp_month ?? fe.exp_year}
          />
          <Field
            label="CVC"
            name="cc-csc"
            inputMode="numeric"
            autoComplete="cc-csc"
            value={cvc}
            onChange={(e) => setCvc(e.target.value)}
            error={fe.cvc}
          />
        </div>
        <div className="actions">
          <button type="submit" disabled={form.busy}>
            Add card
          </button>
        </div>
      </form>
    </section>
  );
}

const COUNTRIES: [string, string][] = [
  ['US', 'United States'],
  ['CA', 'Canada'],
  ['GB', 'United Kingdom'],
  ['IE', 'Ireland'],
  ['FR', 'France'],
  ['DE', 'Germany'],
  ['ES', 'Spain'],
  ['IT', 'Italy'],
  ['NL', 'Netherlands'],
  ['BE', 'Belgium'],
  ['CH', 'Switzerland'],
  ['SE', 'Sweden'],
  ['JP', 'Japan'],
  ['AU', 'Australia'],
  ['NZ', 'New Zealand'],
  ['BR', 'Brazil'],
  ['MX', 'Mexico'],
  ['IN', 'India'],
];
