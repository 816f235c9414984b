import { describe, expect, it } from 'vitest';
import {
  projectInputSchema,
  projectListQuerySchema,
  projectPatchSchema,
} from '../../../src/domain/project.js';
import { fieldErrors } from './field-errors.js';

describe('projectInputSchema', () => {
  it('fills every optional field with its default', () => {
    expect(projectInputSchema.parse({ name: ' Apollo ' })).toEqual({
      name: 'Apollo',
      description: null,
      status: 'active',
      sparc_mode: 'specification',
      metadata: {},
    });
  });

  it('accepts a description of 2000 characters, not 2001', () => {
    const input = (length: number) => ({ name: 'p', description: 'd'.repeat(length) });
    expect(projectInputSchema.safeParse(input(2000)).success).toBe(true);
    expect(fieldErrors(projectInputSchema, input(2001))).toEqual([
      { path: '/description', message: 'must be at most 2000 characters' },
    ]);
  });

  it('names each invalid field', () => {
    const errors = fieldErrors(projectInputSchema, {
      description: 'a\u0000',
      status: 'paused',
      sparc_mode: 'coding',
      metadata: [],
    });
    expect(errors.map((error) => error.path)).toEqual([
      '/name',
      '/description',
      '/status',
      '/sparc_mode',
      '/metadata',
    ]);
    expect(errors[0]?.message).toBe('is required');
  });
});

describe('projectPatchSchema', () => {
  it('accepts any one field alone, without defaults', () => {
    expect(projectPatchSchema.parse({ status: 'archived' })).toEqual({ status: 'archived' });
    expect(projectPatchSchema.parse({ description: null })).toEqual({ description: null });
  });

  it('refuses a patch that changes nothing', () => {
    expect(fieldErrors(projectPatchSchema, {})).toEqual([
      { path: '/', message: 'must change at least one field' },
    ]);
  });
});

describe('projectListQuerySchema', () => {
  it('pages 20 projects, newest first, unless asked otherwise', () => {
    expect(projectListQuerySchema.parse({})).toEqual({ limit: 20, offset: 0, sort: '-created_at' });
    expect(
      projectListQuerySchema.parse({ limit: '100', offset: '40', sort: 'name', status: 'active' }),
    ).toEqual({ limit: 100, offset: 40, sort: 'name', status: ['active'] });
  });

  it('refuses a limit outside 1–100, an unknown sort and an unknown parameter', () => {
    for (const limit of ['0', '101']) {
      expect(fieldErrors(projectListQuerySchema, { limit })[0]?.path).toBe('/limit');
    }
    expect(fieldErrors(projectListQuerySchema, { sort: 'status' })[0]?.path).toBe('/sort');
    expect(projectListQuerySchema.safeParse({ page: '2' }).success).toBe(false);
  });
});
