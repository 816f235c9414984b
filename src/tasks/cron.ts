import { Cron } from 'croner';

/** Why a cron expression or time zone cannot be used, per field; empty when both are fine. */
export interface CronProblem {
  path: '/cron' | '/timezone';
  message: string;
}

/** True for a time zone the runtime knows by its IANA name, e.g. `Europe/Paris`. */
export function isTimeZone(name: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: name });
    return true;
  } catch {
    return false;
  }
}

function parse(cron: string, timezone: string): Cron {
  // Stryker disable next-line BooleanLiteral: without a callback croner schedules nothing
  return new Cron(cron, { timezone, paused: true });
}

/** What is wrong with a schedule's `cron` and `timezone`, as croner reads them. */
export function cronProblems(cron: string, timezone: string): CronProblem[] {
  if (!isTimeZone(timezone))
    return [{ path: '/timezone', message: 'must be an IANA time zone, such as Europe/Paris' }];
  try {
    const next = parse(cron, timezone).nextRun();
    return next === null ? [{ path: '/cron', message: 'never fires' }] : [];
  } catch (error) {
    return [
      { path: '/cron', message: `is not a valid cron expression: ${(error as Error).message}` },
    ];
  }
}

/**
 * The first tick strictly after `after`, in the schedule's time zone, or null when it never
 * fires again. Wall-clock times a DST change skips or repeats are croner's to resolve: a
 * skipped local time fires at the next valid instant, a repeated one fires once.
 */
export function nextTick(cron: string, timezone: string, after: Date): Date | null {
  return parse(cron, timezone).nextRun(after);
}
