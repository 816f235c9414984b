import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  MEMORY_CONTENT_MAX_BYTES,
  looksLikeProjectEntityName,
  memoryEntityName,
  memoryEntryPath,
  memoryInputSchema,
  memoryKeySchema,
  memoryListQuerySchema,
  memorySearchQuerySchema,
} from '../../../src/domain/memory.js';
import { fieldErrors, messagesOf } from './field-errors.js';

const projectId = '5f0c7b8e-2a44-4d0a-9b1e-0c6f3c1d2e3a';

describe('memoryKeySchema', () => {
  it('stores a key exactly as sent, untrimmed, from 1 to 255 characters', () => {
    expect(memoryKeySchema.parse(' notes/a ')).toBe(' notes/a ');
    expect(memoryKeySchema.parse('k'.repeat(255))).toHaveLength(255);
    expect(messagesOf(memoryKeySchema, 'k'.repeat(256))).toEqual([
      'must be at most 255 characters',
    ]);
    expect(messagesOf(memoryKeySchema, '')).toEqual(['must not be empty']);
  });

  it('refuses the keys the router sends elsewhere, and only those', () => {
    const reserved = 'must not be "search" or "circuit" (reserved by the API)';
    expect(messagesOf(memoryKeySchema, 'search')).toEqual([reserved]);
    expect(messagesOf(memoryKeySchema, 'circuit')).toEqual([reserved]);
    for (const key of ['Search', 'search/x', 'circuits']) {
      expect(memoryKeySchema.parse(key)).toBe(key);
    }
  });
});

describe('memoryInputSchema', () => {
  it('fills tags and owners with their defaults', () => {
    expect(memoryInputSchema.parse({ key: 'k', content: 'c' })).toEqual({
      key: 'k',
      content: 'c',
      tags: [],
      project_id: null,
      agent_id: null,
    });
  });

  it('bounds content by bytes of UTF-8', () => {
    const entry = (content: string) => ({ key: 'k', content });
    expect(memoryInputSchema.safeParse(entry('x'.repeat(MEMORY_CONTENT_MAX_BYTES))).success).toBe(
      true,
    );
    const tooLarge = [{ path: '/content', message: 'must be at most 65536 bytes of UTF-8' }];
    expect(fieldErrors(memoryInputSchema, entry('x'.repeat(MEMORY_CONTENT_MAX_BYTES + 1)))).toEqual(
      tooLarge,
    );
    expect(fieldErrors(memoryInputSchema, entry('€'.repeat(MEMORY_CONTENT_MAX_BYTES / 2)))).toEqual(
      tooLarge,
    );
  });

  it('refuses a repeated tag, and more than 64 tags', () => {
    expect(
      fieldErrors(memoryInputSchema, { key: 'k', content: 'c', tags: ['a', 'b', 'a'] }),
    ).toEqual([{ path: '/tags', message: 'must not repeat a tag' }]);
    const tags = (count: number) => Array.from({ length: count }, (_, i) => `t${i}`);
    expect(memoryInputSchema.safeParse({ key: 'k', content: 'c', tags: tags(64) }).success).toBe(
      true,
    );
    expect(messagesOf(memoryInputSchema, { key: 'k', content: 'c', tags: tags(65) })).toEqual([
      'must hold at most 64 items',
    ]);
  });

  it('refuses a key that reads as a project entity only in an entry without a project', () => {
    const key = `@${projectId}/notes`;
    expect(fieldErrors(memoryInputSchema, { key, content: 'c' })).toEqual([
      { path: '/key', message: 'must not start with "@<uuid>/" in an entry without a project_id' },
    ]);
    expect(memoryInputSchema.parse({ key, content: 'c', project_id: projectId }).key).toBe(key);
  });
});

describe('entity names', () => {
  it('names a project entry after its project, and an entry without one by its key', () => {
    expect(memoryEntityName({ key: 'notes', project_id: null })).toBe('notes');
    expect(memoryEntityName({ key: 'notes', project_id: projectId })).toBe(`@${projectId}/notes`);
  });

  it('recognises any project entity name, and no key without the @<uuid>/ prefix', () => {
    fc.assert(
      fc.property(fc.uuid(), fc.string(), (uuid, key) => {
        expect(looksLikeProjectEntityName(memoryEntityName({ key, project_id: uuid }))).toBe(true);
        expect(looksLikeProjectEntityName(`@${uuid.toUpperCase()}/${key}`)).toBe(true);
      }),
    );
    for (const key of [`${projectId}/x`, `@${projectId}`, `x@${projectId}/y`, `@${projectId}x/`]) {
      expect(looksLikeProjectEntityName(key), key).toBe(false);
    }
  });
});

describe('memoryEntryPath', () => {
  it('encodes the key and names the project when there is one', () => {
    expect(memoryEntryPath({ key: 'a/b c?', project_id: null })).toBe(
      '/api/v1/memory/a%2Fb%20c%3F',
    );
    expect(memoryEntryPath({ key: 'k', project_id: projectId })).toBe(
      `/api/v1/memory/k?project_id=${projectId}`,
    );
  });
});

describe('memory queries', () => {
  it('searches for 1–1000 characters, 20 hits unless asked', () => {
    expect(memorySearchQuerySchema.parse({ q: 'x' })).toEqual({ q: 'x', limit: 20 });
    expect(memorySearchQuerySchema.safeParse({ q: 'x'.repeat(1000) }).success).toBe(true);
    expect(messagesOf(memorySearchQuerySchema, { q: 'x'.repeat(1001) })).toEqual([
      'must be at most 1000 characters',
    ]);
    expect(messagesOf(memorySearchQuerySchema, { q: '' })).toEqual(['must not be empty']);
  });

  it('lists the most recently updated entries first', () => {
    expect(memoryListQuerySchema.parse({})).toEqual({ limit: 20, offset: 0, sort: '-updated_at' });
  });
});
