import { describe, expect, it } from 'vitest';
import { LruCache, SearchCache } from '../../../src/memory/search-cache.js';
import type { MemoryRecord } from '../../../src/memory/mcp-records.js';

/** Every value weighs its length in bytes, keys nothing: easy to reason about. */
function cache(maxEntries: number, maxBytes: number) {
  return new LruCache<string>({ maxEntries, maxBytes, sizeOf: (value) => value.length });
}

function record(key: string, overrides: Partial<MemoryRecord> = {}): MemoryRecord {
  return {
    key,
    content: `content of ${key}`,
    tags: [],
    project_id: null,
    agent_id: null,
    ...overrides,
  };
}

describe('LruCache', () => {
  it('evicts the least recently used entry beyond maxEntries; get refreshes recency', () => {
    const lru = cache(2, 100);
    lru.set('a', '1');
    lru.set('b', '2');
    expect(lru.get('a')).toBe('1');
    lru.set('c', '3');
    expect([lru.get('a'), lru.get('b'), lru.get('c')]).toEqual(['1', undefined, '3']);
    expect(lru.size).toBe(2);
  });

  it('evicts oldest entries until the byte bound holds, and counts bytes exactly', () => {
    const lru = cache(10, 10);
    lru.set('a', 'xxxx');
    lru.set('b', 'xxxx');
    expect(lru.bytes).toBe(8);
    lru.set('c', 'xxxxxx');
    expect(lru.get('a')).toBeUndefined();
    expect(lru.get('b')).toBe('xxxx');
    expect(lru.bytes).toBe(10);
    lru.set('d', 'xxxxxxxxx');
    expect([lru.size, lru.bytes]).toEqual([1, 9]);
  });

  it('replaces a key in place without double counting its bytes', () => {
    const lru = cache(10, 10);
    lru.set('a', 'xxxx');
    lru.set('a', 'yy');
    expect([lru.size, lru.bytes, lru.get('a')]).toEqual([1, 2, 'yy']);
  });

  it('refuses a value larger than maxBytes on its own, and drops the stale one under its key', () => {
    const lru = cache(10, 5);
    lru.set('other', 'ok');
    lru.set('a', 'old');
    expect(lru.set('a', 'x'.repeat(6))).toBe(false);
    expect(lru.get('a')).toBeUndefined();
    expect([lru.get('other'), lru.bytes]).toEqual(['ok', 2]);
    expect(lru.set('b', 'xxxxx')).toBe(true);
  });

  it('stores nothing when a bound is 0', () => {
    for (const lru of [cache(0, 100), cache(10, 0)]) {
      expect(lru.set('a', 'x')).toBe(false);
      expect(lru.size).toBe(0);
    }
    expect(cache(10, 0).set('empty', '')).toBe(true);
  });

  it('deletes one key or every entry a predicate accepts', () => {
    const lru = cache(10, 100);
    for (const key of ['a', 'b', 'c']) lru.set(key, key.repeat(3));
    expect([lru.delete('a'), lru.delete('a')]).toEqual([true, false]);
    expect(lru.deleteWhere((value, key) => value === 'bbb' || key === 'zzz')).toBe(1);
    expect([lru.size, lru.bytes, lru.get('c')]).toEqual([1, 3, 'ccc']);
  });
});

describe('SearchCache', () => {
  const query = { q: 'Deploy', limit: 10 };

  it('keys answers by case-insensitive text, project and limit', () => {
    const searches = new SearchCache({ maxEntries: 10, maxBytes: 10_000 });
    const hits = [record('a', { content: 'deploy notes' })];
    searches.set(query, hits);
    expect(searches.get({ q: 'DEPLOY', limit: 10 })).toEqual(hits);
    expect(searches.get({ q: 'deploy', limit: 5 })).toBeUndefined();
    expect(searches.get({ q: 'deploy', limit: 10, project_id: 'p' })).toBeUndefined();
    expect(searches.size).toBe(1);
  });

  it('answers only the same text: case folds as the server matches it, not into other words', () => {
    const searches = new SearchCache({ maxEntries: 10, maxBytes: 10_000 });
    const hits = [record('street', { content: 'Straße 1' })];
    searches.set({ q: 'straße', limit: 10 }, hits);
    expect(searches.get({ q: 'STRAßE', limit: 10 })).toEqual(hits);
    expect(searches.get({ q: 'STRASSE', limit: 10 })).toBeUndefined();
  });

  it('keeps an answer listing a key of another project than the write', () => {
    const searches = new SearchCache({ maxEntries: 10, maxBytes: 10_000 });
    const hits = [record('drinks', { content: 'tea', project_id: 'p2' })];
    searches.set({ q: 'tea', limit: 10 }, hits);
    expect(searches.invalidate(record('drinks', { content: 'coffee', project_id: 'p1' }))).toBe(0);
    expect(searches.get({ q: 'tea', limit: 10 })).toEqual(hits);
  });

  it('drops answers a write would appear in, or whose listed key it changes, and keeps the rest', () => {
    const searches = new SearchCache({ maxEntries: 10, maxBytes: 10_000 });
    searches.set(query, []);
    searches.set({ q: 'tea', limit: 10 }, [record('drinks', { content: 'tea' })]);
    searches.set({ q: 'unrelated', limit: 10 }, []);
    searches.set({ q: 'deploy', limit: 10, project_id: 'p1' }, []);

    expect(searches.invalidate(record('new', { content: 'how we DEPLOY' }))).toBe(1);
    expect(searches.get(query)).toBeUndefined();
    expect(searches.get({ q: 'deploy', limit: 10, project_id: 'p1' })).toEqual([]);
    expect(searches.invalidate(record('drinks', { content: 'coffee now' }))).toBe(1);
    expect(searches.get({ q: 'tea', limit: 10 })).toBeUndefined();
    expect(searches.get({ q: 'unrelated', limit: 10 })).toEqual([]);
  });

  it('weighs an answer by its key and its hits as JSON, so maxBytes bounds it', () => {
    const hits = [record('a')];
    const bytes =
      Buffer.byteLength(JSON.stringify(['deploy', null, 10])) +
      Buffer.byteLength(JSON.stringify(hits));
    const exact = new SearchCache({ maxEntries: 10, maxBytes: bytes });
    exact.set(query, hits);
    expect(exact.get(query)).toEqual(hits);
    const tooSmall = new SearchCache({ maxEntries: 10, maxBytes: bytes - 1 });
    tooSmall.set(query, hits);
    expect(tooSmall.get(query)).toBeUndefined();
  });
});
