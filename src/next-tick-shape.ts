import { createHook } from 'node:async_hooks';

let pinnedEntry: object | undefined;

/**
 * Keeps one entry of Node's `process.nextTick` queue alive for the life of the process, so that
 * every later `nextTick` stays on V8's fast path.
 *
 * Why: Node 20 builds each queue entry as an object literal with computed symbol keys. V8 caches
 * the hidden classes ("maps") of that literal's intermediate shapes in a monomorphic inline cache
 * and holds them weakly. When a few full garbage collections pass while no entry is queued —
 * common in a server that loads a large app and then serves, rare in a small process — those
 * maps are collected, the next entry gets new ones, and V8 turns the cache megamorphic for good:
 * from then on every `nextTick` (streams, sockets, pg, Fastify) goes through a runtime call.
 * Measured on this service: ≈ 19 % more CPU per `GET /health/live` and ≈ 7 % per
 * `GET /api/v1/projects/:id` once that has happened (docs/architecture.md, "Process start").
 * A live entry keeps its maps alive.
 *
 * When: once, first thing at process start (src/main.ts), before the cache has seen a second
 * generation of maps. Later calls return the entry kept by the first. The entry is captured with an
 * `init` async hook that is enabled for one `nextTick` only.
 */
export function pinNextTickShape(): object | undefined {
  if (pinnedEntry !== undefined) return pinnedEntry;
  const hook = createHook({
    init(_asyncId, type, _triggerAsyncId, resource) {
      if (type === 'TickObject') pinnedEntry ??= resource;
    },
  });
  hook.enable();
  try {
    process.nextTick(keepNothing);
  } finally {
    hook.disable();
  }
  return pinnedEntry;
}

function keepNothing(): void {}
