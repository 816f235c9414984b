import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { Api, ApiError, describeError } from './api.js';
import { Shell } from './app.js';
import { App } from './context.js';
import { Live } from './live.js';
import type { Caller } from './types.js';
import './styles.css';

/** Where the key lives: this tab's session only, never a cookie or local storage. */
const KEY_ITEM = 'swarm-control.api-key';

type Session =
  | { name: 'starting' }
  | { name: 'signed-out'; message?: string }
  | { name: 'signed-in'; api: Api; live: Live; caller: Caller };

/** Asks who the key (or no key) is; starts the live stream once the service says yes. */
async function open(key: string | undefined): Promise<Session> {
  const api = new Api(key);
  const caller = await api.self();
  const live = new Live(key).start();
  // Panels load after the socket is open, so no change falls between a load and the stream.
  await live.ready(1_500);
  return { name: 'signed-in', api, live, caller };
}

function SignIn({ message, onKey }: { message?: string; onKey: (key: string) => Promise<void> }) {
  const [key, setKey] = useState('');
  const [error, setError] = useState(message);
  const [busy, setBusy] = useState(false);
  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    try {
      await onKey(key.trim());
    } catch (failure) {
      setError(
        failure instanceof ApiError && failure.status === 401
          ? 'The service does not know this key, or it was revoked.'
          : describeError(failure),
      );
      setBusy(false);
    }
  };
  return (
    <main class="sign-in">
      <h1>Swarm Control</h1>
      <form onSubmit={(event) => void submit(event)}>
        <p>Paste an API key. It stays in this tab only and is sent to this service alone.</p>
        <div class="field">
          <label for="api-key">API key</label>
          <input
            id="api-key"
            type="password"
            autocomplete="off"
            spellcheck={false}
            required
            value={key}
            aria-invalid={error !== undefined}
            aria-describedby={error === undefined ? undefined : 'api-key-error'}
            onInput={(event) => setKey(event.currentTarget.value)}
          />
          {error !== undefined && (
            <p class="field-error" id="api-key-error" role="alert">
              {error}
            </p>
          )}
        </div>
        <button type="submit" disabled={busy}>
          Sign in
        </button>
      </form>
    </main>
  );
}

/** Whether the service asks for keys (`/config.json`, served with the page). */
async function authentication(): Promise<'on' | 'off'> {
  const response = await fetch('/config.json');
  if (!response.ok) throw new Error(`/config.json answered ${response.status}`);
  return ((await response.json()) as { authentication: 'on' | 'off' }).authentication;
}

function Root() {
  const [session, setSession] = useState<Session>({ name: 'starting' });
  useEffect(() => {
    const stored = sessionStorage.getItem(KEY_ITEM) ?? undefined;
    const start = async (): Promise<Session> => {
      if (stored === undefined && (await authentication()) === 'on') return { name: 'signed-out' };
      return open(stored);
    };
    start().then(setSession, (error: unknown) => {
      const refused = error instanceof ApiError && error.status === 401;
      if (refused) sessionStorage.removeItem(KEY_ITEM);
      const message = !refused
        ? `The service did not answer as expected: ${describeError(error)}`
        : stored === undefined
          ? undefined
          : 'The stored key was refused; sign in again.';
      setSession({ name: 'signed-out', message });
    });
  }, []);
  if (session.name === 'starting') return <p class="starting">Loading…</p>;
  if (session.name === 'signed-out')
    return (
      <SignIn
        message={session.message}
        onKey={async (key) => {
          const opened = await open(key);
          sessionStorage.setItem(KEY_ITEM, key);
          setSession(opened);
        }}
      />
    );
  const signOut = () => {
    session.live.close();
    sessionStorage.removeItem(KEY_ITEM);
    setSession({ name: 'signed-out' });
  };
  return (
    <App.Provider value={{ api: session.api, live: session.live, caller: session.caller }}>
      <Shell onSignOut={session.caller.authentication === 'on' ? signOut : undefined} />
    </App.Provider>
  );
}

render(<Root />, document.getElementById('app')!);
