import type { AuditEntry } from '../domain/auth.js';
import { type AuditQuery, AuditRepository } from '../store/audit-repository.js';
import type { Database } from '../store/database.js';

/** A page of the audit log, newest first, with the cursor of the next (older) page. */
export interface AuditPage {
  items: AuditEntry[];
  /** Pass as `before` to read the next page; null on the last page. */
  next_before: number | null;
  has_more: boolean;
}

/** Reads the audit log, which every write appends to in its own transaction (admin keys only). */
export class AuditService {
  constructor(
    private readonly db: Database,
    private readonly audit = new AuditRepository(),
  ) {}

  /**
   * One page after the `before` cursor; one row more is read to know whether another page follows.
   */
  async page(query: AuditQuery): Promise<AuditPage> {
    const rows = await this.audit.list(this.db, { ...query, limit: query.limit + 1 });
    const items = rows.slice(0, query.limit);
    const hasMore = rows.length > query.limit;
    return { items, next_before: hasMore ? items.at(-1)!.id : null, has_more: hasMore };
  }
}
