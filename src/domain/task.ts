import { z } from 'zod';
import { agentTypes } from './agent.js';
import {
  holdsStorableText,
  nameSchema,
  pageQueryShape,
  pageSchema,
  repeatable,
  storableString,
  timestampSchema,
  unstorableText,
} from './common.js';

/**
 * Where a task stands. `blocked`: a dependency has not succeeded yet; `scheduled`: its `run_at`
 * (or a retry's backoff) lies ahead; `queued`: claimable; `running`: an attempt holds it;
 * `failed` is the dead-letter state (attempts exhausted or a final failure), retryable by hand.
 */
export const taskStatuses = [
  'blocked',
  'scheduled',
  'queued',
  'running',
  'succeeded',
  'failed',
  'cancelled',
] as const;
export type TaskStatus = (typeof taskStatuses)[number];

/** States a task never leaves on its own. */
export const finishedStatuses: readonly TaskStatus[] = ['succeeded', 'failed', 'cancelled'];
/** States in which a task has not started yet, so its definition may still change. */
export const pendingStatuses: readonly TaskStatus[] = ['blocked', 'scheduled', 'queued'];

/** How an attempt ended. */
export const attemptOutcomes = ['succeeded', 'failed', 'timed_out', 'lost', 'cancelled'] as const;
export type AttemptOutcome = (typeof attemptOutcomes)[number];

/** The execution steps a `TASK_EXECUTION` event reports. */
export const executionPhases = [
  'claimed',
  'progress',
  'succeeded',
  'failed',
  'timed_out',
  'lost',
  'retry_scheduled',
  'cancelled',
] as const;
export type ExecutionPhase = (typeof executionPhases)[number];

/** Largest `output` an attempt may report, in bytes of UTF-8; a larger one is a 413. */
export const OUTPUT_MAX_BYTES = 512 * 1024;
/** Largest `input` or `result`, in bytes of UTF-8 JSON. */
export const TASK_JSON_MAX_BYTES = 256 * 1024;
/** Longest a claim may wait for work. */
export const CLAIM_WAIT_MAX_MS = 30_000;

/** Retry delays: exponential from `base_ms`, capped at `max_ms`, with jitter (docs/tasks.md). */
export const backoffSchema = z
  .strictObject({
    base_ms: z.number().int().min(0).max(86_400_000).default(1_000),
    max_ms: z.number().int().min(0).max(604_800_000).default(300_000),
  })
  .refine((backoff) => backoff.max_ms >= backoff.base_ms, {
    message: 'max_ms must not be below base_ms',
    path: ['max_ms'],
  })
  .meta({ id: 'TaskBackoff' });
export type Backoff = z.infer<typeof backoffSchema>;

const progressSchema = z
  .object({ value: z.number().min(0).max(1), message: z.string().nullable() })
  .nullable();

/** A task as the API returns it. */
export const taskSchema = z
  .object({
    id: z.uuid(),
    project_id: z.uuid(),
    title: z.string(),
    kind: z.string(),
    input: z.unknown(),
    required_capabilities: z.array(z.string()),
    agent_type: z.enum(agentTypes).nullable(),
    agent_id: z.uuid().nullable(),
    priority: z.number().int(),
    run_at: timestampSchema,
    depends_on: z.array(z.uuid()),
    max_attempts: z.number().int(),
    backoff: z.object({ base_ms: z.number().int(), max_ms: z.number().int() }),
    timeout_ms: z.number().int().nullable(),
    lease_ms: z.number().int(),
    status: z.enum(taskStatuses),
    progress: progressSchema,
    result: z.unknown(),
    error: z.string().nullable(),
    cancel_reason: z.string().nullable(),
    attempts: z.number().int(),
    schedule_id: z.uuid().nullable(),
    version: z.number().int(),
    created_at: timestampSchema,
    updated_at: timestampSchema,
    finished_at: timestampSchema.nullable(),
  })
  .meta({ id: 'Task' });
export type Task = z.infer<typeof taskSchema>;

