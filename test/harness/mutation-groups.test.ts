import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { groups } from '../../stryker.servers.groups.mjs';

/**
 * The groups of the servers part of the mutation run (stryker.servers.groups.mjs): a file of the
 * part that no group mutates would silently drop out of the run, one that two groups mutate
 * would get two scores, and a test file that was renamed would leave its group without the tests
 * its score was measured with.
 */
const root = join(import.meta.dirname, '..', '..');

/** The files of the part: every service and repository, and the other files named. */
function filesOfThePart(): string[] {
  const inFolder = (folder: string, keep: (name: string) => boolean) =>
    readdirSync(join(root, folder))
      .filter((name) => name.endsWith('.ts') && keep(name))
      .map((name) => `${folder}/${name}`);
  const named = [
    'src/events/event-bus.ts',
    'src/events/event-log.ts',
    'src/http/problem.ts',
    'src/memory/mcp-client.ts',
    'src/memory/mcp-connection.ts',
    'src/memory/mcp-write-queue.ts',
    'src/memory/memory-repository.ts',
    ...['versioning', 'write-transaction', 'write-statement', 'batch-statement'].map(
      (name) => `src/store/${name}.ts`,
    ),
    'src/store/task-statements.ts',
    'src/store/event-append.ts',
  ];
  const repositories = inFolder('src/store', (name) => name.endsWith('-repository.ts'));
  return [...inFolder('src/services', () => true), ...repositories, ...named].sort();
}

describe('the mutation groups of the servers part', () => {
  it('mutate every file of the part, each in exactly one group', () => {
    const mutated = Object.values(groups).flatMap((group) => group.mutate);
    expect([...mutated].sort()).toEqual(filesOfThePart());
  });

  it('run test files that exist, each at most once in a group', () => {
    for (const [name, group] of Object.entries(groups)) {
      expect(group.tests.length, name).toBeGreaterThan(0);
      expect(new Set(group.tests).size, name).toBe(group.tests.length);
      for (const file of group.tests) expect(existsSync(join(root, file)), file).toBe(true);
    }
  });
});
