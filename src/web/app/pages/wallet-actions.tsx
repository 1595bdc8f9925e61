import { useRef, useState, type FormEvent } from 'react';
import { api, ApiError, formatMoney, idempotencyKey, moneyInput } from '../api.ts';
import { plainMessage } from '../errors.ts';
import { Field, FieldProblems, Notice, SelectField, useSubmit } from '../forms.tsx';
import { MEMO_CHARS_MAX } from '../../../core/amount.ts';
import { parseMajor } from '../money-input.ts';

/** How often, and how many times, a panel looks again while the card charge or credit is under way. */
export const WALLET_POLL_MS = 700;
export const WALLET_POLL_TRIES_MAX = 20;
/** Currencies offered in the panels besides those the wallet already holds. */
const BASE_CURRENCIES = ['USD', 'EUR', 'GBP'];

interface Balance {
  currency: string;
  amount: number;
}
interface WalletNow {
  balances: Balance[];
  history: { id: string; status: string }[];
}
interface WalletOp {
  id: string;
  status: 'pending' | 'succeeded' | 'failed';
  amount: number;
  currency: string;
  failure_reason: string | null;
}
interface Payment {
  id: string;
  status: string;
  amount: number;
  currency: string;
  recipient: { handle: string };
  failure_reason: string | null;
  expires_at: string;
}

/** The money codes in plain words; the others as every page says them (errors.ts). */
const MONEY_TEXT: Record<string, string> = {
  INSUFFICIENT_FUNDS: 'Your wallet does not hold that much in this currency.',
  SELF_PAYMENT: 'You cannot send money to yourself.',
  NOT_LINKED: 'Link your card first (Card, address and limits), then try again.',
  PAYER_NOT_LINKED: 'Link your card first (Card, address and limits), then try again.',
  INVALID_HANDLE: 'That is not a handle. Write it like @bob.',
  UNKNOWN_CURRENCY: 'tagpay does not take that currency.',
  INVALID_AMOUNT: 'Enter an amount like 10 or 9.99.',
  INVALID_CODE: 'That code is not right. Check the e-mail and try again.',
  CODE_EXPIRED: 'The code has expired; nothing was sent. Start again.',
  PAYMENT_NOT_PENDING: 'This payment is no longer waiting for its code.',
};
/** Codes whose message from tagpay carries what only it knows (a limit's amount, a refusal's reason). */
const SERVER_TEXT = new Set(['PAYMENT_LIMIT_EXCEEDED', 'PAYMENT_REFUSED']);

