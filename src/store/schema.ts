import { sql } from 'drizzle-orm';
import { index, integer, jsonb, pgTable, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core';

const timestamps = {
  createdAt: timestamp('created_at', { withTimezone: true, precision: 3 }).notNull().defaultNow(),
  updatedAt: timestamp('updated_at', { withTimezone: true, precision: 3 }).notNull().defaultNow(),
};

/** Projects: the unit a team organises its agents by. */
export const projects = pgTable(
  'projects',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    name: text('name').notNull(),
    description: text('description'),
    status: text('status').notNull().default('active'),
    sparcMode: text('sparc_mode').notNull().default('specification'),
    metadata: jsonb('metadata').$type<Record<string, unknown>>().notNull().default({}),
    version: integer('version').notNull().default(1),
    ...timestamps,
  },
  (table) => [
    index('projects_created_at_idx').on(table.createdAt, table.id),
    index('projects_updated_at_idx').on(table.updatedAt, table.id),
    index('projects_status_idx').on(table.status),
  ],
);

/** Agents: workers that may belong to one project. */
export const agents = pgTable(
  'agents',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    name: text('name').notNull(),
    agentType: text('agent_type').notNull(),
    capabilities: text('capabilities').array().notNull().default(sql`'{}'::text[]`),
    status: text('status').notNull().default('idle'),
    projectId: uuid('project_id').references(() => projects.id, { onDelete: 'set null' }),
    metadata: jsonb('metadata').$type<Record<string, unknown>>().notNull().default({}),
    lastActiveAt: timestamp('last_active_at', { withTimezone: true, precision: 3 }),
    version: integer('version').notNull().default(1),
    ...timestamps,
  },
  (table) => [
    uniqueIndex('agents_name_key').on(table.name),
    index('agents_project_id_idx').on(table.projectId),
    index('agents_created_at_idx').on(table.createdAt, table.id),
    index('agents_capabilities_idx').using('gin', table.capabilities),
  ],
);
