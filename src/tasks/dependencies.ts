import type { TaskStatus } from '../domain/task.js';

/** A task and the tasks it depends on: one edge list of the dependency graph. */
export interface DependencyEdges {
  id: string;
  dependsOn: readonly string[];
}

/**
 * True when making `taskId` depend on `dependsOn` would close a cycle: when `taskId` is among
 * `dependsOn` or among what they depend on, directly or not. `edges` must hold every task
 * reachable from `dependsOn` (the repository reads that closure in one recursive query).
 */
export function createsCycle(
  taskId: string,
  dependsOn: readonly string[],
  edges: readonly DependencyEdges[],
): boolean {
  const graph = new Map(edges.map((edge) => [edge.id, edge.dependsOn]));
  const seen = new Set<string>();
  const pending = [...dependsOn];
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    if (next === taskId) return true;
    if (seen.has(next)) continue;
    seen.add(next);
    // Stryker disable next-line ArrayDeclaration: an id in no edge list leads nowhere either
    pending.push(...(graph.get(next) ?? []));
  }
  return false;
}

/** What the dependencies of a task allow: to run, to wait, or never to run. */
export type DependencyState = 'ready' | 'waiting' | 'broken';

/**
 * A task may run once every dependency succeeded; it waits while any is unfinished; a failed or
 * cancelled dependency means it never runs (the service cancels it as `dependency_failed`).
 */
export function dependencyState(statuses: readonly TaskStatus[]): DependencyState {
  if (statuses.some((status) => status === 'failed' || status === 'cancelled')) return 'broken';
  return statuses.every((status) => status === 'succeeded') ? 'ready' : 'waiting';
}

/**
 * Where a task that has not started stands: `blocked` until its dependencies succeed, then
 * `scheduled` while `runAt` lies ahead, else `queued`.
 */
export function pendingStatus(
  dependencies: DependencyState,
  runAt: Date,
  now: Date,
): 'blocked' | 'scheduled' | 'queued' {
  if (dependencies !== 'ready') return 'blocked';
  return runAt.getTime() > now.getTime() ? 'scheduled' : 'queued';
}
