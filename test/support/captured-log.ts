import type { DestinationStream } from 'pino';

/** A pino log line as parsed JSON. */
export type LogLine = Record<string, unknown> & { level: number; msg?: string };

/** A log destination that keeps every line, for tests that read what the app logged. */
export interface CapturedLog {
  stream: DestinationStream;
  /** Everything written so far, exactly as written. */
  text(): string;
  /** Every line so far, parsed. */
  lines(): LogLine[];
}

/** pino's number for `error`. */
export const ERROR_LEVEL = 50;
/** pino's number for `warn`. */
export const WARN_LEVEL = 40;
/** pino's number for `info`. */
export const INFO_LEVEL = 30;

/** Collects the lines of an app's log (pass `stream` to createTestApp's `logStream`). */
export function captureLog(): CapturedLog {
  const written: string[] = [];
  return {
    stream: { write: (line: string) => void written.push(line) },
    text: () => written.join(''),
    lines: () =>
      written
        .join('')
        .split('\n')
        .filter((line) => line !== '')
        .map((line) => JSON.parse(line) as LogLine),
  };
}
