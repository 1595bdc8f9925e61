/**
 * What the fraud controls keep in the engine's memory and what one batch changed of it: pure data,
 * rebuilt from the tables at start (loadSafety in safety.ts) like the rest of the state.
 */

/** The fraud controls' record of one shopper, beside its profile (table shopper_guards). */
export interface Guard {
  shopperId: string;
  network: string;
  account: string;
  handle: string;
  /** The processor's fingerprint of the linked card (a keyed hash, never the number). */
  cardFingerprint: string | null;
  /** When this account was first linked. */
  linkedAt: number;
  /** No purchase before this time (after a re-link changed the card or e-mail, or a new owner). */
  coolDownUntil: number | null;
  addressChangedAt: number | null;
  /** When this handle was linked to this account after being linked to another one. */
  ownerChangedAt: number | null;
  /** The shopper's own step-up threshold, in the currency beside it. */
  stepUpAboveMinor: bigint | null;
  stepUpCurrency: string | null;
  frozenAt: number | null;
  frozenBy: string | null;
  /** When the shopper last passed a step-up: anomalies older than this are settled. */
  trustedAt: number;
}

/** One row of the append-only audit log. */
export interface AuditEntry {
  at: number;
  /** What happened, e.g. `shopper.frozen`, `step_up.asked`, `api_key.revoked`. */
  action: string;
  /** Who did it: `admin`, a merchant id, `handle:<network:account>`, `engine`. */
  actor: string;
  /** What it happened to: a shopper, order, merchant or key id, or a handle key. */
  subject: string;
  detail: Record<string, unknown>;
}

export class SafetyState {
  /** By handle key (`network:account`), like State.shoppers. */
  readonly guards = new Map<string, Guard>();
  /** The account a `network:handle` was last linked to, to see a handle change owner. */
  readonly handleOwner = new Map<string, string>();
  /** Checkout times in the last hour, oldest first: `h|<handle key>` and `c|<card fingerprint>`. */
  readonly recent = new Map<string, number[]>();
  /** Charged per `<fingerprint>|<currency>|<utc day>`, for the card's daily amount. */
  readonly cardSpent = new Map<string, bigint>();
  /** Paid purchases per `<shopper id>|<currency>`: how many, and the largest, for unusual amounts. */
  readonly history = new Map<string, { count: number; largest: bigint }>();
}

export class SafetyEffects {
  readonly guards = new Set<Guard>();
  readonly audit: AuditEntry[] = [];
  /** Handle keys whose wrong-code counter changed. */
  readonly wrongCodes = new Set<string>();
  readonly revokeKeyIds: { merchantId: string; id: string; at: number }[] = [];
}
