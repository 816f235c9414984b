import { z } from 'zod';
import {
  metadataSchema,
  nameSchema,
  pageQueryShape,
  pageSchema,
  repeatable,
  sortValues,
  storableString,
  timestampSchema,
} from './common.js';

export const agentTypes = [
  'coder',
  'reviewer',
  'tester',
  'planner',
  'researcher',
  'architect',
  'system-architect',
  'backend-dev',
  'api-designer',
  'ml-developer',
  'code-analyzer',
  'hierarchical-coordinator',
  'mesh-coordinator',
  'adaptive-coordinator',
  'custom',
] as const;
export const agentStatuses = ['active', 'idle', 'busy', 'offline', 'error'] as const;

/** An agent as the API returns it. */
export const agentSchema = z
  .object({
    id: z.uuid(),
    name: z.string(),
    agent_type: z.enum(agentTypes),
    capabilities: z.array(z.string()),
    status: z.enum(agentStatuses),
    project_id: z.uuid().nullable(),
    metadata: z.record(z.string(), z.unknown()),
    last_active_at: timestampSchema.nullable(),
    version: z.number().int(),
    created_at: timestampSchema,
    updated_at: timestampSchema,
  })
  .meta({ id: 'Agent' });
export type Agent = z.infer<typeof agentSchema>;

/** A page of `GET /agents`. */
export const agentPageSchema = pageSchema(agentSchema).meta({ id: 'AgentPage' });

const capabilitySchema = storableString()
  .min(1)
  .max(64, { message: 'must be at most 64 characters' });
const capabilitiesSchema = z
  .array(capabilitySchema)
  .max(64, { message: 'must hold at most 64 items' })
  .refine((items) => new Set(items).size === items.length, { message: 'must not repeat an item' });
const projectIdSchema = z.uuid({ message: 'must be a UUID' }).nullable();

/** Body of POST and PUT: every writable field; optional ones fall back to their defaults. */
export const agentInputSchema = z.strictObject({
  name: nameSchema,
  agent_type: z.enum(agentTypes),
  capabilities: capabilitiesSchema.default([]),
  status: z.enum(agentStatuses).default('idle'),
  project_id: projectIdSchema.default(null),
  metadata: metadataSchema.default({}),
});
export type AgentInput = z.infer<typeof agentInputSchema>;
/** {@link agentInputSchema} as the body of POST, named for the OpenAPI document. */
export const agentCreateSchema = agentInputSchema.meta({ id: 'AgentCreate' });
/** {@link agentInputSchema} as the body of PUT, named for the OpenAPI document. */
export const agentReplaceSchema = agentInputSchema.meta({ id: 'AgentReplace' });

/** Body of PATCH: any non-empty subset of the writable fields. */
export const agentPatchSchema = z
  .strictObject({
    name: nameSchema.optional(),
    agent_type: z.enum(agentTypes).optional(),
    capabilities: capabilitiesSchema.optional(),
    status: z.enum(agentStatuses).optional(),
    project_id: projectIdSchema.optional(),
    metadata: metadataSchema.optional(),
  })
  .refine((patch) => Object.keys(patch).length > 0, { message: 'must change at least one field' })
  .meta({ id: 'AgentPatch' });
export type AgentPatch = z.infer<typeof agentPatchSchema>;

/** Body of POST /agents/{id}/heartbeat; the body itself may be omitted. */
export const heartbeatSchema = z
  .strictObject({ status: z.enum(agentStatuses).optional() })
  .nullish()
  .meta({ id: 'AgentHeartbeat' });
export type Heartbeat = z.infer<typeof heartbeatSchema>;

/** How agents can be sorted: the shared orders, and by last heartbeat (never-seen agents last). */
export const agentSortValues = [...sortValues, 'last_active_at', '-last_active_at'] as const;

/**
 * Query of GET /agents. `agent_type` and `status` may repeat (any of them); `capability` may
 * repeat too, and an agent must hold all of them. `name` is exact, so a runner can find the agent
 * it registered before (names are unique per project).
 */
export const agentListQuerySchema = z.strictObject({
  ...pageQueryShape,
  sort: z.enum(agentSortValues).default('-created_at'),
  name: nameSchema.optional().describe('Only the agents of exactly this name'),
  agent_type: repeatable(z.enum(agentTypes)),
  status: repeatable(z.enum(agentStatuses)),
  project_id: z.uuid({ message: 'must be a UUID' }).optional(),
  capability: repeatable(capabilitySchema),
});
export type AgentListQuery = z.infer<typeof agentListQuerySchema>;
