import { z } from 'zod';
import {
  metadataSchema,
  nameSchema,
  pageQueryShape,
  pageSchema,
  repeatable,
  storableString,
  timestampSchema,
} from './common.js';

export const projectStatuses = ['active', 'completed', 'archived'] as const;
export const sparcModes = [
  'specification',
  'pseudocode',
  'architecture',
  'refinement',
  'completion',
] as const;

/** A project as the API returns it. */
export const projectSchema = z
  .object({
    id: z.uuid(),
    name: z.string(),
    description: z.string().nullable(),
    status: z.enum(projectStatuses),
    sparc_mode: z.enum(sparcModes),
    metadata: z.record(z.string(), z.unknown()),
    version: z.number().int(),
    created_at: timestampSchema,
    updated_at: timestampSchema,
  })
  .meta({ id: 'Project' });
export type Project = z.infer<typeof projectSchema>;

/** A page of `GET /projects`. */
export const projectPageSchema = pageSchema(projectSchema).meta({ id: 'ProjectPage' });

const descriptionSchema = storableString()
  .max(2000, { message: 'must be at most 2000 characters' })
  .nullable();

/** Body of POST and PUT: every writable field; optional ones fall back to their defaults. */
export const projectInputSchema = z.strictObject({
  name: nameSchema,
  description: descriptionSchema.default(null),
  status: z.enum(projectStatuses).default('active'),
  sparc_mode: z.enum(sparcModes).default('specification'),
  metadata: metadataSchema.default({}),
});
export type ProjectInput = z.infer<typeof projectInputSchema>;
/** {@link projectInputSchema} as the body of POST, named for the OpenAPI document. */
export const projectCreateSchema = projectInputSchema.meta({ id: 'ProjectCreate' });
/** {@link projectInputSchema} as the body of PUT, named for the OpenAPI document. */
export const projectReplaceSchema = projectInputSchema.meta({ id: 'ProjectReplace' });

/** Body of PATCH: any non-empty subset of the writable fields. */
export const projectPatchSchema = z
  .strictObject({
    name: nameSchema.optional(),
    description: descriptionSchema.optional(),
    status: z.enum(projectStatuses).optional(),
    sparc_mode: z.enum(sparcModes).optional(),
    metadata: metadataSchema.optional(),
  })
  .refine((patch) => Object.keys(patch).length > 0, { message: 'must change at least one field' })
  .meta({ id: 'ProjectPatch' });
export type ProjectPatch = z.infer<typeof projectPatchSchema>;

/** Query of GET /projects; `status` and `sparc_mode` may repeat (any of them). */
export const projectListQuerySchema = z.strictObject({
  ...pageQueryShape,
  status: repeatable(z.enum(projectStatuses)),
  sparc_mode: repeatable(z.enum(sparcModes)),
  q: storableString().max(255).optional(),
});
export type ProjectListQuery = z.infer<typeof projectListQuerySchema>;
