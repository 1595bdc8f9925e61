import { createContext, useCallback, useContext, useEffect, useState, type ReactNode } from 'react';
import { api, setCsrfToken, type Session } from './api.ts';

interface SessionState {
  session: Session | null;
  refresh: () => Promise<Session>;
  /** Records the session a sign-in answered with (it carries the new CSRF token). */
  adopt: (s: Session) => void;
  signOut: () => Promise<void>;
}

const SessionContext = createContext<SessionState | null>(null);

export function SessionProvider({ children }: { children: ReactNode }) {
  const [session, setSession] = useState<Session | null>(null);
  const adopt = useCallback((s: Session) => {
    setCsrfToken(s.csrf_token);
    setSession(s);
  }, []);
  const refresh = useCallback(async () => {
    const s = await api<Session>('GET', '/v1/session');
    adopt(s);
    return s;
  }, [adopt]);
  const signOut = useCallback(async () => {
    adopt(await api<Session>('POST', '/v1/session/end'));
  }, [adopt]);
  useEffect(() => {
    refresh().catch(() =>
      adopt({
        signed_in: false,
        network: null,
        handle: null,
        merchant: null,
        csrf_token: null,
        expires_at: null,
        demo: false,
      }),
    );
  }, [refresh, adopt]);
  return (
    <SessionContext.Provider value={{ session, refresh, adopt, signOut }}>
      {children}
    </SessionContext.Provider>
  );
}

export function useSession(): SessionState {
  const s = useContext(SessionContext);
  if (!s) throw new Error('useSession outside SessionProvider');
  return s;
}
