import { z } from 'zod';
import {
  type AgentListQuery,
  agentInputSchema,
  agentListQuerySchema,
  agentPageSchema,
  agentSchema,
  heartbeatSchema,
} from '../domain/agent.js';
import type { Access, Actor, Principal } from '../domain/auth.js';
import { UnprocessableError } from '../domain/errors.js';
import {
  type MemoryInput,
  type MemorySearchQuery,
  type MemorySearchResult,
  type MemoryStoreResult,
  memoryInputSchema,
  memorySearchQuerySchema,
  memorySearchResultSchema,
  memoryStoreResultSchema,
} from '../domain/memory.js';
import { projectSchema } from '../domain/project.js';
import {
  type TaskListQuery,
  claimSchema,
  claimedSchema,
  completeSchema,
  failSchema,
  leaseSchema,
  taskHeartbeatSchema,
  taskInputSchema,
  taskListQuerySchema,
  taskPageSchema,
  taskSchema,
} from '../domain/task.js';
import type { AgentService } from '../services/agent-service.js';
import type { ProjectService } from '../services/project-service.js';
import type { TaskExecutionService } from '../services/task-execution-service.js';
import type { TaskService } from '../services/task-service.js';
import { jsonArguments, root } from './arguments.js';
import { preview } from './results.js';

/**
 * What the tools need of the memory service (src/memory/, a feature module that mcp/ does not
 * import), in the domain's terms.
 */
export interface MemoryUseCases {
  store(input: MemoryInput, actor: Actor): Promise<MemoryStoreResult>;
  search(query: MemorySearchQuery, principal: Principal): Promise<MemorySearchResult>;
}

/** The services the tools call: the very ones the REST routes call. */
export interface McpServices {
  projects: Pick<ProjectService, 'get' | 'list'>;
  agents: Pick<AgentService, 'register' | 'heartbeat' | 'list'>;
  tasks: Pick<TaskService, 'create' | 'get' | 'list'>;
  taskExecution: Pick<TaskExecutionService, 'claim' | 'heartbeat' | 'complete' | 'fail'>;
  memory: MemoryUseCases;
}

/** Who calls, and the signal that aborts when the HTTP request goes away. */
export interface ToolContext {
  actor: Actor;
  signal: AbortSignal;
}

/** One tool: its schemas, what it needs, what it does, and the line that sums up its answer. */
export interface ToolSpec {
  title: string;
  description: string;
  access: Access;
  input: z.ZodObject;
  output: z.ZodObject;
  run(args: never, context: ToolContext): Promise<Record<string, unknown>>;
  summary(result: never): string;
}

/** Checks, at compile time, that `run` takes what `input` parses and `summary` what `run` gives. */
function tool<I extends z.ZodObject, O extends z.ZodObject, A = z.output<I>>(spec: {
  title: string;
  description: string;
  access: Access;
  input: I;
  output: O;
  run(args: A, context: ToolContext): Promise<z.input<O>>;
  summary(result: z.input<O>): string;
}): ToolSpec {
  return spec;
}

const uuid = z.uuid({ message: 'must be a UUID' });
const taskId = { task_id: uuid.describe('The task') };

/** `create_task`: REST's body, with the project optional when a parent task names it. */
const createTaskInput = taskInputSchema.extend({
  project_id: uuid.optional().describe("The task's project; default: the parent task's"),
  parent_task_id: uuid
    .optional()
    .describe('The task this one is delegated from (e.g. the one you claimed); sets the project'),
});

/**
 * The tools' schemas, built once: REST's own schemas, with the path parameter as an argument
 * and the query strings' text fields as JSON ({@link jsonArguments}).
 */
