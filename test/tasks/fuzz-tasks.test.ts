import fc from 'fast-check';
import { describe, it } from 'vitest';
import { agentTypes } from '../../src/domain/agent.js';
import { taskStatuses } from '../../src/domain/task.js';
import {
  bodyOf,
  fuzzHarness,
  fuzzRuns,
  headersOf,
  idSegment,
  ifMatch,
  integerText,
  pageKeys,
  queryOf,
  text,
  uuid,
} from '../support/fuzz.js';

/**
 * Random requests to the task and schedule endpoints: never a 5xx, a 4xx changes nothing, and a
 * 2xx gives back what was sent (see test/support/fuzz.ts).
 */
const fuzz = fuzzHarness();

const anything = fc.oneof(text, fc.integer(), fc.double(), fc.boolean(), fc.constant(null));
const instant = fc.oneof(
  fc.date({ noInvalidDate: true }).map((date) => date.toISOString()),
  fc.constantFrom('2026-01-01T00:00:00.1239Z', '2026-01-01T00:00:00+02:00', 'tomorrow'),
);
const taskField = {
  project_id: fc.oneof(fc.constant('fixture'), uuid, anything),
  title: fc.oneof(text, anything),
  kind: fc.oneof(text, anything),
  input: fc.oneof(fc.jsonValue({ maxDepth: 8 }), anything),
  required_capabilities: fc.oneof(fc.array(text, { maxLength: 4 }), anything),
  agent_type: fc.oneof(fc.constantFrom(...agentTypes), anything),
  agent_id: fc.oneof(fc.constant('fixture'), uuid, anything),
  priority: fc.oneof(fc.integer(), anything),
  run_at: fc.oneof(instant, anything),
  depends_on: fc.oneof(
    fc.array(fc.oneof(fc.constant('fixture'), uuid), { maxLength: 3 }),
    anything,
  ),
  max_attempts: fc.oneof(fc.integer({ min: -2, max: 200 }), anything),
  backoff: fc.oneof(
    fc.record({ base_ms: fc.integer(), max_ms: fc.integer() }, { requiredKeys: [] }),
    anything,
  ),
  timeout_ms: fc.oneof(fc.integer(), anything),
  lease_ms: fc.oneof(fc.integer({ min: 0, max: 4_000_000 }), anything),
};
const attemptBody = {
  attempt: fc.oneof(fc.integer({ min: -1, max: 3 }), anything),
  progress: fc.oneof(fc.double({ min: -1, max: 2 }), anything),
  message: fc.oneof(text, anything),
  result: fc.oneof(fc.jsonValue({ maxDepth: 6 }), anything),
  output: fc.oneof(text, anything),
  error: fc.oneof(text, anything),
  retryable: fc.oneof(fc.boolean(), anything),
};
const scheduleField = {
  project_id: taskField.project_id,
  name: fc.oneof(text, anything),
  cron: fc.oneof(fc.constantFrom('* * * * *', '0 3 * * 1-5', '*/5 * * * * *', '61 * * * *'), text),
  timezone: fc.oneof(fc.constantFrom('UTC', 'Europe/Paris', 'Mars/Olympus'), text),
  task: fc.oneof(bodyOf({ title: taskField.title, priority: taskField.priority }), anything),
  enabled: fc.oneof(fc.boolean(), anything),
  overlap: fc.oneof(fc.constantFrom('skip', 'allow'), anything),
};

/** A valid task with one or two fields drawn at random, so that many requests succeed. */
const nearlyValid = fc
  .record(taskField, { requiredKeys: [] })
  .chain((fields) =>
    fc.subarray(Object.keys(fields), { maxLength: 2 }).map((keys) => [fields, keys]),
  )
  .map(([fields, keys]) => ({
    project_id: 'fixture',
    title: 'valid',
    ...Object.fromEntries((keys as string[]).map((key) => [key, (fields as never)[key]])),
  }));

/** Replaces the `fixture` placeholder with the ids of the file's fixtures. */
function withFixtures(payload: unknown): object {
  const text = JSON.stringify(payload ?? null)
    .replaceAll('"fixture"', JSON.stringify(fuzz.projectId()))
    .replaceAll(`"${fuzz.projectId()}"]`, `"${fuzz.taskId()}"]`);
  return JSON.parse(text) as object;
}

describe(`${fuzzRuns()} random requests per task endpoint never yield a 5xx or a change on 4xx`, () => {
  it('POST /tasks', () =>
    fuzz.property(
      fc.oneof(bodyOf(taskField), nearlyValid).map((payload) => ({
        method: 'POST',
        url: '/api/v1/tasks',
        payload: withFixtures(payload),
      })),
    ));
  it('PATCH /tasks/:id', () =>
    fuzz.property(
      fc.tuple(bodyOf(taskField), ifMatch).map(([payload, tag]) => ({
        method: 'PATCH',
        url: `/api/v1/tasks/${fuzz.taskId()}`,
        payload: withFixtures(payload),
        headers: headersOf(tag),
      })),
    ));
  it('GET /tasks', () =>
    fuzz.property(
      queryOf({
        ...pageKeys,
        sort: fc.oneof(fc.constantFrom('priority', '-run_at', 'created_at'), text),
        status: fc.oneof(fc.constantFrom(...taskStatuses), text),
        project_id: fc.oneof(fc.uuid(), text),
        agent_id: fc.oneof(fc.uuid(), text),
        kind: text,
        capability: text,
      }).map((query) => ({ method: 'GET', url: `/api/v1/tasks?${query}` })),
    ));
  it('GET, DELETE and POST cancel/retry on /tasks/:id', () =>
    fuzz.property(
      fc
        .tuple(
          fc.constantFrom('GET ', 'DELETE ', 'POST /cancel', 'POST /retry', 'GET /attempts'),
          fc.oneof(fc.constant('fixture'), idSegment),
          ifMatch,
        )
        .map(([action, id, tag]) => {
          const [method, suffix] = action.split(' ') as [string, string];
          const target = id === 'fixture' ? fuzz.taskId() : id;
          return {
            method: method as 'GET',
            url: `/api/v1/tasks/${target}${suffix}`,
            headers: headersOf(tag),
          };
        }),
    ));
  it('POST /tasks/claim', () =>
    fuzz.property(
      bodyOf({
        agent_id: fc.oneof(fc.constant('agent'), uuid, anything),
        wait_ms: fc.oneof(fc.integer({ min: -1, max: 50 }), integerText(40_000), anything),
      }).map((payload) => ({
        method: 'POST',
        url: '/api/v1/tasks/claim',
        payload: JSON.parse(
          JSON.stringify(payload ?? null).replaceAll('"agent"', JSON.stringify(fuzz.agentId())),
        ) as object,
      })),
    ));
  it('POST /tasks/:id/heartbeat, complete and fail', () =>
    fuzz.property(
      fc
        .tuple(fc.constantFrom('heartbeat', 'complete', 'fail'), bodyOf(attemptBody))
        .map(([action, payload]) => ({
          method: 'POST',
          url: `/api/v1/tasks/${fuzz.taskId()}/${action}`,
          payload: payload as object,
        })),
    ));
  it('POST and PATCH /schedules', () =>
    fuzz.property(
      fc.tuple(fc.constantFrom('POST', 'PATCH'), bodyOf(scheduleField)).map(([method, body]) => ({
        method: method as 'POST',
        url: method === 'POST' ? '/api/v1/schedules' : `/api/v1/schedules/${fc.sample(uuid, 1)[0]}`,
        payload: withFixtures(body),
      })),
    ));
});
