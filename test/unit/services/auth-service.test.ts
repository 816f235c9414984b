import { createHash } from 'node:crypto';
import { describe, expect, it, vi } from 'vitest';
import { type Actor, type Role, systemActor, unrestricted } from '../../../src/domain/auth.js';
import { NotFoundError, UnprocessableError } from '../../../src/domain/errors.js';
import { AuthService, DEFAULT_KEY_CACHE_MS } from '../../../src/services/auth-service.js';
import type { StoredKey } from '../../../src/store/api-key-repository.js';
import { fakeWrites } from './fakes.js';

const actor: Actor = { principal: unrestricted, ip: '127.0.0.1', userAgent: 'test' };
const start = Date.parse('2026-05-01T10:00:00.000Z');

/** The service over an in-memory key table and a clock the test moves. */
function setup(keyCacheMs?: number) {
  const fakes = fakeWrites();
  const stored = new Map<string, StoredKey>();
  const keys = {
    insert: vi.fn(
      async (
        _tx: unknown,
        key: {
          id: string;
          name: string;
          role: Role;
          projectIds: string[] | null;
          secretHash: string;
        },
      ) => {
        const row: StoredKey = {
          id: key.id,
          name: key.name,
          role: key.role,
          project_ids: key.projectIds,
          created_at: new Date(start).toISOString(),
          last_used_at: null,
          revoked_at: null,
          secretHash: key.secretHash,
        };
        stored.set(key.id, row);
        return row;
      },
    ),
    findById: vi.fn(async (_db: unknown, id: string) => stored.get(id) ?? null),
    list: vi.fn(async () => [...stored.values()]),
    revoke: vi.fn(async (_tx: unknown, id: string) => {
      const row = stored.get(id);
      if (row === undefined || row.revoked_at !== null) return null;
      row.revoked_at = new Date(start).toISOString();
      return row;
    }),
    touch: vi.fn(async (_db: unknown, _id: string, _at: Date) => undefined),
    activeAmong: vi.fn(
      async (_db: unknown, ids: readonly string[]) =>
        new Set(ids.filter((id) => stored.get(id)?.revoked_at === null)),
    ),
    hasActiveKey: vi.fn(async () => [...stored.values()].some((row) => row.revoked_at === null)),
  };
  const clock = { now: start };
  const service = new AuthService(fakes.db, fakes.writes, keys, {
    now: () => clock.now,
    ...(keyCacheMs === undefined ? {} : { keyCacheMs }),
  });
  return { ...fakes, keys, stored, clock, service };
}

