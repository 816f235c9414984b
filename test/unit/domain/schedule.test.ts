import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  scheduleInputSchema,
  scheduleListQuerySchema,
  schedulePatchSchema,
} from '../../../src/domain/schedule.js';
import { fieldErrors } from './field-errors.js';

const projectId = '5f0c7b8e-2a44-4d0a-9b1e-0c6f3c1d2e3a';
const fieldsMessage = 'must have 5 fields (minute hour day month weekday), or 6 with seconds first';

describe('scheduleInputSchema', () => {
  const input = (cron: string) => ({
    project_id: projectId,
    name: 'nightly',
    cron,
    task: { title: 't' },
  });

  it('runs in UTC, enabled, skipping overlaps, unless told otherwise', () => {
    expect(scheduleInputSchema.parse(input('0 3 * * *'))).toMatchObject({
      cron: '0 3 * * *',
      timezone: 'UTC',
      enabled: true,
      overlap: 'skip',
      task: { title: 't', kind: '', max_attempts: 3 },
    });
  });

  it('accepts 5 or 6 cron fields, trimmed, separated by any white space', () => {
    expect(scheduleInputSchema.parse(input(' 0  3\t* * * ')).cron).toBe('0  3\t* * *');
    expect(scheduleInputSchema.parse(input('30 0 3 * * *')).cron).toBe('30 0 3 * * *');
    expect(scheduleInputSchema.parse(input('0  3  *  *  *')).cron).toBe('0  3  *  *  *');
    expect(fieldErrors(scheduleInputSchema, input('0  3  *  *'))).toEqual([
      { path: '/cron', message: fieldsMessage },
    ]);
  });

  it('refuses any other number of fields, naming the two forms', () => {
    const fieldCounts = fc.integer({ min: 1, max: 12 }).filter((n) => n !== 5 && n !== 6);
    fc.assert(
      fc.property(fieldCounts, (count) => {
        expect(fieldErrors(scheduleInputSchema, input(Array(count).fill('*').join(' ')))).toEqual([
          { path: '/cron', message: fieldsMessage },
        ]);
      }),
    );
  });

  it('refuses an empty timezone and a task template with a project', () => {
    const paths = (body: object) => fieldErrors(scheduleInputSchema, body).map((e) => e.path);
    expect(paths({ ...input('* * * * *'), timezone: '' })).toEqual(['/timezone']);
    expect(paths({ ...input('* * * * *'), task: { title: 't', project_id: projectId } })).toEqual([
      '/task',
    ]);
  });
});

describe('schedulePatchSchema', () => {
  it('accepts one field alone and refuses an empty patch', () => {
    expect(schedulePatchSchema.parse({ enabled: false })).toEqual({ enabled: false });
    expect(schedulePatchSchema.parse({ cron: ' */5 * * * * ' })).toEqual({ cron: '*/5 * * * *' });
    expect(fieldErrors(schedulePatchSchema, {})).toEqual([
      { path: '/', message: 'must change at least one field' },
    ]);
  });
});

describe('scheduleListQuerySchema', () => {
  it('reads enabled=true and enabled=false as booleans, and nothing else', () => {
    expect(scheduleListQuerySchema.parse({ enabled: 'true' }).enabled).toBe(true);
    expect(scheduleListQuerySchema.parse({ enabled: 'false' }).enabled).toBe(false);
    expect(scheduleListQuerySchema.parse({}).enabled).toBeUndefined();
    expect(fieldErrors(scheduleListQuerySchema, { enabled: '1' })[0]?.path).toBe('/enabled');
  });
});
