import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { useApp } from './context.js';
import type { AnyEvent } from './types.js';

/** Calls `handler` with every live event while the component is mounted (the latest handler). */
export function useLiveEvents(handler: (event: AnyEvent) => void): void {
  const { live } = useApp();
  const latest = useRef(handler);
  latest.current = handler;
  useEffect(() => live.onEvent((event) => latest.current(event)), [live]);
}

/** Calls `handler` when the page may have missed events it cannot get back (a replay gap). */
export function useResync(handler: () => void): void {
  const { live } = useApp();
  const latest = useRef(handler);
  latest.current = handler;
  useEffect(() => live.onResync(() => latest.current()), [live]);
}

/** The state of one load: its data once it came, or its error. */
export interface Loaded<T> {
  data: T | undefined;
  error: unknown;
  loading: boolean;
  /** Loads again now (e.g. after a change the page cannot apply by itself). */
  reload: () => void;
  /** Replaces the data in place (a live event applied to it). */
  update: (change: (data: T) => T) => void;
}

/**
 * Runs `load` when `keys` change and when {@link Loaded.reload} is called, keeping only the
 * newest answer (an older load that ends late is dropped). Loads again after a replay gap.
 */
export function useLoad<T>(load: () => Promise<T>, keys: unknown[]): Loaded<T> {
  const [state, setState] = useState<{ data: T | undefined; error: unknown; loading: boolean }>({
    data: undefined,
    error: undefined,
    loading: true,
  });
  const generation = useRef(0);
  const latest = useRef(load);
  latest.current = load;
  const reload = useCallback(() => {
    const mine = ++generation.current;
    setState((previous) => ({ ...previous, loading: true }));
    latest.current().then(
      (data) => mine === generation.current && setState({ data, error: undefined, loading: false }),
      (error: unknown) =>
        mine === generation.current &&
        setState((previous) => ({ ...previous, error, loading: false })),
    );
  }, []);
  useEffect(reload, keys);
  useResync(reload);
  const update = useCallback(
    (change: (data: T) => T) =>
      setState((previous) =>
        previous.data === undefined ? previous : { ...previous, data: change(previous.data) },
      ),
    [],
  );
  return { ...state, reload, update };
}

/**
 * A reload that waits `delayMs` and merges the calls made meanwhile, for changes a page applies
 * by loading again (a created or deleted row may move a whole page). Driven by events, never by
 * a timer of its own.
 */
export function useCoalesced(action: () => void, delayMs = 150): () => void {
  const timer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  const latest = useRef(action);
  latest.current = action;
  useEffect(() => () => clearTimeout(timer.current), []);
  return useCallback(() => {
    if (timer.current !== undefined) return;
    timer.current = setTimeout(() => {
      timer.current = undefined;
      latest.current();
    }, delayMs);
  }, [delayMs]);
}

const clockListeners = new Set<(now: number) => void>();
let clock: ReturnType<typeof setInterval> | undefined;

/**
 * The time now, renewed every second while some component shows a relative time ("12 s
 * ago"): one shared clock for the page, which only redraws; it fetches nothing.
 */
export function useNow(): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    clockListeners.add(setNow);
    clock ??= setInterval(() => {
      const time = Date.now();
      for (const listener of clockListeners) listener(time);
    }, 1_000);
    return () => {
      clockListeners.delete(setNow);
      if (clockListeners.size === 0) {
        clearInterval(clock);
        clock = undefined;
      }
    };
  }, []);
  return now;
}

/**
 * Calls `refresh` every `ms` while the component is mounted: for what changes without an event,
 * such as an agent's last heartbeat (docs/events.md).
 */
export function useRefresh(refresh: () => void, ms: number): void {
  useEffect(() => {
    const timer = setInterval(refresh, ms);
    return () => clearInterval(timer);
  }, [refresh, ms]);
}

/** Of two copies of one resource, the newer (by `version`). */
export function newer<T extends { version: number }>(current: T, incoming: T): T {
  return incoming.version >= current.version ? incoming : current;
}
