import { createContext } from 'preact';
import { useContext } from 'preact/hooks';
import type { Api } from './api.js';
import type { Live } from './live.js';
import type { Caller } from './types.js';

/** What every panel needs: the API, the live stream and who the caller is. */
export interface AppContext {
  api: Api;
  live: Live;
  caller: Caller;
}

export const App = createContext<AppContext | null>(null);

export function useApp(): AppContext {
  const context = useContext(App);
  if (context === null) throw new Error('useApp outside <App.Provider>');
  return context;
}

/** What the caller's role allows: `write` (writers and admins) or `admin`. */
export function allowed(caller: Caller, access: 'write' | 'admin'): boolean {
  return caller.role === 'admin' || (access === 'write' && caller.role === 'writer');
}
