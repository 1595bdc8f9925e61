import { errorBody, ERROR_STATUS, type ErrorCode } from '../../core/errors.ts';
import type { Out } from '../decide.ts';
import type { Offer, State } from '../state.ts';
import { offerView } from '../views.ts';

/** Editing an offer from the dashboard: its title, the units on sale, the per-buyer cap. */
export interface OfferEditCommand {
  op: 'offer.update';
  merchantId: string;
  offerId: string;
  title: string | null;
  quantity: number | null;
  /** `undefined` keeps the cap, `null` removes it. */
  perBuyerMax?: number | null;
}

function ok(out: Out, status: number, body: unknown): void {
  out.fx.apiResults.push({ key: out.entry.key, status, body });
}

function fail(out: Out, code: ErrorCode, message: string, param?: string): void {
  out.fx.apiResults.push({
    key: out.entry.key,
    status: ERROR_STATUS[code],
    body: errorBody(code, message, param),
  });
}

/**
 * Decides an edit. The quantity can go down only to what is sold or reserved already (units never
 * vanish from under a checkout); units added to a live offer serve its waitlist first. The price and
 * hashtag stay: codes and replies already out name them.
 */
export function updateOffer(
  state: State,
  out: Out,
  cmd: OfferEditCommand,
  serveWaitlist: (state: State, out: Out, offer: Offer) => void,
): void {
  const offer = state.offers.get(cmd.offerId);
  if (offer === undefined || offer.merchantId !== cmd.merchantId)
    return fail(out, 'NOT_FOUND', `No offer ${cmd.offerId}.`, 'id');
  if (offer.status === 'ended')
    return fail(out, 'INVALID_REQUEST', 'An ended offer cannot be edited.', 'id');
  const taken = offer.quantity - offer.available;
  if (cmd.quantity !== null && cmd.quantity < taken)
    return fail(
      out,
      'INVALID_REQUEST',
      `${taken} units are sold or reserved already; the quantity cannot go below that.`,
      'quantity',
    );
  if (cmd.title !== null) offer.title = cmd.title;
  if (cmd.perBuyerMax !== undefined) offer.perBuyerMax = cmd.perBuyerMax;
  const added = cmd.quantity === null ? 0 : cmd.quantity - offer.quantity;
  if (cmd.quantity !== null) {
    offer.quantity = cmd.quantity;
    offer.available += added;
  }
  out.fx.offers.add(offer);
  if (added > 0 && offer.status === 'live') serveWaitlist(state, out, offer);
  ok(out, 200, offerView(offer));
}
