import type { Logger } from '../domain/logger.js';

/** The logger calls the client-error log makes (a pino or Fastify logger fits). */
export type ClientErrorLogger = Pick<Logger, 'info' | 'warn'>;

/** Limits of {@link ClientErrorLog}; `now` is for tests. */
export interface ClientErrorLogOptions {
  maxLines?: number;
  windowMs?: number;
  now?: () => number;
}

/** Lines per window before the log stops writing client errors one by one. */
export const CLIENT_ERROR_LINES_PER_WINDOW = 10;
const WINDOW_MS = 60_000;

const CLIENT_SOCKET_CODES = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED', 'ETIMEDOUT']);

/**
 * True for errors a client causes and the service cannot act on: a connection reset or
 * aborted mid-request, or a WebSocket frame that breaks the protocol (`ws` codes them `WS_ERR_*`).
 */
export function isClientCausedError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && (code.startsWith('WS_ERR_') || CLIENT_SOCKET_CODES.has(code));
}

/**
 * Where client-caused errors (aborted requests, malformed requests and WebSocket frames) are
 * logged: at `info`, at most `maxLines` lines a minute, then one `warn` line with the count of
 * the rest when the minute ends. A client cannot flood the log, and a flood still shows.
 */
export class ClientErrorLog {
  private readonly maxLines: number;
  private readonly windowMs: number;
  private readonly now: () => number;
  private windowStart = Number.NEGATIVE_INFINITY;
  private written = 0;
  private suppressed = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly logger: ClientErrorLogger,
    options: ClientErrorLogOptions = {},
  ) {
    this.maxLines = options.maxLines ?? CLIENT_ERROR_LINES_PER_WINDOW;
    this.windowMs = options.windowMs ?? WINDOW_MS;
    this.now = options.now ?? Date.now;
  }

  /** Logs one client error, unless this window's lines are used up (then it is only counted). */
  note(fields: object, message: string): void {
    const now = this.now();
    if (now - this.windowStart >= this.windowMs) this.startWindow(now);
    if (this.written < this.maxLines) {
      this.written += 1;
      this.logger.info({ clientError: true, ...fields }, message);
      return;
    }
    this.suppressed += 1;
    this.timer ??= setTimeout(() => this.flush(), this.windowStart + this.windowMs - now).unref();
  }

  /** Writes the count of errors not logged one by one, if any: at a window's end and on close. */
  flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.suppressed === 0) return;
    const suppressed = this.suppressed;
    this.suppressed = 0;
    this.logger.warn(
      { clientError: true, suppressed },
      `${suppressed} more client errors in this minute were not logged one by one`,
    );
  }

  private startWindow(now: number): void {
    this.flush();
    this.windowStart = now;
    this.written = 0;
  }
}
