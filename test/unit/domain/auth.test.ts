import { describe, expect, it } from 'vitest';
import {
  type Principal,
  allows,
  assertAssignable,
  inScope,
  keyInputSchema,
  routeAccess,
  scopeTopics,
  unrestricted,
} from '../../../src/domain/auth.js';
import { UnprocessableError } from '../../../src/domain/errors.js';
import { fieldErrors } from './field-errors.js';

const projectA = '5f0c7b8e-2a44-4d0a-9b1e-0c6f3c1d2e3a';
const projectB = '9a1b2c3d-4e5f-4a6b-8c7d-0e1f2a3b4c5d';
const scoped: Principal = { keyId: 'k', role: 'writer', projectIds: [projectA] };

describe('routeAccess', () => {
  it.each([
    '/health',
    '/health/ready',
    '/docs',
    '/docs/static/index.html',
    '/openapi.json',
    '/metrics',
  ])('lets anyone reach %s', (url) => {
    expect(routeAccess(url, 'GET', undefined)).toBe('public');
    expect(routeAccess(url, 'POST', 'admin')).toBe('public');
  });

  it.each([
    '/healthy',
    '/api/v1/health',
    '/docsx',
    '/openapi.json.bak',
    '/metrics/x',
    '/x/metrics',
  ])('does not treat %s as public', (url) => {
    expect(routeAccess(url, 'GET', undefined)).toBe('read');
  });

  it('needs read for GET and HEAD, write for every other method, unless the route says', () => {
    expect(routeAccess('/api/v1/projects', 'GET', undefined)).toBe('read');
    expect(routeAccess('/api/v1/projects', 'HEAD', undefined)).toBe('read');
    for (const method of ['POST', 'PUT', 'PATCH', 'DELETE']) {
      expect(routeAccess('/api/v1/projects', method, undefined)).toBe('write');
    }
    expect(routeAccess('/api/v1/keys', 'GET', 'admin')).toBe('admin');
    expect(routeAccess('/api/v1/keys/self', 'GET', 'public')).toBe('public');
  });
});

describe('allows', () => {
  it('grants admin everything, writer reading and writing, reader reading', () => {
    const grants = (role: Principal['role']) =>
      (['read', 'write', 'admin'] as const).filter((access) =>
        allows({ keyId: 'k', role, projectIds: null }, access),
      );
    expect(grants('admin')).toEqual(['read', 'write', 'admin']);
    expect(grants('writer')).toEqual(['read', 'write']);
    expect(grants('reader')).toEqual(['read']);
  });
});

describe('project scope', () => {
  it('lets an unscoped key see every project and what belongs to none', () => {
    expect(inScope(unrestricted, projectA)).toBe(true);
    expect(inScope(unrestricted, null)).toBe(true);
  });

  it('lets a scoped key see its projects only, not what belongs to none', () => {
    expect(inScope(scoped, projectA)).toBe(true);
    expect(inScope(scoped, projectB)).toBe(false);
    expect(inScope(scoped, null)).toBe(false);
  });

  it('gives a scoped key its projects’ topics, and an unscoped key every topic', () => {
    expect(scopeTopics(scoped)).toEqual([`project:${projectA}`]);
    expect(scopeTopics({ ...scoped, projectIds: [projectA, projectB] })).toEqual([
      `project:${projectA}`,
      `project:${projectB}`,
    ]);
    expect(scopeTopics(unrestricted)).toBeNull();
  });
});

describe('assertAssignable', () => {
  const refusal = (projectId: string | null) => {
    try {
      assertAssignable(scoped, projectId);
    } catch (error) {
      return error;
    }
    return undefined;
  };

  it('lets a key place things in its projects, or leave the project unchanged', () => {
    expect(() => assertAssignable(scoped, projectA)).not.toThrow();
    expect(() => assertAssignable(scoped, undefined)).not.toThrow();
    expect(() => assertAssignable(unrestricted, null)).not.toThrow();
    expect(() => assertAssignable(unrestricted, projectB)).not.toThrow();
  });

  it('reports a project outside the scope exactly as one that does not exist', () => {
    const error = refusal(projectB);
    expect(error).toBeInstanceOf(UnprocessableError);
    expect(error).toMatchObject({
      message: `Project ${projectB} does not exist`,
      errors: [{ path: '/project_id', message: `Project ${projectB} does not exist` }],
    });
  });

  it('requires a project from a scoped key', () => {
    expect(refusal(null)).toMatchObject({
      message: 'project_id is required for a key limited to projects',
      errors: [{ path: '/project_id', message: 'is required for a key limited to projects' }],
    });
  });
});

describe('keyInputSchema', () => {
  it('gives a new key every project unless it lists some', () => {
    expect(keyInputSchema.parse({ name: ' ci ', role: 'reader' })).toEqual({
      name: 'ci',
      role: 'reader',
      project_ids: null,
    });
  });

  it('refuses an empty project list, an unknown role and extra fields', () => {
    expect(fieldErrors(keyInputSchema, { name: 'ci', role: 'writer', project_ids: [] })).toEqual([
      { path: '/project_ids', message: expect.stringMatching(/>=1 items/) as string },
    ]);
    expect(fieldErrors(keyInputSchema, { name: 'ci', role: 'owner' })[0]?.path).toBe('/role');
    expect(keyInputSchema.safeParse({ name: 'ci', role: 'reader', secret: 'x' }).success).toBe(
      false,
    );
  });
});