export function moneyError(e: unknown): string {
  if (e instanceof ApiError) {
    if (SERVER_TEXT.has(e.code) && e.message) return e.message;
    const text = MONEY_TEXT[e.code];
    if (text) return text;
  }
  return plainMessage(e);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * One Idempotency-Key per intended action: a retry after no answer (the network failed, or a 5xx)
 * reuses it, so a top-up or payment whose answer was lost happens once; an answer, or a change to
 * the form, starts a new one.
 */
function useActionKey() {
  const key = useRef<string | null>(null);
  return {
    current: () => (key.current ??= idempotencyKey()),
    answered: (err?: unknown) => {
      if (!(err instanceof ApiError) || (err.status !== 0 && err.status < 500)) key.current = null;
    },
    reset: () => {
      key.current = null;
    },
  };
}

/** The wallet as it is now, waiting while the operation `id` (if any) is still pending. */
async function walletAfter(
  id: string | null,
): Promise<{ wallet: WalletNow; status: string | null }> {
  for (let i = 0; ; i++) {
    const wallet = await api<WalletNow>('GET', '/v1/me/wallet');
    const status = id === null ? null : (wallet.history.find((h) => h.id === id)?.status ?? null);
    if (status !== 'pending' || i + 1 >= WALLET_POLL_TRIES_MAX) return { wallet, status };
    await sleep(WALLET_POLL_MS);
  }
}

const balanceIn = (w: WalletNow, currency: string) =>
  formatMoney(w.balances.find((b) => b.currency === currency)?.amount ?? 0, currency);

function currenciesOf(balances: Balance[]): string[] {
  return [...new Set([...balances.map((b) => b.currency), ...BASE_CURRENCIES])];
}

/**
 * Top up from the card, withdraw to the card and send money to a handle, for the signed-in shopper's
 * own wallet (the session's cookie and CSRF token; the API refuses any other wallet). Amounts are typed
 * in major units and sent as exact minor units; each submit carries a fresh Idempotency-Key.
 */
export function WalletActions({
  network,
  handle,
  balances,
  onChanged,
}: {
  network: string;
  handle: string;
  balances: Balance[];
  onChanged: () => void;
}) {
  const currencies = currenciesOf(balances);
  return (
    <>
      <CardMove
        kind="top-ups"
        network={network}
        handle={handle}
        currencies={currencies}
        onChanged={onChanged}
      />
      <CardMove
        kind="withdrawals"
        network={network}
        handle={handle}
        currencies={currencies}
        onChanged={onChanged}
      />
      <SendMoney network={network} handle={handle} currencies={currencies} onChanged={onChanged} />
    </>
  );
}

/** An amount and its currency, side by side; any edit starts a new intended action (onEdit). */
function AmountFields(props: {
  id: string;
  label: string;
  placeholder: string;
  amount: string;
  currency: string;
  currencies: string[];
  error: string | undefined;
  onAmount: (value: string) => void;
  onCurrency: (value: string) => void;
  onEdit: () => void;
}) {
  return (
    <div className="row">
      <Field
        label={props.label}
        name="amount"
        id={`${props.id}-amount`}
        inputMode="decimal"
        autoComplete="off"
        placeholder={props.placeholder}
        value={props.amount}
        onChange={(e) => {
          props.onEdit();
          props.onAmount(e.target.value);
        }}
        error={props.error}
      />
      <SelectField
        label="Currency"
        name="currency"
        id={`${props.id}-currency`}
        value={props.currency}
        onChange={(e) => {
          props.onEdit();
          props.onCurrency(e.target.value);
        }}
      >
        {props.currencies.map((c) => (
          <option key={c}>{c}</option>
        ))}
      </SelectField>
    </div>
  );
}

function CardMove({
  kind,
  network,
  handle,
  currencies,
  onChanged,
}: {
  kind: 'top-ups' | 'withdrawals';
  network: string;
  handle: string;
  currencies: string[];
  onChanged: () => void;
}) {
  const topUp = kind === 'top-ups';
  const id = topUp ? 'topup' : 'withdraw';
  const [amount, setAmount] = useState('');
  const [currency, setCurrency] = useState(currencies[0] ?? 'USD');
  const [result, setResult] = useState<{ kind: 'ok' | 'info' | 'error'; text: string } | null>(
    null,
  );
  const form = useSubmit(['amount', 'currency']);
  const action = useActionKey();
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setResult(null);
    const done = await form.run(async () => {
      const minor = parseMajor(amount, currency);
      if (minor === null)
        throw new FieldProblems({ amount: 'Enter an amount like 20 or 19.99, more than zero.' });
      try {
        const op = await api<WalletOp>(
          'POST',
          `/v1/wallets/${encodeURIComponent(handle)}/${kind}`,
          { network, amount: minor, currency },
          { idempotencyKey: action.current() },
        );
        action.answered();
        return { op, ...(await walletAfter(op.id)) };
      } catch (err) {
        action.answered(err);
        if (
          err instanceof ApiError &&
          (err.param === 'amount' || err.code === 'INSUFFICIENT_FUNDS')
        )
          throw new FieldProblems({ amount: moneyError(err) });
        throw new Error(moneyError(err));
      }
    });
    if (!done) return;
    const money = formatMoney(done.op.amount, done.op.currency);
    const balance = `Your balance is now ${balanceIn(done.wallet, done.op.currency)}.`;
    if (done.status === 'failed')
      setResult({
        kind: 'error',
        text: topUp
          ? `Your card was not charged ${money}: the card was refused. ${balance}`
          : `The ${money} could not go to your card; it is back in your wallet. ${balance}`,
      });
    else if (done.status === 'pending')
      setResult({
        kind: 'info',
        text: topUp
          ? `Charging your card ${money}; it shows here when the card answers.`
          : `Sending ${money} to your card; it is held from your balance meanwhile.`,
      });
    else {
      setResult({
        kind: 'ok',
        text: topUp
          ? `Added ${money} from your card. ${balance}`
          : `Sent ${money} to your card. ${balance}`,
      });
      setAmount('');
    }
    onChanged();
  };
  return (
    <section className="panel" aria-labelledby={`${id}-title`}>
      <h2 id={`${id}-title`}>{topUp ? 'Top up' : 'Withdraw'}</h2>
      <form onSubmit={submit} noValidate>
        {form.error ? <Notice kind="error">{form.error}</Notice> : null}
        {result ? <Notice kind={result.kind}>{result.text}</Notice> : null}
        <AmountFields
          id={id}
          label={topUp ? 'Amount to add' : 'Amount to withdraw'}
          placeholder="20.00"
          amount={amount}
          currency={currency}
          currencies={currencies}
          error={form.fieldErrors.amount}
          onAmount={setAmount}
          onCurrency={setCurrency}
          onEdit={action.reset}
        />
        <button type="submit" className="secondary" disabled={form.busy}>
          {topUp ? 'Top up from card' : 'Withdraw to card'}
        </button>
        <p className="hint">
          {topUp
            ? 'Charges your linked card and adds the money to your balance.'
            : 'Moves money from your balance back to your linked card.'}
        </p>
      </form>
    </section>
  );
}

