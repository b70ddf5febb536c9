/// <reference lib="dom" />
/**
 * The tenant console: a tenant signs in with an API key, or a platform embeds it with a
 * short-lived portal session in the URL fragment, and manages its subscriptions: health,
 * configuration, delivery log, dead letters, stats. Preact components over the typed client;
 * screens are chosen by the URL fragment (#/subscriptions/sub_…), so every screen has a link.
 */
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { apiBase, call, clientFor, whenUnauthorized } from './api.ts';
import { Session, type SessionInfo } from './session.ts';
import { SubscriptionDetail, SubscriptionList } from './subscriptions.tsx';
import { DeadLetters } from './dead-letters.tsx';
import { SubscriptionForm } from './subscription-form.tsx';
import { FeedbackText, type Feedback } from './ui.tsx';

const KEY_STORAGE = 'herald-key';

function useRoute(): string[] {
  const parse = () => location.hash.replace(/^#\/?/, '').split('/').filter(Boolean);
  const [route, setRoute] = useState(parse);
  useEffect(() => {
    const changed = () => setRoute(parse());
    addEventListener('hashchange', changed);
    return () => removeEventListener('hashchange', changed);
  }, []);
  return route;
}

function Screen({ route }: { route: string[] }) {
  const [first, id, action] = route;
  if (first === 'new') return <SubscriptionForm />;
  if (first === 'dead-letters') return <DeadLetters />;
  if (first === 'subscriptions' && id && action === 'edit') return <SubscriptionForm id={id} />;
  if (first === 'subscriptions' && id) return <SubscriptionDetail id={id} />;
  return <SubscriptionList />;
}

function SignIn({ onKey, feedback }: { onKey: (key: string) => void; feedback: Feedback }) {
  const [key, setKey] = useState('');
  return (
    <main class="signin">
      <h1>Herald console</h1>
      <form onSubmit={(e) => (e.preventDefault(), onKey(key.trim()))} data-testid="signin">
        <label for="api-key">API key</label>
        <input id="api-key" type="password" autocomplete="off" required placeholder="hk_…" value={key} onInput={(e) => setKey(e.currentTarget.value)} />
        <button type="submit" class="primary">Sign in</button>
        <FeedbackText feedback={feedback} testId="signin-feedback" />
      </form>
    </main>
  );
}

function Console({ session, onSignOut }: { session: SessionInfo; onSignOut: () => void }) {
  const route = useRoute();
  const here = route[0] ?? '';
  return (
    <Session.Provider value={session}>
      <header class="top">
        <a class="brand" href="#/">Herald</a>
        <span class="tenant" data-testid="tenant-name">{session.tenantName}</span>
        {session.readOnly && <span class="badge badge-paused">read-only</span>}
        <nav aria-label="Main">
          <a href="#/" aria-current={here === '' || here === 'subscriptions' ? 'page' : undefined}>Subscriptions</a>
          <a href="#/dead-letters" aria-current={here === 'dead-letters' ? 'page' : undefined}>Dead letters</a>
        </nav>
        <button type="button" class="plain signout" onClick={onSignOut}>Sign out</button>
      </header>
      <main id="main">
        <Screen route={route} />
      </main>
    </Session.Provider>
  );
}

function App() {
  const [session, setSession] = useState<SessionInfo>();
  const [feedback, setFeedback] = useState<Feedback>();
  const [starting, setStarting] = useState(true);

  const signOut = (message?: string) => {
    sessionStorage.removeItem(KEY_STORAGE);
    setSession(undefined);
    setFeedback(message ? { kind: 'error', text: message } : undefined);
  };

  const open = async (token: string) => {
    setFeedback(undefined);
    const client = clientFor(await apiBase(), token);
    const who = await call(client.GET('/v1/session', {}));
    if (!who.ok) {
      sessionStorage.removeItem(KEY_STORAGE);
      setFeedback({ kind: 'error', text: who.status === 401 ? 'This key or session is not valid (revoked or expired)' : who.message });
      return;
    }
    sessionStorage.setItem(KEY_STORAGE, token);
    setSession({ client, tenantId: who.data.tenantId, tenantName: who.data.tenantName, readOnly: who.data.readOnly, expiresAt: who.data.expiresAt });
  };

  useEffect(() => {
    whenUnauthorized(() => signOut('Signed out: the key was revoked or the session expired'));
    // A portal session arrives in the fragment (never sent to any server), then leaves the URL.
    const fragment = new URLSearchParams(location.hash.replace(/^#/, ''));
    const portal = fragment.get('session');
    if (portal) history.replaceState(null, '', `${location.pathname}${location.search}#/`);
    const token = portal ?? sessionStorage.getItem(KEY_STORAGE);
    (token ? open(token) : Promise.resolve()).finally(() => setStarting(false));
  }, []);

  // A portal session ends at its expiry on the screen too, not at the next request.
  useEffect(() => {
    if (!session?.expiresAt) return;
    const timer = setTimeout(() => signOut('The portal session has expired'), Math.max(0, Date.parse(session.expiresAt) - Date.now()));
    return () => clearTimeout(timer);
  }, [session]);

  if (starting) return <p class="loading" role="status">Opening…</p>;
  if (!session) return <SignIn onKey={(key) => void open(key)} feedback={feedback} />;
  return <Console session={session} onSignOut={() => signOut()} />;
}

render(<App />, document.getElementById('app')!);