const schemas = {
  registerAgent: root(agentInputSchema),
  registration: z.object({
    agent: root(agentSchema),
    created: z.boolean().describe('false: an agent of this name in this project was reused'),
  }),
  heartbeat: z.strictObject({
    agent_id: uuid.describe('The agent'),
    ...heartbeatSchema.unwrap().unwrap().shape,
  }),
  agent: root(agentSchema),
  listAgents: jsonArguments(agentListQuerySchema),
  agentPage: root(agentPageSchema),
  claim: root(claimSchema),
  /** REST's 200 body, or nulls where REST answers 204. */
  claimed: z.object({
    task: root(taskSchema).nullable(),
    attempt: claimedSchema.shape.attempt.nullable(),
  }),
  reportProgress: taskHeartbeatSchema.extend(taskId),
  lease: root(leaseSchema),
  complete: completeSchema.extend(taskId),
  fail: failSchema.extend(taskId),
  task: root(taskSchema),
  createTask: createTaskInput,
  taskId: z.strictObject(taskId),
  listTasks: jsonArguments(taskListQuerySchema),
  taskPage: root(taskPageSchema),
  projectId: z.strictObject({ project_id: uuid.describe('The project') }),
  project: root(projectSchema),
  memoryStore: root(memoryInputSchema),
  memoryStored: root(memoryStoreResultSchema),
  memorySearch: jsonArguments(memorySearchQuerySchema),
  memoryFound: root(memorySearchResultSchema),
};
type CreateTaskArguments = z.output<typeof createTaskInput>;

async function projectOfNewTask(
  services: McpServices,
  args: CreateTaskArguments,
  context: ToolContext,
): Promise<string> {
  const parent =
    args.parent_task_id === undefined
      ? null
      : await services.tasks.get(args.parent_task_id, context.actor.principal);
  const projectId = args.project_id ?? parent?.project_id;
  const message =
    projectId === undefined
      ? 'project_id or parent_task_id is required'
      : parent !== null && parent.project_id !== projectId
        ? "must be the parent task's project (a subtask stays in its project)"
        : null;
  if (message !== null)
    throw new UnprocessableError(`project_id ${message}`, [{ path: '/project_id', message }]);
  return projectId!;
}

function agentTools(services: McpServices): Record<string, ToolSpec> {
  return {
    register_agent: tool({
      title: 'Register as an agent',
      description:
        'Creates the agent, or reuses the one of this name in the project (updating its type ' +
        'and capabilities). Call once at start; keep the returned agent.id for claim_task.',
      access: 'write',
      input: schemas.registerAgent,
      output: schemas.registration,
      run: (args, { actor }) => services.agents.register(args, actor),
      summary: ({ agent, created }) =>
        `${created ? 'Registered' : 'Reused'} agent ${agent.name} (${agent.id})`,
    }),
    heartbeat: tool({
      title: 'Agent heartbeat',
      description: 'Marks the agent as alive, optionally with a status (idle, busy, …).',
      access: 'write',
      input: schemas.heartbeat,
      output: schemas.agent,
      run: ({ agent_id, ...heartbeat }, { actor }) =>
        services.agents.heartbeat(agent_id, heartbeat, actor),
      summary: (agent) => `Agent ${agent.name} is ${agent.status}`,
    }),
    list_agents: tool({
      title: 'List agents',
      description: 'A page of the agents visible to this key, filtered and sorted.',
      access: 'read',
      input: schemas.listAgents,
      output: schemas.agentPage,
      run: (args: AgentListQuery, { actor }) => services.agents.list(args, actor.principal),
      summary: (page) =>
        `${page.items.length} of ${page.total} agents: ` +
        page.items.map((agent) => `${agent.name} (${agent.id}, ${agent.status})`).join(', '),
    }),
  };
}

function executionTools(services: McpServices): Record<string, ToolSpec> {
  const { taskExecution } = services;
  return {
    claim_task: tool({
      title: 'Claim a task',
      description:
        'Takes the best queued task this agent can run, waiting up to wait_ms (≤ 30000) for ' +
        'one. Keep attempt.number: report_progress, complete_task and fail_task need it. Call ' +
        'report_progress before the lease expires, or the task goes to another agent.',
      access: 'write',
      input: schemas.claim,
      output: schemas.claimed,
      run: async (args, { actor, signal }) =>
        (await taskExecution.claim(args, actor, signal)) ?? { task: null, attempt: null },
      summary: ({ task, attempt }) =>
        task === null || attempt === null
          ? 'No task came within wait_ms'
          : `Claimed task ${task.id} "${task.title}" as attempt ${attempt.number}, lease until ` +
            `${attempt.lease_expires_at}; input: ${preview(task.input)}`,
    }),
    report_progress: tool({
      title: 'Report progress (and keep the lease)',
      description:
        'Extends the lease of your attempt, with optional progress (0–1) and a message. If ' +
        'cancel_requested is true, stop working on the task.',
      access: 'write',
      input: schemas.reportProgress,
      output: schemas.lease,
      run: ({ task_id, ...body }, { actor }) => taskExecution.heartbeat(task_id, body, actor),
      summary: (lease) =>
        lease.cancel_requested
          ? 'The task was cancelled: stop working on it'
          : `Lease extended until ${lease.lease_expires_at}`,
    }),
    complete_task: tool({
      title: 'Complete a task',
      description: 'Ends your attempt as succeeded, with a JSON result and optional output text.',
      access: 'write',
      input: schemas.complete,
      output: schemas.task,
      run: ({ task_id, ...body }, { actor }) => taskExecution.complete(task_id, body, actor),
      summary: (task) => `Task ${task.id} is ${task.status}`,
    }),
    fail_task: tool({
      title: 'Fail a task',
      description:
        "Ends your attempt as failed (as timed_out once the task's timeout_ms has passed). " +
        'retryable (default true) lets the task run again after its backoff while attempts ' +
        'remain; false fails it for good.',
      access: 'write',
      input: schemas.fail,
      output: schemas.task,
      run: ({ task_id, ...body }, { actor }) => taskExecution.fail(task_id, body, actor),
      summary: (task) => `Task ${task.id} is ${task.status} after ${task.attempts} attempts`,
    }),
  };
}

