import { and, desc, eq, inArray, isNull } from 'drizzle-orm';
import type { ApiKey, Role } from '../domain/auth.js';
import type { Executor } from './database.js';
import { apiKeys } from './schema.js';

type ApiKeyRow = typeof apiKeys.$inferSelect;

/** A stored key with the hash its secret must match. */
export interface StoredKey extends ApiKey {
  secretHash: string;
}

function toStoredKey(row: ApiKeyRow): StoredKey {
  return {
    id: row.id,
    name: row.name,
    role: row.role as Role,
    project_ids: row.projectIds,
    created_at: row.createdAt.toISOString(),
    last_used_at: row.lastUsedAt?.toISOString() ?? null,
    revoked_at: row.revokedAt?.toISOString() ?? null,
    secretHash: row.secretHash,
  };
}

/** Hides the hash from anything that leaves the service. */
export function withoutSecret({ secretHash: _secretHash, ...key }: StoredKey): ApiKey {
  return key;
}

/** SQL access to `api_keys`. */
export class ApiKeyRepository {
  async insert(
    executor: Executor,
    key: { id: string; name: string; role: Role; projectIds: string[] | null; secretHash: string },
  ): Promise<StoredKey> {
    const [row] = await executor.insert(apiKeys).values(key).returning();
    return toStoredKey(row!);
  }

  async findById(executor: Executor, id: string): Promise<StoredKey | null> {
    const [row] = await executor.select().from(apiKeys).where(eq(apiKeys.id, id));
    return row === undefined ? null : toStoredKey(row);
  }

  async list(executor: Executor): Promise<ApiKey[]> {
    const rows = await executor
      .select()
      .from(apiKeys)
      .orderBy(desc(apiKeys.createdAt), desc(apiKeys.id));
    return rows.map((row) => withoutSecret(toStoredKey(row)));
  }

  /** Marks the key revoked; null when it does not exist or was already revoked. */
  async revoke(executor: Executor, id: string): Promise<ApiKey | null> {
    const [row] = await executor
      .update(apiKeys)
      .set({ revokedAt: new Date() })
      .where(eq(apiKeys.id, id))
      .returning();
    return row === undefined ? null : withoutSecret(toStoredKey(row));
  }

  async touch(executor: Executor, id: string, at: Date): Promise<void> {
    await executor.update(apiKeys).set({ lastUsedAt: at }).where(eq(apiKeys.id, id));
  }

  /** Which of `ids` name a key that exists and is not revoked. */
  async activeAmong(executor: Executor, ids: readonly string[]): Promise<Set<string>> {
    // Stryker disable next-line ConditionalExpression: drizzle's inArray([]) is false: no rows
    if (ids.length === 0) return new Set();
    const rows = await executor
      .select({ id: apiKeys.id })
      .from(apiKeys)
      .where(and(inArray(apiKeys.id, [...ids]), isNull(apiKeys.revokedAt)));
    return new Set(rows.map((row) => row.id));
  }

  async hasActiveKey(executor: Executor): Promise<boolean> {
    // Stryker disable next-line ObjectLiteral: only the number of rows is read, not a column
    const countOnly = { id: apiKeys.id };
    const rows = await executor
      .select(countOnly)
      .from(apiKeys)
      .where(isNull(apiKeys.revokedAt))
      .limit(1);
    return rows.length > 0;
  }
}
