import { ONBOARDING_REQUEST_TIMEOUT_MS } from '../../core/limits.ts';
import type { BlueskyClient } from './client.ts';

/** Why a Bluesky login did not prove ownership of a handle (a closed list). */
export type BlueskyProofFailure =
  | 'unknown_handle'
  | 'handle_not_verified'
  | 'pds_not_allowed'
  | 'wrong_password'
  | 'did_mismatch'
  | 'pds_unreachable';

export type BlueskyProof =
  | { ok: true; did: string; handle: string }
  | { ok: false; reason: BlueskyProofFailure; detail: string };

/**
 * Proves that someone controls a Bluesky handle, through their own account (atproto.com/specs/handle,
 * atproto.com/specs/did, com.atproto.server.createSession):
 * 1. the handle resolves to a DID (through tagpay's PDS, then DNS and /.well-known/atproto-did);
 * 2. the DID document names the handle back (bidirectional, as the spec requires) and the PDS;
 * 3. `com.atproto.server.createSession` on THAT PDS with the handle and the app password succeeds
 *    and answers the same DID;
 * 4. the session is deleted at once. The password is used for this one request and kept nowhere.
 *
 * `allowPds` is asked before tagpay sends anything to the PDS a DID document names (a DID document
 * is written by its owner: an SSRF guard belongs there).
 */
export async function proveBlueskyHandle(
  client: BlueskyClient,
  handle: string,
  appPassword: string,
  allowPds: (pds: string) => Promise<string | null>,
): Promise<BlueskyProof> {
  const bare = handle.replace(/^@/, '').toLowerCase();
  let did: string | null;
  try {
    did = await client.resolveAccount(bare);
  } catch (error) {
    return { ok: false, reason: 'pds_unreachable', detail: messageOf(error) };
  }
  if (did === null) return { ok: false, reason: 'unknown_handle', detail: `no DID for ${bare}` };
  const data = await client.idResolver.did.resolveAtprotoData(did, true).catch(() => null);
  if (data === null)
    return { ok: false, reason: 'unknown_handle', detail: `no usable DID document for ${did}` };
  if (data.handle.toLowerCase() !== bare)
    return {
      ok: false,
      reason: 'handle_not_verified',
      detail: `the DID document of ${did} names ${data.handle}, not ${bare}`,
    };
  const refused = await allowPds(data.pds);
  if (refused !== null) return { ok: false, reason: 'pds_not_allowed', detail: refused };
  let res: Response;
  try {
    res = await fetch(new URL('/xrpc/com.atproto.server.createSession', data.pds), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ identifier: bare, password: appPassword }),
      signal: AbortSignal.timeout(ONBOARDING_REQUEST_TIMEOUT_MS),
      redirect: 'manual',
    });
  } catch (error) {
    return { ok: false, reason: 'pds_unreachable', detail: messageOf(error) };
  }
  const body = (await res.json().catch(() => null)) as {
    did?: unknown;
    refreshJwt?: unknown;
    error?: unknown;
  } | null;
  if (res.status === 401 || res.status === 400) {
    return {
      ok: false,
      reason: 'wrong_password',
      detail: typeof body?.error === 'string' ? body.error : `HTTP ${res.status}`,
    };
  }
  if (!res.ok || body === null)
    return { ok: false, reason: 'pds_unreachable', detail: `${data.pds} answered ${res.status}` };
  if (typeof body.refreshJwt === 'string') {
    // The session was only the proof: end it, so nothing tagpay received stays usable.
    await fetch(new URL('/xrpc/com.atproto.server.deleteSession', data.pds), {
      method: 'POST',
      headers: { authorization: `Bearer ${body.refreshJwt}` },
      signal: AbortSignal.timeout(ONBOARDING_REQUEST_TIMEOUT_MS),
    })
      .then((r) => r.body?.cancel())
      .catch(() => {});
  }
  if (body.did !== did)
    return {
      ok: false,
      reason: 'did_mismatch',
      detail: `the session is for ${String(body.did)}, the handle is ${did}`,
    };
  return { ok: true, did, handle: bare };
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
