import { describe, expect, it } from 'vitest';
import { createsCycle, dependencyState, pendingStatus } from '../../../src/tasks/dependencies.js';

describe('createsCycle', () => {
  const edges = [
    { id: 'b', dependsOn: ['c'] },
    { id: 'c', dependsOn: ['d'] },
    { id: 'd', dependsOn: [] },
  ];

  it('finds a task depending on itself, directly or through others', () => {
    expect(createsCycle('a', ['a'], [])).toBe(true);
    expect(createsCycle('d', ['b'], edges)).toBe(true);
    expect(createsCycle('c', ['b'], edges)).toBe(true);
  });

  it('accepts a graph without a path back, diamonds included', () => {
    expect(createsCycle('a', ['b', 'c'], edges)).toBe(false);
    const diamond = [
      { id: 'x', dependsOn: ['z'] },
      { id: 'y', dependsOn: ['z'] },
      { id: 'z', dependsOn: [] },
    ];
    expect(createsCycle('w', ['x', 'y'], diamond)).toBe(false);
    // A dependency missing from the edges (deleted meanwhile) leads nowhere.
    expect(createsCycle('a', ['gone', 'b'], edges)).toBe(false);
  });

  it('terminates on a cycle that does not involve the task', () => {
    const loop = [
      { id: 'p', dependsOn: ['q'] },
      { id: 'q', dependsOn: ['p'] },
    ];
    expect(createsCycle('a', ['p'], loop)).toBe(false);
  });
});

describe('dependencyState and pendingStatus', () => {
  const now = new Date('2026-01-01T00:00:00Z');
  const later = new Date('2026-01-01T00:00:01Z');

  it('is ready when every dependency succeeded, or there are none', () => {
    expect(dependencyState([])).toBe('ready');
    expect(dependencyState(['succeeded', 'succeeded'])).toBe('ready');
  });

  it('waits on any unfinished dependency, and breaks on a failed or cancelled one', () => {
    expect(dependencyState(['succeeded', 'running'])).toBe('waiting');
    expect(dependencyState(['blocked'])).toBe('waiting');
    expect(dependencyState(['queued', 'failed'])).toBe('broken');
    expect(dependencyState(['cancelled'])).toBe('broken');
  });

  it('blocks until ready, then schedules a future run_at and queues the rest', () => {
    expect(pendingStatus('waiting', now, now)).toBe('blocked');
    expect(pendingStatus('ready', later, now)).toBe('scheduled');
    expect(pendingStatus('ready', now, now)).toBe('queued');
  });
});
