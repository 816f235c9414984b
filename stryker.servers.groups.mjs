// The servers part of the mutation run in groups (docs/testing.md, "Mutation testing"): each
// group mutates a few files against the server-backed tests that exercise them, with its own
// report folder and incremental file. One run of every file against every server test would run
// the authorization matrix and the fuzz files for each surviving mutant: days on two cores.
// scripts/run-mutation.sh servers runs the groups one after the other (STRYKER_GROUPS picks some);
// test/harness/mutation-groups.test.ts checks that every file of the part is in exactly one group
// and that every test file named here exists.

const api = (name) => `test/api/${name}.test.ts`;
const events = (name) => `test/events/${name}.test.ts`;
const tasks = (name) => `test/tasks/${name}.test.ts`;
const memory = (name) => `test/memory/${name}.test.ts`;
const unit = (path) => `test/unit/${path}.test.ts`;

/** The task queue's end-to-end files that a change to the claim, run or schedule path reaches. */
const taskRuns = ['tasks-api', 'task-runs', 'task-races', 'task-events', 'schedules'].map(tasks);
/** The memory files that run the MCP client against real servers and the replay queue. */
const memoryApi = ['memory-api', 'mcp-client', 'memory-instances'].map(memory);

/**
 * Group name → the files it mutates and the test files it runs. The test lists are the ones the
 * scores in docs/testing.md were measured with: the files that exercise the code, not every file
 * that happens to cover it.
 * @type {Record<string, { mutate: string[], tests: string[] }>}
 */
export const groups = {
  'event-log': {
    mutate: ['src/events/event-log.ts'],
    tests: [events('event-log'), events('websocket-resume')],
  },
  'event-bus': {
    mutate: ['src/events/event-bus.ts'],
    tests: [unit('events/event-bus'), events('multi-instance'), events('event-log')],
  },
  'write-path': {
    mutate: [
      'src/store/versioning.ts',
      'src/store/write-transaction.ts',
      'src/store/write-statement.ts',
    ],
    tests: [
      api('projects'),
      api('agents'),
      tasks('tasks-api'),
      events('event-log'),
      events('websocket-gateway'),
      api('row-locks.postgres-only'),
      unit('store/write-transaction'),
    ],
  },
  'project-agent': {
    mutate: [
      'src/services/project-service.ts',
      'src/services/agent-service.ts',
      'src/store/event-append.ts',
    ],
    tests: [
      api('projects'),
      api('agents'),
      events('event-log'),
      api('auth.postgres-only'),
      'test/mcp/mcp-tools.test.ts',
      'test/mcp/mcp-access.test.ts',
      unit('services/project-service'),
      unit('services/agent-service'),
      unit('store/event-append'),
    ],
  },
  'task-services': {
    mutate: [
      'src/services/task-service.ts',
      'src/services/task-execution-service.ts',
      'src/services/task-transitions.ts',
    ],
    tests: [...taskRuns, tasks('claim-plan'), unit('services/task-execution-service')],
  },
  'task-store': {
    mutate: [
      'src/store/task-repository.ts',
      'src/store/task-statements.ts',
      'src/store/batch-statement.ts',
    ],
    tests: [...taskRuns, tasks('task-statements'), tasks('task-repository')],
  },
  'agents-attempts': {
    mutate: ['src/store/agent-repository.ts', 'src/store/attempt-repository.ts'],
    tests: [
      api('agents'),
      api('projects'),
      ...taskRuns.filter((file) => !file.endsWith('schedules.test.ts')),
      unit('store/repositories'),
      tasks('agent-repository'),
      tasks('attempt-repository'),
    ],
  },
  schedules: {
    mutate: ['src/services/schedule-service.ts', 'src/store/schedule-repository.ts'],
    tests: [
      tasks('schedules'),
      tasks('task-events'),
      tasks('schedule-repository'),
      unit('services/schedule-service'),
    ],
  },
  auth: {
    mutate: ['src/services/auth-service.ts', 'src/store/api-key-repository.ts'],
    tests: [
      unit('services/auth-service'),
      api('auth.postgres-only'),
      events('websocket-revocation'),
      events('websocket-scoped-key'),
    ],
  },
  'small-services': {
    mutate: [
      'src/services/audit-service.ts',
      'src/services/event-service.ts',
      'src/services/health-service.ts',
      'src/services/stats-service.ts',
      'src/services/versioned-write.ts',
    ],
    tests: [
      api('stats'),
      api('health-and-docs'),
      api('projects'),
      api('agents'),
      api('auth.postgres-only'),
      events('event-log'),
      events('websocket-gateway'),
      unit('services/health-service'),
    ],
  },
  repositories: {
    mutate: [
      'src/store/project-repository.ts',
      'src/store/audit-repository.ts',
      'src/store/stats-repository.ts',
    ],
    tests: [
      api('projects'),
      api('stats'),
      api('fuzz-projects'),
      api('row-locks.postgres-only'),
      api('audit'),
      api('scoped-projects'),
      events('event-log'),
      unit('store/repositories'),
    ],
  },
  'http-problem': {
    mutate: ['src/http/problem.ts'],
    tests: [
      unit('http/problem-handlers'),
      unit('http/problem-and-conditional'),
      api('hardening-http.postgres-only'),
      api('hardening-logs.postgres-only'),
      api('error-parts'),
    ],
  },
  'memory-store': {
    mutate: ['src/memory/mcp-write-queue.ts', 'src/memory/memory-repository.ts'],
    tests: [...memoryApi, unit('memory/mcp-write-queue'), unit('memory/memory-repository')],
  },
  'mcp-connection': {
    mutate: ['src/memory/mcp-connection.ts'],
    tests: [
      unit('memory/mcp-connection'),
      memory('mcp-client-faulty-servers'),
      memory('mcp-client-crashes'),
      memory('memory-startup'),
    ],
  },
  'mcp-client': {
    mutate: ['src/memory/mcp-client.ts'],
    tests: [
      ...memoryApi,
      memory('mcp-client-faulty-servers'),
      memory('memory-startup'),
      memory('mcp-client-crashes'),
    ],
  },
};

/** Every file the servers part mutates, and every test file it runs: the union of the groups. */
export const allMutated = [...new Set(Object.values(groups).flatMap((group) => group.mutate))];
export const allTests = [...new Set(Object.values(groups).flatMap((group) => group.tests))];
