import { type SQL, and, desc, eq, gte, lt, lte } from 'drizzle-orm';
import type { AuditAction, AuditEntry, AuditResource } from '../domain/auth.js';
import type { Executor } from './database.js';
import { auditLog } from './schema.js';

/** An audit record before the database has numbered and timed it. */
export interface AuditDraft {
  keyId: string | null;
  action: AuditAction;
  resource: AuditResource;
  resourceId: string | null;
  changedFields: string[] | null;
  ip: string | null;
  userAgent: string | null;
}

/** Filters of GET /audit. */
export interface AuditQuery {
  limit: number;
  before?: number | undefined;
  key_id?: string | undefined;
  action?: string | undefined;
  resource?: string | undefined;
  resource_id?: string | undefined;
  since?: string | undefined;
  until?: string | undefined;
}

function toEntry(row: typeof auditLog.$inferSelect): AuditEntry {
  return {
    id: row.id,
    at: row.at.toISOString(),
    key_id: row.keyId,
    action: row.action,
    resource: row.resource,
    resource_id: row.resourceId,
    changed_fields: row.changedFields,
    ip: row.ip,
    user_agent: row.userAgent,
  };
}

function filters(query: AuditQuery): SQL | undefined {
  return and(
    query.before === undefined ? undefined : lt(auditLog.id, query.before),
    query.key_id === undefined ? undefined : eq(auditLog.keyId, query.key_id),
    query.action === undefined ? undefined : eq(auditLog.action, query.action),
    query.resource === undefined ? undefined : eq(auditLog.resource, query.resource),
    query.resource_id === undefined ? undefined : eq(auditLog.resourceId, query.resource_id),
    query.since === undefined ? undefined : gte(auditLog.at, new Date(query.since)),
    query.until === undefined ? undefined : lte(auditLog.at, new Date(query.until)),
  );
}

/**
 * Reads `audit_log`; `appendEvents` (event-append.ts) writes it, in the statement that appends
 * the same change's events.
 */
export class AuditRepository {
  /** Newest first; page backwards with `before` (the smallest id of the previous page). */
  async list(executor: Executor, query: AuditQuery): Promise<AuditEntry[]> {
    const rows = await executor
      .select()
      .from(auditLog)
      .where(filters(query))
      .orderBy(desc(auditLog.id))
      .limit(query.limit);
    return rows.map(toEntry);
  }
}
