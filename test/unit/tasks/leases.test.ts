import { describe, expect, it } from 'vitest';
import { expiredOutcome } from '../../../src/tasks/leases.js';

const at = (ms: number) => new Date(Date.UTC(2026, 0, 1) + ms);

describe('leases', () => {
  it('holds until the lease runs out, then the attempt is lost', () => {
    const clock = { leaseExpiresAt: at(30_000), deadline: null };
    expect(expiredOutcome(clock, at(29_999))).toBeNull();
    expect(expiredOutcome(clock, at(30_000))).toBe('lost');
  });

  it('calls an attempt past its deadline timed out, even with a live lease', () => {
    const clock = { leaseExpiresAt: at(60_000), deadline: at(10_000) };
    expect(expiredOutcome(clock, at(9_999))).toBeNull();
    expect(expiredOutcome(clock, at(10_000))).toBe('timed_out');
  });
});