function SendMoney({
  network,
  handle,
  currencies,
  onChanged,
}: {
  network: string;
  handle: string;
  currencies: string[];
  onChanged: () => void;
}) {
  const [to, setTo] = useState('');
  const [amount, setAmount] = useState('');
  const [currency, setCurrency] = useState(currencies[0] ?? 'USD');
  const [memo, setMemo] = useState('');
  const [code, setCode] = useState('');
  const [waiting, setWaiting] = useState<Payment | null>(null);
  const [result, setResult] = useState<{ kind: 'ok' | 'info' | 'error'; text: string } | null>(
    null,
  );
  const form = useSubmit(['to', 'amount', 'memo', 'code']);
  const action = useActionKey();
  const confirmAction = useActionKey();

  /** What a payment's state means to its payer, with the balance after it. */
  const settle = async (p: Payment) => {
    let payment = p;
    for (let i = 0; payment.status === 'charging' && i < WALLET_POLL_TRIES_MAX; i++) {
      await sleep(WALLET_POLL_MS);
      payment = await api<Payment>('GET', `/v1/handle-payments/${payment.id}`);
    }
    const { wallet } = await walletAfter(null);
    const money = formatMoney(payment.amount, payment.currency);
    const who = `@${payment.recipient.handle}`;
    const balance = `Your balance is now ${balanceIn(wallet, payment.currency)}.`;
    onChanged();
    if (payment.status === 'awaiting_confirmation') {
      setWaiting(payment);
      return;
    }
    setWaiting(null);
    setCode('');
    if (payment.status === 'completed') {
      setResult({ kind: 'ok', text: `Sent ${money} to ${who}. ${balance}` });
      setTo('');
      setAmount('');
      setMemo('');
    } else if (payment.status === 'pending_claim')
      setResult({
        kind: 'info',
        text: `${who} has not set up tagpay yet: we told them, and hold ${money} for them until ${new Date(payment.expires_at).toLocaleDateString()}. Unclaimed, it comes back to you. ${balance}`,
      });
    else if (payment.status === 'awaiting_step_up')
      setResult({
        kind: 'info',
        text: `Approve this payment with the link we e-mailed you; ${money} goes to ${who} then.`,
      });
    else if (payment.status === 'charging')
      setResult({ kind: 'info', text: `Charging your card for ${money} to ${who}…` });
    else
      setResult({
        kind: 'error',
        text: `${money} was not sent to ${who}${payment.failure_reason ? `: ${payment.failure_reason.replace(/_/g, ' ')}` : ''}. ${balance}`,
      });
  };

  const send = async (e: FormEvent) => {
    e.preventDefault();
    setResult(null);
    const p = await form.run(async () => {
      const problems: Record<string, string> = {};
      const recipient = to.trim().replace(/^@/, '');
      if (!/^[A-Za-z0-9_.-]{1,128}$/.test(recipient)) problems.to = 'Enter a handle like @bob.';
      else if (recipient.toLowerCase() === handle.toLowerCase())
        problems.to = 'You cannot send money to yourself.';
      const minor = parseMajor(amount, currency);
      if (minor === null) problems.amount = 'Enter an amount like 10 or 9.99, more than zero.';
      if (Object.keys(problems).length > 0) throw new FieldProblems(problems);
      try {
        const payment = await api<Payment>(
          'POST',
          '/v1/handle-payments',
          {
            network,
            kind: 'pay',
            from: handle,
            to: recipient,
            // The API reads amounts as a post writes them: exact digits and the currency's code.
            amount: `${moneyInput(minor!, currency)} ${currency}`,
            memo: memo.trim(),
          },
          { idempotencyKey: action.current() },
        );
        action.answered();
        return payment;
      } catch (err) {
        action.answered(err);
        const field =
          err instanceof ApiError
            ? err.param === 'to' || err.code === 'SELF_PAYMENT' || err.code === 'INVALID_HANDLE'
              ? 'to'
              : err.param === 'amount' || err.code === 'INVALID_AMOUNT'
                ? 'amount'
                : null
            : null;
        if (field) throw new FieldProblems({ [field]: moneyError(err) });
        throw new Error(moneyError(err));
      }
    });
    if (p) await settle(p);
  };

  const confirm = async (e: FormEvent) => {
    e.preventDefault();
    if (!waiting) return;
    const p = await form.run(async () => {
      if (!code.trim()) throw new FieldProblems({ code: 'Enter the code from the e-mail.' });
      try {
        const payment = await api<Payment>(
          'POST',
          `/v1/handle-payments/${waiting.id}/confirm`,
          { code: code.trim() },
          { idempotencyKey: confirmAction.current() },
        );
        confirmAction.answered();
        return payment;
      } catch (err) {
        confirmAction.answered(err);
        if (err instanceof ApiError && err.code === 'INVALID_CODE')
          throw new FieldProblems({ code: moneyError(err) });
        if (err instanceof ApiError && ['CODE_EXPIRED', 'PAYMENT_NOT_PENDING'].includes(err.code))
          setWaiting(null);
        throw new Error(moneyError(err));
      }
    });
    if (p) await settle(p);
  };

  return (
    <section className="panel" aria-labelledby="send-title">
      <h2 id="send-title">Send money</h2>
      {form.error ? <Notice kind="error">{form.error}</Notice> : null}
      {result ? <Notice kind={result.kind}>{result.text}</Notice> : null}
      {waiting ? (
        <form onSubmit={confirm} noValidate>
          <Notice kind="info">
            To send {formatMoney(waiting.amount, waiting.currency)} to @{waiting.recipient.handle},
            enter the code we e-mailed you (asked for above the confirmation amount and for a first
            payment to someone).
          </Notice>
          <Field
            label="Confirmation code"
            name="code"
            id="send-code"
            autoComplete="one-time-code"
            placeholder="#TP…"
            value={code}
            onChange={(e) => {
              confirmAction.reset();
              setCode(e.target.value);
            }}
            error={form.fieldErrors.code}
          />
          <div className="actions">
            <button type="submit" disabled={form.busy}>
              Confirm and send
            </button>{' '}
            <button
              type="button"
              className="secondary"
              onClick={() => {
                setWaiting(null);
                setCode('');
              }}
            >
              Not now
            </button>
          </div>
        </form>
      ) : (
        <form onSubmit={send} noValidate>
          <Field
            label="To"
            name="to"
            id="send-to"
            autoComplete="off"
            placeholder="@bob"
            value={to}
            onChange={(e) => {
              action.reset();
              setTo(e.target.value);
            }}
            error={form.fieldErrors.to}
          />
          <AmountFields
            id="send"
            label="Amount to send"
            placeholder="10.00"
            amount={amount}
            currency={currency}
            currencies={currencies}
            error={form.fieldErrors.amount}
            onAmount={setAmount}
            onCurrency={setCurrency}
            onEdit={action.reset}
          />
          <Field
            label="What for (optional)"
            name="memo"
            id="send-memo"
            autoComplete="off"
            placeholder="pizza"
            maxLength={MEMO_CHARS_MAX}
            value={memo}
            onChange={(e) => {
              action.reset();
              setMemo(e.target.value);
            }}
            error={form.fieldErrors.memo}
          />
          <button type="submit" disabled={form.busy}>
            Send money
          </button>
          <p className="hint">
            From your balance first, then your card. Someone without tagpay gets a link to claim it.
          </p>
        </form>
      )}
    </section>
  );
}