/** A page of `GET /tasks`. */
export const taskPageSchema = pageSchema(taskSchema).meta({ id: 'TaskPage' });

/** One execution of a task: its number is also the fencing token the agent names. */
export const attemptSchema = z
  .object({
    task_id: z.uuid(),
    number: z.number().int(),
    agent_id: z.uuid().nullable(),
    claimed_at: timestampSchema,
    heartbeat_at: timestampSchema,
    lease_expires_at: timestampSchema,
    ended_at: timestampSchema.nullable(),
    outcome: z.enum(attemptOutcomes).nullable(),
    output: z.string().nullable(),
    error: z.string().nullable(),
    duration_ms: z.number().int().nullable(),
  })
  .meta({ id: 'TaskAttempt' });
export type Attempt = z.infer<typeof attemptSchema>;

/** `GET /tasks/{id}/attempts`: every attempt, oldest first. */
export const attemptListSchema = z
  .object({ items: z.array(attemptSchema) })
  .meta({ id: 'TaskAttemptList' });

/** A JSON value of at most {@link TASK_JSON_MAX_BYTES}, holding only storable text. */
export const taskJsonSchema = z.unknown().check((context) => {
  const text = JSON.stringify(context.value ?? null);
  const message =
    Buffer.byteLength(text) > TASK_JSON_MAX_BYTES
      ? `must serialize to at most ${TASK_JSON_MAX_BYTES} bytes`
      : holdsStorableText(context.value)
        ? undefined
        : `${unstorableText}, in names or values`;
  // Stryker disable next-line StringLiteral: a client sees an issue's path and message, not its code
  if (message !== undefined) context.issues.push({ code: 'custom', message, input: context.value });
});

const capabilitySchema = storableString().min(1).max(64);
const capabilityListSchema = z
  .array(capabilitySchema)
  .max(64)
  .refine((items) => new Set(items).size === items.length, { message: 'must not repeat an item' });
const dependencyListSchema = z
  .array(z.uuid({ message: 'must be a UUID' }))
  .max(100)
  .refine((items) => new Set(items).size === items.length, { message: 'must not repeat an item' });
const kindSchema = storableString().max(128);
const errorTextSchema = storableString().max(16_384);

/** A task's defining fields, each optional with its default (creation and schedule templates). */
const taskDefinitionShape = {
  title: nameSchema,
  kind: kindSchema.default(''),
  input: taskJsonSchema.default(null),
  required_capabilities: capabilityListSchema.default([]),
  agent_type: z.enum(agentTypes).nullable().default(null),
  agent_id: z.uuid({ message: 'must be a UUID' }).nullable().default(null),
  priority: z.number().int().min(-1_000_000).max(1_000_000).default(0),
  max_attempts: z.number().int().min(1).max(100).default(3),
  backoff: backoffSchema.default({ base_ms: 1_000, max_ms: 300_000 }),
  timeout_ms: z.number().int().min(100).max(604_800_000).nullable().default(null),
  lease_ms: z.number().int().min(100).max(3_600_000).default(30_000),
};

/** Body of `POST /tasks`. */
export const taskInputSchema = z
  .strictObject({
    ...taskDefinitionShape,
    project_id: z.uuid({ message: 'must be a UUID' }),
    run_at: timestampSchema.optional(),
    depends_on: dependencyListSchema.default([]),
  })
  .meta({ id: 'TaskCreate' });
export type TaskInput = z.infer<typeof taskInputSchema>;

/** What a schedule makes on each tick: a task definition without project, time or dependencies. */
export const taskTemplateSchema = z.strictObject(taskDefinitionShape).meta({ id: 'TaskTemplate' });
export type TaskTemplate = z.infer<typeof taskTemplateSchema>;

