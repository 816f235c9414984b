import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  decodeObservation,
  encodeRecord,
  entityToRecord,
  isServerSearchable,
  MEMORY_ENTITY_TYPE,
  memoryEntityName,
  type MemoryRecord,
  recordMatchesProject,
  recordMatchesQuery,
  selectSearchHits,
} from '../../../src/memory/mcp-records.js';

const project = '6f1c0000-0000-4000-8000-000000000001';
const global: MemoryRecord = {
  key: 'notes',
  content: 'c',
  tags: [],
  project_id: null,
  agent_id: null,
};
const owned: MemoryRecord = { ...global, project_id: project };

describe('memory entity names', () => {
  it('names an entry without a project by its key and a project entry by project and key', () => {
    expect(memoryEntityName(global)).toBe('notes');
    expect(memoryEntityName(owned)).toBe(`@${project}/notes`);
  });

  it('reads a record back from its own name only', () => {
    expect(decodeObservation(`@${project}/notes`, encodeRecord(owned))).toEqual(owned);
    expect(decodeObservation('notes', encodeRecord(global))).toEqual(global);
    expect(decodeObservation('a/@b/c', encodeRecord({ ...global, key: 'a/@b/c' }))?.key).toBe(
      'a/@b/c',
    );
  });

  it('ignores a project record under a bare key (written before keys were per project)', () => {
    expect(decodeObservation('notes', encodeRecord(owned))).toBeUndefined();
    const other = '6f1c0000-0000-4000-8000-000000000002';
    expect(decodeObservation(`@${other}/notes`, encodeRecord(owned))).toBeUndefined();
  });

  it('ignores a record without a project under a name of the project form', () => {
    expect(decodeObservation(`@${project}/notes`, encodeRecord(global))).toBeUndefined();
  });

  it('turns a whole entity back into its record', () => {
    const entity = {
      name: `@${project}/notes`,
      entityType: MEMORY_ENTITY_TYPE,
      observations: [encodeRecord(owned)],
    };
    expect(entityToRecord(entity)).toEqual(owned);
  });
});

describe('reading entities back', () => {
  const entity = (record: MemoryRecord, ...older: string[]) => ({
    name: memoryEntityName(record),
    entityType: MEMORY_ENTITY_TYPE,
    observations: [...older, encodeRecord(record)],
  });

  it('takes the last record of an entity whose store was interrupted', () => {
    const newer = { ...owned, content: 'newer' };
    expect(entityToRecord(entity(newer, encodeRecord(owned)))).toEqual(newer);
    const withNote = entity(owned);
    withNote.observations.push('a note another client added');
    expect(entityToRecord(withNote)).toEqual(owned);
  });

  it('ignores entities of other types, and observations that are not its records', () => {
    expect(entityToRecord({ ...entity(owned), entityType: 'person' })).toBeUndefined();
    expect(entityToRecord({ ...entity(owned), observations: [] })).toBeUndefined();
    for (const observation of ['{not json', '{"v":2,"content":"c"}', 'null', '"text"']) {
      expect(decodeObservation('notes', observation), observation).toBeUndefined();
    }
  });

  it('gives back any record it encoded, under its entity name', () => {
    const records = fc.record({
      key: fc.string({ minLength: 1 }),
      content: fc.string(),
      tags: fc.array(fc.string()),
      project_id: fc.option(fc.uuid(), { nil: null }),
      agent_id: fc.option(fc.uuid(), { nil: null }),
    });
    fc.assert(
      fc.property(records, (record) => {
        fc.pre(record.project_id !== null || !/^@[0-9a-f-]{36}\//i.test(record.key));
        expect(entityToRecord(entity(record))).toEqual(record);
      }),
    );
  });
});

describe('search', () => {
  const record = { ...owned, key: 'Build-Notes', content: 'Uses Vite', tags: ['Frontend'] };

  it('matches the key, the content or a tag, ignoring case, not the JSON around them', () => {
    for (const query of ['build-notes', 'VITE', 'frontend', 'uses v']) {
      expect(recordMatchesQuery(record, query), query).toBe(true);
    }
    for (const query of ['content', 'tags', 'null', 'project_id', 'backend']) {
      expect(recordMatchesQuery(record, query), query).toBe(false);
    }
  });

  it('filters by project: any, none (null) or exactly one', () => {
    expect(recordMatchesProject(owned, undefined)).toBe(true);
    expect(recordMatchesProject(global, undefined)).toBe(true);
    expect(recordMatchesProject(global, null)).toBe(true);
    expect(recordMatchesProject(owned, null)).toBe(false);
    expect(recordMatchesProject(owned, project)).toBe(true);
    expect(recordMatchesProject(global, project)).toBe(false);
  });

  it("trusts the server's search only for text that JSON does not escape", () => {
    expect(isServerSearchable('plain text, ünïcode ✓')).toBe(true);
    for (const query of ['say "hi"', 'back\\slash', 'line\nbreak', 'tab\t']) {
      expect(isServerSearchable(query), query).toBe(false);
    }
  });

  it('keeps the newest matching entries of the project, up to the limit', () => {
    const entries = ['a1', 'b1', 'a2', 'a3'].map((key) => ({
      name: key,
      entityType: MEMORY_ENTITY_TYPE,
      observations: [
        encodeRecord({ ...global, key, content: key.startsWith('a') ? 'alpha' : 'beta' }),
      ],
    }));
    const owners = {
      name: `@${project}/a4`,
      entityType: MEMORY_ENTITY_TYPE,
      observations: [encodeRecord({ ...owned, key: 'a4', content: 'alpha' })],
    };
    const keys = (limit: number, project_id?: string | null) =>
      selectSearchHits([...entries, owners], 'alpha', { limit, project_id }).map((hit) => hit.key);
    expect(keys(10)).toEqual(['a4', 'a3', 'a2', 'a1']);
    expect(keys(2)).toEqual(['a4', 'a3']);
    expect(keys(10, null)).toEqual(['a3', 'a2', 'a1']);
    expect(keys(10, project)).toEqual(['a4']);
    expect(keys(0)).toEqual([]);
  });
});
