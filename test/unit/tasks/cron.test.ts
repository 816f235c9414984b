import { describe, expect, it } from 'vitest';
import { cronProblems, isTimeZone, nextTick } from '../../../src/tasks/cron.js';

describe('nextTick', () => {
  it('fires at the next matching instant in the schedule time zone', () => {
    const next = nextTick('0 9 * * *', 'Europe/Paris', new Date('2026-06-01T08:00:00Z'));
    expect(next?.toISOString()).toBe('2026-06-02T07:00:00.000Z');
  });

  it('takes six fields with seconds first', () => {
    const next = nextTick('*/10 * * * * *', 'UTC', new Date('2026-06-01T08:00:03Z'));
    expect(next?.toISOString()).toBe('2026-06-01T08:00:10.000Z');
  });

  it('fires a daily job once a day across both DST changes', () => {
    const fromSpring = nextTick('30 2 * * *', 'Europe/Paris', new Date('2026-03-28T12:00:00Z'));
    // 02:30 does not exist on 29 March in Paris (02:00 → 03:00): it fires at the next instant.
    expect(fromSpring?.toISOString()).toBe('2026-03-29T01:30:00.000Z');
    const autumn = new Date('2026-10-24T12:00:00Z');
    const first = nextTick('30 2 * * *', 'Europe/Paris', autumn)!;
    const second = nextTick('30 2 * * *', 'Europe/Paris', first)!;
    // 02:30 happens twice on 25 October: one run that day, the next on the 26th.
    expect(first.toISOString()).toBe('2026-10-25T01:30:00.000Z');
    expect(second.toISOString()).toBe('2026-10-26T01:30:00.000Z');
  });

  it('keeps the wall-clock hour in New York across its DST change', () => {
    const before = nextTick('0 12 * * *', 'America/New_York', new Date('2026-03-07T18:00:00Z'));
    const after = nextTick('0 12 * * *', 'America/New_York', before!);
    expect(before?.toISOString()).toBe('2026-03-08T16:00:00.000Z');
    expect(after?.toISOString()).toBe('2026-03-09T16:00:00.000Z');
  });
});

describe('cronProblems', () => {
  it('accepts valid expressions and IANA zones', () => {
    expect(cronProblems('*/5 * * * *', 'UTC')).toEqual([]);
    expect(cronProblems('0 0 * * 1-5', 'Asia/Tokyo')).toEqual([]);
  });

  it('names the field at fault', () => {
    expect(cronProblems('61 * * * *', 'UTC')[0]?.path).toBe('/cron');
    expect(cronProblems('* * * *', 'UTC')[0]?.path).toBe('/cron');
    expect(cronProblems('0 0 30 2 *', 'UTC')).toEqual([{ path: '/cron', message: 'never fires' }]);
    expect(cronProblems('* * * * *', 'Mars/Olympus')[0]?.path).toBe('/timezone');
  });

  it('says what is wrong, in words a user can act on', () => {
    expect(cronProblems('* * * * *', 'Mars/Olympus')).toEqual([
      { path: '/timezone', message: 'must be an IANA time zone, such as Europe/Paris' },
    ]);
    const [invalid] = cronProblems('61 * * * *', 'UTC');
    expect(invalid?.message).toMatch(/^is not a valid cron expression: \S/);
  });

  it('knows time zones by name', () => {
    expect(isTimeZone('Europe/Paris')).toBe(true);
    expect(isTimeZone('Nowhere/Else')).toBe(false);
  });
});
