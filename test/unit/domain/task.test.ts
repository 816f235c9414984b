import { describe, expect, it } from 'vitest';
import {
  TASK_JSON_MAX_BYTES,
  backoffSchema,
  claimSchema,
  completeSchema,
  failSchema,
  taskHeartbeatSchema,
  taskInputSchema,
  taskJsonSchema,
  taskPatchSchema,
} from '../../../src/domain/task.js';
import { fieldErrors, messagesOf } from './field-errors.js';

const projectId = '5f0c7b8e-2a44-4d0a-9b1e-0c6f3c1d2e3a';
const otherId = '9a1b2c3d-4e5f-4a6b-8c7d-0e1f2a3b4c5d';
const unstorableMessage =
  'must not contain NUL or unpaired surrogate characters, nor start with U+FEFF, in names or values';

describe('taskInputSchema', () => {
  it('fills every optional field with its default', () => {
    expect(taskInputSchema.parse({ project_id: projectId, title: ' build ' })).toEqual({
      project_id: projectId,
      title: 'build',
      kind: '',
      input: null,
      required_capabilities: [],
      agent_type: null,
      agent_id: null,
      priority: 0,
      max_attempts: 3,
      backoff: { base_ms: 1_000, max_ms: 300_000 },
      timeout_ms: null,
      lease_ms: 30_000,
      depends_on: [],
    });
  });

  it('refuses a repeated capability or dependency', () => {
    const task = { project_id: projectId, title: 't' };
    expect(fieldErrors(taskInputSchema, { ...task, required_capabilities: ['a', 'a'] })).toEqual([
      { path: '/required_capabilities', message: 'must not repeat an item' },
    ]);
    expect(fieldErrors(taskInputSchema, { ...task, depends_on: [otherId, otherId] })).toEqual([
      { path: '/depends_on', message: 'must not repeat an item' },
    ]);
    expect(
      taskInputSchema.parse({ ...task, required_capabilities: ['a', 'b'], depends_on: [otherId] }),
    ).toMatchObject({ required_capabilities: ['a', 'b'], depends_on: [otherId] });
  });

  it('bounds attempts to 1–100 and leases to 100 ms–1 h', () => {
    const paths = (fields: object) =>
      fieldErrors(taskInputSchema, { project_id: projectId, title: 't', ...fields }).map(
        (error) => error.path,
      );
    expect(paths({ max_attempts: 1, lease_ms: 100 })).toEqual([]);
    expect(paths({ max_attempts: 100, lease_ms: 3_600_000 })).toEqual([]);
    expect(paths({ max_attempts: 0, lease_ms: 99 })).toEqual(['/max_attempts', '/lease_ms']);
    expect(paths({ max_attempts: 101, lease_ms: 3_600_001 })).toEqual([
      '/max_attempts',
      '/lease_ms',
    ]);
  });
});

describe('backoffSchema', () => {
  it('accepts a cap equal to the base and refuses one below it, at max_ms', () => {
    expect(backoffSchema.parse({ base_ms: 500, max_ms: 500 })).toEqual({
      base_ms: 500,
      max_ms: 500,
    });
    expect(fieldErrors(backoffSchema, { base_ms: 500, max_ms: 499 })).toEqual([
      { path: '/max_ms', message: 'max_ms must not be below base_ms' },
    ]);
  });

  it('compares against the defaults of a field left out', () => {
    expect(backoffSchema.parse({ base_ms: 0 })).toEqual({ base_ms: 0, max_ms: 300_000 });
    expect(messagesOf(backoffSchema, { max_ms: 999 })).toEqual([
      'max_ms must not be below base_ms',
    ]);
  });
});

describe('taskJsonSchema', () => {
  /** A JSON string value whose serialized form is exactly `bytes` bytes. */
  const ofBytes = (bytes: number) => 'x'.repeat(bytes - 2);

  it('accepts a value up to the byte limit and refuses a larger one', () => {
    expect(taskJsonSchema.safeParse(ofBytes(TASK_JSON_MAX_BYTES)).success).toBe(true);
    expect(messagesOf(taskJsonSchema, ofBytes(TASK_JSON_MAX_BYTES + 1))).toEqual([
      'must serialize to at most 262144 bytes',
    ]);
  });

  it('refuses unstorable text in names or values', () => {
    expect(messagesOf(taskJsonSchema, { list: ['ok', 'a\u0000'] })).toEqual([unstorableMessage]);
    expect(messagesOf(taskJsonSchema, { ['\ud800']: 1 })).toEqual([unstorableMessage]);
    expect(taskJsonSchema.parse({ list: [1, 'two', null] })).toEqual({ list: [1, 'two', null] });
  });

  it('lets a completion leave out its result, and a task its input', () => {
    expect(completeSchema.parse({ attempt: 1 })).toEqual({ attempt: 1 });
    expect(taskInputSchema.parse({ project_id: projectId, title: 't' }).input).toBeNull();
  });
});

describe('taskPatchSchema', () => {
  it('accepts one field alone and refuses an empty patch', () => {
    expect(taskPatchSchema.parse({ priority: -5 })).toEqual({ priority: -5 });
    expect(fieldErrors(taskPatchSchema, {})).toEqual([
      { path: '/', message: 'must change at least one field' },
    ]);
    expect(messagesOf(taskPatchSchema, { depends_on: [otherId, otherId] })).toEqual([
      'must not repeat an item',
    ]);
  });
});

describe('execution bodies', () => {
  it('claims without waiting unless asked, for at most 30 s', () => {
    const agentId = otherId;
    expect(claimSchema.parse({ agent_id: agentId })).toEqual({ agent_id: agentId, wait_ms: 0 });
    expect(claimSchema.safeParse({ agent_id: agentId, wait_ms: 30_000 }).success).toBe(true);
    expect(fieldErrors(claimSchema, { agent_id: agentId, wait_ms: 30_001 })[0]?.path).toBe(
      '/wait_ms',
    );
  });

  it('bounds heartbeat progress to 0–1', () => {
    expect(taskHeartbeatSchema.safeParse({ attempt: 1, progress: 1 }).success).toBe(true);
    expect(fieldErrors(taskHeartbeatSchema, { attempt: 1, progress: 1.01 })[0]?.path).toBe(
      '/progress',
    );
  });

  it('retries a failure unless told it is final, and wants an error text', () => {
    expect(failSchema.parse({ attempt: 2, error: 'boom' })).toEqual({
      attempt: 2,
      error: 'boom',
      retryable: true,
    });
    expect(fieldErrors(failSchema, { attempt: 2, error: '' })[0]?.path).toBe('/error');
  });
});
