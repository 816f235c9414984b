import { describe, expect, it } from 'vitest';
import {
  decodeObservation,
  encodeRecord,
  entityToRecord,
  MEMORY_ENTITY_TYPE,
  memoryEntityName,
  type MemoryRecord,
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