describe('AuthService keys', () => {
  it('creates a key shown once, storing only its SHA-256, with an audit record', async () => {
    const { service, stored, audited } = setup();
    const created = await service.createKey(
      { name: 'ci', role: 'writer', project_ids: ['p1'] },
      actor,
    );
    const [, compactId, secret] = /^sc_([0-9a-f]{32})_([A-Za-z0-9_-]{43})$/.exec(created.key)!;
    expect(compactId).toBe(created.id.replaceAll('-', ''));
    expect(stored.get(created.id)!.secretHash).toBe(
      createHash('sha256').update(secret!).digest('hex'),
    );
    expect(created).not.toHaveProperty('secretHash');
    expect(created).toMatchObject({ name: 'ci', role: 'writer', project_ids: ['p1'] });
    expect(audited).toEqual([
      {
        action: 'create',
        resource: 'key',
        resourceId: created.id,
        changedFields: ['role', 'project_ids'],
      },
    ]);
    await expect(service.authenticate(created.key)).resolves.toEqual({
      keyId: created.id,
      role: 'writer',
      projectIds: ['p1'],
    });
  });

  it('refuses an admin key limited to projects', async () => {
    const { service, keys } = setup();
    const refused = service.createKey({ name: 'x', role: 'admin', project_ids: [] }, actor);
    await expect(refused).rejects.toBeInstanceOf(UnprocessableError);
    await expect(refused).rejects.toMatchObject({
      errors: [{ path: '/project_ids', message: 'must be null for an admin key' }],
    });
    expect(keys.insert).not.toHaveBeenCalled();
  });

  it('rejects malformed, unknown, tampered and revoked keys', async () => {
    const { service } = setup();
    const { key, id } = await service.createKey(
      { name: 'a', role: 'reader', project_ids: null },
      actor,
    );
    const other = 'f'.repeat(32);
    await expect(service.authenticate(`${key}x`)).resolves.toBeNull();
    await expect(service.authenticate(`${key.slice(0, -43)}${'A'.repeat(43)}`)).resolves.toBeNull();
    await expect(
      service.authenticate(key.replace(/^sc_[0-9a-f]{32}/, `sc_${other}`)),
    ).resolves.toBeNull();
    await service.revokeKey(id, actor);
    await expect(service.authenticate(key)).resolves.toBeNull();
  });

  for (const [label, keyCacheMs, trusted] of [
    ['5 s by default', undefined, DEFAULT_KEY_CACHE_MS],
    ['AUTH_KEY_CACHE_MS', 1_000, 1_000],
  ] as const)
    it(`trusts a verified key for ${label}, then asks the database again`, async () => {
      const { service, keys, clock } = setup(keyCacheMs);
      const { key } = await service.createKey(
        { name: 'a', role: 'reader', project_ids: null },
        actor,
      );
      await service.authenticate(key);
      clock.now += trusted - 1;
      await service.authenticate(key);
      expect(keys.findById).toHaveBeenCalledTimes(1);
      clock.now += 1;
      await service.authenticate(key);
      expect(keys.findById).toHaveBeenCalledTimes(2);
    });

  it('empties its cache once it holds 10 000 tokens', async () => {
    const { service, keys } = setup();
    const { key } = await service.createKey(
      { name: 'a', role: 'reader', project_ids: null },
      actor,
    );
    await service.authenticate(key);
    for (let i = 0; i < 9_999; i += 1) await service.authenticate(`bad-${i}`);
    await service.authenticate(key);
    expect(keys.findById).toHaveBeenCalledTimes(1);
    await service.authenticate('bad-last');
    await service.authenticate(key);
    expect(keys.findById).toHaveBeenCalledTimes(2);
  });

  it('records last use at most once a minute, and again after a failed record', async () => {
    const { service, keys, clock } = setup();
    const { key, id } = await service.createKey(
      { name: 'a', role: 'reader', project_ids: null },
      actor,
    );
    await service.authenticate(key);
    expect(keys.touch).toHaveBeenCalledTimes(1);
    expect(keys.touch).toHaveBeenLastCalledWith(expect.anything(), id, new Date(start));
    clock.now += 59_999;
    await service.authenticate(key);
    expect(keys.touch).toHaveBeenCalledTimes(1);
    clock.now += 1;
    keys.touch.mockRejectedValueOnce(new Error('database down'));
    await service.authenticate(key);
    expect(keys.touch).toHaveBeenCalledTimes(2);
    await new Promise((resolve) => setImmediate(resolve));
    await service.authenticate(key);
    expect(keys.touch).toHaveBeenCalledTimes(3);
    expect(keys.touch).toHaveBeenLastCalledWith(expect.anything(), id, new Date(clock.now));
    await service.authenticate('malformed');
    expect(keys.touch).toHaveBeenCalledTimes(3);
  });

  it('revokes a key at once on this instance, tells listeners, and 404s a missing one', async () => {
    const { service, audited } = setup();
    const { key, id } = await service.createKey(
      { name: 'a', role: 'reader', project_ids: null },
      actor,
    );
    const kept = await service.createKey({ name: 'b', role: 'reader', project_ids: null }, actor);
    await service.authenticate(key);
    await service.authenticate(kept.key);
    const heard: string[] = [];
    const unsubscribe = service.onRevoke((keyId) => heard.push(keyId));
    await service.revokeKey(id, actor);
    expect(audited.at(-1)).toEqual({ action: 'revoke', resource: 'key', resourceId: id });
    await expect(service.authenticate(key)).resolves.toBeNull();
    await expect(service.authenticate(kept.key)).resolves.toMatchObject({ keyId: kept.id });
    expect(heard).toEqual([id]);
    await expect(service.revokeKey(id, actor)).rejects.toThrow(new NotFoundError('Key', id));
    unsubscribe();
    await service.revokeKey(kept.id, actor);
    expect(heard).toEqual([id]);
  });

  it('finds which keys are still active and forgets the others', async () => {
    const { service, stored, keys } = setup();
    const a = await service.createKey({ name: 'a', role: 'reader', project_ids: null }, actor);
    const b = await service.createKey({ name: 'b', role: 'reader', project_ids: null }, actor);
    await service.authenticate(a.key);
    await service.authenticate(b.key);
    stored.get(b.id)!.revoked_at = new Date(start).toISOString();
    await expect(service.activeKeys([a.id, b.id])).resolves.toEqual(new Set([a.id]));
    await expect(service.authenticate(b.key)).resolves.toBeNull();
    await expect(service.authenticate(a.key)).resolves.toMatchObject({ keyId: a.id });
    expect(keys.findById).toHaveBeenCalledTimes(3);
  });

  it('describes the caller, with authentication on or off', async () => {
    const { service } = setup();
    await expect(service.describe(unrestricted)).resolves.toEqual({
      authentication: 'off',
      key_id: null,
      name: null,
      role: 'admin',
      project_ids: null,
    });
    const { id } = await service.createKey(
      { name: 'ci', role: 'reader', project_ids: ['p'] },
      actor,
    );
    await expect(
      service.describe({ keyId: id, role: 'reader', projectIds: ['p'] }),
    ).resolves.toEqual({
      authentication: 'on',
      key_id: id,
      name: 'ci',
      role: 'reader',
      project_ids: ['p'],
    });
    const gone = '99999999-9999-4999-8999-999999999999';
    await expect(
      service.describe({ keyId: gone, role: 'reader', projectIds: null }),
    ).resolves.toMatchObject({ authentication: 'on', name: null });
  });

  it('bootstraps one admin key when none is active, as the system', async () => {
    const { service, writes } = setup();
    const created = await service.bootstrap();
    expect(created).toMatchObject({ name: 'bootstrap admin', role: 'admin', project_ids: null });
    expect(writes.run).toHaveBeenCalledWith(systemActor, expect.any(Function));
    await expect(service.bootstrap()).resolves.toBeNull();
    await expect(service.listKeys()).resolves.toHaveLength(1);
  });
});
