import { DAILY_LIMIT_MAJOR_DEFAULT, PURCHASE_LIMIT_MAJOR_DEFAULT } from '../../../core/limits.ts';
import { formatMoney } from '../api.ts';

/**
 * The spending limits that apply when a shopper sets none, as the onboarding form shows them: the
 * engine's own named constants (src/core/limits.ts, used by limitsOf in src/engine/decide.ts), in USD,
 * the currency the form's limits are set in.
 */
export const LIMIT_DEFAULTS = {
  perPurchase: formatMoney(PURCHASE_LIMIT_MAJOR_DEFAULT * 100n, 'USD'),
  perDay: formatMoney(DAILY_LIMIT_MAJOR_DEFAULT * 100n, 'USD'),
};