/** Body of `PATCH /tasks/{id}`: a non-empty subset of the definition, before the task starts. */
export const taskPatchSchema = z
  .strictObject({
    title: nameSchema.optional(),
    kind: kindSchema.optional(),
    input: taskJsonSchema.optional(),
    required_capabilities: capabilityListSchema.optional(),
    agent_type: z.enum(agentTypes).nullable().optional(),
    agent_id: z.uuid({ message: 'must be a UUID' }).nullable().optional(),
    priority: z.number().int().min(-1_000_000).max(1_000_000).optional(),
    run_at: timestampSchema.optional(),
    depends_on: dependencyListSchema.optional(),
    max_attempts: z.number().int().min(1).max(100).optional(),
    backoff: backoffSchema.optional(),
    timeout_ms: z.number().int().min(100).max(604_800_000).nullable().optional(),
    lease_ms: z.number().int().min(100).max(3_600_000).optional(),
  })
  .refine((patch) => Object.keys(patch).length > 0, { message: 'must change at least one field' })
  .meta({ id: 'TaskPatch' });
export type TaskPatch = z.infer<typeof taskPatchSchema>;

/** How tasks can be sorted: the shared orders, plus by priority and by `run_at`. */
export const taskSortValues = [
  'created_at',
  '-created_at',
  'updated_at',
  '-updated_at',
  'priority',
  '-priority',
  'run_at',
  '-run_at',
] as const;

/** Query of `GET /tasks`; `status` and `capability` may repeat. */
export const taskListQuerySchema = z.strictObject({
  ...pageQueryShape,
  sort: z.enum(taskSortValues).default('-created_at'),
  project_id: z.uuid({ message: 'must be a UUID' }).optional(),
  status: repeatable(z.enum(taskStatuses)),
  agent_id: z.uuid({ message: 'must be a UUID' }).optional(),
  kind: kindSchema.optional(),
  capability: repeatable(capabilitySchema),
  schedule_id: z.uuid({ message: 'must be a UUID' }).optional(),
});
export type TaskListQuery = z.infer<typeof taskListQuerySchema>;

/** Body of `POST /tasks/claim`. */
export const claimSchema = z
  .strictObject({
    agent_id: z.uuid({ message: 'must be a UUID' }),
    wait_ms: z.number().int().min(0).max(CLAIM_WAIT_MAX_MS).default(0),
  })
  .meta({ id: 'TaskClaim' });
export type ClaimRequest = z.infer<typeof claimSchema>;

/** A successful claim: the task and the attempt the agent now holds. */
export const claimedSchema = z
  .object({
    task: taskSchema,
    attempt: z.object({ number: z.number().int(), lease_expires_at: timestampSchema }),
  })
  .meta({ id: 'TaskClaimed' });
export type Claimed = z.infer<typeof claimedSchema>;

const attemptNumberSchema = z.number().int().min(1).max(1_000_000);

/** Body of `POST /tasks/{id}/heartbeat`. */
export const taskHeartbeatSchema = z
  .strictObject({
    attempt: attemptNumberSchema,
    progress: z.number().min(0).max(1).optional(),
    message: storableString().max(1_024).optional(),
  })
  .meta({ id: 'TaskHeartbeat' });
export type TaskHeartbeat = z.infer<typeof taskHeartbeatSchema>;

/** Answer to a heartbeat: the new lease, and whether the task was cancelled meanwhile. */
export const leaseSchema = z
  .object({ lease_expires_at: timestampSchema, cancel_requested: z.boolean() })
  .meta({ id: 'TaskLease' });
export type Lease = z.infer<typeof leaseSchema>;

/** Body of `POST /tasks/{id}/complete`; `output` is checked against {@link OUTPUT_MAX_BYTES}. */
export const completeSchema = z
  .strictObject({
    attempt: attemptNumberSchema,
    result: taskJsonSchema.optional(),
    output: storableString().optional(),
  })
  .meta({ id: 'TaskComplete' });
export type Completion = z.infer<typeof completeSchema>;

/** Body of `POST /tasks/{id}/fail`; `retryable: false` sends the task to `failed` at once. */
export const failSchema = z
  .strictObject({
    attempt: attemptNumberSchema,
    error: errorTextSchema.min(1),
    output: storableString().optional(),
    retryable: z.boolean().default(true),
  })
  .meta({ id: 'TaskFail' });
export type Failure = z.infer<typeof failSchema>;
