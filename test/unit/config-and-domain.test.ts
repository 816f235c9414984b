import { describe, expect, expectTypeOf, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';
import type { Agent } from '../../src/domain/agent.js';
import {
  METADATA_MAX_MEMBERS,
  isStorableText,
  metadataSchema,
  nameSchema,
  queryInteger,
} from '../../src/domain/common.js';
import {
  type EventDataMap,
  type TypedEvent,
  eventSchema,
  eventTypes,
  projectEvent,
} from '../../src/domain/event.js';
import type { Project } from '../../src/domain/project.js';

describe('loadConfig', () => {
  it('applies the documented defaults', () => {
    expect(loadConfig({})).toMatchObject({
      HOST: '127.0.0.1',
      PORT: 3000,
      DATA_DIR: './data',
      LOG_LEVEL: 'info',
    });
    expect(loadConfig({}).DATABASE_URL).toBeUndefined();
  });

  it('treats empty strings as unset and coerces numbers', () => {
    expect(loadConfig({ PORT: '', DATABASE_POOL_SIZE: '7' })).toMatchObject({
      PORT: 3000,
      DATABASE_POOL_SIZE: 7,
    });
  });

  it('names every bad variable', () => {
    expect(() =>
      loadConfig({ PORT: 'eighty', LOG_LEVEL: 'loud', DATABASE_URL: 'mysql://x' }),
    ).toThrow(ConfigError);
    try {
      loadConfig({ PORT: '70000', DATABASE_URL: 'mysql://x' });
    } catch (error) {
      expect((error as Error).message).toMatch(/PORT:.*DATABASE_URL: must start with postgres/);
    }
  });

  // The components these settings configure (gateway, dispatcher, pruner, breaker, replay worker,
  // search cache) trust their options: config is the one place they are checked.
  it.each([
    ['EVENT_PRUNE_INTERVAL_MS', '0'],
    ['EVENT_POLL_MS', '0'],
    ['WS_HEARTBEAT_MS', '0'],
    ['WS_HEARTBEAT_MS', '1.5'],
    ['AUTH_KEY_CACHE_MS', '99'],
    ['AUTH_KEY_CACHE_MS', '600001'],
    ['WS_MAX_BUFFERED_BYTES', '0'],
    ['WS_MAX_CONNECTIONS', '0'],
    ['MEMORY_BREAKER_FAILURE_THRESHOLD', '0'],
    ['MEMORY_BREAKER_FAILURE_THRESHOLD', '1.5'],
    ['MEMORY_BREAKER_OPEN_MS', '-1'],
    ['MEMORY_BREAKER_HALF_OPEN_SUCCESSES', '0'],
    ['MEMORY_STORE_TIMEOUT_MS', '0'],
    ['MEMORY_STORE_TIMEOUT_MS', '2147483648'],
    ['MEMORY_SEARCH_TIMEOUT_MS', 'NaN'],
    ['MEMORY_CACHE_MAX_ENTRIES', '-1'],
    ['MEMORY_CACHE_MAX_BYTES', '1.5'],
  ])('refuses %s=%s, naming it', (name, value) => {
    expect(() => loadConfig({ [name]: value })).toThrow(
      new RegExp(`^Invalid configuration: ${name}: `),
    );
  });

  it('accepts postgres and memory URLs', () => {
    expect(loadConfig({ DATABASE_URL: 'postgresql://u@h:5432/db' }).DATABASE_URL).toBe(
      'postgresql://u@h:5432/db',
    );
    expect(loadConfig({ DATABASE_URL: 'memory://' }).DATABASE_URL).toBe('memory://');
  });
});

describe('event shapes', () => {
  it('derive the TypeScript types from the zod schema of the wire', () => {
    type ProjectUpdate = { project: Project; changed_fields: string[] };
    expectTypeOf<EventDataMap['PROJECT_UPDATE']>().toEqualTypeOf<ProjectUpdate>();
    expectTypeOf<EventDataMap['AGENT_DELETED']>().toEqualTypeOf<{
      id: string;
      project_id: string | null;
    }>();
    type AgentStatus = Extract<TypedEvent, { type: 'AGENT_STATUS' }>;
    expectTypeOf<AgentStatus['data']['agent']>().toEqualTypeOf<Agent>();
    expectTypeOf<TypedEvent['type']>().toEqualTypeOf<(typeof eventTypes)[number]>();
    expect(eventSchema.options.map((option) => option.shape.type.value)).toEqual(eventTypes);
  });

  it('refuse a data of another type', () => {
    const envelope = { id: 1, topic: 'system', timestamp: '2026-12-01T10:00:00.000Z' };
    const deleted = { ...envelope, type: 'PROJECT_DELETED', data: { id: crypto.randomUUID() } };
    expect(eventSchema.safeParse(deleted).success).toBe(true);
    expect(eventSchema.safeParse({ ...deleted, type: 'AGENT_DELETED' }).success).toBe(false);
    expect(
      eventSchema.safeParse({ ...envelope, type: 'TASK_EXECUTION', data: { any: 1 } }).success,
    ).toBe(false);
    // @ts-expect-error: the helpers accept only the data of the type they are given
    projectEvent('PROJECT_DELETED', crypto.randomUUID(), { project_id: null });
  });
});

describe('domain rules', () => {
  it('rejects text PostgreSQL cannot store', () => {
    expect(isStorableText('ok ✓ 😀')).toBe(true);
    expect(isStorableText('a\u0000')).toBe(false);
    expect(isStorableText('\udc00')).toBe(false);
    expect(isStorableText('\ufeffa')).toBe(false);
    expect(isStorableText('a\ufeff')).toBe(true);
  });

  it('trims names and refuses blank ones', () => {
    expect(nameSchema.parse('  x ')).toBe('x');
    expect(nameSchema.safeParse('   ').success).toBe(false);
  });

  it('bounds metadata by size, depth and content, including keys', () => {
    expect(metadataSchema.safeParse({ list: [1, 'two', { three: null }] }).success).toBe(true);
    expect(metadataSchema.safeParse({ ['k\u0000']: 1 }).success).toBe(false);
    expect(metadataSchema.safeParse({ list: ['\ud800'] }).success).toBe(false);
    const deep = JSON.parse('{"a":'.repeat(33) + '1' + '}'.repeat(33));
    expect(metadataSchema.safeParse(deep).success).toBe(false);
    const shallowEnough = JSON.parse('{"a":'.repeat(32) + '1' + '}'.repeat(32));
    expect(metadataSchema.safeParse(shallowEnough).success).toBe(true);
    const list = (items: number) => ({ list: Array(items).fill(0) });
    expect(metadataSchema.safeParse(list(METADATA_MAX_MEMBERS - 1)).success).toBe(true);
    expect(metadataSchema.safeParse(list(METADATA_MAX_MEMBERS)).success).toBe(false);
  });

  it('checks depth without recursion, before measuring the size', () => {
    let deep: unknown = 1;
    for (let level = 0; level < 100_000; level += 1) deep = [deep];
    expect(metadataSchema.safeParse({ deep }).error?.issues[0]?.message).toContain('32 levels');
  });

  it('reads query integers in plain decimal digits only', () => {
    const limit = queryInteger(1, 100).default(20);
    expect(limit.parse('16')).toBe(16);
    expect(limit.parse(undefined)).toBe(20);
    for (const text of ['0x10', '', '1e1', ' 5', '+5', '05', '-0', '5.0']) {
      expect(limit.safeParse(text).success, text).toBe(false);
    }
    expect(limit.safeParse('0').error?.issues[0]?.message).toMatch(/>=1/);
    expect(limit.safeParse('9'.repeat(400)).success).toBe(false);
  });
});
