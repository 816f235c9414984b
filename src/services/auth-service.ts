import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import {
  type Actor,
  type ApiKey,
  type Caller,
  type CreatedKey,
  type KeyInput,
  type Principal,
  systemActor,
} from '../domain/auth.js';
import { NotFoundError, UnprocessableError } from '../domain/errors.js';
import { ApiKeyRepository, withoutSecret } from '../store/api-key-repository.js';
import type { Database } from '../store/database.js';
import type { WriteTransactions } from '../store/write-transaction.js';

const KEY_PATTERN = /^sc_([0-9a-f]{32})_([A-Za-z0-9_-]{43})$/;
/**
 * How long a verified key is trusted without asking the database again, unless
 * `AUTH_KEY_CACHE_MS` says otherwise: the longest a revoked key keeps working on another instance.
 */
export const DEFAULT_KEY_CACHE_MS = 5_000;
const CACHE_MAX_ENTRIES = 10_000;
const TOUCH_INTERVAL_MS = 60_000;

function sha256(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

function uuidOf(compact: string): string {
  const groups = [compact.slice(0, 8), compact.slice(8, 12), compact.slice(12, 16)];
  return [...groups, compact.slice(16, 20), compact.slice(20)].join('-');
}

/** Options of {@link AuthService}. */
export interface AuthServiceOptions {
  now?: () => number;
  /**
   * How long a verified key is cached (`AUTH_KEY_CACHE_MS`); default {@link DEFAULT_KEY_CACHE_MS}.
   */
  keyCacheMs?: number;
}

/**
 * API keys: `sc_<key id>_<secret>`, where the secret is 256 random bits shown once. The database
 * keeps only the secret's SHA-256, compared in constant time. Verified keys are cached for
 * `keyCacheMs` (5 s by default), so a revocation takes effect at once on the instance that made it
 * and within that time elsewhere.
 */
export class AuthService {
  /**
   * Verified tokens (they only ever live in this process's memory), with the principal they stand
   * for.
   */
  private readonly cache = new Map<string, { principal: Principal | null; expiresAt: number }>();
  private readonly touchedAt = new Map<string, number>();
  private readonly revokeListeners = new Set<(keyId: string) => void>();
  private readonly now: () => number;
  /** How long a verified key is trusted (`AUTH_KEY_CACHE_MS`). */
  readonly keyCacheMs: number;

  constructor(
    private readonly db: Database,
    private readonly writes: WriteTransactions,
    private readonly keys = new ApiKeyRepository(),
    options: AuthServiceOptions = {},
  ) {
    this.now = options.now ?? Date.now;
    this.keyCacheMs = options.keyCacheMs ?? DEFAULT_KEY_CACHE_MS;
  }

  /** The principal a bearer token stands for, or null when it is malformed, unknown or revoked. */
  async authenticate(token: string): Promise<Principal | null> {
    const cached = this.cache.get(token);
    if (cached !== undefined && cached.expiresAt > this.now()) return this.used(cached.principal);
    const principal = await this.verify(token);
    if (this.cache.size >= CACHE_MAX_ENTRIES) this.cache.clear();
    this.cache.set(token, { principal, expiresAt: this.now() + this.keyCacheMs });
    return this.used(principal);
  }

  async createKey(input: KeyInput, actor: Actor): Promise<CreatedKey> {
    if (input.role === 'admin' && input.project_ids !== null) {
      throw new UnprocessableError('An admin key cannot be limited to projects', [
        { path: '/project_ids', message: 'must be null for an admin key' },
      ]);
    }
    const id = randomUUID();
    const secret = randomBytes(32).toString('base64url');
    const stored = await this.writes.run(actor, async (tx, _emit, audit) => {
      audit({
        action: 'create',
        resource: 'key',
        resourceId: id,
        changedFields: ['role', 'project_ids'],
      });
      return this.keys.insert(tx, {
        id,
        name: input.name,
        role: input.role,
        projectIds: input.project_ids,
        secretHash: sha256(secret).toString('hex'),
      });
    });
    return { ...withoutSecret(stored), key: `sc_${id.replaceAll('-', '')}_${secret}` };
  }

  /**
   * Who the caller is (`GET /api/v1/keys/self`): its key's id, name, role and projects; with
   * authentication off (no key) the unrestricted admin it acts as.
   */
  async describe(principal: Principal): Promise<Caller> {
    const { keyId, role, projectIds } = principal;
    const base = { role, project_ids: projectIds === null ? null : [...projectIds] };
    if (keyId === null) return { authentication: 'off', key_id: null, name: null, ...base };
    const stored = await this.keys.findById(this.db, keyId);
    return { authentication: 'on', key_id: keyId, name: stored?.name ?? null, ...base };
  }

  listKeys(): Promise<ApiKey[]> {
    return this.keys.list(this.db);
  }

  async revokeKey(id: string, actor: Actor): Promise<void> {
    await this.writes.run(actor, async (tx, _emit, audit) => {
      if ((await this.keys.revoke(tx, id)) === null) throw new NotFoundError('Key', id);
      audit({ action: 'revoke', resource: 'key', resourceId: id });
    });
    this.forget(id);
    for (const listener of this.revokeListeners) listener(id);
  }

  /**
   * Calls `listener` with the id of every key this instance revokes; returns the unsubscribe
   * function.
   */
  onRevoke(listener: (keyId: string) => void): () => void {
    this.revokeListeners.add(listener);
    return () => this.revokeListeners.delete(listener);
  }

  /**
   * Which of `ids` are still valid keys (for open sockets, which must not outlive their key).
   * Keys found revoked leave the cache too, so a reconnect with one fails at once.
   */
  async activeKeys(ids: readonly string[]): Promise<Set<string>> {
    const active = await this.keys.activeAmong(this.db, ids);
    for (const id of ids) if (!active.has(id)) this.forget(id);
    return active;
  }

  /** Drops the cached verifications of a key. */
  private forget(keyId: string): void {
    for (const [token, entry] of this.cache)
      if (entry.principal?.keyId === keyId) this.cache.delete(token);
  }

  /**
   * On a database with no usable key, creates an admin key so that a first start is usable; returns
   * it (once).
   */
  async bootstrap(): Promise<CreatedKey | null> {
    if (await this.keys.hasActiveKey(this.db)) return null;
    return this.createKey(
      { name: 'bootstrap admin', role: 'admin', project_ids: null },
      systemActor,
    );
  }

  private async verify(token: string): Promise<Principal | null> {
    const match = KEY_PATTERN.exec(token);
    if (match === null) return null;
    const stored = await this.keys.findById(this.db, uuidOf(match[1]!));
    if (stored === null || stored.revoked_at !== null) return null;
    if (!timingSafeEqual(sha256(match[2]!), Buffer.from(stored.secretHash, 'hex'))) return null;
    return { keyId: stored.id, role: stored.role, projectIds: stored.project_ids };
  }

  /** Records `last_used_at`, at most once a minute per key and without delaying the request. */
  private used(principal: Principal | null): Principal | null {
    // Only a verified key gets here with an id; an unknown token has no principal.
    const keyId = principal?.keyId;
    if (typeof keyId !== 'string') return principal;
    if ((this.touchedAt.get(keyId) ?? 0) > this.now() - TOUCH_INTERVAL_MS) return principal;
    this.touchedAt.set(keyId, this.now());
    this.keys.touch(this.db, keyId, new Date(this.now())).catch(() => this.touchedAt.delete(keyId));
    return principal;
  }
}
