/**
 * The memory benchmark's data: records of a fixed content size, server-memory graph files grown
 * to a given size before a server starts, and reading such a file back (the end-of-run check
 * that every acknowledged write reached the server). No child.ts import: the baseline child
 * (bench/baseline-memory.ts) loads this too.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import {
  MEMORY_ENTITY_TYPE,
  type MemoryRecord,
  encodeRecord,
  entityToRecord,
  memoryEntityName,
} from '../../src/memory/mcp-records.js';

/** Text every benchmark entry repeats after its key, up to its content size. */
const FILLER =
  'Agents share findings through this memory: design notes, test results, decisions and open questions. ';

/**
 * An entry without a project whose content is `contentBytes` of ASCII starting with its key
 * (so a search for the key also matches the content, as a real note about its subject would).
 */
export function benchRecord(key: string, contentBytes: number, tags: string[]): MemoryRecord {
  let content = `${key}: `;
  while (content.length < contentBytes) content += FILLER;
  return { key, content: content.slice(0, contentBytes), tags, project_id: null, agent_id: null };
}

/** Keys `seed-000000`, `seed-000001`, … of the entries a grown graph starts with. */
export function seedKey(index: number): string {
  return `seed-${String(index).padStart(6, '0')}`;
}

/** One entity line exactly as server-memory's saveGraph writes it. */
function entityLine(record: MemoryRecord): string {
  return JSON.stringify({
    type: 'entity',
    name: memoryEntityName(record),
    entityType: MEMORY_ENTITY_TYPE,
    observations: [encodeRecord(record)],
  });
}

/**
 * Writes a graph file of at least `targetBytes` in server-memory's own format (one JSON entity
 * per line, joined by "\n", no trailing newline, as its saveGraph writes it), holding memory
 * entries as this service stores them: what the file of a service that already stored that
 * many entries looks like, without spending minutes storing them through a server.
 */
export function writeGrownGraph(
  path: string,
  targetBytes: number,
  contentBytes: number,
): { entities: number; bytes: number } {
  const lines: string[] = [];
  let bytes = 0;
  while (bytes < targetBytes) {
    const index = lines.length;
    const line = entityLine(
      benchRecord(seedKey(index), contentBytes, ['seed', `team-${index % 10}`]),
    );
    bytes += Buffer.byteLength(line) + (index === 0 ? 0 : 1);
    lines.push(line);
  }
  writeFileSync(path, lines.join('\n'));
  return { entities: lines.length, bytes };
}

/**
 * The memory entries of a graph file, by entity name (the file is replaced atomically by rename, so
 * reading it is safe).
 */
export function readGraphRecords(path: string): Map<string, MemoryRecord> {
  const records = new Map<string, MemoryRecord>();
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (line.trim() === '') continue;
    const item = JSON.parse(line) as {
      type?: string;
      name: string;
      entityType: string;
      observations: string[];
    };
    if (item.type !== 'entity') continue;
    const record = entityToRecord({
      name: item.name,
      entityType: item.entityType,
      observations: item.observations,
    });
    if (record !== undefined) records.set(item.name, record);
  }
  return records;
}
