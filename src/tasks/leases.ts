/** An attempt's clock: when its lease runs out and, with a `timeout_ms`, when it must end. */
export interface AttemptClock {
  leaseExpiresAt: Date;
  deadline: Date | null;
}

/** How an attempt that an agent stopped reporting on ends. */
export type ExpiredOutcome = 'timed_out' | 'lost';

/**
 * Whether an attempt is over at `now` without word from its agent: `timed_out` once its
 * deadline passed, `lost` once its lease ran out, else null (still held).
 */
export function expiredOutcome(clock: AttemptClock, now: Date): ExpiredOutcome | null {
  if (clock.deadline !== null && clock.deadline.getTime() <= now.getTime()) return 'timed_out';
  return clock.leaseExpiresAt.getTime() <= now.getTime() ? 'lost' : null;
}
