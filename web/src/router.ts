import { useEffect, useState } from 'preact/hooks';

/** Where the page is: `#/agents?status=busy` → `{ path: ['agents'], query: status=busy }`. */
export interface Route {
  path: string[];
  query: URLSearchParams;
}

function current(): Route {
  const hash = location.hash.replace(/^#\/?/, '');
  const [path = '', query = ''] = hash.split('?', 2);
  return {
    path: path
      .split('/')
      .filter((part) => part !== '')
      .map(decodeURIComponent),
    query: new URLSearchParams(query),
  };
}

/** The route, renewed on every hash change (links, back and forward). */
export function useRoute(): Route {
  const [route, setRoute] = useState(current);
  useEffect(() => {
    const changed = () => setRoute(current());
    addEventListener('hashchange', changed);
    return () => removeEventListener('hashchange', changed);
  }, []);
  return route;
}

/** A link target: `href('agents', { status: 'busy' })` → `#/agents?status=busy`. */
export function href(path: string, query: Record<string, string | undefined> = {}): string {
  const parameters = new URLSearchParams();
  for (const [key, value] of Object.entries(query))
    if (value !== undefined && value !== '') parameters.set(key, value);
  const text = parameters.toString();
  return `#/${path}${text === '' ? '' : `?${text}`}`;
}

/** Changes the query of the current route (filters, pages), keeping its path. */
export function setQuery(route: Route, changes: Record<string, string | undefined>): void {
  const query = Object.fromEntries(route.query);
  location.hash = href(route.path.map(encodeURIComponent).join('/'), { ...query, ...changes });
}