function taskTools(services: McpServices): Record<string, ToolSpec> {
  return {
    create_task: tool({
      title: 'Create a task',
      description:
        'Creates a task, e.g. a subtask delegated from the one you work on (parent_task_id), ' +
        'in the same project; depends_on lists tasks that must succeed before it runs.',
      access: 'write',
      input: schemas.createTask,
      output: schemas.task,
      run: async (args, context) => {
        const projectId = await projectOfNewTask(services, args, context);
        const { parent_task_id: _parent, ...input } = args;
        return services.tasks.create({ ...input, project_id: projectId }, context.actor);
      },
      summary: (task) => `Created task ${task.id} "${task.title}" (${task.status})`,
    }),
    get_task: tool({
      title: 'Get a task',
      description: 'A task with its status, progress, result and error.',
      access: 'read',
      input: schemas.taskId,
      output: schemas.task,
      run: ({ task_id }, { actor }) => services.tasks.get(task_id, actor.principal),
      summary: (task) =>
        `Task ${task.id} "${task.title}" is ${task.status}` +
        (task.status === 'succeeded' ? `; result: ${preview(task.result)}` : '') +
        (task.error === null ? '' : `; error: ${task.error}`),
    }),
    list_tasks: tool({
      title: 'List tasks',
      description: 'A page of the tasks visible to this key, filtered and sorted.',
      access: 'read',
      input: schemas.listTasks,
      output: schemas.taskPage,
      run: (args: TaskListQuery, { actor }) => services.tasks.list(args, actor.principal),
      summary: (page) =>
        `${page.items.length} of ${page.total} tasks: ` +
        page.items.map((task) => `${task.title} (${task.id}, ${task.status})`).join(', '),
    }),
  };
}

function otherTools(services: McpServices): Record<string, ToolSpec> {
  return {
    get_project: tool({
      title: 'Get a project',
      description: 'A project: name, description, status, SPARC mode and metadata.',
      access: 'read',
      input: schemas.projectId,
      output: schemas.project,
      run: ({ project_id }, { actor }) => services.projects.get(project_id, actor.principal),
      summary: (project) => `Project ${project.name} (${project.id}) is ${project.status}`,
    }),
    memory_store: tool({
      title: 'Store a memory entry',
      description:
        "Saves an entry in the swarm's shared memory under its key (in the project, if given).",
      access: 'write',
      input: schemas.memoryStore,
      output: schemas.memoryStored,
      run: (args, { actor }) => services.memory.store(args, actor),
      summary: (stored) => `Stored memory entry ${stored.key} (${stored.stored_in})`,
    }),
    memory_search: tool({
      title: 'Search the memory',
      description: "Finds entries of the swarm's shared memory by text in key, content or tags.",
      access: 'read',
      input: schemas.memorySearch,
      output: schemas.memoryFound,
      run: (args: MemorySearchQuery, { actor }) => services.memory.search(args, actor.principal),
      summary: (found) =>
        `${found.items.length} entries: ` +
        found.items.map((item) => `${item.key}: ${preview(item.content)}`).join('; '),
    }),
  };
}

/** Every tool of `/mcp`, by name. */
export function toolSpecs(services: McpServices): Record<string, ToolSpec> {
  return {
    ...agentTools(services),
    ...executionTools(services),
    ...taskTools(services),
    ...otherTools(services),
  };
}
