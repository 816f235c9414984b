import { z } from 'zod';
import {
  nameSchema,
  pageQueryShape,
  pageSchema,
  sortValues,
  storableString,
  timestampSchema,
} from './common.js';
import { taskTemplateSchema } from './task.js';

/** `skip`: no new run while the schedule's previous task is unfinished; `allow`: run anyway. */
export const overlapPolicies = ['skip', 'allow'] as const;

/** A schedule as the API returns it. */
export const scheduleSchema = z
  .object({
    id: z.uuid(),
    project_id: z.uuid(),
    name: z.string(),
    cron: z.string(),
    timezone: z.string(),
    task: z.record(z.string(), z.unknown()),
    enabled: z.boolean(),
    overlap: z.enum(overlapPolicies),
    next_run_at: timestampSchema.nullable(),
    last_run_at: timestampSchema.nullable(),
    last_task_id: z.uuid().nullable(),
    version: z.number().int(),
    created_at: timestampSchema,
    updated_at: timestampSchema,
  })
  .meta({ id: 'Schedule' });
export type Schedule = z.infer<typeof scheduleSchema>;

/** A page of `GET /schedules`. */
export const schedulePageSchema = pageSchema(scheduleSchema).meta({ id: 'SchedulePage' });

/** Five cron fields, or six with seconds first; the service checks the meaning with croner. */
const cronSchema = storableString()
  .trim()
  .max(256)
  .refine((text) => [5, 6].includes(text.split(/\s+/).length), {
    message: 'must have 5 fields (minute hour day month weekday), or 6 with seconds first',
  });
const timezoneSchema = storableString().min(1).max(64);

/** Body of `POST /schedules`. */
export const scheduleInputSchema = z
  .strictObject({
    project_id: z.uuid({ message: 'must be a UUID' }),
    name: nameSchema,
    cron: cronSchema,
    timezone: timezoneSchema.default('UTC'),
    task: taskTemplateSchema,
    enabled: z.boolean().default(true),
    overlap: z.enum(overlapPolicies).default('skip'),
  })
  .meta({ id: 'ScheduleCreate' });
export type ScheduleInput = z.infer<typeof scheduleInputSchema>;

/** Body of `PATCH /schedules/{id}`: any non-empty subset of the writable fields. */
export const schedulePatchSchema = z
  .strictObject({
    name: nameSchema.optional(),
    cron: cronSchema.optional(),
    timezone: timezoneSchema.optional(),
    task: taskTemplateSchema.optional(),
    enabled: z.boolean().optional(),
    overlap: z.enum(overlapPolicies).optional(),
  })
  .refine((patch) => Object.keys(patch).length > 0, { message: 'must change at least one field' })
  .meta({ id: 'SchedulePatch' });
export type SchedulePatch = z.infer<typeof schedulePatchSchema>;

/** Query of `GET /schedules`. */
export const scheduleListQuerySchema = z.strictObject({
  ...pageQueryShape,
  sort: z.enum(sortValues).default('-created_at'),
  project_id: z.uuid({ message: 'must be a UUID' }).optional(),
  enabled: z
    .enum(['true', 'false'])
    .transform((value) => value === 'true')
    .optional(),
});
export type ScheduleListQuery = z.infer<typeof scheduleListQuerySchema>;
