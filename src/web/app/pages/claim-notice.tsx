import { useEffect, useState } from 'react';
import { api, ApiError, formatMoney } from '../api.ts';
import { Notice } from '../forms.tsx';

interface Claim {
  status: 'pending' | 'claimed';
  network: string;
  handle: string;
  from: { network: string; handle: string };
  amount: number | null;
  currency: string | null;
  expires_at: string;
}

const at = (network: string, handle: string) => (network === 'local' ? `@${handle}` : handle);

/**
 * The money a claim link (`/signup?…&claim=hpm_…`) stands for, above onboarding: who sent it and,
 * to its recipient, how much (GET /v1/claims/{id} shows the amount only to them).
 */
export function ClaimNotice({ signedIn }: { signedIn: boolean }) {
  const id = new URLSearchParams(location.search).get('claim');
  const [claim, setClaim] = useState<Claim | null>(null);
  const [gone, setGone] = useState<string | null>(null);
  useEffect(() => {
    if (!id) return;
    api<Claim>('GET', `/v1/claims/${encodeURIComponent(id)}`).then(setClaim, (e: unknown) =>
      setGone(
        e instanceof ApiError && e.code === 'CLAIM_EXPIRED'
          ? 'This claim has expired: the money went back to its sender.'
          : 'This claim link is not valid. Ask the sender to send the money again.',
      ),
    );
  }, [id, signedIn]);
  if (!id) return null;
  if (gone) return <Notice kind="error">{gone}</Notice>;
  if (!claim) return null;
  const from = at(claim.from.network, claim.from.handle);
  if (claim.status === 'claimed')
    return <Notice kind="info">The money {from} sent with this link has been claimed.</Notice>;
  const what =
    claim.amount !== null && claim.currency !== null
      ? formatMoney(claim.amount, claim.currency)
      : 'money';
  return (
    <Notice kind="ok">
      <strong>
        {from} sent you {what} — link your account to claim it.
      </strong>{' '}
      {signedIn
        ? 'Add a card, an e-mail and an address below; the money goes to your tagpay wallet.'
        : `Sign in as ${at(claim.network, claim.handle)} first${claim.amount === null ? ' to see the amount' : ''}.`}{' '}
      It waits until {new Date(claim.expires_at).toLocaleDateString()}, then goes back to {from}.
    </Notice>
  );
}
