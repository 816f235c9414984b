import type { Page } from '../domain/common.js';

/**
 * Sends one request and returns its parsed body (undefined for a 204). The APIs of the client
 * are built on this one function, so that authentication, errors and `fetch` live in one place.
 */
export type Send = <T>(
  method: string,
  path: string,
  body?: unknown,
  headers?: Record<string, string>,
  signal?: AbortSignal,
) => Promise<T>;

/** What a create accepts: optional fields may be left out and get their documented defaults. */
export type Input<T, Required extends keyof T> = Partial<T> & Pick<T, Required>;

/** Write options: `ifMatch` is the version the caller last saw (412 if it moved). */
export interface WriteOptions {
  ifMatch?: number;
}

type Query = Record<string, string | number | boolean | string[] | undefined>;

/** `?a=1&b=x&b=y` from a query object: arrays repeat their key, undefined values are left out. */
export function queryString(query: object): string {
  const parameters = new URLSearchParams();
  for (const [key, value] of Object.entries(query as Query)) {
    for (const item of Array.isArray(value) ? value : value === undefined ? [] : [value])
      parameters.append(key, String(item));
  }
  const text = parameters.toString();
  return text === '' ? '' : `?${text}`;
}

/** One resource collection: create, read, list, replace, patch, delete. */
export interface Collection<Resource, CreateInput, PatchInput, ListQuery> {
  create(input: CreateInput): Promise<Resource>;
  get(id: string): Promise<Resource>;
  list(query?: Partial<ListQuery>): Promise<Page<Resource>>;
  replace(id: string, input: CreateInput, options?: WriteOptions): Promise<Resource>;
  patch(id: string, patch: PatchInput, options?: WriteOptions): Promise<Resource>;
  delete(id: string, options?: WriteOptions): Promise<void>;
}

/** A collection the API offers no `PUT` for (tasks, schedules): changes go through `patch`. */
export type PatchOnlyCollection<Resource, CreateInput, PatchInput, ListQuery> = Omit<
  Collection<Resource, CreateInput, PatchInput, ListQuery>,
  'replace'
>;

const ifMatch = (options?: WriteOptions): Record<string, string> =>
  options?.ifMatch === undefined ? {} : { 'if-match': `"${options.ifMatch}"` };

/** As {@link collection}, without `replace`: a collection the API offers no `PUT` for. */
export function patchOnlyCollection<R, C, P, Q>(
  send: Send,
  path: string,
): PatchOnlyCollection<R, C, P, Q> {
  return {
    create: (input) => send('POST', path, input),
    get: (id) => send('GET', `${path}/${id}`),
    list: (query = {}) => send('GET', `${path}${queryString(query)}`),
    patch: (id, patch, options) => send('PATCH', `${path}/${id}`, patch, ifMatch(options)),
    delete: (id, options) => send('DELETE', `${path}/${id}`, undefined, ifMatch(options)),
  };
}

/** The methods of the collection at `path` (e.g. `/api/v1/projects`), all through `send`. */
export function collection<R, C, P, Q>(send: Send, path: string): Collection<R, C, P, Q> {
  return {
    ...patchOnlyCollection<R, C, P, Q>(send, path),
    replace: (id, input, options) => send('PUT', `${path}/${id}`, input, ifMatch(options)),
  };
}
