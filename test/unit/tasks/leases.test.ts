import { describe, expect, it } from 'vitest';
import { deadlineOf, expiredOutcome, leaseFrom } from '../../../src/tasks/leases.js';

const at = (ms: number) => new Date(Date.UTC(2026, 0, 1) + ms);

describe('leases', () => {
  it('lasts lease_ms from the claim or heartbeat, but never past the deadline', () => {
    expect(leaseFrom(at(0), 30_000, null)).toEqual(at(30_000));
    expect(leaseFrom(at(0), 30_000, at(10_000))).toEqual(at(10_000));
  });

  it('has a deadline only with a timeout', () => {
    expect(deadlineOf(at(5), null)).toBeNull();
    expect(deadlineOf(at(5), 1_000)).toEqual(at(1_005));
  });

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
